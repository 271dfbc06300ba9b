"""Issue 11 (hardening) of FrameDecoder.

Defect 8: a v4 header is validated in its 9 bytes (version, direction bit, opcode, length) instead
of after waiting for the body. "Also": the valid envelopes decoded before the bad bytes in the same
``feed`` call are delivered (``DecodeError.envelopes``), then the decoder fails.
"""

from __future__ import annotations

import pytest

from aiocql.errors import ProtocolError
from aiocql.protocol.constants import Opcode
from aiocql.protocol.decoder import DecodeError, FrameDecoder
from aiocql.protocol.envelope import encode_envelope
from aiocql.protocol.frames import encode_v5_frames

READY = bytes.fromhex("840000070200000000")


def test_issue_example_fails_in_the_header() -> None:
    # Before: returned [] and raised only 4,096 bytes later.
    with pytest.raises(ProtocolError, match="unknown opcode 0x42"):
        FrameDecoder().feed(bytes.fromhex("84007fff4200001000") + bytes(8))


@pytest.mark.parametrize("vbyte", [0x7F, 0xFF, 0x86, 0x82, 0x80])
def test_bad_version_byte_fails_in_the_header(vbyte: int) -> None:
    header = bytes([vbyte]) + bytes.fromhex("0000010800001000")  # RESULT announcing 4 KiB
    with pytest.raises(ProtocolError, match="protocol version"):
        FrameDecoder(responses=True).feed(header)


def test_direction_bit_checked_for_a_client() -> None:
    request_ready = bytes.fromhex("040000070200000000")
    with pytest.raises(ProtocolError, match="direction bit"):
        FrameDecoder(responses=True).feed(request_ready)
    # a server accepts requests only
    options = encode_envelope(4, 0, 1, Opcode.OPTIONS, b"")
    assert [e.opcode for e in FrameDecoder(responses=False).feed(options)] == [Opcode.OPTIONS]
    with pytest.raises(ProtocolError, match="direction bit"):
        FrameDecoder(responses=False).feed(encode_envelope(4, 0, 1, Opcode.OPTIONS, b"", response=True))
    # None (the default) accepts both directions
    assert len(FrameDecoder().feed(request_ready + READY)) == 2


@pytest.mark.parametrize("opcode", [Opcode.QUERY, Opcode.STARTUP, Opcode.EXECUTE, Opcode.AUTH_RESPONSE])
def test_request_opcode_is_not_a_reply(opcode: Opcode) -> None:
    header = encode_envelope(4, 0, 1, opcode, b"x" * 100, response=True)[:9]
    with pytest.raises(ProtocolError, match="not a reply"):
        FrameDecoder(responses=True).feed(header)


def test_reply_opcode_is_not_a_request() -> None:
    header = encode_envelope(4, 0, 1, Opcode.RESULT, b"x" * 100)[:9]
    with pytest.raises(ProtocolError, match="not a request"):
        FrameDecoder(responses=False).feed(header)


def test_length_checked_in_the_header() -> None:
    with pytest.raises(ProtocolError, match="negative body length"):
        FrameDecoder().feed(bytes.fromhex("8400000108ffffffff"))
    with pytest.raises(ProtocolError, match="above the limit"):
        FrameDecoder(max_envelope_size=1000).feed(bytes.fromhex("84000001080000ffff"))


def test_multi_frame_envelope_header_checked_before_the_rest() -> None:
    dec = FrameDecoder(responses=True)
    dec.start_v5_framing()
    bad = bytes.fromhex("857f00014200100000")  # opcode 0x42, 1 MiB announced
    first = encode_v5_frames([bad + bytes(100)], max_payload=50)
    # only the first non-self-contained frame (50 bytes of the envelope) is fed
    with pytest.raises(ProtocolError, match="unknown opcode 0x42"):
        dec.feed(first[: 6 + 50 + 4])


def test_valid_envelopes_before_the_bad_bytes_are_delivered() -> None:
    dec = FrameDecoder(responses=True)
    ready2 = encode_envelope(4, 0, 8, Opcode.READY, b"", response=True)
    with pytest.raises(DecodeError, match="unknown opcode") as info:
        dec.feed(READY + ready2 + bytes.fromhex("8400000942000000ff"))
    assert [e.stream for e in info.value.envelopes] == [7, 8]
    assert isinstance(info.value, ProtocolError)
    # The decoder stays failed; nothing is delivered twice.
    with pytest.raises(DecodeError) as again:
        dec.feed(READY)
    assert again.value.envelopes == ()
    assert "unknown opcode" in str(again.value)


def test_valid_envelopes_before_a_bad_v5_frame_are_delivered() -> None:
    dec = FrameDecoder(responses=True)
    dec.start_v5_framing()
    good = encode_v5_frames([READY.replace(b"\x84", b"\x85", 1)])
    bad = bytearray(encode_v5_frames([READY.replace(b"\x84", b"\x85", 1)]))
    bad[-1] ^= 0xFF  # payload CRC32 broken
    with pytest.raises(DecodeError, match="CRC32") as info:
        dec.feed(good + bytes(bad))
    assert [e.stream for e in info.value.envelopes] == [7]


async def test_connection_delivers_replies_read_before_bad_bytes() -> None:
    import asyncio

    from aiocql.connection.protocol import CqlProtocol
    from aiocql.errors import ConnectionLost

    class Transport(asyncio.Transport):
        aborted = False

        def write(self, data: bytes | bytearray | memoryview) -> None:
            pass

        def abort(self) -> None:
            self.aborted = True

        def is_closing(self) -> bool:
            return self.aborted

    proto = CqlProtocol(4)
    transport = Transport()
    proto.connection_made(transport)
    first, fut1 = proto.send(Opcode.OPTIONS, b"")
    second, fut2 = proto.send(Opcode.OPTIONS, b"")
    reply = encode_envelope(4, 0, first, Opcode.READY, b"", response=True)
    proto.data_received(reply + bytes.fromhex("8400000942000000ff"))
    assert (await fut1).stream == first  # before the fix: lost with the rest of the read
    with pytest.raises(ConnectionLost, match="unknown opcode"):
        await fut2
    assert transport.aborted and second != first


def _s(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


# Defect 5: what Cassandra 5.0.9 sends for CREATE TYPE "y5³" (one byte per character: 79 35 b3).
SCHEMA_EVENT_Y5 = _s(b"SCHEMA_CHANGE") + _s(b"CREATED") + _s(b"TYPE") + _s(b"ks") + _s(b"y5\xb3")
SCHEMA_RESULT_Y5 = bytes.fromhex("00000005") + _s(b"CREATED") + _s(b"TYPE") + _s(b"ks") + _s(b"y5\xb3")


def test_non_utf8_schema_change_names_are_read_leniently() -> None:
    from aiocql.protocol.events import SchemaChangeEvent
    from aiocql.protocol.responses import decode_response
    from aiocql.protocol.results import SchemaChangeResult

    env = encode_envelope(4, 0, -1, Opcode.EVENT, SCHEMA_EVENT_Y5, response=True)
    (envelope,) = FrameDecoder(responses=True).feed(env)
    event = decode_response(envelope)  # before the fix: ProtocolError (not valid UTF-8)
    assert isinstance(event, SchemaChangeEvent)
    assert (event.keyspace, event.name) == ("ks", "y5³")
    (envelope,) = FrameDecoder(responses=True).feed(
        encode_envelope(4, 0, 3, Opcode.RESULT, SCHEMA_RESULT_Y5, response=True)
    )
    result = decode_response(envelope)
    assert isinstance(result, SchemaChangeResult)
    assert result.name == "y5³"
    # valid UTF-8 is still read as UTF-8
    utf8 = bytes.fromhex("00000005") + _s(b"CREATED") + _s(b"TYPE") + _s(b"ks") + _s("y5³".encode())
    (envelope,) = FrameDecoder().feed(encode_envelope(4, 0, 3, Opcode.RESULT, utf8, response=True))
    result = decode_response(envelope)
    assert isinstance(result, SchemaChangeResult)
    assert result.name == "y5³"


def test_non_utf8_function_argument_types_are_read_leniently() -> None:
    from aiocql.protocol.events import read_schema_change

    body = _s(b"CREATED") + _s(b"FUNCTION") + _s(b"k\xe9") + _s(b"f\xb2") + b"\x00\x01" + _s(b"frozen<t\xb3>")
    fields, end = read_schema_change(body, 0)
    assert fields[2:] == ("ké", "f²", ("frozen<t³>",)) and end == len(body)
