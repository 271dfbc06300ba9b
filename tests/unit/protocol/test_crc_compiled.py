"""The compiled v5 payload CRC32 (aiocql/protocol/_wire_helpers.h: carry-less multiplication folding where the
CPU has it) is zlib's CRC-32 for every length, alignment and running value, and its constants are the ones the
folding needs (derived again here from the polynomial)."""

from __future__ import annotations

import os
import random
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiocql.protocol import crc, wire

REQUIRED = os.environ.get("AIOCQL_REQUIRE_EXTENSIONS", "") not in ("", "0")
HEADER = Path(crc.__file__).with_name("_wire_helpers.h")
SEEDED = zlib.crc32(crc.CRC32_SEED_BYTES)


@pytest.fixture
def fast_crc32() -> Callable[[Any, int], int]:
    if wire.fast is None:
        if REQUIRED:
            pytest.fail("the compiled wire module is required (AIOCQL_REQUIRE_EXTENSIONS) but not built")
        pytest.skip("the compiled wire module is not built")
    crc32: Callable[[Any, int], int] = wire.fast.crc32
    return crc32


def test_the_frame_decoder_uses_the_compiled_crc_where_it_folds_in_c() -> None:
    folds = wire.fast is not None and wire.fast.CRC32_IN_C
    assert (crc._CRC32 is not zlib.crc32) == folds


def test_every_length_and_alignment_is_zlib_s(fast_crc32: Callable[[Any, int], int]) -> None:
    data = random.Random(5).randbytes(2048 + 16)
    view = memoryview(data)
    for start in range(16):  # every alignment of the first byte
        for n in range(0, 2049 - start, 1 if start < 2 else 37):
            chunk = view[start : start + n]
            for value in (0, SEEDED, 0xFFFFFFFF):
                assert fast_crc32(chunk, value) == zlib.crc32(chunk, value), (start, n, value)


def test_large_payloads_and_running_values(fast_crc32: Callable[[Any, int], int]) -> None:
    rng = random.Random(7)
    for n in (65_536, 131_071, 131_072, 200_003, 1 << 20):
        data = rng.randbytes(n)
        assert fast_crc32(data, SEEDED) == zlib.crc32(data, SEEDED)
        cut = rng.randrange(n)  # a running value carried across two calls, as zlib's
        assert fast_crc32(data[cut:], fast_crc32(data[:cut], 0)) == zlib.crc32(data)
    assert fast_crc32(b"123456789", 0) == 0xCBF43926  # the CRC-32 check value
    assert fast_crc32(bytearray(b"b" * 50), SEEDED).to_bytes(4, "little").hex() == "7aaeeb7c"


@given(st.binary(max_size=700), st.integers(0, 0xFFFFFFFF))
def test_random_payloads(data: bytes, value: int) -> None:
    assert crc.crc32(data) == zlib.crc32(crc.CRC32_SEED_BYTES + data)  # whichever implementation is in use
    if wire.fast is not None:
        assert wire.fast.crc32(data, value) == zlib.crc32(data, value)


def _xpow_mod(e: int, poly: int = 0x104C11DB7) -> int:
    r = 1
    for _ in range(e):
        r <<= 1
        if r >> 32 & 1:
            r ^= poly
    return r


def _reflect(v: int, bits: int) -> int:
    return int(format(v, f"0{bits}b")[::-1], 2)


def _floor_div(a: int, b: int) -> int:
    q = 0
    while a.bit_length() >= b.bit_length():
        shift = a.bit_length() - b.bit_length()
        q |= 1 << shift
        a ^= b << shift
    return q


def test_the_folding_constants_are_the_polynomial_s() -> None:
    defines = {
        m[1]: int(m[2], 16) for m in re.finditer(r"#define AIOCQL_(\w+) (0x[0-9a-fA-F]+)ULL", HEADER.read_text())
    }
    for name, exponent in {"K_512_HI": 512 + 32, "K_512_LO": 512 - 32, "K_128_HI": 128 + 32, "K_128_LO": 128 - 32,
                           "K_64": 64}.items():  # fmt: skip
        assert defines[name] == _reflect(_xpow_mod(exponent), 32) << 1, name
    assert defines["P_REFL"] == _reflect(0x104C11DB7, 33)
    assert defines["MU"] == _reflect(_floor_div(1 << 64, 0x104C11DB7), 33)
