"""CPU time per request of the connection layer alone: ``Connection.send`` over an in-memory transport.

No socket and no server: the transport's ``write`` reads the stream ids of the v4 EXECUTE envelopes it is
given and, on the next loop iteration, feeds back a prebuilt RESULT Rows reply (one row, one int column)
for each, as one read. ``--concurrency`` callers each send ``--requests / --concurrency`` requests; the
script prints the process CPU time per request, best of ``--rounds``. What is measured: encoding the
request, the stream table, write coalescing, decoding envelopes, completing futures, decoding the reply,
and the event loop's own work for it; the fake transport's work is the same for every version of the code.

    python3 scripts/connection_cpu.py --requests 20000 --concurrency 128 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time
from typing import Any

from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.connection.protocol import CqlProtocol
from aiocql.protocol.constants import Opcode
from aiocql.protocol.envelope import encode_envelope
from aiocql.protocol.requests import Execute, QueryParameters

_STREAM = struct.Struct(">h")
# RESULT Rows: kind 2, flags 1 (global table spec), 1 column "v" int in ks.t, 1 row holding 42.
_ROWS = bytes.fromhex("00000002000000010000000100026b73000174000176000900000001000000040000002a")


class LoopbackTransport(asyncio.Transport):
    """Answers every EXECUTE it is given with the same rows, on its stream id, at the next loop iteration."""

    def __init__(self, proto: CqlProtocol, request_size: int) -> None:
        super().__init__()
        self.proto = proto
        self.size = request_size
        self.replies = [encode_envelope(4, 0, s, Opcode.RESULT, _ROWS, response=True) for s in range(32768)]
        self.loop = asyncio.get_running_loop()

    def write(self, data: Any) -> None:
        data = bytes(data)
        if data[4] != Opcode.EXECUTE:  # the handshake's STARTUP: answer READY
            self.loop.call_soon(
                self.proto.data_received,
                encode_envelope(4, 0, _STREAM.unpack_from(data, 2)[0], Opcode.READY, b"", response=True),
            )
            return
        size = self.size
        replies = self.replies
        out = b"".join(replies[_STREAM.unpack_from(data, pos + 2)[0]] for pos in range(0, len(data), size))
        self.loop.call_soon(self.proto.data_received, out)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


async def main(args: argparse.Namespace) -> None:
    request = Execute(b"0123456789abcdef", QueryParameters(1, [b"\x00\x00\x00\x01"]))
    size = 9 + len(request.encode(4))
    proto = CqlProtocol(4)
    proto.connection_made(LoopbackTransport(proto, size))
    conn = Connection("loopback", proto, ConnectionOptions())
    if hasattr(proto, "start_handshake"):  # the sans-I/O core: requests wait for the handshake
        await proto.start_handshake({"CQL_VERSION": "3.0.0"})

    async def worker(n: int) -> None:
        for _ in range(n):
            await conn.send(request)

    per_worker = args.requests // args.concurrency
    await asyncio.gather(*(worker(per_worker) for _ in range(args.concurrency)))  # warm-up
    best = float("inf")
    for _ in range(args.rounds):
        cpu = time.process_time()
        await asyncio.gather(*(worker(per_worker) for _ in range(args.concurrency)))
        best = min(best, time.process_time() - cpu)
    total = per_worker * args.concurrency
    print(f"connection layer, {total} EXECUTE over a loopback transport, concurrency {args.concurrency}: "
          f"{best * 1e6 / total:.2f} us CPU per request (best of {args.rounds})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
