"""The README's demo: a local Cassandra (started if none runs), then aiocql end to end.

Run with ``python -m aiocql.demo`` (or ``bash scripts/demo.sh`` on a fresh machine). It prints each
step: handshake and protocol version, ``system.local``, DDL, writes and reads of an int and a text,
a prepared statement, automatic paging, cancellation of in-flight requests, and the thread count.

Example:
    $ python -m aiocql.demo --contact-point 127.0.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
import time

from aiocql import Cluster
from aiocql.testing.launcher import LocalCluster


def _cql_port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


async def run_demo(host: str, port: int) -> None:
    """The end-to-end path against ``host``, printing what it does."""
    threads = threading.active_count()
    async with Cluster([host], port=port) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        print(f"connected to {host}:{port} on native protocol v{conn.version}")
        row = (await session.execute("SELECT release_version, cluster_name FROM system.local")).one()
        assert row is not None  # one() is None for an empty page
        print(f"server: Apache Cassandra {row.release_version} (cluster {row.cluster_name!r})")

        ddl = await session.execute(
            "CREATE KEYSPACE IF NOT EXISTS aiocql_demo "
            "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        await session.set_keyspace("aiocql_demo")
        await session.execute("DROP TABLE IF EXISTS people")
        ddl = await session.execute("CREATE TABLE people (id int PRIMARY KEY, name text)")
        print(f"created keyspace aiocql_demo and table people (schema agreement: {ddl.schema_agreement})")

        await session.execute("INSERT INTO people (id, name) VALUES (1, 'Ada')")
        await session.execute("INSERT INTO people (id, name) VALUES (?, ?)", (2, "Grace"))
        rows = sorted(await (await session.execute("SELECT id, name FROM people")).all())
        print(f"wrote and read back an int and a text: {[(r.id, r.name) for r in rows]}")

        insert = await session.prepare("INSERT INTO people (id, name) VALUES (?, ?)")
        started = time.perf_counter()
        await asyncio.gather(*(session.execute(insert, (i, f"person {i}")) for i in range(3, 1003)))
        elapsed = time.perf_counter() - started
        print(f"prepared INSERT, executed 1,000 times concurrently in {elapsed * 1000:.0f} ms")

        result = await session.execute("SELECT id FROM people", fetch_size=100)
        pages = 0
        seen = 0
        async for page in result.pages():
            pages += 1
            seen += len(page)
        print(f"paged through {seen} rows in {pages} pages of up to 100 (next page prefetched while reading)")

        select = await session.prepare("SELECT name FROM people WHERE id = ?")
        tasks = [asyncio.ensure_future(session.execute(select, (i,))) for i in range(1, 201)]
        await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        cancelled = sum(isinstance(o, asyncio.CancelledError) for o in outcomes)
        print(f"cancelled {cancelled} of 200 in-flight reads; the other {200 - cancelled} completed")
        deadline = asyncio.get_running_loop().time() + 5
        while conn.orphaned and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        check = (await session.execute(select, (2,))).one()
        assert check is not None
        print(f"connection still healthy: id 2 -> {check.name!r}; orphaned stream ids now {conn.orphaned}")
    print(f"OS threads before: {threads}, after closing the cluster: {threading.active_count()}")


def main(argv: list[str] | None = None) -> int:
    """Start a local Cassandra if none answers, run the demo, stop what it started."""
    parser = argparse.ArgumentParser(prog="python -m aiocql.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--contact-point", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    args = parser.parse_args(argv)
    local: LocalCluster | None = None
    if _cql_port_open(args.contact_point, args.port):
        print(f"using the Cassandra already running on {args.contact_point}:{args.port}")
    else:
        local = LocalCluster(1)
        print(
            f"no Cassandra is running: fetching (first run only) and starting one node on {local.contact_points[0]} ..."
        )
        state = local.start()
        print(f"Cassandra {state.version} started in {state.startup_seconds}s")
        args.contact_point = local.contact_points[0]
    try:
        asyncio.run(run_demo(args.contact_point, args.port))
    finally:
        if local is not None:
            local.stop()
            print("stopped the local Cassandra the demo started")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
