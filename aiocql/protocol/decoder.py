"""Incremental decoder: bytes from the socket in, :class:`Envelope` objects out.

``FrameDecoder.feed(data)`` returns the envelopes completed by ``data``; the result does not depend
on how the byte stream is split. It decodes plain envelopes (v4, and the v5 handshake) and v5
outer frames (CRC24/CRC32 checked, LZ4, multi-frame envelopes reassembled).

Switching to v5 framing: the server starts framing right after its READY or
AUTHENTICATE reply to STARTUP, and those bytes may arrive in the same read as the reply. Two ways:

* ``expect_v5_framing(compressor)`` *before* sending a v5 STARTUP (recommended): the decoder
  switches by itself right after the first unframed READY/AUTHENTICATE envelope, so any bytes
  after it, even in the same ``feed`` call, are decoded as frames. An ERROR reply (for example
  "unsupported protocol version") leaves it unframed.
* ``start_v5_framing(compressor)``: switch now; every byte not yet decoded is treated as frames.

Any malformed input raises :class:`DecodeError` (a :class:`~aiocql.errors.ProtocolError`); the
decoder then stays failed (every later ``feed`` raises the same error), since the stream can no
longer be trusted. The valid envelopes that the failing ``feed`` call decoded *before* the bad bytes
are not lost: they are in the error's ``envelopes`` (deliver them, then drop the connection).

Every envelope header is checked as soon as its 9 bytes are in: the protocol version (3..5), the
direction bit (with ``responses=True`` a client accepts only replies, with ``False`` a server only
requests), the opcode (known, and a reply or request opcode as the direction says) and the body
length (0..``max_envelope_size``), so junk fails at once instead of after up to 256 MiB.

Example:
    >>> from aiocql.protocol.constants import Opcode
    >>> from aiocql.protocol.envelope import encode_envelope
    >>> from aiocql.protocol.frames import encode_v5_frames
    >>> dec = FrameDecoder()
    >>> dec.expect_v5_framing()
    >>> ready = encode_envelope(5, 0, 0, Opcode.READY, b"", response=True)
    >>> event = encode_envelope(5, 0, -1, Opcode.EVENT, b"", response=True)
    >>> [e.opcode.name for e in dec.feed(ready + encode_v5_frames([event]))]
    ['READY', 'EVENT']
    >>> dec.framed
    True
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from aiocql.errors.base import DecodeError as DecodeError  # defined with the other errors; exported here too
from aiocql.errors.base import ProtocolError
from aiocql.protocol.compression import Compressor
from aiocql.protocol.constants import MAX_ENVELOPE_BODY, RESPONSE_BIT, HeaderFlag, Opcode
from aiocql.protocol.crc import crc32
from aiocql.protocol.envelope import HEADER, HEADER_SIZE, OPCODES, Envelope
from aiocql.protocol.frames import LZ4_HEADER_SIZE, TRAILER_SIZE, UNCOMPRESSED_HEADER_SIZE, decode_frame_header
from aiocql.protocol.wire import fast as _fast

__all__ = ["DecodeError", "FrameDecoder"]

_LE_U32 = struct.Struct("<I")
_COMPRESSION = int(HeaderFlag.COMPRESSION)
_MIN_VERSION = 3  # the 9-byte header exists since v3; older replies cannot be parsed
_MAX_VERSION = 5  # the newest version this driver speaks (a server replies in at most that)
_RESPONSE_OPCODES: frozenset[int] = frozenset(
    int(op)
    for op in (
        Opcode.ERROR,
        Opcode.READY,
        Opcode.AUTHENTICATE,
        Opcode.SUPPORTED,
        Opcode.RESULT,
        Opcode.EVENT,
        Opcode.AUTH_CHALLENGE,
        Opcode.AUTH_SUCCESS,
    )
)
_REQUEST_OPCODES: frozenset[int] = frozenset(int(op) for op in Opcode) - _RESPONSE_OPCODES
# The compiled splitter of the envelopes whose header is valid (None: not built): the loops below carry on
# where it stops, so every error is theirs.
_split = _fast.split_envelopes if _fast is not None else None
_frames = _fast.decode_frames if _fast is not None else None  # the same for whole uncompressed v5 frames


class FrameDecoder:
    """Incremental decoder of envelopes and v5 frames (see the module docs for the v5 switch).

    ``compressor`` decompresses v4 envelope bodies flagged COMPRESSION (v4 compression is per
    envelope); ``max_envelope_size`` bounds an envelope body (checked as soon as its header is
    seen, and for decompressed bodies) so that a broken peer cannot make the client buffer
    without limit. ``responses`` selects the direction accepted: True for a client (replies
    only), False for a server (requests only), None for either.

    Example:
        >>> dec = FrameDecoder()
        >>> data = bytes.fromhex("840000070200000000")  # READY on stream 7
        >>> [dec.feed(data[:4]), [e.stream for e in dec.feed(data[4:])]]
        [[], [7]]
    """

    __slots__ = (
        "_buf",
        "_direction",
        "_failed",
        "_frame_compressor",
        "_framed",
        "_large",
        "_large_total",
        "_opcode_table",
        "_opcodes",
        "_switch_after",
        "_switch_compressor",
        "compressor",
        "max_envelope_size",
        "replies",
        "responses",
    )

    def __init__(
        self,
        *,
        compressor: Compressor | None = None,
        max_envelope_size: int = MAX_ENVELOPE_BODY,
        responses: bool | None = None,
    ) -> None:
        self.compressor = compressor
        self.max_envelope_size = max_envelope_size
        self.responses = responses
        """True: only replies are accepted (a client); False: only requests (a server); None: both."""
        self._opcodes = (
            frozenset(OPCODES) if responses is None else _RESPONSE_OPCODES if responses else _REQUEST_OPCODES
        )
        self._opcode_table = tuple(OPCODES.get(b) if b in self._opcodes else None for b in range(256))
        self._direction = -1 if responses is None else int(responses)
        self._buf = bytearray()
        self._framed = False
        self._frame_compressor: Compressor | None = None
        self._switch_after: frozenset[int] = frozenset()
        self._switch_compressor: Compressor | None = None
        self._large: bytearray | None = None
        self._large_total = -1
        self._failed: ProtocolError | None = None
        self.replies: Callable[[bytearray, int, int], int] | None = None
        """A hook the client core sets (its compiled reply router): called as ``replies(buffer, start, end)`` on the
        uncompressed v5 frames before any other decoding, it takes the frames whose replies it delivers itself
        and returns where it stopped; the decoder decodes the rest."""

    # ------------------------------------------------------------------------------------ control

    @property
    def framed(self) -> bool:
        """True once the decoder reads v5 frames."""
        return self._framed

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a returned envelope (partial frames included)."""
        return len(self._buf) + (len(self._large) if self._large is not None else 0)

    def expect_v5_framing(
        self,
        compressor: Compressor | None = None,
        *,
        after: Iterable[Opcode] = (Opcode.READY, Opcode.AUTHENTICATE),
    ) -> None:
        """Arm the switch to v5 framing right after the next unframed envelope with an opcode in
        ``after`` (default: READY or AUTHENTICATE, the replies to STARTUP). A fake server decoding
        requests would pass ``after=(Opcode.STARTUP,)``.

        Example:
            >>> dec = FrameDecoder()
            >>> dec.expect_v5_framing()
            >>> _ = dec.feed(bytes.fromhex("850000000200000000"))  # v5 READY
            >>> dec.framed
            True
        """
        if self._framed:
            raise ProtocolError("the decoder already reads v5 frames")
        self._switch_after = frozenset(int(op) for op in after)
        self._switch_compressor = compressor

    def start_v5_framing(self, compressor: Compressor | None = None) -> None:
        """Read v5 frames from now on: bytes not yet decoded are treated as frames.

        ``compressor`` selects the LZ4 frame format (None: uncompressed frames).

        Example:
            >>> from aiocql.protocol.frames import encode_v5_frames
            >>> dec = FrameDecoder()
            >>> dec.start_v5_framing()
            >>> [e.opcode.name for e in dec.feed(encode_v5_frames([bytes.fromhex("850000000200000000")]))]
            ['READY']
        """
        if self._framed:
            raise ProtocolError("the decoder already reads v5 frames")
        self._framed = True
        self._frame_compressor = compressor
        self._switch_after = frozenset()

    # ------------------------------------------------------------------------------------ decoding

    def feed(self, data: bytes | bytearray | memoryview) -> list[Envelope]:
        """Add received bytes; return the envelopes they complete, in stream order.

        Example:
            >>> FrameDecoder().feed(b"\\x84\\x00")
            []
        """
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        if data:
            buf += data
        out: list[Envelope] = []
        try:
            pos = self._decode(out)
        except ProtocolError as exc:
            self._failed = DecodeError(str(exc))
            raise DecodeError(str(exc), out) from exc
        # Deleting from the front of a bytearray is cheap in CPython (it moves a start offset).
        if pos:
            del buf[:pos]
        return out

    def _decode(self, out: list[Envelope]) -> int:
        """Decode as much of the buffer as possible; return how many bytes were consumed."""
        pos = 0
        if not self._framed:
            pos = self._decode_unframed(out)
            if not self._framed:
                return pos
        return self._decode_frames(out, pos)

    def _check_header(self, vbyte: int, stream: int, opcode: int, length: int, where: int) -> None:
        """Validate a 9-byte header at once: version, direction bit, opcode and body length."""
        version = vbyte & 0x7F
        if not _MIN_VERSION <= version <= _MAX_VERSION:
            raise ProtocolError(
                f"envelope at offset {where} has protocol version {version} (byte 0x{vbyte:02x}): "
                f"this driver reads v{_MIN_VERSION}..v{_MAX_VERSION}"
            )
        if opcode not in self._opcodes:
            if opcode not in OPCODES:
                raise ProtocolError(f"envelope at offset {where} has unknown opcode 0x{opcode:02x} (stream {stream})")
            kind = "reply" if self.responses else "request"
            raise ProtocolError(
                f"envelope at offset {where} has opcode {OPCODES[opcode].name}, which is not a {kind} (stream {stream})"
            )
        if self.responses is not None and bool(vbyte & RESPONSE_BIT) != self.responses:
            raise ProtocolError(
                f"envelope at offset {where} has the direction bit of a "
                f"{'request' if self.responses else 'reply'} (version byte 0x{vbyte:02x})"
            )
        self._check_length(length, where)

    def _check_length(self, length: int, where: int) -> None:
        if length < 0:
            raise ProtocolError(f"envelope at offset {where} has a negative body length {length}")
        if length > self.max_envelope_size:
            raise ProtocolError(
                f"envelope at offset {where} announces a body of {length} bytes, above the limit "
                f"of {self.max_envelope_size}"
            )

    def _envelope(
        self, vbyte: int, flags: int, stream: int, opcode: int, body: bytes | memoryview, framed: bool
    ) -> Envelope:
        version = vbyte & 0x7F
        op = OPCODES[opcode]  # the header was checked (_check_header) before the body was read
        if flags & _COMPRESSION and not framed and version < 5:
            if self.compressor is None:
                raise ProtocolError("compressed envelope received but no compression was negotiated")
            body = self.compressor.decompress_body(body, self.max_envelope_size)
            flags &= ~_COMPRESSION
        return Envelope(version, flags, stream, op, body, bool(vbyte & RESPONSE_BIT))

    def _decode_unframed(self, out: list[Envelope]) -> int:
        buf = self._buf
        end_of_data = len(buf)
        pos = 0
        fast = _split if not self._switch_after else None  # the v5 switch is checked envelope by envelope
        with memoryview(buf) as view:
            while True:
                if fast is not None:  # all it can take; stops before a compressed body (decompressed below)
                    pos = fast(buf, pos, end_of_data, out, self._opcode_table, self._direction,
                               self.max_envelope_size, False)  # fmt: skip
                if end_of_data - pos < HEADER_SIZE:
                    break
                vbyte, flags, stream, opcode, length = HEADER.unpack_from(buf, pos)
                self._check_header(vbyte, stream, opcode, length, pos)
                end = pos + HEADER_SIZE + length
                if end > end_of_data:
                    break
                body = bytes(view[pos + HEADER_SIZE : end]) if length else b""
                out.append(self._envelope(vbyte, flags, stream, opcode, body, False))
                pos = end
                if opcode in self._switch_after:
                    self._framed = True
                    self._frame_compressor = self._switch_compressor
                    self._switch_after = frozenset()
                    break
        return pos

    def _decode_frames(self, out: list[Envelope], pos: int) -> int:
        buf = self._buf
        end_of_data = len(buf)
        compressor = self._frame_compressor
        lz4 = compressor is not None
        header_size = LZ4_HEADER_SIZE if lz4 else UNCOMPRESSED_HEADER_SIZE
        if _frames is not None and not lz4 and self._large is None:
            if self.replies is not None:
                pos = self.replies(buf, pos, end_of_data)
            pos = _frames(buf, pos, end_of_data, out, self._opcode_table, self._direction, self.max_envelope_size)
        with memoryview(buf) as view:
            while end_of_data - pos >= header_size:
                payload_len, uncompressed_len, self_contained = decode_frame_header(buf, pos, lz4)
                start = pos + header_size
                end = start + payload_len
                if end + TRAILER_SIZE > end_of_data:
                    break
                payload = view[start:end]
                (expected,) = _LE_U32.unpack_from(buf, end)
                if crc32(payload) != expected:
                    raise ProtocolError(f"v5 frame payload CRC32 mismatch at offset {pos}")
                if compressor is not None and uncompressed_len:
                    plain = compressor.decompress_block(payload, uncompressed_len)
                    self._frame_payload(plain, self_contained, out)
                else:
                    self._frame_payload(payload, self_contained, out)
                del payload
                pos = end + TRAILER_SIZE
        return pos

    def _frame_payload(self, payload: bytes | memoryview, self_contained: bool, out: list[Envelope]) -> None:
        if self_contained:
            if self._large is not None:
                raise ProtocolError("self-contained v5 frame inside a multi-frame envelope")
            self._split_envelopes(payload, out)
            return
        large = self._large
        if large is None:
            large = self._large = bytearray()
            self._large_total = -1
        large += payload
        if self._large_total < 0 and len(large) >= HEADER_SIZE:
            vbyte, _, stream, opcode, length = HEADER.unpack_from(large, 0)
            self._check_header(vbyte, stream, opcode, length, 0)
            self._large_total = HEADER_SIZE + length
        total = self._large_total
        if total < 0 or len(large) < total:
            return
        if len(large) > total:
            raise ProtocolError(f"non-self-contained v5 frames carry {len(large) - total} bytes past their envelope")
        vbyte, flags, stream, opcode, _ = HEADER.unpack_from(large, 0)
        self._large = None
        self._large_total = -1
        # Hand the reassembly buffer over without copying it: nothing else references it now.
        body = memoryview(large)[HEADER_SIZE:].toreadonly()
        out.append(self._envelope(vbyte, flags, stream, opcode, body, True))

    def _split_envelopes(self, payload: bytes | memoryview, out: list[Envelope]) -> None:
        p = 0
        n = len(payload)
        if _split is not None:
            p = _split(payload, 0, n, out, self._opcode_table, self._direction, self.max_envelope_size, True)
        while p < n:
            if n - p < HEADER_SIZE:
                raise ProtocolError(f"truncated envelope header at offset {p} of a self-contained v5 frame")
            vbyte, flags, stream, opcode, length = HEADER.unpack_from(payload, p)
            self._check_header(vbyte, stream, opcode, length, p)
            end = p + HEADER_SIZE + length
            if end > n:
                raise ProtocolError(
                    f"envelope at offset {p} runs {end - n} bytes past the end of its self-contained v5 frame"
                )
            body = bytes(payload[p + HEADER_SIZE : end]) if length else b""
            out.append(self._envelope(vbyte, flags, stream, opcode, body, True))
            p = end
