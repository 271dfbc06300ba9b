"""scyllapy: the Rust scylla driver behind PyO3, running on its own tokio threads.

scyllapy has no compression and no protocol option (the Rust driver speaks v4): ``--compression lz4``
and ``--protocol 4`` leave it as it is (the server view in the JSON shows what it used). Its paged
iterator (one `await` per row) is the Rust driver's row iterator; the harness has no say in its paging.
"""

from __future__ import annotations

import time
from typing import Any

from scyllapy import Batch, BatchType, Consistency, ExecutionProfile, Scylla

from benchmarks import workloads as w


class Adapter:
    def __init__(self) -> None:
        self.cell = w.CellParams(0, "")
        self.scylla: Any = None

    async def setup(self, conf: w.Conf) -> None:
        self.conf = conf
        profile = ExecutionProfile(consistency=Consistency.LOCAL_ONE)
        hosts = [f"{h}:9042" if ":" not in h else h for h in conf.hosts]
        self.scylla = Scylla(hosts, keyspace=conf.keyspace, default_execution_profile=profile)
        await self.scylla.startup()
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        self.ps = await self.scylla.prepare(cql)  # scyllapy pages by 5,000 rows (the Rust driver's default)
        self.batch = Batch(BatchType.UNLOGGED)
        for _ in range(w.BATCH_SIZE):
            self.batch.add_query(self.ps)
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
        row = (await self.scylla.execute(self.ps, (k,))).first()
        if row is None:
            raise w.CheckFailed(f"point read {k}: no row")
        w.check_point_row(k, row["k"], row["v"])

    async def _wide_read(self, i: int) -> None:
        k = w.read_key(i)
        row = (await self.scylla.execute(self.ps, (k,))).first()
        if row is None:
            raise w.CheckFailed(f"wide read {k}: no row")
        w.check_wide_row(k, tuple(row[name] for name in w.WIDE_COLUMNS))  # dict order is not column order

    async def _insert(self, i: int) -> None:
        k = w.write_key(self.cell, i)
        await self.scylla.execute(self.ps, (k, w.write_value(self.cell.tag, k)))

    async def _batch(self, i: int) -> None:
        p, tag = w.write_key(self.cell, i), self.cell.tag
        await self.scylla.batch(self.batch, [(p, c, w.batch_value(tag, p, c)) for c in range(w.BATCH_SIZE)])

    async def scan(self, stop_at: float) -> tuple[int, int]:
        rows = total = 0
        page = self.conf.page_size
        async for row in await self.scylla.execute(self.ps, paged=True):  # one await per row
            rows += 1
            total += row["a"]
            if rows % page == 0 and time.monotonic() > stop_at:
                break
        return rows, total

    async def close(self) -> None:
        if self.scylla is not None:
            await self.scylla.shutdown()

    def info(self) -> dict[str, Any]:
        from importlib.metadata import version

        # scyllapy exposes neither the protocol version nor compression: see "server_view"
        return {
            "version": version("scyllapy"),
            "protocol": None,
            "compression": None,
            "row_factory": "dict",
            "note": "negotiated settings not exposed by scyllapy",
        }
