"""CPU (or instructions) per row of a whole paged scan through aiocql, against a fake server in another process.

The fair harness (:mod:`benchmarks.run`) measures a scan against a real Cassandra on a machine others share:
its figures move with the load. This script measures the same client work with the server's side taken out
and its replies made identical every run: a child process (:class:`aiocql.testing.FakeServer`) answers the
scan's prepared ``SELECT p, c, a, b`` with prebuilt RESULT pages of ``--page`` rows shaped as the harness's scan
table (int, int, bigint, text), over v5 framing, as Cassandra does. The client does what the harness's aiocql
adapter does: ``async for row in await session.execute(ps, fetch_size=page)``, counting rows and summing
column ``a``. Everything the client does for a row is in the figure: reading the socket, v5 frames and their
CRC32, envelope assembly, the RESULT decode, the row decode, ``ResultSet`` and the page prefetch, iteration,
and the loop body.

    python -m benchmarks.scan_cpu                       # process CPU per row, best of --rounds scans
    python -m benchmarks.scan_cpu --instructions        # instructions per row under callgrind (load-proof)
    AIOCQL_NO_EXTENSIONS=1 python -m benchmarks.scan_cpu   # the pure-Python implementation
    python -m benchmarks.scan_cpu --instructions --tree ../base .   # A/B: those checkouts' aiocql

``--instructions`` runs the client twice under ``valgrind --tool=callgrind`` (``--low`` and ``--high`` pages,
everything else the same) and prints (Ir(high) - Ir(low)) / rows between them: start-up, connecting and
preparing cancel out. The server process is not instrumented. With ``--tree``, the client (this file, run as a
script) imports the aiocql of another checkout, which need not have this file: an A/B of two trees at the same
moment.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUERY = "SELECT p, c, a, b FROM scan"


def _page_values(page_rows: int) -> list[tuple[int, int, int, str]]:
    """Every page's rows: the harness's values (benchmarks.workloads.scan_a/scan_b) from partition 5,000 on,
    so the values have the sizes of its scan's."""
    return [(p, c, p * 1_000 + c, f"row-{p}-{c}") for p, c in ((5_000 + i // 100, i % 100) for i in range(page_rows))]


def _pages(page_rows: int) -> tuple[list[Any], bytes]:
    """The scan's columns and one page's rows (the <rows_content> after the row count, shared by every page)."""
    from aiocql.testing.replies import Rows
    from aiocql.types import BIGINT, INT, TEXT

    columns = [("p", INT), ("c", INT), ("a", BIGINT), ("b", TEXT)]
    rows = _page_values(page_rows)
    empty = Rows(columns, [], no_metadata=True).body(5)
    full = Rows(columns, rows, no_metadata=True).body(5)
    return columns, full[len(empty) :]


async def serve(page_rows: int, pages: int) -> None:
    """The fake server: prints its port, answers the scan with ``pages`` pages, runs until terminated."""
    from aiocql.protocol.constants import Opcode
    from aiocql.testing.fakeserver import FakeServer
    from aiocql.testing.replies import Prepared, Raw, ReceivedRequest, Rows

    columns, rows_content = _pages(page_rows)
    bodies: dict[tuple[int, bool], bytes] = {}

    def page(req: ReceivedRequest) -> Raw:
        params = req.message.params  # type: ignore[union-attr]
        n = 0 if params.paging_state is None else int(params.paging_state)
        skip = bool(params.skip_metadata)
        key = (n, skip)
        body = bodies.get(key)
        if body is None:
            state = str(n + 1).encode() if n + 1 < pages else None
            head = Rows(columns, [], paging_state=state, no_metadata=skip).body(req.version)
            body = bodies[key] = head[:-4] + page_rows.to_bytes(4, "big") + rows_content
        return Raw(Opcode.RESULT, body)

    async with FakeServer() as server:
        server.on(Opcode.PREPARE, match=lambda r: r.query == QUERY, reply=Prepared(result=columns))
        server.on(Opcode.EXECUTE, match=lambda r: r.query == QUERY, reply=page)
        print(server.port, flush=True)
        await asyncio.Event().wait()


async def scan(port: int, page_rows: int, rounds: int) -> list[tuple[int, float]]:
    """(rows, process CPU seconds) of each of ``rounds`` scans, after a warm-up scan."""
    from aiocql import Cluster

    out = []
    page_sum = sum(a for _, _, a, _ in _page_values(page_rows))
    # A deadline that callgrind's slowdown (50x, on a loaded machine) cannot reach; the same code path as 10 s.
    async with Cluster(["127.0.0.1"], port=port, request_timeout=300.0) as cluster:
        session = await cluster.connect()
        ps = await session.prepare(QUERY)
        # The collections a scan triggers then walk what the scan allocates, not the objects of start-up
        # (imports, connecting): whether a full collection falls inside the measured scans stops being luck.
        gc.collect()
        gc.freeze()
        for i in range(rounds + 1):
            cpu = time.process_time()
            rows = total = 0
            async for row in await session.execute(ps, fetch_size=page_rows):
                rows += 1
                total += row[2]
            if rows % page_rows or total != page_sum * (rows // page_rows):  # every row decoded, and right
                raise SystemExit(f"scan: {rows} rows summing to {total}: not whole pages of {page_rows} rows")
            if i:
                out.append((rows, time.process_time() - cpu))
    return out


def _server(page_rows: int, pages: int) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "benchmarks.scan_cpu", "--serve", "--page", str(page_rows), "--pages", str(pages)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def instructions(page_rows: int, pages: int, rounds: int, tree: Path = ROOT) -> int:
    """Total instructions of one client run (``rounds`` scans of ``pages`` pages) under callgrind, importing
    aiocql from ``tree``."""
    proc, port = _server(page_rows, pages)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "callgrind.out"
            # Run as a script (not -m from this checkout), so that the aiocql imported is the one of ``tree``.
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                   "--client", str(port), "--page", str(page_rows), "--rounds", str(rounds)]  # fmt: skip
            env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(tree))
            run = subprocess.run(cmd, capture_output=True, text=True, cwd=tree, env=env)
            if run.returncode != 0:
                raise SystemExit(f"callgrind run failed: {run.stderr.strip()[-800:]}")
            match = re.search(r"^(?:summary|totals):\s+(\d+)", out.read_text(), re.M)
    finally:
        _stop(proc)
    if not match:
        raise SystemExit("no instruction total in the callgrind output")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scan_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=int, default=5_000, help="rows per page (the harness's page size)")
    parser.add_argument("--pages", type=int, default=40, help="pages per scan")
    parser.add_argument("--rounds", type=int, default=5, help="scans measured (after one warm-up scan)")
    parser.add_argument("--instructions", action="store_true", help="instructions per row under callgrind")
    parser.add_argument("--low", type=int, default=4, help="--instructions: pages of the first run")
    parser.add_argument("--high", type=int, default=16, help="--instructions: pages of the second run")
    parser.add_argument("--profile", action="store_true", help="cProfile the scans (the top functions by own time)")
    parser.add_argument("--tree", type=Path, nargs="+", default=[ROOT],
                        help="--instructions: the checkout(s) whose aiocql the client imports (A/B: a line "
                             "each, and the ratio of each to the first)")  # fmt: skip
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.page, args.pages))
        return 0
    if args.client:
        asyncio.run(scan(args.client, args.page, args.rounds))
        return 0
    import aiocql

    compiled = getattr(aiocql, "compiled", False)  # a checkout older than the compiled core has none
    mode = "compiled core" if compiled else "pure Python"
    if args.instructions:
        first = None
        for tree in args.tree:
            tree_mode = mode  # what this checkout built says nothing of another's:
            if tree.resolve() != ROOT:
                tree_mode = "pure Python" if os.environ.get("AIOCQL_NO_EXTENSIONS") else "compiled core if built"
            low = instructions(args.page, args.low, 1, tree)
            high = instructions(args.page, args.high, 1, tree)
            scans = 2  # each client run scans twice: the warm-up scan and the one measured round
            per_row = (high - low) / ((args.high - args.low) * args.page * scans)
            first = per_row if first is None else first
            ratio = f"; {per_row / first:.2f}x the first tree's" if tree is not args.tree[0] else ""
            print(f"aiocql of {tree.resolve().name} ({tree_mode}), paged scan of (p int, c int, a bigint, b text), "
                  f"page {args.page}: {per_row:,.0f} instructions per row "
                  f"(Ir({args.high} pages) - Ir({args.low})) / rows{ratio}", flush=True)  # fmt: skip
        return 0
    proc, port = _server(args.page, args.pages)
    profile = cProfile.Profile() if args.profile else None
    try:
        if profile is not None:
            profile.enable()
        results = asyncio.run(scan(port, args.page, args.rounds))
    finally:
        if profile is not None:
            profile.disable()
        _stop(proc)
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    per_row = sorted(cpu / rows * 1e6 for rows, cpu in results)
    print(f"aiocql ({mode}), paged scan of {results[0][0]:,} rows (p int, c int, a bigint, b text), page "
          f"{args.page}: process CPU per row best {per_row[0]:.3f} us, median {per_row[len(per_row) // 2]:.3f} us "
          f"({args.rounds} scans)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
