"""Authentication against PasswordAuthenticator, and authorization errors (CassandraAuthorizer)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import aiocql
from aiocql import Cluster, PlainTextAuthProvider
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl

pytestmark = pytest.mark.server(auth=True)

ROLE = "reader_without_grants"


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> Iterator[None]:
    ddl(
        server,
        keyspace,
        "CREATE TABLE secret (k int PRIMARY KEY, v text)",
        "INSERT INTO secret (k, v) VALUES (1, 'hidden')",
        f"DROP ROLE IF EXISTS {ROLE}",
        f"CREATE ROLE {ROLE} WITH PASSWORD = 'pw' AND LOGIN = true",
        "CREATE TABLE granted (k int PRIMARY KEY, v text)",
        f"GRANT SELECT ON TABLE {keyspace}.granted TO {ROLE}",
    )
    yield
    ddl(server, keyspace, f"DROP ROLE IF EXISTS {ROLE}")


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("compression", [False, True])
async def test_login(cassandra: ServerInfo, keyspace: str, version: int, compression: bool) -> None:
    assert cassandra.username == "cassandra"
    kwargs = cluster_kwargs(cassandra, protocol_version=version, compression=compression)
    assert isinstance(kwargs["auth_provider"], PlainTextAuthProvider)
    async with Cluster(**kwargs) as cluster:
        session = await cluster.connect(keyspace)
        assert (await session.execute("SELECT v FROM secret WHERE k = 1")).one().v == "hidden"
        me = (await session.execute("SELECT role, is_superuser FROM system_auth.roles WHERE role = 'cassandra'")).one()
        assert me.is_superuser is True


@pytest.mark.parametrize("version", [4, 5])
async def test_wrong_password(cassandra: ServerInfo, version: int) -> None:
    provider = PlainTextAuthProvider("cassandra", "not the password")
    kwargs = cluster_kwargs(cassandra, protocol_version=version, auth_provider=provider)
    started = time.monotonic()
    async with Cluster(**kwargs) as cluster:
        with pytest.raises(aiocql.AuthenticationError, match=r"(?i)provided username cassandra and/or password"):
            await cluster.connect()
    assert time.monotonic() - started < 15
    assert "password" not in repr(provider).replace("password=***", "")


async def test_wrong_password_negotiating(cassandra: ServerInfo) -> None:
    """Without a pinned version the failure comes from the negotiation connection: same error."""
    kwargs = cluster_kwargs(cassandra, auth_provider=PlainTextAuthProvider("nobody", "x"))
    async with Cluster(**kwargs) as cluster:
        with pytest.raises(aiocql.AuthenticationError) as failure:
            await cluster.connect()
    assert cassandra.host in str(failure.value)


@pytest.mark.parametrize("version", [4, 5])
async def test_no_auth_provider(cassandra: ServerInfo, version: int) -> None:
    kwargs = cluster_kwargs(cassandra, protocol_version=version)
    del kwargs["auth_provider"]
    async with Cluster(**kwargs) as cluster:
        with pytest.raises(aiocql.AuthenticationError, match=r"requires authentication.*no auth_provider"):
            await cluster.connect()


@pytest.mark.parametrize("version", [4, 5])
async def test_unauthorized(cassandra: ServerInfo, keyspace: str, version: int) -> None:
    provider = PlainTextAuthProvider(ROLE, "pw")
    kwargs = cluster_kwargs(cassandra, protocol_version=version, auth_provider=provider)
    async with Cluster(**kwargs) as cluster:
        session = await cluster.connect(keyspace)
        # The grant is visible at once here (a fresh role has nothing cached); the refusal below is real.
        assert (await session.execute("SELECT v FROM granted WHERE k = 1")).one() is None
        with pytest.raises(aiocql.Unauthorized, match=r"(?i)has no SELECT permission") as refused:
            await session.execute("SELECT v FROM secret WHERE k = 1")
        assert refused.value.code == 0x2100
        with pytest.raises(aiocql.Unauthorized, match=r"(?i)MODIFY"):
            await session.execute("INSERT INTO granted (k, v) VALUES (1, 'x')")
        # Permissions are checked when a statement runs, not when it is prepared.
        insert = await session.prepare("INSERT INTO secret (k, v) VALUES (?, ?)")
        with pytest.raises(aiocql.Unauthorized, match=r"(?i)MODIFY"):
            await session.execute(insert, (2, "x"))
