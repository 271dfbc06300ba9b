"""Coverage-guided fuzzing (atheris, libFuzzer) of the sans-I/O decoders and the row decoder.

One input is one byte stream as a server could send it, or one value of a CQL type:

* byte 0 selects the mode (modulo 6):
  0 v4 replies; 1 v4 replies with LZ4 body compression; 2 v5 frames; 3 v5 frames with LZ4;
  4 the v5 switch (unframed READY/AUTHENTICATE, then frames); 5 one value:
  ``[short n][n bytes: a Java marshal type string][the value's bytes]``;
* byte 1 sets how the stream is split into ``feed`` calls (0: one call; k: chunks of k bytes);
* the rest is the stream (or the value).

Every envelope decoded is decoded further with ``decode_response`` and, for a RESULT Rows, every
row with :class:`~aiocql.types.rows.RowDecoder` (and each value once more with the decoders of
its column type, in hashable mode too). Any exception that is not an :class:`aiocql.CqlError` is a
crash (libFuzzer stops and writes the input as ``crash-<sha1>``); an input that takes longer than
50 ms of CPU time (measured again to rule out a scheduling blip) is reported as a slow input and is
also a crash.

Run for N minutes (seed corpus: real frames captured from Cassandra 5.0, see capture.py; libFuzzer
writes new inputs into the FIRST directory, so give it a scratch one)::

    mkdir -p /tmp/aiocql-fuzz
    PYTHONPATH=. python -m tests.fuzz.decoders /tmp/aiocql-fuzz tests/fuzz/corpus \\
        -max_total_time=$((N * 60)) -max_len=8192 -artifact_prefix=/tmp/aiocql-fuzz-

Replay one input (a crash file or a corpus file) without atheris::

    PYTHONPATH=. python -m tests.fuzz.decoders --replay FILE...
"""

from __future__ import annotations

import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

MODES = 6
SLOW_SECONDS = 0.050
STATS_EVERY = 100_000


def _import_targets() -> dict[str, Any]:
    from aiocql.errors import CqlError
    from aiocql.protocol.compression import Lz4Compressor, lz4_available
    from aiocql.protocol.decoder import FrameDecoder
    from aiocql.protocol.responses import RowsResult, decode_response
    from aiocql.protocol.typestring import parse_marshal_type
    from aiocql.types.codecs import _decoder
    from aiocql.types.rows import RowDecoder

    m = "org.apache.cassandra.db.marshal."
    guesses = [
        parse_marshal_type(m + name)
        for name in (
            "Int32Type", "UTF8Type", f"SetType({m}UUIDType)", f"MapType({m}UTF8Type,{m}LongType)", "DecimalType",
            "IntegerType", f"ListType({m}Int32Type)", "TimestampType", f"VectorType({m}FloatType,3)",
            f"TupleType({m}Int32Type,{m}UTF8Type,{m}DoubleType)", "UUIDType", "BytesType",
        )
    ]  # fmt: skip
    return {
        "guesses": guesses,
        "CqlError": CqlError,
        "lz4": Lz4Compressor() if lz4_available() else None,
        "FrameDecoder": FrameDecoder,
        "RowsResult": RowsResult,
        "decode_response": decode_response,
        "decoder": _decoder,  # (type, hashable) -> decoder
        "RowDecoder": RowDecoder,
        "parse_marshal_type": parse_marshal_type,
    }


T: dict[str, Any] = {}


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    if size == 0:
        yield data
        return
    for i in range(0, len(data), size):
        yield data[i : i + size]


_INT = struct.Struct(">i")


def _decode_rows(result: Any) -> None:
    columns = result.metadata.columns
    if columns is None:  # skip_metadata (a prepared statement's page): guess types, cycling a list
        guesses = T["guesses"]
        types = [guesses[i % len(guesses)] for i in range(min(result.metadata.column_count, 1000))]
    else:
        types = [c.type for c in columns]
    if not types:
        return
    buf = memoryview(result.buffer)
    rows = T["RowDecoder"](types).decode_rows(buf, result.offset, result.rows_count)
    if not rows:
        return
    # The same values through the per-type decoders, plain and hashable (set elements, map keys).
    pos = result.offset
    decoders = [(T["decoder"](t, False), T["decoder"](t, True)) for t in types]
    for _ in range(min(len(rows), 10)):
        for plain, hashable in decoders:
            (size,) = _INT.unpack_from(buf, pos)
            pos += 4
            if size >= 0:
                value = bytes(buf[pos : pos + size])
                plain(value)
                hash(hashable(value))
                pos += size


def _stream(mode: int, split: int, data: bytes) -> None:
    lz4 = T["lz4"]
    compressed = mode in (1, 3)
    if compressed and lz4 is None:
        compressed = False
    dec = T["FrameDecoder"](responses=True, compressor=lz4 if mode == 1 and compressed else None)
    if mode in (2, 3):
        dec.start_v5_framing(lz4 if compressed else None)
    elif mode == 4:
        dec.expect_v5_framing(None)
    envelopes = []
    try:
        for chunk in _chunks(data, split):
            envelopes.extend(dec.feed(chunk))
    except T["CqlError"] as exc:
        envelopes.extend(getattr(exc, "envelopes", ()))
    for env in envelopes:
        try:
            response = T["decode_response"](env)
            if isinstance(response, T["RowsResult"]):
                _decode_rows(response)
        except T["CqlError"]:
            pass


def _value(data: bytes) -> None:
    if len(data) < 2:
        return
    (n,) = struct.unpack_from(">H", data)
    text = data[2 : 2 + n].decode("utf-8", "replace")
    value = data[2 + n :]
    t = T["parse_marshal_type"](text)
    T["decoder"](t, False)(value)
    hash(T["decoder"](t, True)(value))


def one_input(data: bytes) -> None:
    """Decode one fuzz input; only CqlError may escape the code under test (caught here)."""
    if len(data) < 2:
        return
    mode, split, rest = data[0] % MODES, data[1], data[2:]
    try:
        if mode == 5:
            _value(rest)
        else:
            _stream(mode, split, rest)
    except T["CqlError"]:
        pass


class SlowInput(Exception):
    """An input took longer than SLOW_SECONDS of CPU time, twice."""


class Stats:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.count = 0
        self.max_seconds = 0.0
        self.blips = 0
        self.slow_dir = os.environ.get("AIOCQL_FUZZ_SLOW_DIR")
        self.started = time.monotonic()

    def write(self) -> None:
        if self.path is None:
            return
        elapsed = time.monotonic() - self.started
        with open(self.path, "w") as f:
            f.write(
                f"inputs={self.count} elapsed_s={elapsed:.0f} rate_per_s={self.count / max(elapsed, 1e-9):.0f} "
                f"max_input_ms={self.max_seconds * 1000:.2f} scheduling_blips={self.blips}\n"
            )


def timed(stats: Stats) -> Callable[[bytes], None]:
    clock = time.process_time

    def test_one_input(data: bytes) -> None:
        start = clock()
        one_input(data)
        spent = clock() - start
        if spent > SLOW_SECONDS:
            # Measure again: a page fault storm or GC of other code can hit any input once.
            again = clock()
            one_input(data)
            spent = min(spent, clock() - again)
            if spent > SLOW_SECONDS:
                raise SlowInput(
                    f"input of {len(data)} bytes took {spent * 1000:.1f} ms (limit {SLOW_SECONDS * 1e3} ms)"
                )
            stats.blips += 1
        if spent > stats.max_seconds:
            stats.max_seconds = spent
            if stats.slow_dir is not None and spent > SLOW_SECONDS / 2:  # keep the slowest for a look
                with open(os.path.join(stats.slow_dir, f"slowest-{spent * 1000:.0f}ms"), "wb") as f:
                    f.write(data)
        stats.count += 1
        if stats.count % STATS_EVERY == 0:
            stats.write()

    return test_one_input


def load() -> None:
    """Import the code under test without instrumentation (replay, tests)."""
    if not T:
        T.update(_import_targets())


def main(argv: list[str]) -> None:
    if "--replay" in argv:
        load()
        stats = Stats(None)
        run = timed(stats)
        for path in argv[argv.index("--replay") + 1 :]:
            with open(path, "rb") as f:
                run(f.read())
        print(f"replayed {stats.count} inputs, slowest {stats.max_seconds * 1000:.2f} ms")
        return
    import atheris

    with atheris.instrument_imports(include=["aiocql"]):
        T.update(_import_targets())
    stats = Stats(os.environ.get("AIOCQL_FUZZ_STATS"))
    atheris.Setup(argv, timed(stats))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
