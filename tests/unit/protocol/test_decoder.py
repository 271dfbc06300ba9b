"""FrameDecoder: split-independence, the switch to v5 framing, limits."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol.compression import Lz4Compressor, lz4_available
from aiocql.protocol.constants import MAX_V5_PAYLOAD, Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.envelope import Envelope, encode_envelope
from aiocql.protocol.frames import encode_v5_frames
from tests.unit.protocol.conftest import h

COMPRESSORS = [None, Lz4Compressor()] if lz4_available() else [None]


def response(stream: int, opcode: Opcode, body: bytes, version: int = 5) -> bytes:
    return encode_envelope(version, 0, stream, opcode, body, response=True)


def v5_stream(compressor: Lz4Compressor | None) -> tuple[bytes, list[tuple[int, Opcode, bytes]]]:
    """An unframed READY, then frames: small envelopes, an event, a > 128 KiB envelope, more small."""
    expected = [(0, Opcode.READY, b"")]
    data = response(0, Opcode.READY, b"")
    batch1 = [(s, Opcode.RESULT, b"\x00\x00\x00\x01" + bytes([s]) * s) for s in range(1, 30)]
    batch1.append((-1, Opcode.EVENT, b"\x00\x0dSTATUS_CHANGE"))
    big = (77, Opcode.RESULT, os.urandom(1000) * 150)  # 150 kB, compressible
    batch2 = [(s, Opcode.RESULT, b"\x00\x00\x00\x01") for s in range(100, 140)]
    envs = [*batch1, big, *batch2]
    expected += envs
    data += encode_v5_frames([response(s, op, body) for s, op, body in envs], compressor, max_payload=4000)
    return data, expected


def summary(envs: list[Envelope]) -> list[tuple[int, Opcode, bytes]]:
    return [(e.stream, e.opcode, bytes(e.body)) for e in envs]


def feed_in_chunks(dec: FrameDecoder, data: bytes, cuts: list[int]) -> list[Envelope]:
    out: list[Envelope] = []
    last = 0
    for cut in sorted(set(cuts)):
        out += dec.feed(data[last:cut])
        last = cut
    out += dec.feed(data[last:])
    return out


@pytest.mark.parametrize("compressor", COMPRESSORS)
def test_v5_stream_in_one_piece(compressor: Lz4Compressor | None) -> None:
    data, expected = v5_stream(compressor)
    dec = FrameDecoder()
    dec.expect_v5_framing(compressor)
    assert summary(dec.feed(data)) == expected
    assert dec.framed
    assert dec.buffered == 0


@pytest.mark.parametrize("compressor", COMPRESSORS)
def test_v5_stream_one_byte_at_a_time(compressor: Lz4Compressor | None) -> None:
    data, expected = v5_stream(compressor)
    dec = FrameDecoder()
    dec.expect_v5_framing(compressor)
    out: list[Envelope] = []
    for i in range(len(data)):
        out += dec.feed(data[i : i + 1])
    assert summary(out) == expected


@given(st.lists(st.integers(min_value=0, max_value=400_000), max_size=40), st.sampled_from(COMPRESSORS))
@settings(max_examples=40, deadline=None)
def test_v5_stream_random_splits(cuts: list[int], compressor: Lz4Compressor | None) -> None:
    data, expected = v5_stream(compressor)
    dec = FrameDecoder()
    dec.expect_v5_framing(compressor)
    assert summary(feed_in_chunks(dec, data, [c % (len(data) + 1) for c in cuts])) == expected


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20), st.data())
@settings(max_examples=50, deadline=None)
def test_v4_stream_random_splits(bodies: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(response(i, Opcode.RESULT, b, version=4) for i, b in enumerate(bodies))
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=30))
    out = feed_in_chunks(FrameDecoder(), stream, cuts)
    assert [(e.version, e.stream, e.body) for e in out] == [(4, i, b) for i, b in enumerate(bodies)]


def test_v4_one_byte_at_a_time() -> None:
    stream = response(5, Opcode.READY, b"", 4) + response(-1, Opcode.EVENT, b"xyz", 4)
    dec = FrameDecoder()
    out: list[Envelope] = []
    for i in range(len(stream)):
        out += dec.feed(stream[i : i + 1])
    assert [(e.stream, e.opcode, e.body) for e in out] == [(5, Opcode.READY, b""), (-1, Opcode.EVENT, b"xyz")]


@pytest.mark.parametrize("reply", [Opcode.READY, Opcode.AUTHENTICATE])
def test_switch_right_after_startup_reply_in_the_same_read(reply: Opcode) -> None:
    body = b"" if reply is Opcode.READY else b"\x00\x01x"
    first = response(0, reply, body)
    framed = encode_v5_frames([response(1, Opcode.AUTH_SUCCESS, b"\xff\xff\xff\xff")])
    dec = FrameDecoder()
    dec.expect_v5_framing()
    assert not dec.framed
    out = dec.feed(first + framed)
    assert [e.opcode for e in out] == [reply, Opcode.AUTH_SUCCESS]
    assert dec.framed


def test_options_supported_before_startup_stay_unframed() -> None:
    dec = FrameDecoder()
    dec.expect_v5_framing()
    out = dec.feed(response(0, Opcode.SUPPORTED, b"\x00\x00") + response(1, Opcode.READY, b""))
    assert [e.opcode for e in out] == [Opcode.SUPPORTED, Opcode.READY]
    assert dec.framed


def test_error_reply_to_startup_does_not_switch() -> None:
    # e.g. a v4 server refusing a v5 STARTUP: the error comes back unframed, in v4.
    err = response(0, Opcode.ERROR, h("0000000a 0003 626164"), version=4)
    dec = FrameDecoder()
    dec.expect_v5_framing()
    (env,) = dec.feed(err + err)[:1]
    assert env.version == 4
    assert not dec.framed


def test_start_v5_framing_treats_buffered_bytes_as_frames() -> None:
    frame = encode_v5_frames([response(3, Opcode.READY, b"")])
    dec = FrameDecoder()
    assert dec.feed(frame[:4]) == []  # not yet decodable as an envelope either
    dec.start_v5_framing()
    assert [e.stream for e in dec.feed(frame[4:])] == [3]
    with pytest.raises(ProtocolError, match="already"):
        dec.start_v5_framing()
    with pytest.raises(ProtocolError, match="already"):
        dec.expect_v5_framing()


def test_server_side_switch_after_startup() -> None:
    startup = encode_envelope(5, 0, 0, Opcode.STARTUP, b"\x00\x00")
    dec = FrameDecoder()
    dec.expect_v5_framing(after=(Opcode.STARTUP,))
    out = dec.feed(startup + encode_v5_frames([encode_envelope(5, 0, 1, Opcode.OPTIONS, b"")]))
    assert [(e.opcode, e.is_response) for e in out] == [(Opcode.STARTUP, False), (Opcode.OPTIONS, False)]


def test_max_envelope_size_checked_from_the_header() -> None:
    dec = FrameDecoder(max_envelope_size=1000)
    with pytest.raises(ProtocolError, match="limit of 1000"):
        dec.feed(h("84 00 0001 08 000003e9"))  # only the header of a 1001-byte body
    dec = FrameDecoder()
    with pytest.raises(ProtocolError, match="limit"):
        dec.feed(h("84 00 0001 08 7fffffff"))  # 2 GiB announced: refused at once
    with pytest.raises(ProtocolError, match="negative"):
        FrameDecoder().feed(h("84 00 0001 08 ffffffff"))


def test_max_envelope_size_for_multi_frame_envelopes() -> None:
    big = response(1, Opcode.RESULT, bytes(MAX_V5_PAYLOAD * 3))
    frames = encode_v5_frames([big])
    dec = FrameDecoder(max_envelope_size=MAX_V5_PAYLOAD)
    dec.start_v5_framing()
    assert dec.feed(frames[: MAX_V5_PAYLOAD // 2]) == []  # the first frame is not complete yet
    with pytest.raises(ProtocolError, match="limit"):
        dec.feed(frames[MAX_V5_PAYLOAD // 2 : MAX_V5_PAYLOAD + 20])  # refused at the first frame


def test_bad_headers() -> None:
    with pytest.raises(ProtocolError, match="unknown opcode 0x04"):
        FrameDecoder().feed(h("84 00 0001 04 00000000"))
    with pytest.raises(ProtocolError, match="version 2"):
        FrameDecoder().feed(h("82 00 0001 02 00000000"))


def test_body_is_independent_of_the_input_buffer() -> None:
    data = bytearray(response(1, Opcode.RESULT, b"abcd", version=4))
    dec = FrameDecoder()
    (env,) = dec.feed(data)
    data[9:] = b"zzzz"
    dec.feed(b"")
    assert env.body == b"abcd"
