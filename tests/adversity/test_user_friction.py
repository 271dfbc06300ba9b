"""What a cassandra-driver user trips over (issue 14), on fake servers: configuration errors raised as the
server's error (not NoHostAvailable), a bad paging token typed as InvalidPagingState, a profile named
"default" used by plain calls, cassandra-driver Session habits refused with a pointer, readable reprs."""

from __future__ import annotations

import inspect
import pydoc

import pytest

from aiocql import (
    Cluster,
    ConsistencyLevel,
    CqlError,
    ExecutionProfile,
    InvalidPagingState,
    InvalidRequest,
    InvalidValueError,
    NoHostAvailable,
    Session,
    Unavailable,
    UsageError,
    dict_factory,
)
from aiocql.errors.server import ProtocolErrorFromServer
from aiocql.testing.fakeserver import Error, FakeServer, Opcode, start_fake_servers

SELECT = "SELECT k, v FROM kv WHERE k = 1"


def _cluster(server: FakeServer, **kwargs: object) -> Cluster:
    return Cluster([server.host], port=server.port, protocol_version=5, **kwargs)  # type: ignore[arg-type]


async def test_a_bad_keyspace_at_connect_raises_the_servers_invalid_request(server: FakeServer) -> None:
    server.on(Opcode.QUERY, match=lambda r: (r.query or "").startswith("USE"),
              reply=Error(InvalidRequest("Keyspace 'nope' does not exist")))  # fmt: skip
    async with _cluster(server) as cluster:
        with pytest.raises(InvalidRequest, match="Keyspace 'nope' does not exist") as info:
            await cluster.connect("nope")
    assert not isinstance(info.value, NoHostAvailable)
    assert isinstance(info.value.__cause__, NoHostAvailable)  # which host said it is still there


async def test_unavailable_on_the_only_node_is_raised_as_unavailable(server: FakeServer) -> None:
    unavailable = Unavailable(
        "Cannot achieve consistency level QUORUM", consistency=ConsistencyLevel.QUORUM, required=2, alive=1
    )
    server.on(Opcode.QUERY, match=lambda r: r.query == SELECT, reply=Error(unavailable))
    async with _cluster(server) as cluster:
        session = await cluster.connect()
        with pytest.raises(Unavailable) as info:
            await session.execute(SELECT, consistency_level=ConsistencyLevel.QUORUM)
    assert (info.value.required, info.value.alive) == (2, 1)
    assert len(server.received(Opcode.QUERY, lambda r: r.query == SELECT)) == 1  # RETRY_NEXT: no other node


async def test_unavailable_on_every_node_is_raised_as_unavailable() -> None:
    nodes = await start_fake_servers(2)
    try:
        for node in nodes:
            node.on(Opcode.QUERY, match=lambda r: r.query == SELECT,
                    reply=Error(Unavailable("no", consistency=ConsistencyLevel.ALL, required=3, alive=2)))  # fmt: skip
        async with Cluster([n.host for n in nodes], port=nodes[0].port) as cluster:
            session = await cluster.connect()
            with pytest.raises(Unavailable):
                await session.execute(SELECT)
    finally:
        for node in nodes:
            await node.close()


async def test_a_bad_paging_token_is_invalid_paging_state(server: FakeServer) -> None:
    # What Cassandra 5.0 answers for a token it did not make (checked against a real node in
    # tests/integration/test_user_friction.py).
    server.on(Opcode.QUERY, match=lambda r: r.query == SELECT,
              reply=Error(ProtocolErrorFromServer("Invalid value for the paging state")))  # fmt: skip
    async with _cluster(server) as cluster:
        session = await cluster.connect()
        with pytest.raises(InvalidPagingState, match="paging state") as info:
            await session.execute(SELECT, paging_state=b"\x00garbage")
        assert isinstance(info.value, ProtocolErrorFromServer) and isinstance(info.value, CqlError)
        with pytest.raises(InvalidValueError, match="paging_state must be bytes"):
            await session.execute(SELECT, paging_state="not-bytes")  # type: ignore[arg-type]
        # Without a paging state of the caller's, the same server error stays what it is.
        with pytest.raises(ProtocolErrorFromServer) as plain:
            await session.execute(SELECT)
        assert not isinstance(plain.value, InvalidPagingState)


async def test_a_profile_named_default_is_used_by_plain_calls(server: FakeServer) -> None:
    profile = ExecutionProfile(consistency_level=ConsistencyLevel.QUORUM, row_factory=dict_factory)
    async with _cluster(server, execution_profiles={"default": profile}) as cluster:
        session = await cluster.connect()
        rs = await session.execute("SELECT * FROM system.local")
        assert isinstance(rs.one(), dict)
    sent = server.received(Opcode.QUERY, lambda r: r.query == "SELECT * FROM system.local")
    assert sent and all(r.message.params.consistency == ConsistencyLevel.QUORUM for r in sent)  # type: ignore[attr-defined]


async def test_cassandra_driver_session_habits_raise_with_the_aiocql_way(server: FakeServer) -> None:
    async with _cluster(server) as cluster:
        session = await cluster.connect()
        for name, hint in [
            ("row_factory", "row_factory= to Cluster"),
            ("default_timeout", "request_timeout="),
            ("default_consistency_level", "consistency_level="),
        ]:
            with pytest.raises(UsageError, match=hint) as info:
                setattr(session, name, object())
            assert isinstance(info.value, CqlError) and name in str(info.value)
        with pytest.raises(UsageError, match="migration"):
            session.made_up_setting = 1  # type: ignore[attr-defined]
        session.keyspace = "other"  # existing attributes still work
        assert repr(session) == "<Session keyspace='other' hosts=1 up=1 open>"
    assert repr(session).endswith("closed>")


def test_help_of_execute_shows_no_object_address() -> None:
    text = pydoc.render_doc(Session.execute, renderer=pydoc.plaintext)
    assert "object at 0x" not in text
    assert "timeout: 'float | None' = <profile default>" in str(inspect.signature(Session.execute))


def test_consistency_level_prints_its_name() -> None:
    assert str(ConsistencyLevel.QUORUM) == "QUORUM"
    assert f"{ConsistencyLevel.LOCAL_ONE}" == "LOCAL_ONE"
    assert int(ConsistencyLevel.QUORUM) == 4


def test_register_user_type_is_supported() -> None:
    # cassandra-driver's call works (the real-server side: tests/integration/test_udt_classes.py).
    class Address:
        def __init__(self, street: str, zip: int) -> None:
            self.street, self.zip = street, zip

    cluster = Cluster(["127.0.0.1"])
    cluster.register_user_type("ks", "address", Address)
    assert cluster.udt_classes.get("ks", "address") is Address
    with pytest.raises(InvalidValueError, match=r"must be a class"):
        cluster.register_user_type("ks", "address", Address("x", 1))  # type: ignore[arg-type]
