"""Issue 11 item 7: a reply of the wrong kind on a request's stream is a ProtocolError, never an empty result.

Every reply kind that does not answer the request (READY, SUPPORTED, AUTHENTICATE, AUTH_CHALLENGE,
AUTH_SUCCESS, EVENT, RESULT Prepared/Void/Set_keyspace/Schema_change on a SELECT, ...) on v4 and v5:
the caller gets ProtocolError, the connection is dropped (its other in-flight requests fail with
ConnectionLost, or are retried when idempotent), and the pool's replacement connection serves later requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from aiocql import Cluster, ConnectionLost, NoHostAvailable, ProtocolError, Session, SimpleStatement
from aiocql.protocol.constants import StatusChangeType
from aiocql.testing.fakeserver import (
    NO_REPLY,
    AuthChallenge,
    Authenticate,
    AuthSuccess,
    Event,
    FakeServer,
    Opcode,
    Prepared,
    Ready,
    ReceivedRequest,
    Reply,
    Rows,
    SchemaChange,
    SetKeyspace,
    Supported,
    Void,
)
from aiocql.testing.polling import wait_until
from aiocql.types import INT

from .conftest import KV_COLUMNS, echo_row, is_kv

NOT_RESULTS: list[Reply] = [
    Ready(),
    Supported(),
    Authenticate(),
    AuthChallenge(b"x"),
    AuthSuccess(),
    Event.status_change(StatusChangeType.UP, "127.0.0.9"),
]
WRONG_FOR_SELECT: list[Reply] = [*NOT_RESULTS, Void(), SetKeyspace("ks"), SchemaChange(), Prepared()]
BAD = "SELECT k, v FROM kv WHERE k = 666"


def ids(replies: list[Reply]) -> list[str]:
    return [type(r).__name__ for r in replies]


def on_bad(req: ReceivedRequest) -> bool:
    return (req.query is not None and "k = 666" in req.query) or (bool(req.values) and req.value(0, INT) == 666)


@pytest.fixture(params=[4, 5], ids=["v4", "v5"])
async def session(request: pytest.FixtureRequest, server: FakeServer) -> AsyncIterator[Session]:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    server.on(Opcode.EXECUTE, match=is_kv, reply=echo_row)
    server.on(Opcode.PREPARE, match=is_kv, reply=Prepared(bind=[("k", INT)], result=KV_COLUMNS, table="kv"))
    async with Cluster(
        [server.host], port=server.port, protocol_version=request.param, schema_metadata=False
    ) as cluster:
        yield await cluster.connect()


async def expect_dropped_and_replaced(server: FakeServer, session: Session, call: object) -> None:
    pool = session.pools[0]
    old = pool.connections[0]
    with pytest.raises(ProtocolError, match="the connection is dropped"):
        await call  # type: ignore[misc]
    assert old.is_closed
    await wait_until(lambda: pool.connections and pool.connections[0] is not old and pool.is_up, timeout=5.0)
    assert (await session.execute("SELECT k, v FROM kv WHERE k = 3", timeout=2.0)).one() == (3, "value-3")


@pytest.mark.parametrize("reply", WRONG_FOR_SELECT, ids=ids(WRONG_FOR_SELECT))
async def test_a_wrong_reply_to_a_select_query(server: FakeServer, session: Session, reply: Reply) -> None:
    server.on(Opcode.QUERY, match=on_bad, reply=reply)
    await expect_dropped_and_replaced(server, session, session.execute(BAD, timeout=2.0))


@pytest.mark.parametrize("reply", WRONG_FOR_SELECT, ids=ids(WRONG_FOR_SELECT))
async def test_a_wrong_reply_to_a_prepared_select(server: FakeServer, session: Session, reply: Reply) -> None:
    prepared = await session.prepare("SELECT k, v FROM kv WHERE k = ?")
    server.on(Opcode.EXECUTE, match=on_bad, reply=reply)
    await expect_dropped_and_replaced(server, session, session.execute(prepared, (666,), timeout=2.0))


WRONG_FOR_WRITE: list[Reply] = [*NOT_RESULTS, Prepared()]


@pytest.mark.parametrize("reply", WRONG_FOR_WRITE, ids=ids(WRONG_FOR_WRITE))
async def test_a_wrong_reply_to_a_write(server: FakeServer, session: Session, reply: Reply) -> None:
    server.on(Opcode.QUERY, match=lambda r: r.query is not None and r.query.startswith("INSERT"), reply=reply)
    await expect_dropped_and_replaced(server, session, session.execute("INSERT INTO w (k, v) VALUES (1, 'a')"))


WRONG_FOR_BATCH: list[Reply] = [*NOT_RESULTS, Prepared(), SetKeyspace("ks"), SchemaChange()]


@pytest.mark.parametrize("reply", WRONG_FOR_BATCH, ids=ids(WRONG_FOR_BATCH))
async def test_a_wrong_reply_to_a_batch(server: FakeServer, session: Session, reply: Reply) -> None:
    from aiocql import BatchStatement

    server.on(Opcode.BATCH, reply=reply)
    batch = BatchStatement()
    batch.add("INSERT INTO w (k, v) VALUES (1, 'a')")
    await expect_dropped_and_replaced(server, session, session.execute(batch))


WRONG_FOR_PREPARE: list[Reply] = [*NOT_RESULTS, Void(), Rows(KV_COLUMNS, []), SetKeyspace("ks")]


@pytest.mark.parametrize("reply", WRONG_FOR_PREPARE, ids=ids(WRONG_FOR_PREPARE))
async def test_a_wrong_reply_to_prepare(server: FakeServer, session: Session, reply: Reply) -> None:
    server.on(Opcode.PREPARE, match=lambda r: r.query is not None and "666" in r.query, reply=reply)
    await expect_dropped_and_replaced(server, session, session.prepare("SELECT k, v FROM kv WHERE k = 666"))


async def test_the_other_requests_on_the_dropped_connection_fail_or_are_retried(
    server: FakeServer, session: Session
) -> None:
    """In flight on the same connection: a non-idempotent request fails with ConnectionLost; an idempotent one
    goes to the retry policy (DefaultRetryPolicy: the next host)."""
    held = server.on(Opcode.QUERY, match=lambda r: "k = 7" in (r.query or "") or "k = 8" in (r.query or ""),
                     reply=NO_REPLY, times=2)  # fmt: skip
    plain = asyncio.ensure_future(session.execute("SELECT k, v FROM kv WHERE k = 7", timeout=5.0))
    idempotent = asyncio.ensure_future(
        session.execute(SimpleStatement("SELECT k, v FROM kv WHERE k = 8", is_idempotent=True), timeout=5.0)
    )
    await server.wait_for_requests(2, Opcode.QUERY, lambda r: r.query is not None and "k = " in r.query)
    assert held.hits == 2
    server.on(Opcode.QUERY, match=on_bad, reply=Ready())
    with pytest.raises(ProtocolError):
        await session.execute(BAD, timeout=2.0)
    with pytest.raises(ConnectionLost, match="dropped: the server answered QUERY"):
        await plain  # not idempotent: never resent
    # Idempotent: handed to the retry policy, which moved to the next host (there is none here).
    with pytest.raises(NoHostAvailable) as info:
        await idempotent
    assert [type(e) for e in info.value.errors.values()] == [ConnectionLost]


async def test_an_event_on_a_request_stream_is_refused(server: FakeServer, session: Session) -> None:
    """EVENT belongs on stream -1 only: on a request's stream it is a wrong reply, not a result."""
    server.on(Opcode.QUERY, match=on_bad, reply=Event.schema_change(*_created_table()))
    await expect_dropped_and_replaced(server, session, session.execute(BAD, timeout=2.0))


def _created_table() -> tuple[object, object, str, str]:
    from aiocql.protocol.constants import SchemaChangeTarget, SchemaChangeType

    return SchemaChangeType.CREATED, SchemaChangeTarget.TABLE, "ks", "t"


async def test_right_replies_still_work(server: FakeServer, session: Session) -> None:
    """A write answered with Void, DDL with Schema_change, USE with Set_keyspace, an LWT with rows."""
    assert (await session.execute("INSERT INTO w (k, v) VALUES (1, 'a')")).current_rows == []
    server.on(Opcode.QUERY, match=lambda r: (r.query or "").startswith("INSERT INTO lwt"),
              reply=Rows([("[applied]", INT)], [(1,)]))  # fmt: skip
    assert (await session.execute("INSERT INTO lwt (k) VALUES (1) IF NOT EXISTS")).one() == (1,)
    await session.execute("USE ks")
    assert not session.pools[0].connections[0].is_closed


async def test_an_idempotent_request_on_the_dropped_connection_is_retried_on_another_host() -> None:
    """Two hosts: the idempotent request held on the connection that then gets a wrong reply is retried on the
    other host (DefaultRetryPolicy: next host) and gets its row; the wrong reply's caller gets ProtocolError."""
    from aiocql import RoundRobinPolicy
    from aiocql.testing.fakeserver import start_fake_servers

    nodes = await start_fake_servers(2)
    try:
        state = {"held": ""}

        def hold_first(req: ReceivedRequest) -> object:
            if not state["held"]:
                state["held"] = next(s.host for s in nodes if req in s.requests)
                return NO_REPLY
            return echo_row(req)

        for node in nodes:
            node.on(Opcode.QUERY, match=lambda r: "k = 8" in (r.query or ""), reply=hold_first)
            node.on(Opcode.QUERY, match=on_bad, reply=Ready())
        async with Cluster([s.host for s in nodes], port=nodes[0].port, contact_points_are_hosts=True,
                           load_balancing_policy=RoundRobinPolicy(), schema_metadata=False) as cluster:  # fmt: skip
            session = await cluster.connect()
            idempotent = asyncio.ensure_future(
                session.execute(SimpleStatement("SELECT k, v FROM kv WHERE k = 8", is_idempotent=True), timeout=5.0)
            )
            await wait_until(lambda: state["held"], timeout=5.0)
            with pytest.raises(ProtocolError, match="READY"):
                await session.execute(BAD, host=state["held"], timeout=2.0)  # on the held request's connection
            rs = await idempotent
            assert rs.one() == (8, "value-8")
            assert rs.coordinator != state["held"]
    finally:
        for node in nodes:
            await node.close()


@pytest.mark.parametrize("columns", [[("k", INT)], [*KV_COLUMNS, ("w", INT)]], ids=["fewer", "more"])
async def test_a_page_without_metadata_whose_column_count_differs_is_a_protocol_error(
    server: FakeServer, session: Session, columns: list[tuple[str, object]]
) -> None:
    """A NO_METADATA page is decoded with the metadata the EXECUTE was sent with (v5: the driver asks to
    skip it): a page that says it has another number of columns cannot be decoded with it (the values
    would shift into the wrong columns). On v4 the driver never asks to skip it, so any such page is refused."""
    values = [(666, "value-666", 1)[: len(columns)]]
    server.on(Opcode.EXECUTE, match=on_bad, reply=Rows(columns, values, table="kv", no_metadata=True))  # type: ignore[arg-type]
    prepared = await session.prepare("SELECT k, v FROM kv WHERE k = ?")
    v4 = session.cluster.protocol_version == 4
    expected = "without metadata for a statement" if v4 else "result has 2 columns"
    with pytest.raises(ProtocolError, match=expected):
        await session.execute(prepared.bind((666,)), timeout=10.0)
    # The frame itself was well formed: the connection keeps serving.
    assert (await session.execute(prepared.bind((3,)), timeout=10.0)).one() == (3, "value-3")
