"""Issue 11 (hardening) against the real Cassandra 5.0: what the server itself sends decodes.

Defect 5: Cassandra 5.0.9 writes non-ASCII SCHEMA_CHANGE names one byte per character (not UTF-8);
the DDL succeeded on the server but raised ProtocolError in aiocql, and the matching events were
dropped by the control connection.
"""

from __future__ import annotations

import logging

import pytest

from aiocql import Cluster
from aiocql.protocol.events import SchemaChangeEvent
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.server


@pytest.mark.parametrize("version", [4, 5])
async def test_non_ascii_ddl_succeeds_and_its_events_arrive(
    cassandra: ServerInfo, keyspace: str, version: int, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"y{version}³"
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version)) as cluster:
        session = await cluster.connect(keyspace)
        control = cluster.control
        assert control is not None
        seen: list[SchemaChangeEvent] = []
        original = control.handle_event

        def recording(event: object) -> None:
            if isinstance(event, SchemaChangeEvent):
                seen.append(event)
            original(event)  # type: ignore[arg-type]

        control.handle_event = recording  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING):
            # Before the fix: ProtocolError "schema change name ... is not valid UTF-8".
            await session.execute(f'CREATE TYPE "{name}" (a int)', timeout=60)
            await session.execute(f'ALTER TYPE "{name}" ADD "b²" text', timeout=60)
            await session.execute(f'CREATE TABLE t{version} (k int PRIMARY KEY, u frozen<"{name}">)', timeout=60)
            await wait_until(lambda: len([e for e in seen if e.name == name]) >= 2, timeout=20)
        assert not [r for r in caplog.records if "undecodable" in r.getMessage()]
        assert all(e.keyspace == keyspace for e in seen)
        # The type works end to end: its values decode to a namedtuple with the odd name.
        assert {e.change_type.value for e in seen if e.name == name} == {"CREATED", "UPDATED"}
        await session.execute(f"INSERT INTO t{version} (k, u) VALUES (1, {{a: 7, \"b²\": 'x'}})")
        row = (await session.execute(f"SELECT u FROM t{version} WHERE k = 1")).one()
        assert row is not None and tuple(row[0]) == (7, "x")
        assert type(row[0])._cql_fields == ("a", "b²")
