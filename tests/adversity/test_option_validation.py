"""Issue 11 item 6: every option of execute, prepare and statements is checked before anything is sent.

Each bad value raises InvalidValueError naming the option and the value, and the fake server receives no
QUERY, PREPARE, EXECUTE or BATCH for it (so a write with a bad option is never applied).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from aiocql import (
    NO_PAGING,
    BatchStatement,
    Cluster,
    ConsistencyLevel,
    InvalidValueError,
    Session,
    SimpleStatement,
    tuple_factory,
)
from aiocql.testing.fakeserver import FakeServer, Opcode

from .conftest import echo_row, is_kv

REQUESTS = (Opcode.QUERY, Opcode.PREPARE, Opcode.EXECUTE, Opcode.BATCH)
SELECT = "SELECT k, v FROM kv WHERE k = 1"


@pytest.fixture
async def session(server: FakeServer) -> AsyncIterator[Session]:
    server.on(Opcode.QUERY, match=is_kv, reply=echo_row)
    async with Cluster([server.host], port=server.port, protocol_version=5, schema_metadata=False) as cluster:
        yield await cluster.connect()


def sent(server: FakeServer) -> int:
    return sum(len(server.received(op, server.is_pool_request)) for op in REQUESTS)


BAD_EXECUTE_OPTIONS: list[tuple[str, Any, str]] = [
    ("timeout", "5", "timeout must be a number"),
    ("timeout", math.nan, "timeout must be a finite"),
    ("timeout", math.inf, "timeout must be a finite"),
    ("timeout", 0, "timeout must be more than 0"),
    ("timeout", -1.0, "timeout must be more than 0"),
    ("timeout", True, "timeout must be a number"),
    ("consistency_level", "QUORUM", "use ConsistencyLevel.QUORUM"),
    ("consistency_level", 1.5, "consistency_level must be a ConsistencyLevel"),
    ("consistency_level", 4, "use ConsistencyLevel.QUORUM"),
    ("serial_consistency_level", ConsistencyLevel.ONE, "serial_consistency_level must be ConsistencyLevel.SERIAL"),
    ("serial_consistency_level", "SERIAL", "serial_consistency_level must be a ConsistencyLevel"),
    ("fetch_size", 0, "to turn paging off use fetch_size=aiocql.NO_PAGING"),
    ("fetch_size", -1, "to turn paging off"),
    ("fetch_size", 2**31, "fetch_size must be between 1 and"),
    ("fetch_size", 10.0, "fetch_size must be a positive int"),
    ("fetch_size", "10", "fetch_size must be a positive int"),
    ("paging_state", "abc", "paging_state must be bytes"),
    ("paging_state", 5, "paging_state must be bytes"),
    ("custom_payload", {"k": "v"}, r"custom_payload\['k'\] must be bytes"),
    ("custom_payload", {1: b"v"}, "custom_payload key must be a str"),
    ("custom_payload", [("k", b"v")], "custom_payload must be a mapping"),
    ("keyspace", 123, "keyspace must be a non-empty str"),
    ("keyspace", "", "keyspace must be a non-empty str"),
    ("row_factory", 5, "row_factory must be a callable"),
    ("timestamp", "now", "timestamp must be an int"),
    ("timestamp", 2**63, "timestamp must be an int"),
    ("trace", "yes", "trace must be True or False"),
    ("is_idempotent", 1, "is_idempotent must be True or False"),
    ("execution_profile", ["x"], "execution_profile must be a profile name"),
]


@pytest.mark.parametrize(("option", "value", "message"), BAD_EXECUTE_OPTIONS)
@pytest.mark.parametrize("kind", ["string", "with-parameters", "prepared", "batch"])
async def test_a_bad_execute_option_is_refused_before_anything_is_sent(
    server: FakeServer, session: Session, kind: str, option: str, value: Any, message: str
) -> None:
    statement: Any = SELECT
    params: Any = None
    if kind == "with-parameters":
        statement, params = "SELECT k, v FROM kv WHERE k = ?", (1,)
    elif kind == "prepared":
        statement, params = await session.prepare("SELECT k, v FROM kv WHERE k = ?"), (1,)
    elif kind == "batch":
        statement = BatchStatement()
        statement.add("INSERT INTO kv (k, v) VALUES (1, 'a')")
    before = sent(server)
    with pytest.raises(InvalidValueError, match=message):
        await session.execute(statement, params, **{option: value})
    assert sent(server) == before, "a request left although an option was wrong"


@pytest.mark.parametrize("query", [123, None, b"SELECT 1", ["SELECT 1"]])
async def test_execute_refuses_what_is_not_a_statement(server: FakeServer, session: Session, query: Any) -> None:
    with pytest.raises(InvalidValueError, match="execute\\(\\) takes a CQL string or a statement"):
        await session.execute(query)
    assert sent(server) == 0


@pytest.mark.parametrize("parameters", [5, "abc", b"ab", {1, 2}])
async def test_bad_parameters_are_refused_before_the_transparent_prepare(
    server: FakeServer, session: Session, parameters: Any
) -> None:
    with pytest.raises(InvalidValueError, match="parameters must be a sequence or a mapping"):
        await session.execute("SELECT k, v FROM kv WHERE k = ?", parameters)
    assert sent(server) == 0


@pytest.mark.parametrize("query", [None, 123, "", SimpleStatement("SELECT 1")])
async def test_prepare_refuses_what_is_not_a_cql_string(server: FakeServer, session: Session, query: Any) -> None:
    with pytest.raises(InvalidValueError, match="prepare\\(\\) takes a non-empty CQL string"):
        await session.prepare(query)
    assert sent(server) == 0


@pytest.mark.parametrize(
    ("option", "value"), [("keyspace", 5), ("timeout", "1"), ("timeout", -1), ("timeout", math.nan)]
)
async def test_prepare_checks_its_options(server: FakeServer, session: Session, option: str, value: Any) -> None:
    with pytest.raises(InvalidValueError, match=option):
        await session.prepare("SELECT k, v FROM kv WHERE k = ?", **{option: value})
    assert sent(server) == 0


STATEMENT_ATTRIBUTES: list[tuple[str, Any]] = [
    ("consistency_level", "ONE"),
    ("serial_consistency_level", ConsistencyLevel.QUORUM),
    ("fetch_size", 0),
    ("timeout", math.nan),
    ("keyspace", 7),
    ("custom_payload", {"a": 1}),
    ("is_idempotent", "yes"),
]


@pytest.mark.parametrize(("attribute", "value"), STATEMENT_ATTRIBUTES)
async def test_a_statement_attribute_set_after_it_was_made_is_checked_at_execute(
    server: FakeServer, session: Session, attribute: str, value: Any
) -> None:
    """cassandra-driver users set ``prepared.consistency_level = ...``: a wrong value fails at execute."""
    prepared = await session.prepare("SELECT k, v FROM kv WHERE k = ?")
    simple = SimpleStatement(SELECT)
    for stmt, params in [(prepared, (1,)), (simple, None)]:
        setattr(stmt, attribute, value)
        before = sent(server)
        with pytest.raises(InvalidValueError, match=f"{type(stmt).__name__}.{attribute}"):
            await session.execute(stmt, params)
        assert sent(server) == before


@pytest.mark.parametrize(("attribute", "value"), STATEMENT_ATTRIBUTES)
def test_statement_constructors_check_their_options(attribute: str, value: Any) -> None:
    makers: list[Callable[..., Any]] = [lambda **o: SimpleStatement(SELECT, **o), lambda **o: BatchStatement(**o)]
    for make in makers:
        with pytest.raises(InvalidValueError, match=attribute):
            make(**{attribute: value})


async def test_the_row_factory_is_checked_before_the_query_runs(server: FakeServer, session: Session) -> None:
    with pytest.raises(InvalidValueError, match="row_factory"):
        await session.execute(SELECT, row_factory="tuple")
    assert sent(server) == 0


async def test_good_options_still_reach_the_server(server: FakeServer, session: Session) -> None:
    rs = await session.execute(
        SELECT,
        consistency_level=ConsistencyLevel.ANY,  # 0: falsy, still the caller's choice
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        timeout=2,
        fetch_size=7,
        paging_state=b"\x01",
        custom_payload={"k": b"v"},
        row_factory=tuple_factory,
        timestamp=-5,
        trace=False,
        is_idempotent=True,
    )
    assert rs.one() == (1, "value-1")
    (req,) = server.received(Opcode.QUERY, lambda r: r.query == SELECT)
    params = req.message.params  # type: ignore[union-attr]
    assert (params.consistency, params.serial_consistency) == (ConsistencyLevel.ANY, ConsistencyLevel.LOCAL_SERIAL)
    assert (params.page_size, params.paging_state, params.timestamp) == (7, b"\x01", -5)
    assert req.custom_payload == {"k": b"v"}


async def test_no_paging_sends_no_page_size(server: FakeServer, session: Session) -> None:
    """``fetch_size=NO_PAGING`` is the explicit way to turn paging off: the request carries no page size."""
    await session.execute(SELECT, fetch_size=NO_PAGING)
    await session.execute(SimpleStatement(SELECT, fetch_size=NO_PAGING))
    await session.execute(SELECT)
    sizes = [r.message.params.page_size for r in server.received(Opcode.QUERY, is_kv)]  # type: ignore[union-attr]
    assert sizes == [None, None, 5000]
