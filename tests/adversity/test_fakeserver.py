"""The fake server itself, through the driver: framing, compression, large envelopes, auth, events,
what it records. The adversity tests are only as good as this server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiocql import AuthenticationError, BatchStatement, Cluster, NoHostAvailable, PlainTextAuthProvider
from aiocql.connection.connection import Connection, ConnectionOptions
from aiocql.protocol.constants import StatusChangeType
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.requests import Batch, BatchQuery, Query
from aiocql.protocol.responses import StatusChangeEvent, decode_response
from aiocql.testing.fakeserver import (
    CLOSE,
    AuthChallenge,
    Event,
    FakeServer,
    Opcode,
    Rows,
)
from aiocql.testing.polling import wait_until
from aiocql.types import BLOB, INT

from .conftest import echo_row, is_kv

PASSWORD_AUTH = "org.apache.cassandra.auth.PasswordAuthenticator"


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("compression", [False, True], ids=["plain", "lz4"])
async def test_large_replies_and_requests_cross_frames(server: FakeServer, version: int, compression: bool) -> None:
    """A 1 MiB request and a 3 MiB reply: on v5 both span many frames (128 KiB payloads)."""
    blob = bytes(range(256)) * 4096 * 3
    server.on(Opcode.QUERY, match=lambda r: "big" in (r.query or ""), reply=Rows([("b", BLOB)], [(blob,)]))
    query = "SELECT b FROM big WHERE pad = '" + "p" * (1 << 20) + "'"
    async with Cluster([server.host], port=server.port, protocol_version=version, compression=compression) as c:
        session = await c.connect()
        rows = await asyncio.gather(*(session.execute(query) for _ in range(3)))
        assert all(rs.one() == (blob,) for rs in rows)
        assert [r.query for r in server.received(Opcode.QUERY)][-3:] == [query] * 3
        assert server.connections[-1].startup_options.get("COMPRESSION") == ("lz4" if compression else None)


@pytest.mark.parametrize("version", [4, 5])
async def test_many_replies_share_frames_and_each_reaches_its_caller(server: FakeServer, version: int) -> None:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster([server.host], port=server.port, protocol_version=version) as cluster:
        session = await cluster.connect()
        rows = await asyncio.gather(*(session.execute(f"SELECT k, v FROM kv WHERE k = {k}") for k in range(500)))
        assert [rs.one() for rs in rows] == [(k, f"value-{k}") for k in range(500)]
        streams = [r.stream for r in server.received(Opcode.QUERY, is_kv)]
        assert len(set(streams)) == 500  # all in flight at once, on distinct stream ids


async def test_paging_state_round_trip(server: FakeServer) -> None:
    def page(req: object) -> Rows:
        state = req.message.params.paging_state  # type: ignore[attr-defined]
        if state is None:
            return Rows([("k", INT)], [(1,), (2,)], paging_state=b"page-2")
        assert state == b"page-2"
        return Rows([("k", INT)], [(3,)])

    server.on(Opcode.QUERY, match=lambda r: "paged" in (r.query or ""), reply=page)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        rs = await session.execute("SELECT k FROM paged", fetch_size=2)
        assert [row.k async for row in rs] == [1, 2, 3]
        assert [r.message.params.page_size for r in server.received(Opcode.QUERY)][-2:] == [2, 2]  # type: ignore[union-attr]


@pytest.mark.parametrize("version", [4, 5])
async def test_authentication_success_challenge_and_failure(version: int) -> None:
    async with FakeServer(authenticator=PASSWORD_AUTH, credentials=("alice", "s3cret")) as server:
        good = PlainTextAuthProvider("alice", "s3cret")
        async with Cluster([server.host], port=server.port, protocol_version=version, auth_provider=good) as c:
            await c.connect()
        bad = PlainTextAuthProvider("alice", "wrong")
        async with Cluster([server.host], port=server.port, protocol_version=version, auth_provider=bad) as c:
            with pytest.raises((AuthenticationError, NoHostAvailable), match=r"(?i)password|credentials|auth"):
                await c.connect()
        # A second SASL round: the server challenges once, then accepts the repeated token.
        server.on(Opcode.AUTH_RESPONSE, reply=AuthChallenge(b"again"), times=1)
        conn = await Connection.open(
            server.host, ConnectionOptions(port=server.port, protocol_version=version, auth_provider=good)
        )
        await conn.close()
        assert [r.opcode for r in server.requests[-3:]] == [Opcode.STARTUP, Opcode.AUTH_RESPONSE, Opcode.AUTH_RESPONSE]


@pytest.mark.parametrize("version", [4, 5])
async def test_pushed_events_reach_the_connection(server: FakeServer, version: int) -> None:
    events: list[Envelope] = []
    conn = await Connection.open(
        server.host, ConnectionOptions(port=server.port, protocol_version=version), on_event=events.append
    )
    try:
        server.open_connections[-1].push_event(Event.status_change(StatusChangeType.DOWN, "127.0.0.7"))
        await wait_until(lambda: events)
        event = decode_response(events[0], version)
        assert isinstance(event, StatusChangeEvent) and event.change is StatusChangeType.DOWN
    finally:
        await conn.close()


async def test_requests_are_recorded_decoded(server: FakeServer) -> None:
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        await session.execute("SELECT k FROM kv WHERE k = 1", custom_payload={"who": b"me"})
        batch = BatchStatement()
        batch.add("INSERT INTO kv (k, v) VALUES (1, 'a')")
        batch.add("INSERT INTO kv (k, v) VALUES (2, 'b')")
        await session.execute(batch)
        query, batch_req = server.requests[-2:]
        assert isinstance(query.message, Query) and query.custom_payload == {"who": b"me"}
        assert isinstance(batch_req.message, Batch) and batch_req.is_batch
        assert batch_req.message.statements == [
            BatchQuery("INSERT INTO kv (k, v) VALUES (1, 'a')"),
            BatchQuery("INSERT INTO kv (k, v) VALUES (2, 'b')"),
        ]
        assert batch_req.query == "INSERT INTO kv (k, v) VALUES (1, 'a'); INSERT INTO kv (k, v) VALUES (2, 'b')"


async def test_system_local_answers_what_is_asked(server: FakeServer) -> None:
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        row = (await session.execute("SELECT release_version, host_id, tokens FROM system.local")).one()
        assert row.release_version == server.release_version and row.host_id == server.host_id
        assert row.tokens == {"0"}
        assert await (await session.execute("SELECT * FROM system.peers_v2")).all() == []


async def test_close_action_and_handler_errors(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=lambda r: "boom" in (r.query or ""), reply=lambda r: 1 / 0)
    server.on(Opcode.QUERY, match=lambda r: "bye" in (r.query or ""), reply=CLOSE)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        with pytest.raises(Exception, match="ZeroDivisionError"):
            await session.execute("SELECT boom FROM t")
        assert isinstance(server.errors.pop(), ZeroDivisionError)
        with pytest.raises(Exception, match="closed"):
            await session.execute("SELECT bye FROM t")


class _RecordingTransport:
    """Records what the connection writes, then writes it on the real transport (which does everything else)."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@pytest.mark.parametrize("pages", ["rows", "pages"])
async def test_the_next_page_is_requested_before_the_current_one_is_read(server: FakeServer, pages: str) -> None:
    """Reading a page's rows does not yield to the loop: the next page's request must have left the client
    (written to its socket) before the first row of a page is handed over, so that the server works on it while
    the page is read. Otherwise it would leave only once the whole page is read: no overlap at all."""

    def page(req: object) -> Rows:
        state = req.message.params.paging_state  # type: ignore[attr-defined]
        n = 0 if state is None else int(state)
        more = str(n + 1).encode() if n < 3 else None
        return Rows([("k", INT)], [(n * 10 + i,) for i in range(3)], paging_state=more)

    server.on(Opcode.QUERY, match=lambda r: "paged" in (r.query or ""), reply=page)
    async with Cluster([server.host], port=server.port) as cluster:
        session = await cluster.connect()
        writes: list[bytes] = []
        for pool in session.pools:
            for conn in pool.connections:
                transport = conn.proto.transport
                assert transport is not None
                # A proxy, not a patched method: uvloop's transports have read-only attributes.
                conn.proto.transport = _RecordingTransport(transport, writes)  # type: ignore[assignment]
        rs = await session.execute("SELECT k FROM paged", fetch_size=3)
        written_at_first_row: list[int] = []
        seen: list[int] = []
        if pages == "rows":
            async for row in rs:
                if row.k % 10 == 0:  # the first row of a page: the next page's request is out already
                    written_at_first_row.append(sum(b"paged" in w for w in writes))
                seen.append(row.k)
        else:
            async for rows in rs.pages():
                written_at_first_row.append(sum(b"paged" in w for w in writes))
                seen.extend(row.k for row in rows)
    assert seen == [n * 10 + i for n in range(4) for i in range(3)]
    # the first request (page 1) was written by execute(); at page n's first row, n + 1 requests were written
    assert written_at_first_row == [2, 3, 4, 4], written_at_first_row
