"""Issue 11: every value decodes in time linear in its size (defects 3 and 4), server-free.

Hash flooding is measured by counting comparisons (deterministic); decimals by the limit (a typed
error raised before any conversion) and by an exactness check of the long-value path; the timing
checks compare ratios of CPU times with generous bounds (linear: x8 for 8x the input; quadratic:
x64), never absolute thresholds.
"""

from __future__ import annotations

import os
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal

import pytest

from aiocql import ValueTooLarge
from aiocql.errors import CqlError
from aiocql.protocol import cqltypes as ct
from aiocql.types import DEFAULT_DECIMAL_LIMIT, decimal_limit, set_decimal_limit
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.composite_decoders import FLOOD_MAX_BUCKET, FLOOD_MIN_ELEMENTS
from aiocql.types.rows import RowDecoder
from aiocql.types.values import FrozenMap, UnhashedMap, UnhashedSet

M61 = 2**61 - 1  # hash(int) is the int modulo this: k * M61 + 1 all hash to 1
TUPLE_PREFIX = struct.pack(">i", 16)
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def colliding_uuids(n: int) -> list[uuid.UUID]:
    out = [uuid.UUID(int=1 + k * M61) for k in range(n)]
    assert len({hash(u) for u in out}) == 1
    return out


def _collection(values: list[bytes], pairs: bool = False) -> bytes:
    count = len(values) // 2 if pairs else len(values)
    return struct.pack(">i", count) + b"".join(struct.pack(">i", len(v)) + v for v in values)


@pytest.fixture
def count_uuid_eq(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    calls = [0]
    original = uuid.UUID.__eq__

    def counting(self: uuid.UUID, other: object) -> bool:
        calls[0] += 1
        return original(self, other)

    monkeypatch.setattr(uuid.UUID, "__eq__", counting)
    yield calls


# ------------------------------------------------------------------------------------ hash flooding


@pytest.mark.parametrize("hashable", [False, True])
def test_set_of_colliding_uuids_costs_no_comparisons(count_uuid_eq: list[int], hashable: bool) -> None:
    # Before the fix: 16,000 UUIDs sharing one hash took n**2/2 = 128M comparisons (8.3 s).
    values = colliding_uuids(16_000)
    data = _collection([u.bytes for u in values])
    t: ct.CqlType = ct.SetType(ct.UUID)
    decode = decoder_for(t) if not hashable else decoder_for(ct.SetType(ct.TupleType((t,))))
    if hashable:  # the set as the only field of a tuple inside a set: hashable mode
        inner = struct.pack(">i", len(data)) + data
        data = _collection([inner])
    result = decode(data)
    assert count_uuid_eq[0] <= 2 * len(values)
    value = next(iter(result))[0] if hashable else result  # type: ignore[call-overload]
    assert isinstance(value, UnhashedSet)
    assert [u.int for u in value] == [u.int for u in values]  # the server's order, nothing lost
    assert values[5] in value and uuid.UUID(int=3) not in value
    hash(value)


def test_map_with_colliding_uuid_keys_costs_no_comparisons(count_uuid_eq: list[int]) -> None:
    values = colliding_uuids(10_000)
    parts: list[bytes] = []
    for i, u in enumerate(values):
        parts += [u.bytes, struct.pack(">i", i)]
    result = decoder_for(ct.MapType(ct.UUID, ct.INT))(_collection(parts, pairs=True))
    assert count_uuid_eq[0] <= 2 * len(values)
    assert isinstance(result, UnhashedMap)
    assert len(result) == 10_000 and result[values[1234]] == 1234
    assert list(result.values())[:3] == [0, 1, 2]
    assert list(result.items())[:2] == [(values[0], 0), (values[1], 1)]
    assert list(result.keys())[-1] is not None and count_uuid_eq[0] <= 3 * len(values)


def test_duplicates_sent_by_a_hostile_server_are_dropped_by_their_bytes(count_uuid_eq: list[int]) -> None:
    values = colliding_uuids(200)
    result = decoder_for(ct.SetType(ct.UUID))(_collection([u.bytes for u in values + values[:50]]))
    assert isinstance(result, UnhashedSet) and len(result) == 200


def test_few_collisions_keep_the_plain_containers() -> None:
    values = colliding_uuids(FLOOD_MAX_BUCKET) + [uuid.uuid4() for _ in range(500)]
    assert type(decoder_for(ct.SetType(ct.UUID))(_collection([u.bytes for u in values]))) is set
    small = colliding_uuids(FLOOD_MIN_ELEMENTS)  # small sets are never checked: at most 64**2/2
    assert type(decoder_for(ct.SetType(ct.UUID))(_collection([u.bytes for u in small]))) is set
    parts: list[bytes] = []
    for i, u in enumerate(values):
        parts += [u.bytes, struct.pack(">i", i)]
    assert type(decoder_for(ct.MapType(ct.UUID, ct.INT))(_collection(parts, pairs=True))) is dict
    hashable = decoder_for(ct.SetType(ct.MapType(ct.UUID, ct.INT)))
    inner = _collection(parts, pairs=True)
    (frozen,) = hashable(_collection([inner]))  # type: ignore[misc]
    assert type(frozen) is FrozenMap


def test_random_uuids_are_never_mistaken_for_a_flood() -> None:
    values = [uuid.uuid4() for _ in range(20_000)]
    result = decoder_for(ct.SetType(ct.UUID))(_collection([u.bytes for u in values]))
    assert type(result) is set and result == set(values)


def _cpu(f: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        f()
        best = min(best, time.process_time() - start)
    return max(best, 1e-6)


@pytest.mark.parametrize(
    ("name", "t", "encode"),
    [
        ("varint", ct.SetType(ct.VARINT), lambda k: (1 + k * M61).to_bytes(16, "big", signed=True)),
        ("decimal", ct.SetType(ct.DECIMAL), lambda k: bytes(4) + (1 + k * M61).to_bytes(16, "big", signed=True)),
        ("tuple<uuid>", ct.SetType(ct.TupleType((ct.UUID,))), lambda k: TUPLE_PREFIX + (1 + k * M61).to_bytes(16, "big")),  # noqa: E501
        ("map key varint", ct.MapType(ct.VARINT, ct.INT), None),
    ],
)  # fmt: skip
def test_colliding_elements_decode_in_linear_time(name: str, t: ct.CqlType, encode: object) -> None:
    def data(n: int) -> bytes:
        if encode is None:
            parts: list[bytes] = []
            for k in range(1, n + 1):
                parts += [(1 + k * M61).to_bytes(16, "big", signed=True), struct.pack(">i", k)]
            return _collection(parts, pairs=True)
        return _collection([encode(k) for k in range(1, n + 1)])  # type: ignore[operator]

    decode = decoder_for(t)
    small, large = data(2_000), data(16_000)
    result = decode(large)
    assert isinstance(result, (UnhashedSet, UnhashedMap)), type(result)
    ratio = _cpu(lambda: decode(large)) / _cpu(lambda: decode(small))
    # 8x the input: linear is about 8; the quadratic set build was about 64.
    assert ratio < 30, f"{name}: 8x the elements took {ratio:.1f}x the time"


def test_unhashed_containers_behave_like_frozen_ones() -> None:
    s = UnhashedSet([3, 1, 2])
    assert s == {1, 2, 3} and {1, 2, 3} == s and hash(s) == hash(frozenset({1, 2, 3}))
    assert s | {4} == {1, 2, 3, 4} and (s & {1, 5}) == {1} and s - {1} == {2, 3}
    m = UnhashedMap([(2, "b"), (1, "a")])
    assert m == {1: "a", 2: "b"} and m != {1: "a"} and m != {1: "a", 2: "c"}
    assert hash(m) == hash(FrozenMap({1: "a", 2: "b"}))
    with pytest.raises(KeyError):
        m[3]
    assert repr(m) == "UnhashedMap([(2, 'b'), (1, 'a')])"


# ------------------------------------------------------------------------------------------- decimals


@pytest.fixture
def restore_limit() -> Iterator[None]:
    old = decimal_limit()
    yield
    set_decimal_limit(old)


def test_decimal_above_the_limit_raises_a_typed_error_at_once() -> None:
    # Before the fix: a 1 MB decimal took 91 s (and a 160 KB one 1.9 s) of a blocked loop.
    assert decimal_limit() == DEFAULT_DECIMAL_LIMIT == 256
    huge = bytes(4) + os.urandom(1_000_000)
    start = time.process_time()
    with pytest.raises(ValueTooLarge, match="set_decimal_limit") as info:
        decoder_for(ct.DECIMAL)(huge)
    assert time.process_time() - start < 0.5  # no conversion at all (generous: a loaded machine)
    assert isinstance(info.value, CqlError)
    # The row decoder (which inlines decimals) raises the same.
    row = struct.pack(">i", len(huge)) + huge
    with pytest.raises(ValueTooLarge):
        RowDecoder([ct.INT, ct.DECIMAL]).decode_rows(memoryview(struct.pack(">i", 4) + bytes(4) + row), 0, 1)


def test_decimal_at_the_limit_is_exact() -> None:
    unscaled = -(2 ** (8 * DEFAULT_DECIMAL_LIMIT - 1))  # the most negative 256-byte value: 617 digits
    data = struct.pack(">i", 10) + unscaled.to_bytes(DEFAULT_DECIMAL_LIMIT, "big", signed=True)
    expected = Decimal(unscaled).scaleb(-10, EXACT)
    assert decoder_for(ct.DECIMAL)(data) == expected
    assert RowDecoder([ct.DECIMAL]).decode_rows(memoryview(struct.pack(">i", len(data)) + data), 0, 1) == [(expected,)]
    assert len(str(abs(unscaled))) == 617


@pytest.mark.usefixtures("restore_limit")
@pytest.mark.parametrize("size", [257, 2048, 2049, 5000, 20_000])
def test_unlimited_decimals_are_exact(size: int) -> None:
    set_decimal_limit(None)
    for sign in (1, -1):
        unscaled = sign * int.from_bytes(os.urandom(size), "big") >> 1
        data = struct.pack(">i", -77) + unscaled.to_bytes(size, "big", signed=True)
        got = decoder_for(ct.DECIMAL)(data)
        expected = Decimal(unscaled).scaleb(77, EXACT)
        assert isinstance(got, Decimal) and got == expected and got.as_tuple() == expected.as_tuple()


@pytest.mark.usefixtures("restore_limit")
def test_set_decimal_limit_validates_and_returns_the_old_value() -> None:
    assert set_decimal_limit(1024) == 256
    assert decimal_limit() == 1024
    data = bytes(4) + (10**1000).to_bytes(416, "big")
    assert decoder_for(ct.DECIMAL)(data) == Decimal(10**1000)
    for bad in (0, -1, 1.5, "256", True):
        with pytest.raises(CqlError, match="max_unscaled_bytes"):
            set_decimal_limit(bad)  # type: ignore[arg-type]


def test_varint_of_a_megabyte_is_linear() -> None:
    small, large = os.urandom(125_000), os.urandom(1_000_000)
    decode = decoder_for(ct.VARINT)
    assert decode(large) == int.from_bytes(large, "big", signed=True)
    assert _cpu(lambda: decode(large)) / _cpu(lambda: decode(small)) < 30
    # beyond sys.int_max_str_digits (4300 digits) nothing converts through str: no ValueError
    value = decode(large)
    assert decode(encoder_for(ct.VARINT, "v")(value)) == value


@pytest.mark.parametrize("digits", [1, 1999, 2001, 4301, 30_000])
@pytest.mark.parametrize("suffix", ["", "E-5", "E+7", ".25", "000"])
def test_encoding_long_decimals_is_exact(digits: int, suffix: str) -> None:
    set_decimal_limit_old = set_decimal_limit(None)
    try:
        for sign in ("", "-"):
            d = Decimal(sign + "9" + "31" * (digits // 2) + suffix)
            data = encoder_for(ct.DECIMAL, "d")(d)
            back = decoder_for(ct.DECIMAL)(data)
            assert back == d and isinstance(back, Decimal) and back.as_tuple() == d.as_tuple()
    finally:
        set_decimal_limit(set_decimal_limit_old)


def test_encoding_a_long_decimal_is_sub_quadratic() -> None:
    # int(Decimal) is quadratic in CPython (480,000 digits: 6 s); the encoder splits long values.
    encode = encoder_for(ct.DECIMAL, "d")
    small, large = Decimal("7" * 20_000), Decimal("7" * 160_000)
    ratio = _cpu(lambda: encode(large)) / _cpu(lambda: encode(small))
    assert ratio < 40, f"8x the digits took {ratio:.1f}x the time (quadratic: 64x)"


@pytest.mark.parametrize("size", [FLOOD_MIN_ELEMENTS, FLOOD_MIN_ELEMENTS + 1, 40])
def test_many_small_flooded_sets_cost_a_bounded_number_of_comparisons_per_element(
    count_uuid_eq: list[int], size: int
) -> None:
    # Sets too small to be checked must not add up to a quadratic cost either: a list of 1,000 sets
    # of `size` colliding UUIDs compares at most FLOOD_MIN_ELEMENTS times per element.
    inner = _collection([u.bytes for u in colliding_uuids(size)])
    data = _collection([inner] * 1000)
    values = decoder_for(ct.ListType(ct.SetType(ct.UUID)))(data)
    assert isinstance(values, list) and len(values) == 1000
    assert count_uuid_eq[0] <= FLOOD_MIN_ELEMENTS * size * 1000  # 16 per element (measured: 9.4)
