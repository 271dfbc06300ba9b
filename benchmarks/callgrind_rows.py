"""Instructions per decoded row, counted by ``valgrind --tool=callgrind``: a figure the machine's load cannot move.

The page is the fixed one of :mod:`benchmarks.decode_rows` (a RESULT Rows body, 1,000 rows by default, 10
columns of mixed types, generated deterministically). For each decoder, the script runs a child process under callgrind
twice: once decoding the page ``--low`` times and once ``--high`` times, everything else identical (the page
is built, the decoder created, and one decode done first, outside the counted difference). Instructions per
row = (Ir(high) - Ir(low)) / ((high - low) x rows), so interpreter start-up, imports and building the page
cancel out.

Decoders: aiocql's ``RowDecoder.decode_rows`` (built once per result metadata; its compiled core, which must
be built, and its pure-Python implementation) and
cassandra-driver's compiled (Cython) protocol handler decoding the same RESULT body (plus, with ``--all``,
its pure-Python handler).

Run (about 75 s of CPU; several minutes of wall time on a loaded machine)::

    python -m benchmarks.callgrind_rows            # prints a markdown table
    python -m benchmarks.callgrind_rows --all      # also cassandra-driver's pure-Python handler
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DECODERS = {
    "aiocql": "aiocql RowDecoder (compiled core)",
    "aiocql-pure": "aiocql RowDecoder (pure Python, AIOCQL_NO_EXTENSIONS)",
    "cython": "cassandra-driver compiled (Cython) handler",
    "python": "cassandra-driver pure-Python handler",
}


def child(decoder: str, rows: int, times: int) -> None:
    """Build the page, decode it once (warm-up, always counted in both runs), then ``times`` more times."""
    from benchmarks.decode_rows import COLUMNS, build_body

    body, offset = build_body(rows)
    if decoder in ("aiocql", "aiocql-pure"):
        from aiocql.types.rows import RowDecoder

        view = memoryview(body)
        row_decoder = RowDecoder([t for _, t in COLUMNS], compiled=decoder == "aiocql")

        def decode() -> int:
            return len(row_decoder.decode_rows(view, offset, rows))
    else:
        from cassandra import protocol

        handler = protocol.ProtocolHandler if decoder == "cython" else protocol._ProtocolHandler
        if decoder == "cython" and handler is protocol._ProtocolHandler:
            raise SystemExit("cassandra-driver's compiled protocol handler is not available here")

        def decode() -> int:
            return len(handler.decode_message(5, {}, 0, 0, 0x08, body, None, None).parsed_rows)

    if decode() != rows:
        raise SystemExit(f"{decoder}: wrong row count")
    for _ in range(times):
        decode()


def instructions(decoder: str, rows: int, times: int) -> int:
    """Total instructions (Ir) of one child run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
               "benchmarks.callgrind_rows", "--child", decoder, "--rows", str(rows), "--times", str(times)]  # fmt: skip
        env = dict(os.environ, PYTHONHASHSEED="0")
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        if proc.returncode != 0:
            raise SystemExit(f"callgrind run failed: {proc.stderr.strip()[-500:]}")
        text = out.read_text()
    match = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
    if not match:
        raise SystemExit("no instruction total in the callgrind output")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callgrind_rows", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--low", type=int, default=1, help="decodes in the first run (after the warm-up one)")
    parser.add_argument("--high", type=int, default=3, help="decodes in the second run")
    parser.add_argument("--all", action="store_true", help="also cassandra-driver's pure-Python handler")
    parser.add_argument("--child", choices=list(DECODERS), help=argparse.SUPPRESS)
    parser.add_argument("--times", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows, args.times)
        return 0
    if args.high <= args.low:
        parser.error("--high must be more than --low")
    decoders = ["aiocql", "aiocql-pure", "cython"] + (["python"] if args.all else [])
    results = []
    for name in decoders:
        low, high = instructions(name, args.rows, args.low), instructions(name, args.rows, args.high)
        per_row = (high - low) / ((args.high - args.low) * args.rows)
        results.append((name, per_row))
        print(f"{DECODERS[name]}: {per_row:,.0f} instructions per row", file=sys.stderr, flush=True)
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{args.rows} rows x 10 columns (benchmarks/decode_rows.py's page); {version}; "
          f"Python {platform.python_version()}; (Ir({args.high} decodes) - Ir({args.low})) / rows")  # fmt: skip
    print()
    print("| decoder | instructions per row | relative to aiocql |")
    print("|---|---:|---:|")
    base = results[0][1]
    for name, per_row in results:
        print(f"| {DECODERS[name]} | {per_row:,.0f} | {per_row / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
