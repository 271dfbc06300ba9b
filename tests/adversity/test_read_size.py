"""Socket reads stay under glibc's mmap threshold: asyncio's selector transport reads up to ``max_size`` bytes
into a new bytes object, and its 256 KiB default made every read an mmap, mremap and munmap (system time that
made one request at a time cost several percent more CPU). Large replies still arrive whole over many reads
(test_fakeserver's 3 MiB reply)."""

from __future__ import annotations

import asyncio

from aiocql import Cluster
from aiocql.connection.protocol import READ_SIZE
from aiocql.testing.fakeserver import FakeServer, Opcode, Rows
from aiocql.types import BLOB


async def test_reads_are_at_most_read_size_and_a_big_page_still_arrives(server: FakeServer) -> None:
    assert READ_SIZE <= 128 * 1024  # glibc's default mmap threshold
    blob = bytes(range(256)) * 1200  # a 300 KiB value: several reads
    server.on(Opcode.QUERY, match=lambda r: "big" in (r.query or ""), reply=Rows([("b", BLOB)], [(blob,)]))
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        pool = session.pools[0]
        transports = [conn.proto.transport for conn in pool.connections]
        assert transports and all(t is not None for t in transports)
        if isinstance(asyncio.get_running_loop(), asyncio.selector_events.BaseSelectorEventLoop):
            assert all(t.max_size == READ_SIZE for t in transports)  # type: ignore[union-attr]
        rows = await asyncio.gather(*(session.execute("SELECT b FROM big") for _ in range(3)))
        assert all(rs.one() == (blob,) for rs in rows)
