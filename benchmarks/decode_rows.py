"""Micro-benchmark: decoding the rows of one RESULT Rows body, sans I/O.

Builds the body of a 5,000-row RESULT (kind Rows, metadata with 10 columns of mixed types, rows) and
times, on the same bytes:

* aiocql: ``RowDecoder(types).decode_rows(...)`` (decoder built once per metadata, as the driver does), with
  its compiled core when built and in pure Python,
* cassandra-driver's compiled (Cython) protocol handler decoding the whole RESULT body,
* cassandra-driver's pure-Python protocol handler (for reference).

Run: ``python benchmarks/decode_rows.py [--rows 5000] [--repeats 9] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import platform
import pstats
import statistics
import struct
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiocql.protocol import cqltypes as ct
from aiocql.protocol.options import write_option
from aiocql.types.codecs import encoder_for
from aiocql.types.rows import RowDecoder

COLUMNS: list[tuple[str, ct.CqlType]] = [
    ("id", ct.INT),
    ("big", ct.BIGINT),
    ("name", ct.TEXT),
    ("score", ct.DOUBLE),
    ("ts", ct.TIMESTAMP),
    ("uid", ct.UUID),
    ("flag", ct.BOOLEAN),
    ("data", ct.BLOB),
    ("nums", ct.ListType(ct.INT)),
    ("price", ct.DECIMAL),
]


def _row(i: int) -> list[object]:
    return [
        i,
        i * 1_000_003,
        f"user-{i:08d}@example.com",
        i / 7,
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=i * 997),
        uuid.UUID(int=i * 0x9E3779B97F4A7C15 % 2**128),
        i % 2 == 0,
        i.to_bytes(16, "big"),
        [i, i + 1, i + 2],
        Decimal(i).scaleb(-2),
    ]


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def build_body(rows: int) -> tuple[bytes, int]:
    """The RESULT body and the offset of <rows_content> in it."""
    parts = [struct.pack(">i", 2), struct.pack(">ii", 0x0001, len(COLUMNS)), _string("ks"), _string("bench")]
    for name, t in COLUMNS:
        parts.append(_string(name) + write_option(t))
    parts.append(struct.pack(">i", rows))
    offset = len(b"".join(parts))
    encoders = [encoder_for(t, name) for name, t in COLUMNS]
    for i in range(rows):
        for enc, value in zip(encoders, _row(i), strict=True):
            data = enc(value)
            parts.append(struct.pack(">i", len(data)) + data)
    return b"".join(parts), offset


def _measure(candidates: list[tuple[str, Callable[[], object]]], repeats: int) -> list[list[tuple[float, float]]]:
    """(CPU seconds, wall seconds) of each run of each candidate, repeats interleaved so that all
    candidates see the same machine load. CPU time (this process) is the figure reported first: it
    does not count the time other processes on a shared machine take from us."""
    samples: list[list[tuple[float, float]]] = [[] for _ in candidates]
    for _, fn in candidates:
        fn()  # warm up
    for _ in range(repeats):
        for i, (_, fn) in enumerate(candidates):
            cpu, wall = time.process_time(), time.perf_counter()
            fn()
            samples[i].append((time.process_time() - cpu, time.perf_counter() - wall))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--profile", action="store_true", help="cProfile aiocql's decoder and print the top")
    args = parser.parse_args()

    body, offset = build_body(args.rows)
    view = memoryview(body)
    decoder = RowDecoder([t for _, t in COLUMNS])
    ours = decoder.decode_rows(view, offset, args.rows)

    pure = RowDecoder([t for _, t in COLUMNS], compiled=False)
    label = "compiled core" if decoder.compiled else "pure Python: the compiled core is not built"
    candidates: list[tuple[str, Callable[[], object]]] = [
        (f"aiocql RowDecoder ({label})", lambda: decoder.decode_rows(view, offset, args.rows)),
    ]
    if decoder.compiled:
        candidates.append(("aiocql RowDecoder (pure Python)", lambda: pure.decode_rows(view, offset, args.rows)))
    try:
        from cassandra import protocol as cprotocol

        def theirs(handler: Any) -> Callable[[], object]:
            return lambda: handler.decode_message(5, {}, 0, 0, 0x08, body, None, None).parsed_rows

        check = theirs(cprotocol.ProtocolHandler)()
        assert len(check) == len(ours) and check[7][0] == ours[7][0] and check[7][2] == ours[7][2]  # type: ignore[arg-type,index]
        compiled = cprotocol.HAVE_CYTHON and cprotocol.ProtocolHandler is not cprotocol._ProtocolHandler
        label = "compiled (Cython)" if compiled else "default handler"
        candidates.append((f"cassandra-driver {label}", theirs(cprotocol.ProtocolHandler)))
        candidates.append(("cassandra-driver pure Python", theirs(cprotocol._ProtocolHandler)))
    except ImportError:
        print("cassandra-driver is not installed: only aiocql is measured", file=sys.stderr)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            decoder.decode_rows(view, offset, args.rows)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)

    results = []
    for (name, _), runs in zip(candidates, _measure(candidates, args.repeats), strict=True):
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        results.append((name, args.rows / cpu, args.rows / wall))

    base = results[0][1]
    print(f"{args.rows} rows x {len(COLUMNS)} columns ({', '.join(t.cql_name for _, t in COLUMNS)}), "
          f"body {len(body):,} bytes; median of {args.repeats} interleaved runs; "
          f"Python {platform.python_version()}, {platform.machine()}")  # fmt: skip
    print()
    print("| decoder | rows/s (CPU time) | µs/row (CPU) | rows/s (wall) | relative to aiocql (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for name, cpu_rate, wall_rate in results:
        print(f"| {name} | {cpu_rate:,.0f} | {1e6 / cpu_rate:.2f} | {wall_rate:,.0f} | {cpu_rate / base:.2f}x |")


if __name__ == "__main__":
    main()
