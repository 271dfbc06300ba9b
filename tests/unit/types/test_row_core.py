"""The two row decoders (compiled core and pure Python) give the same rows and the same errors, byte for byte.

Every test runs on both implementations; the compiled one is skipped only where it is not built, unless
AIOCQL_REQUIRE_EXTENSIONS=1 (CI's compiled pass), which turns a missing build into a failure. The differential
tests compare the compiled decoder with the pure one on the same bytes: values, their types, and the errors'
class and message.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import struct
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiocql.errors import CqlError, ProtocolError
from aiocql.protocol import cqltypes as ct
from aiocql.types import speedups
from aiocql.types.codecs import encoder_for
from aiocql.types.decoders import FAST_TIMESTAMP_LIMIT
from aiocql.types.record import row_class
from aiocql.types.rows import RowDecoder
from aiocql.types.values import EMPTY

from .strategies import cql_types, deep_same, values_for
from .test_codecs_golden import GOLDEN

REQUIRED = os.environ.get("AIOCQL_REQUIRE_EXTENSIONS", "") not in ("", "0")
NATIVE = [ct.INT, ct.BIGINT, ct.COUNTER, ct.SMALLINT, ct.TINYINT, ct.DOUBLE, ct.FLOAT, ct.BOOLEAN, ct.TIMESTAMP,
          ct.UUID, ct.TIMEUUID, ct.TEXT, ct.ASCII, ct.BLOB]  # fmt: skip
MIXED = [ct.INT, ct.TEXT, ct.BIGINT, ct.UUID, ct.TIMESTAMP, ct.ListType(ct.INT), ct.BLOB, ct.BOOLEAN, ct.DOUBLE,
         ct.DECIMAL, ct.SMALLINT, ct.TINYINT, ct.FLOAT, ct.ASCII, ct.TIMEUUID, ct.DATE]  # fmt: skip


def compiled_available() -> bool:
    if speedups.core is None:
        if REQUIRED:
            pytest.fail("the compiled core is required (AIOCQL_REQUIRE_EXTENSIONS) but not built")
        return False
    return True


@pytest.fixture(params=["pure", "compiled"])
def compiled(request: pytest.FixtureRequest) -> bool:
    if request.param == "compiled" and not compiled_available():
        pytest.skip("the compiled core is not built")
    return request.param == "compiled"


def value(data: bytes | None) -> bytes:
    return b"\xff\xff\xff\xff" if data is None else struct.pack(">i", len(data)) + data


def page(types: list[ct.CqlType], rows: list[tuple[object, ...]]) -> bytes:
    return b"".join(
        value(None if v is None else encoder_for(t, "x")(v)) for row in rows for t, v in zip(types, row, strict=True)
    )


def outcome(types: list[ct.CqlType], body: bytes, count: int, compiled: bool, pos: int = 0) -> Any:
    """(rows, end) or (error class, message) of one decode."""
    try:
        return RowDecoder(types, compiled=compiled).decode_rows_end(memoryview(body), pos, count)
    except CqlError as exc:
        return type(exc), str(exc)


def same_outcome(types: list[ct.CqlType], body: bytes, count: int, pos: int = 0) -> None:
    pure, fast = outcome(types, body, count, False, pos), outcome(types, body, count, True, pos)
    if isinstance(pure[0], type):
        assert fast == pure
    else:
        assert fast[1] == pure[1]
        assert len(fast[0]) == len(pure[0])
        for a, b in zip(fast[0], pure[0], strict=True):
            assert type(a) is tuple and deep_same(a, b)


def test_the_implementation_in_use_is_reported() -> None:
    assert RowDecoder([ct.INT]).compiled is speedups.COMPILED
    assert RowDecoder([ct.INT], compiled=False).compiled is False
    if speedups.core is not None:
        assert RowDecoder([ct.INT], compiled=True).compiled is True


def test_environment_selects_pure_python() -> None:
    assert speedups.disabled_by_environment == (os.environ.get("AIOCQL_NO_EXTENSIONS", "") not in ("", "0"))
    if speedups.disabled_by_environment:
        assert speedups.core is None and not speedups.COMPILED


@pytest.mark.parametrize(("t", "py", "hexdata"), GOLDEN, ids=[f"{t}-{h[:16]}" for t, _, h in GOLDEN])
def test_golden_vectors_in_a_row(compiled: bool, t: ct.CqlType, py: object, hexdata: str) -> None:
    # the value alone, between two other columns, and null: the decoder sees the bytes the spec gives
    data = bytes.fromhex(hexdata)
    body = value(data) + value(b"\x00\x00\x00\x07") + value(data) + value(None)
    rows = RowDecoder([t, ct.INT, t, t], compiled=compiled).decode_rows(memoryview(body), 0, 1)
    got = rows[0]
    assert got[1] == 7 and got[3] is None
    for decoded in (got[0], got[2]):
        if isinstance(py, float) and math.isnan(py):
            assert math.isnan(decoded)  # type: ignore[arg-type]
        else:
            assert deep_same(decoded, py), (decoded, py)


@pytest.mark.parametrize("t", [*NATIVE, ct.DECIMAL, ct.ListType(ct.INT), ct.DATE])
def test_null_and_empty_are_distinct(compiled: bool, t: ct.CqlType) -> None:
    body = value(None) + value(b"")
    got = RowDecoder([t, t], compiled=compiled).decode_rows(memoryview(body), 0, 1)[0]
    assert got[0] is None
    assert got[1] is not None
    expected = RowDecoder([t, t], compiled=False).decode_rows(memoryview(body), 0, 1)[0][1]
    assert got[1] == expected and type(got[1]) is type(expected)
    if t in (ct.TEXT, ct.ASCII):
        assert got[1] == ""
    elif t == ct.BLOB:
        assert got[1] == b""
    elif t in (ct.INT, ct.BIGINT, ct.UUID, ct.TIMESTAMP, ct.BOOLEAN, ct.DOUBLE):
        assert got[1] is EMPTY


def test_any_negative_length_is_null(compiled: bool) -> None:
    body = struct.pack(">i", -2) + struct.pack(">i", -(2**31)) + value(b"x")
    assert RowDecoder([ct.INT, ct.TEXT, ct.TEXT], compiled=compiled).decode_rows(memoryview(body), 0, 1) == [
        (None, None, "x")
    ]


@pytest.mark.parametrize("t", NATIVE)
@pytest.mark.parametrize("size", [1, 3, 5, 7, 9, 15, 17])
def test_wrong_sized_values_match_the_pure_decoder(t: ct.CqlType, size: int) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    body = value(bytes(range(1, size + 1))) + value(b"\x00\x00\x00\x01")
    same_outcome([t, ct.INT], body, 1)


@pytest.mark.parametrize("text", [b"\xff", b"a\xc3", b"\xed\xa0\x80", b"ok\xe2\x82"])
def test_invalid_text_is_the_same_protocol_error(compiled: bool, text: bytes) -> None:
    body = page([ct.INT], [(1,)]) + value(text)
    with pytest.raises(ProtocolError, match=r"row 0: invalid text value: 'utf-8' codec can't decode"):
        RowDecoder([ct.INT, ct.TEXT], compiled=compiled).decode_rows(memoryview(body), 0, 1)
    with pytest.raises(ProtocolError, match=r"row 0: invalid text value: 'ascii' codec can't decode"):
        bad_ascii = page([ct.INT], [(1,)]) + value(b"\x80")
        RowDecoder([ct.INT, ct.ASCII], compiled=compiled).decode_rows(memoryview(bad_ascii), 0, 1)
    if compiled:
        same_outcome([ct.INT, ct.TEXT], body, 1)


@pytest.mark.parametrize("size", [2, 7, 8, 9, 15, 16, 17, 40])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_text_of_any_length_matches_the_pure_decoder(size: int, where: str) -> None:
    """ASCII text is copied into the str directly; one byte >= 0x80 anywhere (in a whole 8-byte word or in the
    tail) sends it to the strict decoder: valid UTF-8 gives the same str, invalid the same error."""
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    at = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    ascii_text = bytes(0x41 + i % 26 for i in range(size))
    for text in (ascii_text, b"\x00" * size, ascii_text[:at] + b"\xff" + ascii_text[at + 1 :]):
        for t in (ct.TEXT, ct.ASCII, ct.VARCHAR):
            same_outcome([t, ct.INT], value(text) + value(b"\x00\x00\x00\x01"), 1)
    utf8 = (ascii_text[:at] + "é".encode() + ascii_text[at:])[: max(size, 2) + 1]
    same_outcome([ct.TEXT], value(utf8), 1)
    same_outcome([ct.ASCII], value(utf8), 1)


def test_every_truncation_is_the_same_protocol_error() -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    rows = [(1, "ab", 2, uuid.UUID(int=3), dt.datetime(2020, 1, 1, tzinfo=dt.UTC), [1], b"z", True, 0.5,
             None, 1, 2, 1.5, "a", uuid.UUID("00112233-4455-1677-8899-aabbccddeeff"), None)] * 3  # fmt: skip
    body = page(MIXED, rows)
    for cut in range(len(body)):
        truncated = body[:cut]
        same_outcome(MIXED, truncated, 3)
        with pytest.raises(ProtocolError):
            RowDecoder(MIXED, compiled=True).decode_rows(memoryview(truncated), 0, 3)


def test_positions_and_trailing_bytes(compiled: bool) -> None:
    body = b"head" + page([ct.INT, ct.TEXT], [(1, "a"), (2, "b")]) + b"tail"
    rows, end = RowDecoder([ct.INT, ct.TEXT], compiled=compiled).decode_rows_end(memoryview(body), 4, 2)
    assert rows == [(1, "a"), (2, "b")] and body[end:] == b"tail"


def test_rows_of_a_row_class(compiled: bool) -> None:
    body = page([ct.INT, ct.TEXT], [(1, "a"), (None, "b")])
    cls = row_class(("k", "v"))
    rows = RowDecoder([ct.INT, ct.TEXT], ("k", "v"), compiled=compiled).decode_rows(memoryview(body), 0, 2, cls)
    assert [type(r) for r in rows] == [cls, cls] and rows == [(1, "a"), (None, "b")] and rows[1].v == "b"
    with pytest.raises(ProtocolError):
        RowDecoder([ct.INT, ct.TEXT], compiled=compiled).decode_rows(memoryview(body[:-1]), 0, 2, cls)


def test_rows_of_any_other_class_are_built_as_the_pure_decoder_builds_them(compiled: bool) -> None:
    """A tuple subclass with a __dict__ (or weak references) has more than a tuple's layout, and a class that is
    not a tuple has none: the compiled core built both with the row allocator (a crash on the first attribute,
    an int made of a pointer); they get tuple.__new__(cls, row) as in the pure decoder."""
    import gc
    import weakref

    body = page([ct.INT, ct.TEXT], [(1, "a"), (2, "b")])
    decoder = RowDecoder([ct.INT, ct.TEXT], compiled=compiled)

    class WithDict(tuple):  # type: ignore[type-arg]
        pass

    rows = decoder.decode_rows(memoryview(body), 0, 2, WithDict)
    assert [type(r) for r in rows] == [WithDict, WithDict] and rows == [(1, "a"), (2, "b")]
    marker = type("Marker", (), {})()  # an object a weak reference can follow
    rows[0].note = (rows, marker)  # its __dict__ works, and a cycle through it is collected
    gone = weakref.ref(marker)
    del marker
    del rows
    gc.collect()
    assert gone() is None
    with pytest.raises(TypeError, match="is not a subtype of tuple"):
        decoder.decode_rows(memoryview(body), 0, 2, int)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "ms",
    [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 1_700_000_000_123, FAST_TIMESTAMP_LIMIT - 1,
     FAST_TIMESTAMP_LIMIT, -1, -86_400_001, 2**63 - 1, -(2**63), 253_402_300_799_999, 253_402_300_800_000],
)  # fmt: skip
def test_timestamps_match_the_pure_decoder(ms: int) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    same_outcome([ct.TIMESTAMP], value(struct.pack(">q", ms)), 1)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1))
def test_any_timestamp_matches_the_pure_decoder(ms: int) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    fast = RowDecoder([ct.TIMESTAMP], compiled=True).decode_rows(memoryview(value(struct.pack(">q", ms))), 0, 1)
    pure = RowDecoder([ct.TIMESTAMP], compiled=False).decode_rows(memoryview(value(struct.pack(">q", ms))), 0, 1)
    assert fast == pure and type(fast[0][0]) is type(pure[0][0])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**128 - 1))
def test_uuids_are_real_uuids(n: int) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    u = RowDecoder([ct.UUID], compiled=True).decode_rows(memoryview(value(n.to_bytes(16, "big"))), 0, 1)[0][0]
    expected = uuid.UUID(int=n)
    assert type(u) is uuid.UUID and u == expected and hash(u) == hash(expected) and str(u) == str(expected)
    assert u.int == n and u.is_safe == expected.is_safe and u.bytes == expected.bytes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.lists(cql_types, min_size=1, max_size=6), st.integers(0, 4))
def test_random_rows_match_the_pure_decoder(data: st.DataObject, types: list[ct.CqlType], nrows: int) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    rows = [tuple(data.draw(values_for(t)) for t in types) for _ in range(nrows)]
    same_outcome(types, page(types, rows), nrows)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 5), st.sampled_from([NATIVE, MIXED, [ct.TEXT, ct.INT], [ct.UUID]]))
def test_random_bytes_match_the_pure_decoder(body: bytes, count: int, types: list[ct.CqlType]) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    same_outcome(types, body, count)


def test_decode_time_is_linear(compiled: bool) -> None:
    # CPU time ratio for 8x the rows, generous bound (linear: ~8x; quadratic would be ~64x)
    rows = [(i, f"v{i}", i * 3, uuid.UUID(int=i)) for i in range(4000)]
    types = [ct.INT, ct.TEXT, ct.BIGINT, ct.UUID]
    small, large = page(types, rows[:500]), page(types, rows)
    decoder = RowDecoder(types, compiled=compiled)

    def cpu(body: bytes, count: int) -> float:
        best = math.inf
        for _ in range(5):
            began = time.process_time()
            decoder.decode_rows(memoryview(body), 0, count)
            best = min(best, time.process_time() - began)
        return best

    assert cpu(large, 4000) < 30 * max(cpu(small, 500), 1e-4)


LISTS = [ct.ListType(t) for t in NATIVE]


def _list_body(items: list[bytes | None], count: int | None = None, tail: bytes = b"") -> bytes:
    return struct.pack(">i", len(items) if count is None else count) + b"".join(map(value, items)) + tail


@pytest.mark.parametrize("t", LISTS, ids=str)
@pytest.mark.parametrize(
    "shape", ["ok", "empty list", "null element", "empty element", "short element", "trailing", "negative count",
              "count too big", "truncated count", "bad utf8"],
)  # fmt: skip
def test_lists_match_the_pure_decoder(t: ct.ListType, shape: str) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    good = encoder_for(t.elem, "x")(_SAMPLE[t.elem.name])
    items: list[bytes | None] = [good, good]
    body = {
        "ok": _list_body(items), "empty list": _list_body([]), "null element": _list_body([good, None]),
        "empty element": _list_body([good, b""]), "short element": _list_body([good, good[:-1] or b"\x00\x00"]),
        "trailing": _list_body(items, tail=b"\x00"), "negative count": _list_body(items, count=-1),
        "count too big": _list_body(items, count=3), "truncated count": b"\x00\x00",
        "bad utf8": _list_body([good, b"\xff"]),
    }[shape]  # fmt: skip
    same_outcome([t, ct.INT], value(body) + value(b"\x00\x00\x00\x01"), 1)


_SAMPLE: dict[str, object] = {
    "int": -5, "bigint": 2**40, "counter": 3, "smallint": -2, "tinyint": 7, "double": 0.25, "float": 1.5,
    "boolean": True, "timestamp": dt.datetime(2021, 3, 4, 5, 6, 7, 8000, tzinfo=dt.UTC), "uuid": uuid.UUID(int=9),
    "timeuuid": uuid.UUID("00112233-4455-1677-8899-aabbccddeeff"), "text": "héllo", "ascii": "abc", "blob": b"\x01",
}  # fmt: skip


@pytest.mark.parametrize("unscaled_bytes", range(0, 12))
@pytest.mark.parametrize("scale", [0, 2, -3, 2**31 - 1, -(2**31)])
def test_decimals_match_the_pure_decoder(unscaled_bytes: int, scale: int) -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    for first in (b"\x00", b"\x7f", b"\x80", b"\xff"):
        unscaled = (first + bytes(range(1, unscaled_bytes)))[:unscaled_bytes]
        same_outcome([ct.DECIMAL], value(struct.pack(">i", scale) + unscaled), 1)


def test_the_decimal_limit_applies_to_both() -> None:
    if not compiled_available():
        pytest.skip("the compiled core is not built")
    from aiocql.types import set_decimal_limit

    old = set_decimal_limit(2)
    try:
        body = value(struct.pack(">i", 1) + b"\x01\x02\x03")
        same_outcome([ct.DECIMAL], body, 1)
        assert outcome([ct.DECIMAL], body, 1, True)[0].__name__ == "ValueTooLarge"
    finally:
        set_decimal_limit(old)


def test_row_classes_free_their_rows_and_a_subclass_keeps_its_finalizer() -> None:
    import sys

    if not compiled_available():
        pytest.skip("the compiled core is not built")
    assert speedups.core is not None
    cls = row_class(("lean_a", "lean_b"))
    assert speedups.core.lean_row_type(cls)  # row_class gave it the lean deallocator (idempotent)
    held = object()
    refs, class_refs = sys.getrefcount(held), sys.getrefcount(cls)
    rows = [cls((held, [i])) for i in range(100)] + [cls((held, None)) for _ in range(100)]
    assert sys.getrefcount(held) == refs + 200
    del rows
    assert (sys.getrefcount(held), sys.getrefcount(cls)) == (refs, class_refs)
    finalized = []

    class Finalized(cls):  # type: ignore[misc,valid-type]
        __slots__ = ()

        def __del__(self) -> None:
            finalized.append(tuple(self))

    assert not speedups.core.lean_row_type(Finalized)  # a finalizer: the generic deallocator stays
    Finalized((1, 2))
    assert finalized == [(1, 2)]
    row, class_refs = None, sys.getrefcount(cls)
    for _ in range(100_000):  # deep nesting: freed without exhausting the C stack (the trashcan defers some)
        row = cls((row, None))
    del row
    assert sys.getrefcount(cls) == class_refs  # each row released its class once, deferred or not


def test_garbage_collector_sees_the_rows_that_need_it() -> None:
    import gc

    if not compiled_available():
        pytest.skip("the compiled core is not built")
    types = [ct.INT, ct.TEXT, ct.UUID, ct.ListType(ct.INT)]
    body = page(types, [(1, "a", uuid.UUID(int=1), [1]), (2, "b", uuid.UUID(int=2), None)])
    decoder = RowDecoder(types, ("k", "v", "u", "l"), compiled=True)
    for cls in (None, decoder.row_type):
        first, second = decoder.decode_rows(memoryview(body), 0, 2, cls)
        assert gc.is_tracked(first)  # holds a list: could be in a cycle
        assert not gc.is_tracked(second)  # only atoms and a UUID: cannot
        first[3].append(first)  # a cycle through the row is collected
        del first
        assert gc.collect() >= 2
    was = gc.isenabled()
    try:
        gc.disable()
        decoder.decode_rows(memoryview(body), 0, 2)
        assert not gc.isenabled()  # the decoder's pause does not enable what the user disabled
        gc.enable()
        decoder.decode_rows(memoryview(body), 0, 2)
        with pytest.raises(ProtocolError):
            decoder.decode_rows(memoryview(body[:-1]), 0, 2)
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


# -- page_decoder: decode_page with its factory fixed (the lean request path's one call per page) ---------------
def _factories() -> list[Any]:
    from aiocql import dict_factory, named_tuple_factory, tuple_factory

    def listing(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Any:
        return (list(r) for r in rows)  # a factory returning a generator: the page is a list

    return [named_tuple_factory, tuple_factory, dict_factory, listing]


@pytest.mark.parametrize("which", range(4), ids=["named_tuple", "tuple", "dict", "generator"])
def test_page_decoder_gives_what_decode_page_gives(compiled: bool, which: int) -> None:
    factory = _factories()[which]
    body = b"\x00\x00" + value(struct.pack(">i", 7)) + value(b"seven") + value(None) + value(b"")
    buf = memoryview(body)
    decoder = RowDecoder([ct.INT, ct.TEXT], ("k", "v"), compiled=compiled)
    page = decoder.page_decoder(factory)
    # the compiled core's one C call for the shapes it builds itself; a Python function otherwise
    assert type(getattr(page, "__self__", None)).__name__ == ("PageDecoder" if compiled and which < 2 else "NoneType")
    got = page(buf, 2, 2)
    expected = decoder.decode_page(buf, 2, 2, factory)
    assert got == expected == RowDecoder([ct.INT, ct.TEXT], ("k", "v"), compiled=False).decode_page(buf, 2, 2, factory)
    assert [type(r) for r in got] == [type(r) for r in expected]
    assert type(got) is list and len(got) == 2


@pytest.mark.parametrize(
    ("types", "count", "body"),
    [
        ([ct.INT], -1, value(b"\x00\x00\x00\x01")),
        ([ct.INT, ct.TEXT], 2, value(b"\x00\x00\x00\x01") + value(b"x")),  # 2 rows of 8+ bytes in 13
        ([ct.INT], 2**31 - 1, value(b"\x00\x00\x00\x01")),
        ([], 65537, b""),
        ([ct.INT, ct.TEXT], 1, value(b"\x00\x00\x00\x01") + b"\x00\x00\x00\x09x"),  # truncated value
    ],
)
def test_page_decoder_refuses_what_decode_rows_refuses(
    compiled: bool, types: list[ct.CqlType], count: int, body: bytes
) -> None:
    from aiocql import named_tuple_factory, tuple_factory

    for factory in (named_tuple_factory, tuple_factory):
        decoder = RowDecoder(types, [f"c{i}" for i in range(len(types))], compiled=compiled)
        with pytest.raises(ProtocolError) as expected:
            RowDecoder(types, [f"c{i}" for i in range(len(types))], compiled=False).decode_page(
                memoryview(body), 0, count, factory
            )
        with pytest.raises(ProtocolError) as got:
            decoder.page_decoder(factory)(memoryview(body), 0, count)
        assert str(got.value) == str(expected.value)
