"""Instructions per request of ``Session.execute``, counted by ``valgrind --tool=callgrind`` (the client alone).

A fake server (:mod:`aiocql.testing.fakeserver`, in its own process, not counted) knows one keyspace
(``bench``, SimpleStrategy RF 1, so token-aware routing finds the replica) and answers the fair harness's
request workloads (:mod:`benchmarks.workloads`), prepared:

- ``point_read``: ``SELECT k, v FROM bench.kv WHERE k = ?``, one row (int, text);
- ``insert``: ``INSERT INTO bench.kv (k, v) VALUES (?, ?)``, a Void result;
- ``wide_read``: ``SELECT k, c_text, ... FROM bench.wide WHERE k = ?``, one row of the harness's 10 columns
  (int, text, bigint, double, boolean, uuid, timestamp, blob, list<int>, map<text, int>), which the client
  turns into a tuple (every column decoded, as the harness's adapter does);
- ``batch``: an UNLOGGED ``BatchStatement`` of 10 prepared ``INSERT INTO bench.batch_write (p, c, v)`` into one
  partition, a Void result.

The client runs under callgrind twice: ``--low`` and ``--high`` requests at ``--concurrency``, everything
else identical (connect, prepare, a warm-up of ``--warmup`` requests). Instructions per request =
(Ir(high) - Ir(low)) / (high - low): interpreter start-up, imports, connect and warm-up cancel out.

What is counted is everything the client process does for a request: ``execute()``, the plan, the deadline,
encoding, the stream table, the event loop and its socket calls (the kernel's work is not an instruction
of the process), decoding the reply and building the ResultSet.

Run (a minute or two of CPU per cell)::

    python -m benchmarks.callgrind_requests                          # point read and insert, c=1 and c=256
    python -m benchmarks.callgrind_requests --workloads wide_read batch
    python -m benchmarks.callgrind_requests --workloads point_read --concurrency 1
    AIOCQL_NO_EXTENSIONS=1 python -m benchmarks.callgrind_requests   # the pure-Python mode
    AIOCQL_NO_EXTENSIONS=1 python -m benchmarks.callgrind_requests --tree ../base . --workloads wide_read batch
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SELECT = "SELECT k, v FROM bench.kv WHERE k = ?"
INSERT = "INSERT INTO bench.kv (k, v) VALUES (?, ?)"
WIDE_COLUMNS = ("k", "c_text", "c_bigint", "c_double", "c_bool", "c_uuid", "c_ts", "c_blob", "c_list", "c_map")
WIDE = f"SELECT {', '.join(WIDE_COLUMNS)} FROM bench.wide WHERE k = ?"
BATCH = "INSERT INTO bench.batch_write (p, c, v) VALUES (?, ?, ?)"
BATCH_SIZE = 10  # as benchmarks.workloads.BATCH_SIZE
WORKLOADS = {"point_read": SELECT, "insert": INSERT, "wide_read": WIDE, "batch": BATCH}


async def serve() -> None:
    """The fake server: prints its port, then answers until it is terminated."""
    from aiocql.protocol.constants import Opcode
    from aiocql.testing.fakeserver import FakeServer, Prepared, Rows, Void
    from aiocql.types import BIGINT, BLOB, BOOLEAN, DOUBLE, INT, TEXT, TIMESTAMP, UUID, ListType, MapType
    from benchmarks.workloads import wide_row

    columns = [("k", INT), ("v", TEXT)]
    wide_types = (INT, TEXT, BIGINT, DOUBLE, BOOLEAN, UUID, TIMESTAMP, BLOB, ListType(INT), MapType(TEXT, INT))
    wide = list(zip(WIDE_COLUMNS, wide_types, strict=True))
    batch = [("p", INT), ("c", INT), ("v", TEXT)]
    keyspaces = [("keyspace_name", TEXT), ("durable_writes", BOOLEAN), ("replication", MapType(TEXT, TEXT))]
    ks_rows = Rows(keyspaces, [("bench", True, {"class": "SimpleStrategy", "replication_factor": "1"})],
                   keyspace="system_schema", table="keyspaces")  # fmt: skip
    row = Rows(columns, [(1, "value-1")], keyspace="bench", table="kv", no_metadata=True)  # as asked (v5)
    wide_rows = Rows(wide, [wide_row(1)], keyspace="bench", table="wide", no_metadata=True)
    async with FakeServer() as server:
        server.on(Opcode.QUERY, match=lambda r: (r.query or "").startswith("SELECT * FROM system_schema.keyspaces"),
                  reply=ks_rows)  # fmt: skip
        server.on(
            Opcode.PREPARE,
            match=lambda r: r.query == SELECT,
            reply=Prepared(bind=columns[:1], result=columns, pk_indexes=[0], keyspace="bench", table="kv"),
        )
        server.on(Opcode.PREPARE, match=lambda r: r.query == INSERT,
                  reply=Prepared(bind=columns, pk_indexes=[0], keyspace="bench", table="kv"))  # fmt: skip
        server.on(
            Opcode.PREPARE,
            match=lambda r: r.query == WIDE,
            reply=Prepared(bind=wide[:1], result=wide, pk_indexes=[0], keyspace="bench", table="wide"),
        )
        server.on(Opcode.PREPARE, match=lambda r: r.query == BATCH,
                  reply=Prepared(bind=batch, pk_indexes=[0], keyspace="bench", table="batch_write"))  # fmt: skip
        # Static replies (no handler task per request); the record of requests is dropped as it grows.
        server.on(Opcode.EXECUTE, match=lambda r: r.query == SELECT, reply=row)
        server.on(Opcode.EXECUTE, match=lambda r: r.query == INSERT, reply=Void())
        server.on(Opcode.EXECUTE, match=lambda r: r.query == WIDE, reply=wide_rows)
        server.on(Opcode.BATCH, reply=Void())

        async def forget() -> None:
            while True:
                await asyncio.sleep(0.5)
                server.requests.clear()

        task = asyncio.ensure_future(forget())
        print(server.port, flush=True)
        await asyncio.Event().wait()  # until the parent terminates us
        task.cancel()


async def client(port: int, workload: str, requests: int, concurrency: int, warmup: int) -> None:
    """Connect, prepare, warm up, then ``requests`` executes with ``concurrency`` in flight.

    Only top-level ``aiocql`` names are used here: the client runs against another checkout's aiocql too
    (``--tree``), which may predate this file.
    """
    from aiocql import BatchStatement, BatchType, Cluster

    # A deadline that callgrind's slowdown (50x, on a loaded machine) cannot reach; the same code path as 10 s.
    async with Cluster(["127.0.0.1"], port=port, request_timeout=300.0) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(WORKLOADS[workload])

        async def wide_read(i: int) -> None:
            row = (await session.execute(ps, (i,))).one()
            if row is None or len(tuple(row)) != len(WIDE_COLUMNS):
                raise SystemExit(f"wide read {i}: got {row!r}")

        async def batch(i: int) -> None:
            statement = BatchStatement(BatchType.UNLOGGED)
            for c in range(BATCH_SIZE):
                statement.add(ps, (i, c, f"tag-{i}-{c}"))
            await session.execute(statement)

        async def run(n: int) -> None:
            async def worker(start: int) -> None:
                if workload == "point_read" or workload == "insert":  # execute() straight from the loop
                    values = (lambda i: (i,)) if workload == "point_read" else (lambda i: (i, "value"))
                    for i in range(start, n, concurrency):
                        await session.execute(ps, values(i))
                    return
                op = wide_read if workload == "wide_read" else batch
                for i in range(start, n, concurrency):
                    await op(i)

            await asyncio.gather(*(worker(i) for i in range(concurrency)))

        await run(warmup)
        await run(requests)


def instructions(tree: Path, port: int, workload: str, requests: int, concurrency: int, warmup: int) -> int:
    """Total instructions (Ir) of one client run under callgrind, importing aiocql from ``tree``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # Run as a script (not -m from this checkout), so that the aiocql imported is the one of ``tree``.
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
               "--client", str(port), "--workloads", workload,
               "--requests", str(requests), "--concurrency", str(concurrency), "--warmup", str(warmup)]  # fmt: skip
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"callgrind run failed: {proc.stderr.strip()[-800:]}")
        text = out.read_text()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if not match:
        raise SystemExit("no instruction total in the callgrind output")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callgrind_requests",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=["point_read", "insert"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 256])
    parser.add_argument("--low", type=int, default=1000, help="requests in the first run (after the warm-up)")
    parser.add_argument("--high", type=int, default=3000, help="requests in the second run")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument(
        "--tree",
        type=Path,
        nargs="+",
        default=[ROOT],
        help="the checkout(s) whose aiocql the client imports: with two or more, one column each and the ratio "
        "of each to the first (an A/B of trees at the same moment, e.g. pure mode against the base)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve())
        return 0
    if args.client:
        asyncio.run(client(args.client, args.workloads[0], args.requests, args.concurrency[0], args.warmup))
        return 0
    if args.high <= args.low:
        parser.error("--high must be more than --low")
    server = subprocess.Popen([sys.executable, "-m", "benchmarks.callgrind_requests", "--serve"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        mode = "pure Python" if os.environ.get("AIOCQL_NO_EXTENSIONS") else "compiled core if built"
        version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
        span = f"(Ir({args.high} requests) - Ir({args.low})) / {args.high - args.low}"
        names = [tree.resolve().name for tree in args.tree]
        print(f"aiocql of {', '.join(names)} ({mode}) against the fake server; {version}; "
              f"Python {platform.python_version()}; instructions per request = {span}")  # fmt: skip
        print()
        ratios = [f"{name} / {names[0]}" for name in names[1:]]
        print("| workload | concurrency | " + " | ".join(names + ratios) + " |")
        print("|---|---:|" + "---:|" * (len(names) + len(ratios)))
        for workload in args.workloads:
            for concurrency in args.concurrency:
                per = []
                for tree in args.tree:
                    low = instructions(tree, port, workload, args.low, concurrency, args.warmup)
                    high = instructions(tree, port, workload, args.high, concurrency, args.warmup)
                    per.append((high - low) / (args.high - args.low))
                cells = [f"{p:,.0f}" for p in per] + [f"{p / per[0]:.2f}" for p in per[1:]]
                print(f"| {workload} | {concurrency} | " + " | ".join(cells) + " |", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
