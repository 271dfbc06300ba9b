"""CPU time per request of the connection layer alone: ``Connection.send`` over an in-memory transport.

No socket and no server: the transport's ``write`` reads the stream ids of the EXECUTE envelopes it is
given and, on the next loop iteration, feeds back a prebuilt RESULT Rows reply for each, as one read.
``--concurrency`` callers each send ``--requests / --concurrency`` requests; the script prints the process
CPU time per request, best of ``--rounds``. What is measured: encoding the request, the stream table,
write coalescing, (v5) framing and unframing, decoding envelopes, completing futures, decoding the reply,
and the event loop's own work for it; the fake transport's work is the same for every version of the code
(its v5 framing is its own, not aiocql's, so a faster aiocql codec does not speed the fake server up too).

``--version 4`` (the default) answers a full-metadata reply (one int column); ``--version 5`` is the
point read a session makes on Cassandra 5: EXECUTE with the result metadata id, skip-metadata and a page
size, inside v5 frames, answered by a NO_METADATA page of one text row.

    python3 scripts/connection_cpu.py --requests 20000 --concurrency 128 --rounds 5 --version 5

``--count N`` runs exactly N requests once with no warm-up and no timing (for
``valgrind --tool=callgrind``, whose instruction counts do not move with the machine's load).
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time
import zlib
from typing import Any

from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.connection.protocol import CqlProtocol
from aiocql.protocol.constants import Opcode
from aiocql.protocol.envelope import encode_envelope
from aiocql.protocol.requests import Execute, QueryParameters

_STREAM = struct.Struct(">h")
# RESULT Rows: kind 2, flags 1 (global table spec), 1 column "v" int in ks.t, 1 row holding 42.
_ROWS_V4 = bytes.fromhex("00000002000000010000000100026b73000174000176000900000001000000040000002a")
# RESULT Rows: kind 2, flags 4 (no metadata), 1 column, 1 row holding the text "value-42".
_ROWS_V5 = bytes.fromhex("00000002" "00000004" "00000001" "00000001" "00000008") + b"value-42"  # fmt: skip


def _crc24_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1974F0B
        table.append(crc & 0xFFFFFF)
    return table


_CRC24 = _crc24_table()
_CRC32_SEED = zlib.crc32(b"\xfa\x2d\x55\xca")


def _frame(payload: bytes) -> bytes:
    """One self-contained uncompressed v5 frame (the script's own framing, independent of aiocql's)."""
    header = (len(payload) | 1 << 17).to_bytes(3, "little")
    crc = 0x875060
    for b in header:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC24[(crc >> 16) ^ b]
    return header + crc.to_bytes(3, "little") + payload + zlib.crc32(payload, _CRC32_SEED).to_bytes(4, "little")


class LoopbackTransport(asyncio.Transport):
    """Answers every EXECUTE it is given with the same rows, on its stream id, at the next loop iteration."""

    def __init__(self, proto: CqlProtocol, request_size: int, version: int) -> None:
        super().__init__()
        self.proto = proto
        self.size = request_size
        self.version = version
        rows = _ROWS_V5 if version >= 5 else _ROWS_V4
        self.replies = [encode_envelope(version, 0, s, Opcode.RESULT, rows, response=True) for s in range(32768)]
        self.loop = asyncio.get_running_loop()
        self.started = False

    def write(self, data: Any) -> None:
        data = bytes(data)
        if not self.started:  # the handshake's STARTUP: answer READY (v5: framing starts after it)
            self.started = True
            self.loop.call_soon(
                self.proto.data_received,
                encode_envelope(self.version, 0, _STREAM.unpack_from(data, 2)[0], Opcode.READY, b"", response=True),
            )
            return
        size = self.size
        replies = self.replies
        if self.version < 5:
            out = b"".join(replies[_STREAM.unpack_from(data, pos + 2)[0]] for pos in range(0, len(data), size))
        else:
            chunks = []
            pos = 0
            while pos < len(data):
                length = int.from_bytes(data[pos : pos + 3], "little") & 0x1FFFF
                start = pos + 6
                chunks.append(b"".join(replies[_STREAM.unpack_from(data, p + 2)[0]]
                                       for p in range(start, start + length, size)))  # fmt: skip
                pos = start + length + 4
            payload = b"".join(chunks)
            out = b"".join(_frame(payload[i : i + 131071]) for i in range(0, len(payload), 131071))
        self.loop.call_soon(self.proto.data_received, out)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


async def main(args: argparse.Namespace) -> None:
    version = args.version
    if version >= 5:
        params = QueryParameters(1, [b"\x00\x00\x00\x01"], skip_metadata=True, page_size=5000)
        request = Execute(b"0123456789abcdef", params, result_metadata_id=b"fedcba9876543210")
    else:
        request = Execute(b"0123456789abcdef", QueryParameters(1, [b"\x00\x00\x00\x01"]))
    size = 9 + len(request.encode(version))
    proto = CqlProtocol(version)
    proto.connection_made(LoopbackTransport(proto, size, version))
    conn = Connection("loopback", proto, ConnectionOptions())
    await proto.start_handshake({"CQL_VERSION": "3.0.0"})

    async def worker(n: int) -> None:
        for _ in range(n):
            await conn.send(request)

    if args.count:
        per = args.count // args.concurrency
        await asyncio.gather(*(worker(per) for _ in range(args.concurrency)))
        print(f"ran {per * args.concurrency} requests (v{version}, concurrency {args.concurrency})")
        return
    per_worker = args.requests // args.concurrency
    await asyncio.gather(*(worker(per_worker) for _ in range(args.concurrency)))  # warm-up
    best = float("inf")
    for _ in range(args.rounds):
        cpu = time.process_time()
        await asyncio.gather(*(worker(per_worker) for _ in range(args.concurrency)))
        best = min(best, time.process_time() - cpu)
    total = per_worker * args.concurrency
    print(f"connection layer, {total} EXECUTE (v{version}) over a loopback transport, concurrency "
          f"{args.concurrency}: {best * 1e6 / total:.2f} us CPU per request (best of {args.rounds})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--version", type=int, choices=[4, 5], default=4)
    parser.add_argument("--count", type=int, default=0, help="run exactly N requests, untimed (for callgrind)")
    asyncio.run(main(parser.parse_args()))
