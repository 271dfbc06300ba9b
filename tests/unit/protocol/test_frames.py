"""Envelopes (v4) and v5 outer frames: golden bytes, packing, splitting, CRC checks."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiocql.errors import ProtocolError
from aiocql.protocol.compression import Lz4Compressor, lz4_available
from aiocql.protocol.constants import MAX_V5_PAYLOAD, HeaderFlag, Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.envelope import Envelope, encode_envelope, opcode_of
from aiocql.protocol.frames import (
    LZ4_HEADER_SIZE,
    UNCOMPRESSED_HEADER_SIZE,
    V5FrameEncoder,
    decode_frame_header,
    encode_frame,
    encode_frame_header,
    encode_v5_frames,
)
from tests.unit.protocol.conftest import h
from tests.unit.protocol.test_crc_compression import crc24_bitwise

needs_lz4 = pytest.mark.skipif(not lz4_available(), reason="lz4 not installed")

# An OPTIONS request, v5, stream 1: version, flags, stream, opcode, length.
OPTIONS_V5 = h("05 00 0001 05 00000000")


# ------------------------------------------------------------------------------------------ envelopes


def test_v4_envelope_golden() -> None:
    assert encode_envelope(4, 0, 1, Opcode.OPTIONS, b"") == h("04 00 0001 05 00000000")
    assert encode_envelope(4, 0x02, 300, Opcode.QUERY, b"\x00\x01") == h("04 02 012c 07 00000002 0001")
    # Responses have the direction bit; events use stream -1.
    assert encode_envelope(4, 0, -1, Opcode.EVENT, b"", response=True) == h("84 00 ffff 0c 00000000")
    assert Envelope(5, 8, 7, Opcode.RESULT, b"x").encode() == h("85 08 0007 08 00000001 78")


def test_compression_flag_always_describes_the_body() -> None:
    assert encode_envelope(4, 0x03, 1, Opcode.QUERY, b"") == h("04 02 0001 07 00000000")


def test_envelope_header_out_of_range() -> None:
    with pytest.raises(ProtocolError, match="cannot encode envelope header"):
        encode_envelope(4, 0, 40000, Opcode.QUERY, b"")
    with pytest.raises(ProtocolError, match="unknown opcode"):
        opcode_of(0x04)


@needs_lz4
def test_v4_compressed_envelope() -> None:
    c = Lz4Compressor()
    body = b"a" * 200
    data = encode_envelope(4, 0, 3, Opcode.QUERY, body, c)
    assert data[1] == HeaderFlag.COMPRESSION
    assert data[9:13] == h("000000c8")  # big-endian uncompressed length prefix of the body
    assert int.from_bytes(data[5:9], "big") == len(data) - 9
    # Too small to shrink: sent uncompressed, flag clear.
    assert encode_envelope(4, 0, 3, Opcode.QUERY, b"ab", c) == h("04 00 0003 07 00000002 6162")
    # v5 envelopes are never compressed themselves.
    assert encode_envelope(5, 0, 3, Opcode.QUERY, body, c)[1] == 0

    dec = FrameDecoder(compressor=c)
    (env,) = dec.feed(encode_envelope(4, 0, 3, Opcode.RESULT, body, c, response=True))
    assert env.body == body
    assert env.flags == 0  # cleared: flags describe the body as delivered
    assert env.is_response


def test_v4_compressed_envelope_without_compressor_is_an_error() -> None:
    with pytest.raises(ProtocolError, match="no compression was negotiated"):
        FrameDecoder().feed(h("84 01 0000 08 00000005 0000000100"))


# ------------------------------------------------------------------------------------------ v5 frames

# Golden frames; the bytes were cross-checked against the DataStax Python driver's segment codec.
PLAIN_FRAME = h(
    "090002",  # 9 | self-contained (bit 17), little-endian
    "a4c8c1",  # CRC24 of those 3 bytes, little-endian
    "050000010500000000",  # payload: the OPTIONS envelope
    "b5557486",  # CRC32 of the payload, little-endian
)
LZ4_RAW_FRAME = h(
    "0900000004",  # compressed length 9 | uncompressed length 0 (= stored raw) | self-contained (bit 34)
    "c2b895",  # CRC24
    "050000010500000000",
    "b5557486",
)
# A RESULT(Rows-like) envelope, 33 bytes, compressible.
LZ4_ENVELOPE = h("85 00 0002 08 00000018 00000014") + b"a" * 20
LZ4_FRAME = h(
    "1700420004",  # compressed 23 | uncompressed 33 << 17 | self-contained << 34
    "8bbf3c",
    "ea85000002080000001800000014610100506161616161",  # LZ4 block (no size prefix)
    "65d3cb4f",
)


def test_uncompressed_frame_golden() -> None:
    assert encode_frame(OPTIONS_V5, True) == PLAIN_FRAME
    assert encode_v5_frames([OPTIONS_V5]) == PLAIN_FRAME
    assert crc24_bitwise(PLAIN_FRAME[:3]) == int.from_bytes(PLAIN_FRAME[3:6], "little")
    dec = FrameDecoder()
    dec.start_v5_framing()
    (env,) = dec.feed(PLAIN_FRAME)
    assert (env.version, env.flags, env.stream, env.opcode, env.body, env.is_response) == (
        5, 0, 1, Opcode.OPTIONS, b"", False,
    )  # fmt: skip


@needs_lz4
def test_lz4_frame_stored_raw_when_compression_does_not_help() -> None:
    c = Lz4Compressor()
    assert encode_frame(OPTIONS_V5, True, c) == LZ4_RAW_FRAME
    dec = FrameDecoder()
    dec.start_v5_framing(c)
    (env,) = dec.feed(LZ4_RAW_FRAME)
    assert env.opcode is Opcode.OPTIONS


@needs_lz4
def test_lz4_frame_compressed() -> None:
    c = Lz4Compressor()
    assert encode_frame(LZ4_ENVELOPE, True, c) == LZ4_FRAME
    header = int.from_bytes(LZ4_FRAME[:5], "little")
    assert (header & 0x1FFFF, (header >> 17) & 0x1FFFF, header >> 34) == (23, 33, 1)
    dec = FrameDecoder()
    dec.start_v5_framing(c)
    (env,) = dec.feed(LZ4_FRAME)
    assert (env.stream, env.opcode, env.is_response) == (2, Opcode.RESULT, True)
    assert env.body == LZ4_ENVELOPE[9:]


def test_several_envelopes_in_one_self_contained_frame() -> None:
    envs = [encode_envelope(5, 0, s, Opcode.QUERY, bytes([s]) * s) for s in range(1, 6)]
    frames = encode_v5_frames(envs)
    payload = b"".join(envs)
    header = (len(payload) | 1 << 17).to_bytes(3, "little")
    assert frames[:3] == header
    assert frames[3:6] == crc24_bitwise(header).to_bytes(3, "little")
    assert frames[6:-4] == payload
    dec = FrameDecoder()
    dec.start_v5_framing()
    decoded = dec.feed(frames)
    assert [e.stream for e in decoded] == [1, 2, 3, 4, 5]
    assert [e.body for e in decoded] == [bytes([s]) * s for s in range(1, 6)]


def _frames(data: bytes, lz4: bool) -> list[tuple[int, bool, bytes]]:
    """Split a frame stream into (payload length, self-contained, raw frame) for inspection."""
    out = []
    pos = 0
    while pos < len(data):
        if lz4:
            raw = int.from_bytes(data[pos : pos + 5], "little")
            n, sc, size = raw & 0x1FFFF, bool(raw >> 34 & 1), 8 + (raw & 0x1FFFF) + 4
        else:
            raw = int.from_bytes(data[pos : pos + 3], "little")
            n, sc, size = raw & 0x1FFFF, bool(raw >> 17 & 1), 6 + (raw & 0x1FFFF) + 4
        out.append((n, sc, data[pos : pos + size]))
        pos += size
    return out


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("random_body", [False, True])
def test_large_envelope_spans_non_self_contained_frames(compressed: bool, random_body: bool) -> None:
    if compressed and not lz4_available():
        pytest.skip("lz4 not installed")
    c = Lz4Compressor() if compressed else None
    body = os.urandom(300_000) if random_body else bytes(range(256)) * 1200
    small = encode_envelope(5, 0, 1, Opcode.QUERY, b"small")
    big = encode_envelope(5, 0, 2, Opcode.QUERY, body)
    data = encode_v5_frames([small, big, small], c)
    frames = _frames(data, compressed)
    # small alone (flushed before the big one), 3 parts of the big one, small again.
    assert [sc for _, sc, _ in frames] == [True, False, False, False, True]
    if not compressed:
        assert [n for n, _, _ in frames] == [
            14,
            MAX_V5_PAYLOAD,
            MAX_V5_PAYLOAD,
            len(big) - 2 * MAX_V5_PAYLOAD,
            14,
        ]
    dec = FrameDecoder()
    dec.start_v5_framing(c)
    decoded = dec.feed(data)
    assert [e.stream for e in decoded] == [1, 2, 1]
    assert bytes(decoded[1].body) == body
    assert dec.buffered == 0


def test_envelopes_are_packed_up_to_the_payload_limit() -> None:
    envs = [encode_envelope(5, 0, s, Opcode.QUERY, b"x" * 11) for s in range(10)]  # 20 bytes each
    data = encode_v5_frames(envs, max_payload=50)
    frames = _frames(data, False)
    assert [(n, sc) for n, sc, _ in frames] == [(40, True)] * 5
    data = V5FrameEncoder(max_payload=20).encode(envs)
    assert [(n, sc) for n, sc, _ in _frames(data, False)] == [(20, True)] * 10
    data = encode_v5_frames(envs, max_payload=19)  # every envelope is "large"
    assert [(n, sc) for n, sc, _ in _frames(data, False)] == [(19, False), (1, False)] * 10
    dec = FrameDecoder()
    dec.start_v5_framing()
    assert [e.stream for e in dec.feed(data)] == list(range(10))


def test_frame_payload_limit() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        encode_frame(bytes(MAX_V5_PAYLOAD + 1), True)
    with pytest.raises(ProtocolError, match="max_payload"):
        encode_v5_frames([], max_payload=MAX_V5_PAYLOAD + 1)
    assert encode_v5_frames([]) == b""


@pytest.mark.parametrize("compressed", [False, True])
def test_crc_mismatches(compressed: bool) -> None:
    if compressed and not lz4_available():
        pytest.skip("lz4 not installed")
    c = Lz4Compressor() if compressed else None
    frame = encode_frame(LZ4_ENVELOPE, True, c)
    hsize = 8 if compressed else 6
    for index, what in [(0, "CRC24"), (hsize - 1, "CRC24"), (hsize + 2, "CRC32"), (len(frame) - 1, "CRC32")]:
        bad = bytearray(frame)
        bad[index] ^= 0x10
        dec = FrameDecoder()
        dec.start_v5_framing(c)
        with pytest.raises(ProtocolError, match=what):
            dec.feed(bytes(bad))
        # The decoder stays failed: the stream cannot be trusted any more.
        with pytest.raises(ProtocolError, match=what):
            dec.feed(frame)


def test_framing_violations() -> None:
    def fed(*chunks: bytes) -> None:
        dec = FrameDecoder()
        dec.start_v5_framing()
        for chunk in chunks:
            dec.feed(chunk)

    half = encode_frame(OPTIONS_V5[:5], True)
    with pytest.raises(ProtocolError, match="truncated envelope header"):
        fed(half)
    envelope = encode_envelope(5, 0, 1, Opcode.QUERY, b"abcdef")
    with pytest.raises(ProtocolError, match="past the end of its self-contained"):
        fed(encode_frame(envelope[:-1], True))
    with pytest.raises(ProtocolError, match="inside a multi-frame envelope"):
        fed(encode_frame(envelope[:4], False), encode_frame(envelope[4:], True))
    with pytest.raises(ProtocolError, match="past their envelope"):
        fed(encode_frame(envelope[:10], False), encode_frame(envelope[10:] + b"zz", False))
    # An empty self-contained frame carries no envelope; harmless.
    fed(encode_frame(b"", True))


@given(st.lists(st.binary(max_size=3000), max_size=8), st.integers(min_value=1, max_value=4096))
@settings(max_examples=60, deadline=None)
def test_frames_round_trip(bodies: list[bytes], max_payload: int) -> None:
    envs = [encode_envelope(5, 0, i, Opcode.QUERY, b) for i, b in enumerate(bodies)]
    for c in [None, Lz4Compressor()] if lz4_available() else [None]:
        dec = FrameDecoder()
        dec.start_v5_framing(c)
        decoded = dec.feed(encode_v5_frames(envs, c, max_payload=max_payload))
        assert [bytes(e.body) for e in decoded] == bodies
        assert dec.buffered == 0


def test_cross_check_with_datastax_driver_segments() -> None:
    """Frames from an independent implementation decode here, and ours match them byte for byte."""
    connection = pytest.importorskip("cassandra.connection")
    codecs = [(connection.segment_codec_no_compression, None)]
    if connection.segment_codec_lz4 is not None and lz4_available():
        codecs.append((connection.segment_codec_lz4, Lz4Compressor()))
    for theirs, ours in codecs:
        for size in (0, 1, 9, 100, 5000, MAX_V5_PAYLOAD):
            env = encode_envelope(5, 0, 3, Opcode.RESULT, b"q" * size + os.urandom(size // 3), response=True)
            buf = io.BytesIO()
            theirs.encode(buf, env)
            assert encode_v5_frames([env], ours) == buf.getvalue()
            dec = FrameDecoder()
            dec.start_v5_framing(ours)
            (decoded,) = dec.feed(buf.getvalue())
            assert decoded.encode() == env


def test_frame_header_codec_golden() -> None:
    assert decode_frame_header(PLAIN_FRAME, 0, False) == (len(PLAIN_FRAME) - 10, 0, True)
    assert decode_frame_header(LZ4_FRAME, 0, True) == (23, 33, True)
    assert encode_frame_header(23, 33, True) == LZ4_FRAME[:8]
    assert encode_frame_header(len(PLAIN_FRAME) - 10, None, True) == PLAIN_FRAME[:6]


@given(st.integers(0, MAX_V5_PAYLOAD), st.integers(0, MAX_V5_PAYLOAD), st.booleans(), st.booleans(), st.integers(0, 7))
def test_frame_header_codec_round_trip(n: int, u: int, sc: bool, lz4: bool, at: int) -> None:
    header = encode_frame_header(n, u if lz4 else None, sc)
    assert len(header) == (LZ4_HEADER_SIZE if lz4 else UNCOMPRESSED_HEADER_SIZE)
    size = len(header) - 3
    assert crc24_bitwise(header[:size]) == int.from_bytes(header[size:], "little")
    data = bytes(at) + header
    assert decode_frame_header(data, at, lz4) == (n, u if lz4 else 0, sc)
    assert decode_frame_header(memoryview(bytearray(data)), at, lz4) == (n, u if lz4 else 0, sc)
    for i in range(len(header)):  # any flipped bit is caught by the CRC24
        bad = bytearray(data)
        bad[at + i] ^= 1 << (i % 8)
        with pytest.raises(ProtocolError, match="CRC24 mismatch"):
            decode_frame_header(bad, at, lz4)
    with pytest.raises(ProtocolError, match="truncated v5 frame header"):
        decode_frame_header(data[:-1], at, lz4)
