"""The clients compared, one adapter module each (``benchmarks/adapters/<client>.py``)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientSpec:
    name: str
    module: str
    kind: str  # "async" (an AsyncAdapter driven by the worker's tasks) or "sync" (drives its own cell)
    loop: str | None = "asyncio"  # event loop for async adapters: "asyncio" or "uvloop"
    max_concurrency: int | None = None  # the blocking loop has one request in flight, by construction
    description: str = ""


CLIENTS: dict[str, ClientSpec] = {
    spec.name: spec
    for spec in (
        ClientSpec("aiocql", "benchmarks.adapters.aiocql_adapter", "async", "asyncio",
                   description="aiocql on the default asyncio loop"),
        ClientSpec("aiocql-uvloop", "benchmarks.adapters.aiocql_adapter", "async", "uvloop",
                   description="aiocql on uvloop"),
        ClientSpec("cassandra-driver-sync", "benchmarks.adapters.cassandra_driver_sync", "sync", None, 1,
                   description="cassandra-driver: blocking session.execute loop"),
        ClientSpec("cassandra-driver-callbacks", "benchmarks.adapters.cassandra_driver_callbacks", "sync", None,
                   description="cassandra-driver: execute_async + add_callbacks, N in flight"),
        ClientSpec("cassandra-driver-asyncio", "benchmarks.adapters.cassandra_driver_asyncio", "async", "asyncio",
                   description="cassandra-driver: ResponseFuture -> asyncio.Future via call_soon_threadsafe"),
        ClientSpec("acsylla", "benchmarks.adapters.acsylla_adapter", "async", "asyncio",
                   description="acsylla (DataStax C++ driver, Cython)"),
        ClientSpec("scyllapy", "benchmarks.adapters.scyllapy_adapter", "async", "asyncio",
                   description="scyllapy (Rust scylla driver, PyO3)"),
        ClientSpec("raw-floor", "benchmarks.adapters.raw_floor", "async", "asyncio",
                   description="floor: raw asyncio protocol v4, pre-encoded EXECUTEs, replies not decoded"),
    )
}  # fmt: skip


def unavailable_reason(spec: ClientSpec) -> str | None:
    """None when the adapter (and its client library) imports, else why not."""
    try:
        importlib.import_module(spec.module)
        if spec.loop == "uvloop":
            importlib.import_module("uvloop")
    except Exception as exc:
        return f"import failed: {type(exc).__name__}: {exc}"
    return None
