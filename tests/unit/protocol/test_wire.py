"""The compiled wire fast paths (aiocql.protocol._wire) against the pure-Python code they stand in for.

Every compiled function either gives exactly what the pure path gives or answers None (the pure path then
runs): so for any input, the bytes, the result or the error are the same with and without the extension.
Without the extension built (or with AIOCQL_NO_EXTENSIONS=1) the comparisons are skipped, and the pure path
is what every other test runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol import decoder, frames, requests, responses, wire
from aiocql.protocol.compression import Lz4Compressor, lz4_available
from aiocql.protocol.constants import Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.envelope import Envelope, encode_envelope
from aiocql.protocol.frames import encode_v5_frames
from aiocql.protocol.requests import Execute, Query, QueryParameters
from aiocql.protocol.unset import UNSET

_LZ4 = Lz4Compressor() if lz4_available() else None
needs_compiled = pytest.mark.skipif(wire.fast is None, reason="the compiled wire module is not built")


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:
        return (type(exc), str(exc))


def pure(monkeypatch: pytest.MonkeyPatch, fn: Callable[[], Any]) -> Any:
    with monkeypatch.context() as m:
        m.setattr(requests, "_execute_body", None)
        m.setattr(requests, "_query_body", None)
        m.setattr(responses, "_fast_result", None)
        return outcome(fn)


def test_environment_selects_the_pure_paths() -> None:
    disabled = os.environ.get("AIOCQL_NO_EXTENSIONS", "").strip() not in ("", "0")
    if disabled:
        assert wire.fast is None and not wire.COMPILED
    assert wire.COMPILED is (wire.fast is not None)
    assert (requests._execute_body is None) is (wire.fast is None)
    assert (responses._fast_result is None) is (wire.fast is None)
    assert (decoder._split is None) is (wire.fast is None)
    assert (decoder._frames is None) is (frames._encode_frames is None) is (wire.fast is None)


ints = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 0xFFFF, 0x10000, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63)]),
)
values = st.one_of(
    st.binary(max_size=40),
    st.none(),
    st.just(UNSET),
    st.binary(max_size=5).map(bytearray),
    st.binary(max_size=5).map(memoryview),
    st.integers(0, 3),  # not an encoded value: ProtocolError
    st.text(max_size=3),
)
texts = st.one_of(st.text(max_size=20), st.just("\ud800"), st.text(max_size=3).map(lambda t: t * 30000))


@st.composite
def parameters(draw: st.DrawFn) -> QueryParameters:
    seq = draw(st.lists(values, max_size=6))
    return QueryParameters(
        consistency=draw(st.one_of(ints, st.sampled_from([1, 6, 10]))),
        values=draw(st.sampled_from([list, tuple]))(seq),
        names=draw(st.one_of(st.none(), st.just([f"v{i}" for i in range(len(seq))]))),
        skip_metadata=draw(st.booleans()),
        page_size=draw(st.one_of(st.none(), ints)),
        paging_state=draw(st.one_of(st.none(), st.binary(max_size=20), st.binary(max_size=4).map(bytearray))),
        serial_consistency=draw(st.one_of(st.none(), ints)),
        timestamp=draw(st.one_of(st.none(), ints)),
        keyspace=draw(st.one_of(st.none(), texts)),
        now_in_seconds=draw(st.one_of(st.none(), ints)),
    )


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(
    params=parameters(),
    query_id=st.one_of(st.binary(max_size=20), st.binary(max_size=3).map(bytearray)),
    metadata_id=st.one_of(st.none(), st.binary(max_size=20)),
    version=st.sampled_from([4, 5]),
)
def test_execute_bodies_are_the_pure_ones(
    params: QueryParameters, query_id: bytes, metadata_id: bytes | None, version: int
) -> None:
    msg = Execute(query_id, params, metadata_id)
    with pytest.MonkeyPatch.context() as m:
        assert outcome(lambda: msg.encode(version)) == pure(m, lambda: msg.encode(version))


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(params=parameters(), query=texts, version=st.sampled_from([4, 5]))
def test_query_bodies_are_the_pure_ones(params: QueryParameters, query: str, version: int) -> None:
    msg = Query(query, params)
    with pytest.MonkeyPatch.context() as m:
        assert outcome(lambda: msg.encode(version)) == pure(m, lambda: msg.encode(version))


@needs_compiled
def test_the_common_execute_is_compiled() -> None:
    # the point read a session sends on v5: the compiled function encodes it itself (no fallback)
    params = QueryParameters(10, [b"\x00\x00\x00\x07", None, UNSET], skip_metadata=True, page_size=5000)
    assert wire.fast is not None
    execute_body = wire.fast.execute_body
    body = execute_body(b"\x01\x02", b"\x03", params, 5)
    assert body is not None
    # id, metadata id, consistency, flags (values, skip metadata, page size), 3 values, page size
    expected = "0002" "0102" "0001" "03" "000a" "00000007" "0003" "0000000400000007"  # fmt: skip
    expected += "ffffffff" "fffffffe" "00001388"  # fmt: skip
    assert body.hex() == expected
    assert execute_body(b"\x01", None, params, 5) is None  # v5 needs the id
    assert execute_body(b"\x01", None, params, 4) is not None


def i32(n: int) -> bytes:
    return n.to_bytes(4, "big", signed=True)


@st.composite
def result_bodies(draw: st.DrawFn) -> bytes:
    """RESULT bodies near the compiled decoder's cases (Void, Rows without metadata), valid or not."""
    kind = draw(st.sampled_from([1, 2, 2, 2, 3, 5, 0, -1, 7]))
    flags = draw(st.sampled_from([4, 4, 6, 0, 1, 12, 14, -(2**31) | 4, 0x7FFFFFFF]))
    count = draw(st.sampled_from([1, 0, 3, -1]))
    body = i32(kind) + i32(flags) + i32(count)
    if flags & 2:
        state = draw(st.binary(max_size=10))
        body += i32(draw(st.sampled_from([len(state), -1, len(state) + 1, -5]))) + state
    if flags & 8:
        body += b"\x00\x02ab"
    body += i32(draw(st.sampled_from([1, 0, 2, -1]))) + draw(st.binary(max_size=12))
    cut = draw(st.one_of(st.none(), st.integers(0, len(body))))
    return body if cut is None else body[:cut]


@needs_compiled
@settings(max_examples=600, deadline=None)
@given(
    body=st.one_of(result_bodies(), st.binary(max_size=30)),
    flags=st.sampled_from([0, 0, 2, 8, 1]),
    version=st.sampled_from([4, 5]),
    view=st.booleans(),
)
def test_result_decoding_is_the_pure_one(body: bytes, flags: int, version: int, view: bool) -> None:
    env = Envelope(version, flags, 1, Opcode.RESULT, memoryview(body) if view else body)
    with pytest.MonkeyPatch.context() as m:
        fast = outcome(lambda: responses.decode_response(env))
        assert fast == pure(m, lambda: responses.decode_response(env))
    if fast[0] == "ok" and type(fast[1]).__name__ == "RowsResult":
        assert type(fast[1].buffer) is memoryview and bytes(fast[1].buffer) == body


@needs_compiled
def test_the_common_results_are_compiled() -> None:
    assert wire.fast is not None
    page = i32(2) + i32(4) + i32(1) + i32(1) + i32(3) + b"abc"
    result = wire.fast.decode_result(page, 5)
    assert result is not None and result.rows_count == 1 and result.offset == 16 and result.metadata.columns is None
    assert type(wire.fast.decode_result(i32(1), 5)).__name__ == "VoidResult"
    assert wire.fast.decode_result(i32(2) + i32(1) + i32(1), 5) is None  # metadata: the pure decoder reads it


def _envelope_bytes(draw: st.DrawFn, version: int, framed: bool) -> bytes:
    opcode = draw(st.sampled_from([0x08, 0x08, 0x00, 0x02, 0x0C, 0x07, 0x11, 0xFF]))
    body = draw(st.binary(max_size=24))
    flags = draw(st.sampled_from([0, 0, 0x01, 0x02, 0x08, 0xFF]))
    if flags & 0x01 and not framed and version < 5 and _LZ4 is not None and draw(st.booleans()):
        body = _LZ4.compress_body(body)
    vbyte = draw(st.sampled_from([version | 0x80, version | 0x80, version, 0x82, 0x86]))
    stream = draw(st.sampled_from([0, 1, 127, 32767, -1, -32768]))
    length = draw(st.sampled_from([len(body), len(body), -1, len(body) + 3, 2**31 - 1]))
    return bytes([vbyte, flags]) + stream.to_bytes(2, "big", signed=True) + bytes([opcode]) + i32(length) + body


@st.composite
def streams(draw: st.DrawFn) -> tuple[int, bool, bool, bytes, list[int]]:
    version = draw(st.sampled_from([4, 5]))
    framed = version == 5 and draw(st.booleans())
    lz4 = framed and _LZ4 is not None and draw(st.booleans())
    envelopes = [_envelope_bytes(draw, version, framed) for _ in range(draw(st.integers(0, 5)))]
    if framed:
        data = encode_v5_frames(envelopes, _LZ4 if lz4 else None, max_payload=draw(st.sampled_from([20, 200, 131071])))
    else:
        data = b"".join(envelopes)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=4)))
    return version, framed, lz4, data, cuts


def _decode(version: int, framed: bool, lz4: bool, data: bytes, cuts: list[int], responses: bool | None) -> Any:
    dec = FrameDecoder(compressor=_LZ4 if version < 5 else None, responses=responses, max_envelope_size=1 << 16)
    if framed:
        dec.start_v5_framing(_LZ4 if lz4 else None)
    got: list[Any] = []
    start = 0
    for cut in [*cuts, len(data)]:
        try:
            got.append(dec.feed(data[start:cut]))
        except ProtocolError as exc:
            got.append((type(exc), str(exc), getattr(exc, "envelopes", None)))
            break
        start = cut
    return got, dec.buffered


@needs_compiled
@settings(max_examples=600, deadline=None)
@given(stream=streams(), responses=st.sampled_from([True, False, None]))
def test_envelope_decoding_is_the_pure_one(stream: tuple[int, bool, bool, bytes, list[int]], responses: bool) -> None:
    fast = _decode(*stream, responses)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(decoder, "_split", None)
        m.setattr(decoder, "_frames", None)
        assert fast == _decode(*stream, responses)


@needs_compiled
def test_the_common_envelopes_are_compiled() -> None:
    assert wire.fast is not None
    table = tuple(Opcode(b) if b in (0x08, 0x00) else None for b in range(256))
    data = encode_envelope(5, 0, -2, Opcode.RESULT, b"ab", response=True) * 2 + b"\x85\x00"
    out: list[Envelope] = []
    assert wire.fast.split_envelopes(data, 0, len(data), out, table, 1, 100, True) == 22
    assert out == [Envelope(5, 0, -2, Opcode.RESULT, b"ab")] * 2 and type(out[0].body) is bytes
    assert wire.fast.split_envelopes(data, 0, len(data), out, table, 0, 100, True) == 0  # a reply, not a request
    for cls, slots in ((Envelope, ("version", "flags", "stream", "opcode", "body", "is_response")),):
        assert wire.fast.Slots(cls, slots).direct  # built without __init__, every slot set
    assert not wire.fast.Slots(Envelope, ("version",)).direct  # not every slot: the slow way
    assert wire.fast.Slots(Envelope, ("version",))(4).version == 4


@needs_compiled
@settings(max_examples=400, deadline=None)
@given(
    items=st.lists(st.binary(max_size=60), max_size=8),
    max_payload=st.sampled_from([1, 9, 30, 100, 131071]),
    corrupt=st.one_of(st.none(), st.integers(0, 400)),
)
def test_frames_are_the_pure_ones(items: list[bytes], max_payload: int, corrupt: int | None) -> None:
    fast = outcome(lambda: encode_v5_frames(items, max_payload=max_payload))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(frames, "_encode_frames", None)
        assert fast == outcome(lambda: encode_v5_frames(items, max_payload=max_payload))
    if fast[0] == "ok" and corrupt is not None and fast[1]:
        data = bytearray(fast[1])
        data[corrupt % len(data)] ^= 0x40  # a flipped bit: a CRC (or a header) no longer checks out
        decoded = _decode(5, True, False, bytes(data), [], None)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(decoder, "_split", None)
            m.setattr(decoder, "_frames", None)
            assert decoded == _decode(5, True, False, bytes(data), [], None)


@needs_compiled
def test_the_common_frames_are_compiled() -> None:
    assert wire.fast is not None
    envelopes = [encode_envelope(5, 0, s, Opcode.RESULT, b"x" * s, response=True) for s in range(3)]
    data = wire.fast.encode_frames(envelopes, 131071)
    assert data is not None and data == b"".join(encode_v5_frames([e]) for e in [b"".join(envelopes)])
    out: list[Envelope] = []
    table = tuple(Opcode.RESULT if b == 0x08 else None for b in range(256))
    assert wire.fast.decode_frames(data + data[:7], 0, len(data) + 7, out, table, 1, 100) == len(data)
    assert [e.stream for e in out] == [0, 1, 2]
    assert wire.fast.encode_frames([b"x" * 10], 9) is None  # larger than a frame: the pure code splits it
