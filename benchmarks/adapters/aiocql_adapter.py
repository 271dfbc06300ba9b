"""aiocql: ``Cluster(...).connect()``, prepared statements, ``BatchStatement``, ``async for`` paging.

``async for`` over a paged result prefetches the next page while the current one is read. The row type is
aiocql's default (named tuples) unless the variant asks for ``tuple_factory``.
"""

from __future__ import annotations

import time
from typing import Any

from aiocql import BatchStatement, BatchType, Cluster, named_tuple_factory, tuple_factory
from benchmarks import workloads as w


class Adapter:
    def __init__(self) -> None:
        self.cluster: Any = None
        self.session: Any = None
        self.ps: Any = None
        self.cell = w.CellParams(0, "")

    async def setup(self, conf: w.Conf) -> None:
        self.conf = conf
        kwargs: dict[str, Any] = {"compression": conf.compression, "protocol_version": conf.protocol}
        if conf.row_factory != "default":
            kwargs["row_factory"] = {"tuple": tuple_factory, "named_tuple": named_tuple_factory}[conf.row_factory]
        self.cluster = Cluster(list(conf.hosts), **kwargs)
        self.session = await self.cluster.connect(conf.keyspace)
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        self.ps = await self.session.prepare(cql)
        self.run_op = {  # type: ignore[method-assign]
            w.POINT_READ: self._point_read, w.INSERT: self._insert, w.WIDE_READ: self._wide_read,
            w.BATCH: self._batch, w.SCAN: self._no_op,
        }[conf.workload]  # fmt: skip

    async def begin_cell(self, cell: w.CellParams) -> None:
        self.cell = cell

    async def run_op(self, i: int) -> None:
        raise NotImplementedError  # replaced in setup

    async def _no_op(self, i: int) -> None:
        raise NotImplementedError

    async def _point_read(self, i: int) -> None:
        k = w.read_key(i)
        row = (await self.session.execute(self.ps, (k,))).one()
        if row is None:
            raise w.CheckFailed(f"point read {k}: no row")
        w.check_point_row(k, row[0], row[1])

    async def _wide_read(self, i: int) -> None:
        k = w.read_key(i)
        row = (await self.session.execute(self.ps, (k,))).one()
        if row is None:
            raise w.CheckFailed(f"wide read {k}: no row")
        w.check_wide_row(k, tuple(row))

    async def _insert(self, i: int) -> None:
        k = w.write_key(self.cell, i)
        await self.session.execute(self.ps, (k, w.write_value(self.cell.tag, k)))

    async def _batch(self, i: int) -> None:
        p, tag = w.write_key(self.cell, i), self.cell.tag
        batch = BatchStatement(BatchType.UNLOGGED)
        for c in range(w.BATCH_SIZE):
            batch.add(self.ps, (p, c, w.batch_value(tag, p, c)))
        await self.session.execute(batch)

    async def scan(self, stop_at: float) -> tuple[int, int]:
        rows = total = 0
        page = self.conf.page_size
        async for row in await self.session.execute(self.ps, fetch_size=page):
            rows += 1
            total += row[2]
            if rows % page == 0 and time.monotonic() > stop_at:
                break
        return rows, total

    async def close(self) -> None:
        if self.cluster is not None:
            await self.cluster.close()

    def info(self) -> dict[str, Any]:
        """What the driver negotiated, read from its open connections."""
        import aiocql

        conns = [c for pool in self.session.pools for c in pool.connections]
        control = getattr(self.cluster.control, "conn", None)

        def compression(conn: Any) -> str:
            return conn.compression or "none"  # the connection's own negotiated compression ("lz4") or None

        kinds = sorted({compression(c) for c in conns})
        return {
            "version": aiocql.__version__,
            "protocol": sorted({c.version for c in conns})[0] if conns else None,
            "compression": kinds[0] if len(kinds) == 1 else kinds,
            "row_factory": self.session.defaults.profile().row_factory.__name__,
            "connections": len(conns) + (1 if control is not None else 0),
        }
