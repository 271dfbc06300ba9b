"""The clients compared, one adapter module each (``benchmarks/adapters/<client>.py``).

Every client gets the same wire settings from the run (``Conf.compression``, ``Conf.protocol``); the
only per-client settings are the ones in this table: the event loop, the row type (``row_factory``:
``"default"`` is what a user gets without configuring anything) and, for the seed's wrapper, the
Python it needs. Variants that only change how rows are built run only the workloads that return rows.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from benchmarks.workloads import POINT_READ, SCAN

ROW_WORKLOADS = (POINT_READ, SCAN)  # where a row-type variant is measured (kept short: the run's time budget)


@dataclass(frozen=True, slots=True)
class ClientSpec:
    name: str
    module: str
    kind: str  # "async" (an AsyncAdapter driven by the worker's tasks) or "sync" (drives its own cell)
    loop: str | None = "asyncio"  # event loop for async adapters: "asyncio" or "uvloop"
    max_concurrency: int | None = None  # the blocking loop has one request in flight, by construction
    description: str = ""
    row_factory: str = "default"  # "default", "tuple" or "named_tuple"
    python: str = "main"  # "main": the harness's Python; "3.12": pyenv's 3.12 (see benchmarks/py312.py)
    workloads: tuple[str, ...] | None = None  # None: every workload
    headline: bool = False  # the fair peer the targets are computed against


CLIENTS: dict[str, ClientSpec] = {
    spec.name: spec
    for spec in (
        ClientSpec("aiocql", "benchmarks.adapters.aiocql_adapter", "async", "asyncio",
                   description="aiocql on the default asyncio loop, default rows (named tuples)"),
        ClientSpec("aiocql-tuples", "benchmarks.adapters.aiocql_adapter", "async", "asyncio",
                   description="aiocql, row_factory=tuple_factory (its fastest rows)", row_factory="tuple",
                   workloads=ROW_WORKLOADS),
        ClientSpec("aiocql-uvloop", "benchmarks.adapters.aiocql_adapter", "async", "uvloop",
                   description="aiocql on uvloop, default rows"),
        ClientSpec("cassandra-driver-sync", "benchmarks.adapters.cassandra_driver_sync", "sync", None, 1,
                   description="cassandra-driver: blocking session.execute loop, tuple_factory",
                   row_factory="tuple"),
        ClientSpec("cassandra-driver-callbacks", "benchmarks.adapters.cassandra_driver_callbacks", "sync", None,
                   description="cassandra-driver: execute_async + add_callbacks, N in flight, tuple_factory",
                   row_factory="tuple", headline=True),
        ClientSpec("cassandra-driver-callbacks-named", "benchmarks.adapters.cassandra_driver_callbacks", "sync",
                   None, description="cassandra-driver: execute_async + add_callbacks, its default "
                   "named_tuple_factory", row_factory="named_tuple", workloads=ROW_WORKLOADS),
        ClientSpec("cassandra-driver-asyncio", "benchmarks.adapters.cassandra_driver_asyncio", "async", "asyncio",
                   description="cassandra-driver: ResponseFuture -> asyncio.Future via call_soon_threadsafe, "
                   "tuple_factory", row_factory="tuple"),
        ClientSpec("async-cassandra", "benchmarks.adapters.async_cassandra_adapter", "async", "asyncio",
                   description="async-cassandra (the seed's wrapper of cassandra-driver) on Python 3.12: "
                   "AsyncCluster, execute, execute_stream; default rows (named tuples; its API cannot "
                   "choose tuple_factory)", python="3.12"),
        ClientSpec("acsylla", "benchmarks.adapters.acsylla_adapter", "async", "asyncio",
                   description="acsylla (DataStax C++ driver, Cython)", headline=True),
        ClientSpec("scyllapy", "benchmarks.adapters.scyllapy_adapter", "async", "asyncio",
                   description="scyllapy (Rust scylla driver, PyO3)"),
        ClientSpec("raw-floor", "benchmarks.adapters.raw_floor", "async", "asyncio",
                   description="floor: raw asyncio protocol v4, pre-encoded EXECUTEs, replies not decoded, "
                   "scan pages pipelined"),
    )
}  # fmt: skip


def runs(spec: ClientSpec, workload: str) -> bool:
    """Whether ``spec`` takes part in ``workload``."""
    return spec.workloads is None or workload in spec.workloads


def unavailable_reason(spec: ClientSpec) -> str | None:
    """None when the adapter (and its client library) imports, else why not."""
    if spec.python != "main":
        from benchmarks import py312

        return py312.unavailable_reason(spec.module)
    try:
        importlib.import_module(spec.module)
        if spec.loop == "uvloop":
            importlib.import_module("uvloop")
    except Exception as exc:
        return f"import failed: {type(exc).__name__}: {exc}"
    return None
