"""acsylla: the ScyllaDB/DataStax C++ driver behind Cython, with its own I/O thread.

The C++ driver has no compression (``--compression lz4`` cannot turn it on: the server view in the JSON
shows it) and speaks v4 unless told otherwise. The scan prefetches: the next page's request is started
(as a task) as soon as a page arrives, before that page's rows are read.
"""

from __future__ import annotations

import asyncio
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
        kwargs: dict[str, Any] = {} if conf.protocol is None else {"protocol_version": conf.protocol}
        self.cluster = acsylla.create_cluster(list(conf.hosts), log_level="error", request_timeout=30.0, **kwargs)
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
        session, ps, page_size = self.session, self.ps, self.conf.page_size
        rows = total = 0
        pending = asyncio.ensure_future(session.execute(ps.bind(page_size=page_size)))
        while True:
            result = await pending
            more = result.has_more_pages() and time.monotonic() < stop_at
            if more:  # ask for the next page now: the server works on it while this one is read
                statement = ps.bind(page_size=page_size)
                statement.set_page_state(result.page_state())
                pending = asyncio.ensure_future(session.execute(statement))
            for row in result:
                values = row.as_tuple()  # materialize every column, as the other clients do
                rows += 1
                total += values[2]
            if not more:
                return rows, total

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def info(self) -> dict[str, Any]:
        from importlib.metadata import version

        # acsylla exposes neither the negotiated protocol version nor compression: see "server_view"
        return {
            "version": version("acsylla"),
            "protocol": None,
            "compression": None,
            "row_factory": "Row.as_tuple",
            "requested_protocol": self.conf.protocol,
            "note": "negotiated settings not exposed by acsylla",
        }
