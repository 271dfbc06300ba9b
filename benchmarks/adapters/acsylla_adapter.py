"""acsylla: the ScyllaDB/DataStax C++ driver behind Cython, with its own I/O thread."""

from __future__ import annotations

import time
from typing import Any

import acsylla

from benchmarks import workloads as w


class Adapter:
    def __init__(self) -> None:
        self.cell = w.CellParams(0, "")
        self.session: Any = None

    async def setup(self, conf: w.Conf) -> None:
        self.conf = conf
        self.cluster = acsylla.create_cluster(list(conf.hosts), log_level="error", request_timeout=30.0)
        self.session = await self.cluster.create_session(keyspace=conf.keyspace)
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        self.ps = await self.session.create_prepared(cql)
        self.run_op = {  # type: ignore[method-assign]
            w.POINT_READ: self._point_read, w.INSERT: self._insert, w.WIDE_READ: self._wide_read,
            w.BATCH: self._batch, w.SCAN: self.run_op,
        }[conf.workload]  # fmt: skip

    async def begin_cell(self, cell: w.CellParams) -> None:
        self.cell = cell

    async def run_op(self, i: int) -> None:
        raise NotImplementedError  # replaced in setup

    async def _point_read(self, i: int) -> None:
        k = w.read_key(i)
        row = (await self.session.execute(self.ps.bind((k,)))).first()
        if row is None:
            raise w.CheckFailed(f"point read {k}: no row")
        got = row.as_tuple()
        w.check_point_row(k, got[0], got[1])

    async def _wide_read(self, i: int) -> None:
        k = w.read_key(i)
        row = (await self.session.execute(self.ps.bind((k,)))).first()
        if row is None:
            raise w.CheckFailed(f"wide read {k}: no row")
        w.check_wide_row(k, row.as_tuple())

    async def _insert(self, i: int) -> None:
        k = w.write_key(self.cell, i)
        await self.session.execute(self.ps.bind((k, w.write_value(self.cell.tag, k))))

    async def _batch(self, i: int) -> None:
        p, tag = w.write_key(self.cell, i), self.cell.tag
        batch = acsylla.create_batch_unlogged()
        for c in range(w.BATCH_SIZE):
            batch.add_statement(self.ps.bind((p, c, w.batch_value(tag, p, c))))
        await self.session.execute_batch(batch)

    async def scan(self, stop_at: float) -> tuple[int, int]:
        statement = self.ps.bind(page_size=self.conf.page_size)
        rows = total = 0
        while True:
            result = await self.session.execute(statement)
            for row in result:
                values = row.as_tuple()  # materialize every column, as the other clients do
                rows += 1
                total += values[2]
            if not result.has_more_pages() or time.monotonic() > stop_at:
                return rows, total
            statement.set_page_state(result.page_state())

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def info(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"version": version("acsylla"), "protocol": 4}
