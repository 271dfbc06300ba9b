"""The strictness decisions of issue 13, checked on the real server: what aiocql refuses before sending,
and where it follows cassandra-driver (docs/migration.md, "Strictness")."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from aiocql import UNSET_VALUE, BatchStatement, Cluster, InvalidValueError
from aiocql.protocol.constants import Opcode
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import count_requests

pytestmark = pytest.mark.server


@pytest.fixture
async def session(cassandra: ServerInfo, keyspace: str) -> Any:
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        sess = await cluster.connect(keyspace)
        await sess.execute(
            "CREATE TABLE IF NOT EXISTS strict (k int, c int, v text, t frozen<tuple<int, text, int>>, ip inet,"
            " PRIMARY KEY (k, c))",
            timeout=60,
        )
        yield sess


async def test_unset_in_the_partition_key_is_refused_at_bind(session: Any) -> None:
    ps = await session.prepare("INSERT INTO strict (k, c, v) VALUES (?, ?, ?)")
    counts = count_requests(session)
    with pytest.raises(InvalidValueError, match=r"partition key column 'k' cannot be UNSET_VALUE"):
        await session.execute(ps, (UNSET_VALUE, 1, "x"))
    assert counts[Opcode.EXECUTE] == 0
    await session.execute(ps, (1, 1, UNSET_VALUE))  # a regular column may be left unset


async def test_a_shorter_tuple_leaves_the_last_components_null(session: Any) -> None:
    await session.execute("INSERT INTO strict (k, c, t) VALUES (?, ?, ?)", (2, 1, (7,)))
    row = (await session.execute("SELECT t FROM strict WHERE k = 2 AND c = 1")).one()
    assert row.t == (7, None, None)
    with pytest.raises(InvalidValueError, match=r"at most 3 components"):
        await session.execute("INSERT INTO strict (k, c, t) VALUES (?, ?, ?)", (2, 2, (1, "a", 2, 3)))


async def test_positional_and_named_binding_stay_strict(session: Any) -> None:
    insert = "INSERT INTO strict (k, c, v) VALUES (?, ?, ?)"
    with pytest.raises(InvalidValueError, match=r"expected 3 values, got 2"):
        await session.execute(insert, (3, 1))
    with pytest.raises(InvalidValueError, match=r"unknown"):
        await session.execute(insert, {"k": 3, "c": 1, "v": "x", "w": 1})
    await session.execute(insert, (3, 1, UNSET_VALUE))  # the explicit way to leave a value out


async def test_inet_reads_back_as_an_ip_address_object(session: Any) -> None:
    await session.execute("INSERT INTO strict (k, c, ip) VALUES (?, ?, ?)", (4, 1, "1.2.3.4"))
    row = (await session.execute("SELECT ip FROM strict WHERE k = 4 AND c = 1")).one()
    assert row.ip == ipaddress.ip_address("1.2.3.4") and str(row.ip) == "1.2.3.4"
    assert row.ip != "1.2.3.4"  # documented: compare with str(row.ip) or an ip_address


async def test_a_row_factory_returning_a_generator_gives_a_list_page(session: Any) -> None:
    def lazy(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[dict[str, Any]]:
        return (dict(zip(names, r, strict=True)) for r in rows)

    rs = await session.execute("SELECT key FROM system.local", row_factory=lazy)
    assert rs.one() == {"key": "local"} and rs.one() == {"key": "local"} and len(rs) == 1


async def test_an_empty_batch_is_refused_before_sending(session: Any) -> None:
    counts = count_requests(session)
    with pytest.raises(InvalidValueError, match=r"at least one statement"):
        await session.execute(BatchStatement())
    assert counts[Opcode.BATCH] == 0
