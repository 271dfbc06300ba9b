"""Figures of docs/limits.md: CPU time to decode 1 MB adversarial values (best of 5).

Usage::

    PYTHONPATH=. python -m tests.complexity_figures
"""

from __future__ import annotations

import os
import struct
import time
import uuid
from collections.abc import Callable

from aiocql import ValueTooLarge
from aiocql.protocol.cqltypes import DECIMAL, INT, UUID, VARINT, ListType, MapType, SetType
from aiocql.types import set_decimal_limit
from aiocql.types.codecs import decoder_for, encoder_for

M61 = 2**61 - 1


def cpu_ms(f: Callable[[], object], reps: int = 5) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        f()
        best = min(best, time.process_time() - start)
    return best * 1000


def _raises(f: Callable[[], object]) -> None:
    try:
        f()
    except ValueTooLarge:
        return
    raise AssertionError("expected ValueTooLarge")


def main() -> None:
    colliding = [uuid.UUID(int=1 + k * M61) for k in range(50_000)]
    random_ = [uuid.uuid4() for _ in range(50_000)]
    bad = encoder_for(ListType(UUID), "x")(colliding)
    good = encoder_for(ListType(UUID), "x")(random_)
    n = 35_000
    pairs = b"".join(struct.pack(">i", 16) + u.bytes + struct.pack(">ii", 4, i) for i, u in enumerate(colliding[:n]))
    varints = [(1 + k * M61).to_bytes(16, "big", signed=True) for k in range(1, 41_000)]
    vset = struct.pack(">i", len(varints)) + b"".join(struct.pack(">i", 16) + v for v in varints)
    mapped = struct.pack(">i", n) + pairs
    big = bytes(4) + os.urandom(1_000_000)
    mid = bytes(4) + os.urandom(70_000)
    rows = [
        ("list<uuid>, 50,000 random", lambda: decoder_for(ListType(UUID))(good)),
        ("set<uuid>, 50,000 random", lambda: decoder_for(SetType(UUID))(good)),
        ("set<uuid>, 50,000 colliding", lambda: decoder_for(SetType(UUID))(bad)),
        (
            "map<uuid, int>, 35,000 colliding keys",
            lambda: decoder_for(MapType(UUID, INT))(mapped),
        ),
        ("set<varint>, 40,999 colliding", lambda: decoder_for(SetType(VARINT))(vset)),
        ("decimal 1 MB (ValueTooLarge)", lambda: _raises(lambda: decoder_for(DECIMAL)(big))),
        ("varint 1 MB", lambda: decoder_for(VARINT)(big)),
    ]
    for name, f in rows:
        print(f"{name:45s} {cpu_ms(f):8.1f} ms CPU")
    old = set_decimal_limit(None)
    try:
        print(f"{'decimal 70 KB, no limit':45s} {cpu_ms(lambda: decoder_for(DECIMAL)(mid), 2):8.1f} ms CPU")
    finally:
        set_decimal_limit(old)


if __name__ == "__main__":
    main()
