"""The floor: a raw asyncio client that sends pre-encoded EXECUTE requests and counts replies.

Self-contained (no aiocql import): native protocol v4 envelopes written by hand from
``native_protocol_v4.spec``: STARTUP, ``USE``, PREPARE, then EXECUTE/BATCH bodies encoded before the
measured window, one connection, stream ids from a free list, writes coalesced once per loop
iteration. Replies are not decoded: only the envelope header, the RESULT kind, and for rows the
row count (and the paging state of the scan) are read. What a driver costs above this is its own.

The scan pipelines its pages: the request for page N+1 is written from ``data_received`` as soon as
page N's paging state has arrived (it sits in the first bytes of the reply), while the rest of page N is
still on its way; no client can ask for the next page earlier on one paged query. With
``--compression lz4`` it compresses its requests and decompresses every reply (v4 LZ4 bodies), as any
client must; the protocol version it records is the one in the server's reply headers.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import Any

from benchmarks import workloads as w

HEADER = struct.Struct(">BBhBi")  # version, flags, stream, opcode, body length
REQUEST_V4, RESPONSE_V4 = 0x04, 0x84
OP_ERROR, OP_STARTUP, OP_READY, OP_QUERY, OP_RESULT, OP_PREPARE, OP_EXECUTE, OP_BATCH = (
    0x00, 0x01, 0x02, 0x07, 0x08, 0x09, 0x0A, 0x0D,
)  # fmt: skip
KIND_VOID, KIND_ROWS = 0x0001, 0x0002
ROWS_HAS_MORE_PAGES = 0x0002
LOCAL_ONE = 0x000A
Q_VALUES, Q_SKIP_METADATA, Q_PAGE_SIZE, Q_PAGING_STATE = 0x01, 0x02, 0x04, 0x08
BATCH_UNLOGGED = 1
STREAMS = 32_768
FLAG_COMPRESSED = 0x01


class FloorError(Exception):
    pass


# -- [notations] of section 3 ---------------------------------------------------------------------
def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">H", len(raw)) + raw


def _long_string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">i", len(raw)) + raw


def _short_bytes(b: bytes) -> bytes:
    return struct.pack(">H", len(b)) + b


def _value(v: int | str) -> bytes:
    raw = struct.pack(">i", v) if isinstance(v, int) else v.encode()
    return struct.pack(">i", len(raw)) + raw


def _execute_body(prepared_id: bytes, values: tuple[int | str, ...], flags: int = Q_SKIP_METADATA) -> bytes:
    body = _short_bytes(prepared_id) + struct.pack(">HB", LOCAL_ONE, flags | (Q_VALUES if values else 0))
    if values:
        body += struct.pack(">H", len(values)) + b"".join(_value(v) for v in values)
    return body


def _batch_body(prepared_id: bytes, rows: list[tuple[int | str, ...]]) -> bytes:
    parts = [struct.pack(">BH", BATCH_UNLOGGED, len(rows))]
    for row in rows:
        parts.append(b"\x01" + _short_bytes(prepared_id) + struct.pack(">H", len(row)))
        parts.extend(_value(v) for v in row)
    parts.append(struct.pack(">HB", LOCAL_ONE, 0))
    return b"".join(parts)


def _skip_prefixes(buf: bytes | bytearray | memoryview, at: int, flags: int) -> int:
    """Offset of the message after the tracing id (0x02), warnings (0x08), custom payload (0x04)."""
    if flags & 0x02:
        at += 16
    if flags & 0x08:
        (count,) = struct.unpack_from(">H", buf, at)
        at += 2
        for _ in range(count):
            at += 2 + struct.unpack_from(">H", buf, at)[0]
    if flags & 0x04:
        (count,) = struct.unpack_from(">H", buf, at)
        at += 2
        for _ in range(count):
            at += 2 + struct.unpack_from(">H", buf, at)[0]
            length = struct.unpack_from(">i", buf, at)[0]
            at += 4 + max(length, 0)
    return at


class FloorProtocol(asyncio.Protocol):
    """One connection: futures indexed by stream id; replies resolved with (rows, paging state)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.compress: Callable[[bytes], bytes] | None = None  # set after STARTUP when LZ4 was asked for
        self.decompress: Callable[[bytes], bytes] | None = None
        self.reply_versions: set[int] = set()
        self.scan: Scan | None = None
        self.waiters: list[asyncio.Future[Any] | None] = [None] * STREAMS
        self.want_body = [False] * STREAMS
        self.free = list(range(STREAMS - 1, -1, -1))
        self.buf = bytearray()
        self.out: list[bytes] = []
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("connection closed")
        for fut in self.waiters:
            if fut is not None and not fut.done():
                fut.set_exception(self.lost)

    def request(self, opcode: int, body: bytes, want_body: bool = False) -> asyncio.Future[Any]:
        if self.lost:
            raise self.lost
        stream = self.free.pop()
        fut = self.loop.create_future()
        self.waiters[stream] = fut
        self.want_body[stream] = want_body
        if not self.out:
            self.loop.call_soon(self._flush)
        self.out.append(self.envelope(stream, opcode, body))
        return fut

    def envelope(self, stream: int, opcode: int, body: bytes) -> bytes:
        if self.compress is not None:
            body = self.compress(body)
            return HEADER.pack(REQUEST_V4, FLAG_COMPRESSED, stream, opcode, len(body)) + body
        return HEADER.pack(REQUEST_V4, 0, stream, opcode, len(body)) + body

    def _flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        if self.buf:
            self.buf += data
            consumed = self._parse(self.buf)
            del self.buf[:consumed]
        else:
            consumed = self._parse(data)
            if consumed < len(data):
                self.buf = bytearray(data[consumed:])

    def _parse(self, buf: bytes | bytearray) -> int:
        pos, n, unpack, waiters, unpack_i = 0, len(buf), HEADER.unpack_from, self.waiters, struct.unpack_from
        scan = self.scan
        while n - pos >= 9:
            version, flags, stream, opcode, length = unpack(buf, pos)
            end = pos + 9 + length
            if end > n:
                if scan is not None and stream == scan.stream and not flags:
                    scan.early(buf, pos + 9, n)  # the paging state may be here already: ask for the next page
                break
            self.reply_versions.add(version & 0x7F)
            if stream < 0:  # an event: never registered for, ignore
                pos = end
                continue
            data: bytes | bytearray | memoryview = buf
            at = pos + 9
            if flags & FLAG_COMPRESSED and self.decompress is not None:
                data, at, body_end = self.decompress(bytes(buf[at:end])), 0, None
            else:
                body_end = end
            if flags & ~FLAG_COMPRESSED:
                at = _skip_prefixes(data, at, flags)
            if scan is not None and stream == scan.stream:
                scan.page(data, at, opcode)
                pos = end
                continue
            fut = waiters[stream]
            waiters[stream] = None
            self.free.append(stream)
            if fut is None or fut.done():
                pass
            elif opcode == OP_ERROR:
                code = unpack_i(">i", data, at)[0]
                message = bytes(data[at + 6 : at + 6 + unpack_i(">H", data, at + 4)[0]]).decode(errors="replace")
                fut.set_exception(FloorError(f"server error 0x{code:04x}: {message}"))
            elif self.want_body[stream]:
                fut.set_result((opcode, bytes(data[at:body_end])))
            else:
                kind = unpack_i(">i", data, at)[0]
                if kind == KIND_ROWS:
                    meta_flags = unpack_i(">i", data, at + 4)[0]
                    at += 12
                    paging = None
                    if meta_flags & ROWS_HAS_MORE_PAGES:
                        size = unpack_i(">i", data, at)[0]
                        paging = bytes(data[at + 4 : at + 4 + size])
                        at += 4 + size
                    fut.set_result((unpack_i(">i", data, at)[0], paging))
                else:
                    fut.set_result((-1 if kind != KIND_VOID else 0, None))
            pos = end
        return pos


def _rows_header(data: bytes | bytearray | memoryview, at: int, n: int) -> tuple[bytes | None, int] | None:
    """(paging state or None, offset of the row count) of a Rows result at ``at``; None if not all there yet."""
    if n - at < 12:
        return None
    kind, meta_flags = struct.unpack_from(">ii", data, at)
    if kind != KIND_ROWS:
        raise FloorError(f"scan: result kind {kind}")
    at += 12
    if not meta_flags & ROWS_HAS_MORE_PAGES:
        return None, at
    if n - at < 4:
        return None
    (size,) = struct.unpack_from(">i", data, at)
    if n - at - 4 < size:
        return None
    return bytes(data[at + 4 : at + 4 + size]), at + 4 + size


class Scan:
    """One paged scan on one stream id, the next page requested from ``data_received`` (see module docs)."""

    def __init__(self, proto: FloorProtocol, prepared_id: bytes, page_size: int, stop_at: float) -> None:
        self.proto, self.stop_at = proto, stop_at
        self.prefix = _execute_body(prepared_id, (), Q_SKIP_METADATA | Q_PAGE_SIZE | Q_PAGING_STATE)
        self.prefix += struct.pack(">i", page_size)
        self.stream = proto.free.pop()
        self.done: asyncio.Future[int] = proto.loop.create_future()
        self.rows = 0
        self.asked = False  # the next page has been asked for (from a partial reply)
        first = _execute_body(prepared_id, (), Q_SKIP_METADATA | Q_PAGE_SIZE) + struct.pack(">i", page_size)
        self._send(first)

    def _send(self, body: bytes) -> None:
        transport = self.proto.transport
        assert transport is not None
        transport.write(self.proto.envelope(self.stream, OP_EXECUTE, body))

    def _next(self, paging: bytes | None) -> None:
        if paging is not None and time.monotonic() < self.stop_at:
            self._send(self.prefix + struct.pack(">i", len(paging)) + paging)
            self.asked = True

    def early(self, buf: bytes | bytearray, at: int, n: int) -> None:
        if not self.asked:
            header = _rows_header(buf, at, n)
            if header is not None:
                self._next(header[0])

    def page(self, data: bytes | bytearray | memoryview, at: int, opcode: int) -> None:
        if self.done.done():
            return
        if opcode == OP_ERROR:
            self.done.set_exception(FloorError("scan: server error"))
            return
        header = _rows_header(data, at, len(data))
        assert header is not None  # a whole reply
        paging, count_at = header
        self.rows += struct.unpack_from(">i", data, count_at)[0]
        if not self.asked:
            self._next(paging)
        if not self.asked:  # no next page (or past the time cap): the scan is over
            self.proto.scan = None
            self.proto.free.append(self.stream)
            self.done.set_result(self.rows)
        self.asked = False


class Adapter:
    def __init__(self) -> None:
        self.proto: FloorProtocol | None = None
        self.bodies: list[bytes] = []

    async def _setup_request(self, opcode: int, body: bytes, expect: int) -> bytes:
        assert self.proto is not None
        got, reply = await self.proto.request(opcode, body, want_body=True)
        if got != expect:
            raise FloorError(f"expected opcode 0x{expect:02x}, got 0x{got:02x}")
        return bytes(reply)

    async def setup(self, conf: w.Conf) -> None:
        self.conf = conf
        loop = asyncio.get_running_loop()
        _, self.proto = await loop.create_connection(FloorProtocol, conf.hosts[0], 9042)
        if conf.protocol not in (None, 4):
            raise FloorError(f"the floor speaks protocol v4 only, not v{conf.protocol}")
        options = [("CQL_VERSION", "3.0.0")] + ([("COMPRESSION", "lz4")] if conf.compression else [])
        startup = struct.pack(">H", len(options)) + b"".join(_string(k) + _string(v) for k, v in options)
        if conf.compression:
            import lz4.block

            def compress(body: bytes) -> bytes:
                packed: bytes = lz4.block.compress(body, store_size=False)
                return struct.pack(">I", len(body)) + packed

            def decompress(body: bytes) -> bytes:
                size = struct.unpack_from(">I", body)[0]
                out: bytes = lz4.block.decompress(body[4:], uncompressed_size=size) if size else b""
                return out

            self.proto.decompress = decompress  # the server compresses its reply to STARTUP already
        await self._setup_request(OP_STARTUP, startup, OP_READY)
        if conf.compression:
            self.proto.compress = compress
        await self._setup_request(OP_QUERY, _long_string(f"USE {conf.keyspace}") + struct.pack(">HB", 1, 0), OP_RESULT)
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        reply = await self._setup_request(OP_PREPARE, _long_string(cql), OP_RESULT)
        (id_len,) = struct.unpack_from(">H", reply, 4)  # after the [int] kind (Prepared)
        self.prepared_id = reply[6 : 6 + id_len]
        if conf.workload in (w.POINT_READ, w.WIDE_READ):
            self.bodies = [_execute_body(self.prepared_id, (k,)) for k in range(w.KV_ROWS)]

    async def begin_cell(self, cell: w.CellParams) -> None:
        """Encode this cell's writes now, before the clock starts."""
        self.cell = cell
        keys = [cell.key_base + j for j in range(w.WRITE_KEYS)]
        if self.conf.workload == w.INSERT:
            self.bodies = [_execute_body(self.prepared_id, (k, w.write_value(cell.tag, k))) for k in keys]
        elif self.conf.workload == w.BATCH:
            self.bodies = [
                _batch_body(self.prepared_id, [(p, c, w.batch_value(cell.tag, p, c)) for c in range(w.BATCH_SIZE)])
                for p in keys
            ]

    async def run_op(self, i: int) -> None:
        assert self.proto is not None
        workload = self.conf.workload
        if workload == w.POINT_READ or workload == w.WIDE_READ:
            rows, _ = await self.proto.request(OP_EXECUTE, self.bodies[w.read_key(i)])
            if rows != 1:
                raise w.CheckFailed(f"{workload} {w.read_key(i)}: {rows} rows")
        elif workload == w.INSERT:
            rows, _ = await self.proto.request(OP_EXECUTE, self.bodies[i % w.WRITE_KEYS])
        else:
            rows, _ = await self.proto.request(OP_BATCH, self.bodies[i % w.WRITE_KEYS])
        if rows == -1:
            raise w.CheckFailed(f"{workload}: unexpected result kind")

    async def scan(self, stop_at: float) -> tuple[int, int]:
        assert self.proto is not None
        self.proto.scan = scan = Scan(self.proto, self.prepared_id, self.conf.page_size, stop_at)
        return await scan.done, -1  # rows are not decoded: no checksum

    async def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()

    def info(self) -> dict[str, Any]:
        assert self.proto is not None
        versions = sorted(self.proto.reply_versions)
        return {
            "version": "-",
            "protocol": versions[0] if len(versions) == 1 else versions,  # from the server's reply headers
            "compression": "lz4" if self.proto.compress is not None else "none",
            "row_factory": "none (rows not decoded)",
            "connections": 1,
        }
