"""async-cassandra (PyPI ``async-cassandra``, the seed's wrapper of cassandra-driver), run on Python 3.12.

Its idiomatic API: ``AsyncCluster(...)``, ``await cluster.connect(keyspace)``, ``await session.prepare``,
``await session.execute(...)`` (which collects every page of the result), and ``execute_stream`` with
``StreamConfig(fetch_size=...)`` for the scan, read page by page with ``async for page in stream.pages()``
(its faster form; ``async for row in stream`` awaits once per row). It asks for the next page only when
the current one is used up: its API has no prefetch.

Settings: the same wire settings as every client (``compression`` passed through to cassandra-driver's
``Cluster``; a pinned protocol passed as ``protocol_version``: async-cassandra refuses anything below v5,
so ``--protocol 4`` reports it as failed, with its own message). Rows are the driver's default named
tuples: ``AsyncCluster`` always sets cassandra-driver's legacy ``load_balancing_policy`` and
``default_retry_policy``, which cassandra-driver does not allow together with ``execution_profiles``, so
its public API offers no way to choose ``tuple_factory``. Consistency is cassandra-driver's default,
LOCAL_ONE, as for every client.

Closing: ``AsyncCluster.close()`` and ``AsyncCassandraSession.close()`` each sleep 5 s after shutting down;
the adapter shuts the underlying driver down directly (after the measurements) to keep the run short.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from async_cassandra import AsyncCluster, StreamConfig
from cassandra import ConsistencyLevel

from benchmarks import workloads as w
from benchmarks.adapters.cassandra_driver_common import check, driver_info, statement


class Adapter:
    def __init__(self) -> None:
        self.cluster: Any = None
        self.session: Any = None
        self.cell = w.CellParams(0, "")

    async def setup(self, conf: w.Conf) -> None:
        self.conf = conf
        kwargs: dict[str, Any] = {"compression": "lz4" if conf.compression else False}
        if conf.protocol is not None:
            kwargs["protocol_version"] = conf.protocol
        self.cluster = AsyncCluster(list(conf.hosts), **kwargs)
        self.session = await self.cluster.connect(conf.keyspace)
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        self.ps = await self.session.prepare(cql)
        self.ps.consistency_level = ConsistencyLevel.LOCAL_ONE

    async def begin_cell(self, cell: w.CellParams) -> None:
        self.cell = cell

    async def run_op(self, i: int) -> None:
        result = await self.session.execute(statement(self.conf, self.ps, self.cell, i))
        check(self.conf, i, result.rows)

    async def scan(self, stop_at: float) -> tuple[int, int]:
        rows = total = 0
        config = StreamConfig(fetch_size=self.conf.page_size)
        stream = await self.session.execute_stream(self.ps, stream_config=config)
        async with stream:
            async for page in stream.pages():
                for row in page:
                    rows += 1
                    total += row[2]
                if time.monotonic() > stop_at:
                    break
        return rows, total

    async def close(self) -> None:
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster._cluster.shutdown)  # see the module docs: skips two 5 s sleeps

    def info(self) -> dict[str, Any]:
        import async_cassandra

        info = driver_info(self.cluster._cluster, self.session._session)  # read-only look at the wrapped driver
        return {**info, "async_cassandra": async_cassandra.__version__}
