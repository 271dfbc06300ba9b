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


# -- the reply router: replies delivered to their waiters by the compiled core ----------------------------------


class Waiter:
    """What the router completes (an asyncio future's done() and set_result())."""

    def __init__(self, done: bool = False) -> None:
        self.is_done = done
        self.results: list[Any] = []

    def done(self) -> bool:
        return self.is_done

    def set_result(self, value: Any) -> None:
        assert not self.is_done
        self.is_done = True
        self.results.append(value)


def _ready_core(max_streams: int) -> Any:
    from aiocql.protocol.core import ClientCore, ServerCore

    client, server = ClientCore(5, max_streams=max_streams), ServerCore()
    client.start_handshake({"CQL_VERSION": "3.0.0"})
    server.receive_data(client.data_to_send())
    server.send_reply(0, Opcode.READY, b"", answers_startup=True)
    client.receive_data(server.data_to_send(), now=1.0)
    assert client.is_ready and client.framed
    return client


def _reply_bytes(draw: st.DrawFn, streams: list[int]) -> bytes:
    stream = draw(st.sampled_from(streams)) if draw(st.integers(0, 3)) else draw(st.sampled_from([-1, 0, 7, 15, 300]))
    kind = draw(st.sampled_from(["void", "void", "rows", "rows", "body", "error", "event"]))
    opcode, flags, version = Opcode.RESULT, 0, 5
    if kind == "void":
        body = i32(1)
    elif kind == "rows":
        body = draw(result_bodies())
    elif kind == "error":
        opcode, body = Opcode.ERROR, i32(0x1000) + b"\x00\x02no" + i32(1) + i32(1) + i32(0)
    elif kind == "event":
        opcode, stream, body = Opcode.EVENT, -1, b"\x00\x0dSTATUS_CHANGE\x00\x02UP\x04\x7f\x00\x00\x01\x00\x00\x23\x52"
    else:
        body = draw(st.binary(max_size=20))
    flags = draw(st.sampled_from([0, 0, 0, 0, 0x08, 0x01]))
    if flags & 0x08:
        body = b"\x00\x01\x00\x01w" + body
    version = draw(st.sampled_from([5, 5, 5, 5, 4]))
    return encode_envelope(version, flags, stream, opcode, body, response=True)


@st.composite
def reply_streams(draw: st.DrawFn) -> tuple[list[int], list[int], list[bool], bytes, list[int]]:
    sent = draw(st.integers(1, 12))  # ids 1..sent (the handshake had 0, freed last)
    orphaned = draw(st.lists(st.integers(1, sent), min_size=draw(st.integers(0, 2)), max_size=4))
    cancelled = [draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else False for _ in range(sent + 1)]
    replies = [_reply_bytes(draw, list(range(1, sent + 1))) for _ in range(draw(st.integers(0, 10)))]
    data = encode_v5_frames(replies, max_payload=draw(st.sampled_from([40, 120, 131071]))) if replies else b""
    corrupt = draw(st.one_of(st.none(), st.integers(0, max(len(data) - 1, 0))))
    if corrupt is not None and data:
        data = data[:corrupt] + bytes([data[corrupt] ^ 0x04]) + data[corrupt + 1 :]
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
    return list(range(1, sent + 1)), orphaned, cancelled, data, cuts


def _as_request_sees(reply: Any) -> Any:
    """What Connection.request makes of a completed waiter: the decoded response (a server error as its text)."""
    got = outcome(lambda: responses.decode_response(reply, 5) if type(reply) is Envelope else reply)
    if got[0] == "ok" and type(got[1]) is responses.ErrorResponse:
        return ("server error", type(got[1].error), str(got[1].error))
    return got


def _deliver(case: tuple[list[int], list[int], list[bool], bytes, list[int]], routed: bool) -> Any:
    """Feed the replies to a ready core; complete the waiters as CqlProtocol.data_received does; the outcome."""
    from aiocql.protocol.core import ConnectionBroken

    sent, orphaned, cancelled, data, cuts = case
    core = _ready_core(16)
    if not routed:
        core._router = None
        core.decoder.replies = None
    waiting: dict[int, Waiter] = {}
    for i in sent:
        assert core.send_request(Opcode.QUERY, b"") == i
        waiting[i] = Waiter(cancelled[i])
    for i in orphaned:
        if waiting.pop(i, None) is not None:
            core.cancel(i)
    waiters = dict(waiting)
    seen: list[Any] = []
    start = 0
    for n, cut in enumerate([*cuts, len(data)]):
        events = core.receive_data(data[start:cut], now=2.0 + n, waiting=waiting)
        start = cut
        for event in events:
            if type(event) is Envelope:
                if event.stream >= 0:
                    fut = waiting.pop(event.stream, None)
                    if fut is not None and not fut.done():
                        fut.set_result(event)
                else:
                    seen.append(("event", event.opcode))
            elif isinstance(event, ConnectionBroken):
                seen.append(("broken", str(event.error)))
            else:
                seen.append(type(event).__name__)
        seen.append(("freed", core.freed, core.in_flight, core.orphaned, core.last_reply_at))
    results = {i: [_as_request_sees(r) for r in fut.results] for i, fut in waiters.items()}
    streams = core.streams
    return seen, results, bytes(streams._state), list(streams._free), sorted(waiting)


@needs_compiled
@settings(max_examples=500, deadline=None)
@given(case=reply_streams())
def test_routed_replies_are_delivered_as_the_pure_path_delivers_them(
    case: tuple[list[int], list[int], list[bool], bytes, list[int]],
) -> None:
    assert _deliver(case, routed=True) == _deliver(case, routed=False)


@needs_compiled
def test_the_common_replies_are_routed() -> None:
    """The replies of a read of common frames reach their waiters with no event (and no envelope) returned."""
    core = _ready_core(16)
    assert core._router is not None
    ids = [core.send_request(Opcode.QUERY, b"") for _ in range(3)]
    waiting = {i: Waiter() for i in ids}
    waiters = dict(waiting)
    page = i32(2) + i32(4) + i32(1) + i32(1) + i32(3) + b"abc"
    data = encode_v5_frames([encode_envelope(5, 0, s, Opcode.RESULT, page if s != ids[0] else i32(1), response=True)
                             for s in ids])  # fmt: skip
    assert core.receive_data(data, now=5.0, waiting=waiting) == []
    assert core.freed == 3 and core.in_flight == 0 and core.last_reply_at == 5.0 and waiting == {}
    void, rows, again = (w.results[0] for w in waiters.values())
    assert type(void).__name__ == "VoidResult" and rows == again and rows.rows_count == 1 and rows.offset == 16
    assert rows.metadata is again.metadata  # one RowsMetadata for the pages alike (no paging state)
    assert bytes(rows.buffer) == page and type(rows.buffer) is memoryview
    # Without waiters (a core driven alone), the same reply comes back as an envelope, as before.
    late = core.send_request(Opcode.QUERY, b"")
    reply = encode_v5_frames([encode_envelope(5, 0, late, Opcode.RESULT, i32(1), response=True)])
    (event,) = core.receive_data(reply, now=6.0)
    assert type(event) is Envelope and event.stream == late and core.in_flight == 0


def _send_all(calls: list[tuple[str, int, Any, int]], routed: bool) -> Any:
    """Requests sent (and ids cancelled or answered) on a ready core: ids, errors, bytes out, the table."""
    core = _ready_core(4)
    if not routed:
        core._router = None
    got: list[Any] = []
    for what, opcode, body, flags in calls:
        if what == "send":
            got.append(outcome(lambda o=opcode, b=body, f=flags: core.send_request(o, b, f)))
        elif what == "cancel":
            got.append(core.cancel(opcode % 5))
        else:
            reply = encode_v5_frames([encode_envelope(5, 0, opcode % 5, Opcode.RESULT, i32(1), response=True)])
            got.append(len(core.receive_data(reply, now=3.0)))
        got.append(core.data_to_send())
    streams = core.streams
    return got, bytes(streams._state), list(streams._free), streams.in_flight, streams.orphaned


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from(["send", "send", "send", "cancel", "reply"]),
            st.sampled_from([0x07, 0x0A, 0x05, 0, 0xFF, 0x100, -1]),
            st.one_of(st.binary(max_size=12), st.binary(max_size=4).map(bytearray), st.just(memoryview(b"ab"))),
            st.sampled_from([0, 0, 0x01, 0x02, 0x04, 0xFF, 0x100, -1]),
        ),
        max_size=12,
    )
)
def test_queued_requests_are_the_pure_ones(calls: list[tuple[str, int, Any, int]]) -> None:
    assert _send_all(calls, routed=True) == _send_all(calls, routed=False)


@needs_compiled
def test_the_common_requests_are_queued_in_c() -> None:
    core = _ready_core(4)
    assert core._router is not None
    outbox: list[bytes] = []
    stream = core._router.queue(0x0A, b"body", 0x03, outbox)
    assert outbox == [encode_envelope(5, 0x02, stream, Opcode.EXECUTE, b"body")]  # no COMPRESSION bit
    assert core.in_flight == 1 and core.streams._state[stream] == 1
    assert core._router.queue(0x0A, bytearray(b"x"), 0, outbox) == -1 and len(outbox) == 1  # the pure code's


def _string(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


@st.composite
def options(draw: st.DrawFn, depth: int = 0) -> bytes:
    kinds = [0x09, 0x0D, 0x02, 0x00, 0x20, 0x21, 0x22, 0x30, 0x31, 0x7777]
    kind = draw(st.sampled_from(kinds if depth < 3 else [0x09]))
    out = kind.to_bytes(2, "big")
    if kind == 0x00:
        out += _string(draw(st.sampled_from([b"org.apache.cassandra.db.marshal.DurationType", b"x", b"\xff"])))
    elif kind in (0x20, 0x22):
        out += draw(options(depth + 1))
    elif kind == 0x21:
        out += draw(options(depth + 1)) + draw(options(depth + 1))
    elif kind == 0x30:
        fields = draw(st.integers(0, 2))
        out += _string(b"ks") + _string(b"udt") + fields.to_bytes(2, "big")
        out += b"".join(_string(b"f%d" % i) + draw(options(depth + 1)) for i in range(fields))
    elif kind == 0x31:
        items = draw(st.integers(0, 2))
        out += items.to_bytes(2, "big") + b"".join(draw(options(depth + 1)) for _ in range(items))
    return out


@st.composite
def metadata_pages(draw: st.DrawFn) -> bytes:
    """RESULT Rows pages with their metadata (global or per-column specs), valid or cut or bent."""
    count = draw(st.integers(0, 3))
    flags = draw(st.sampled_from([0, 1, 2, 3, 8, 9]))
    body = i32(2) + i32(flags) + i32(count)
    if flags & 2:
        body += i32(3) + b"abc"
    if flags & 8:
        body += _string(b"\x01\x02")
    if flags & 1:
        body += _string(b"ks") + _string(b"t")
    for i in range(count):
        if not flags & 1:
            body += _string(b"ks") + _string(b"t")
        body += _string(draw(st.sampled_from([b"k", b"v%d" % i, b"\xc3\xa9", b"\xff"]))) + draw(options())
    body += i32(draw(st.sampled_from([1, 0, -1]))) + draw(st.binary(max_size=8))
    cut = draw(st.one_of(st.none(), st.none(), st.integers(0, len(body))))
    return body if cut is None else body[:cut]


@needs_compiled
@settings(max_examples=600, deadline=None)
@given(body=metadata_pages(), version=st.sampled_from([4, 5]), view=st.booleans())
def test_pages_with_metadata_are_the_pure_ones_cached_or_not(body: bytes, version: int, view: bool) -> None:
    env = Envelope(version, 0, 1, Opcode.RESULT, memoryview(body) if view else body)
    with pytest.MonkeyPatch.context() as m:
        first = outcome(lambda: responses.decode_response(env))  # a miss: read (and cached) by the pure reader
        second = outcome(lambda: responses.decode_response(env))  # a hit when it was valid
        expected = pure(m, lambda: responses.decode_response(env))
    assert first == expected and second == expected


@needs_compiled
def test_known_metadata_is_one_lookup() -> None:
    assert wire.fast is not None
    name = os.urandom(8).hex().encode()  # metadata never seen before by this process's cache
    specs = _string(b"ks") + _string(b"t") + _string(name) + (0x09).to_bytes(2, "big")
    page = i32(2) + i32(0) + i32(1) + specs + i32(1) + i32(1) + b"\x07"
    assert wire.fast.decode_result(page, 5) is None  # first seen: the pure reader reads it (and it is cached)
    cached = wire.fast.decode_result(page, 5)
    assert cached is not None and cached == responses.decode_response(Envelope(5, 0, 1, Opcode.RESULT, page))
    again = wire.fast.decode_result(page, 4)
    assert again is not None and again.metadata.columns is cached.metadata.columns  # the same specs, shared
