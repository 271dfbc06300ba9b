"""Issue 11 (hardening) against the real Cassandra 5.0: what the server itself sends decodes.

Defect 5: Cassandra 5.0.9 writes non-ASCII SCHEMA_CHANGE names one byte per character (not UTF-8);
the DDL succeeded on the server but raised ProtocolError in aiocql, and the matching events were
dropped by the control connection. Defect 4: a row with a set of colliding UUIDs stalled every
reader. Defect 3: a big decimal stalled the loop for seconds.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import uuid
from decimal import Decimal

import pytest

from aiocql import Cluster, Session, ValueTooLarge
from aiocql.protocol.events import SchemaChangeEvent
from aiocql.testing.polling import wait_until
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs
from aiocql.types import set_decimal_limit
from aiocql.types.values import UnhashedMap, UnhashedSet
from tests.helpers.looplag import LoopLag

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


M61 = 2**61 - 1  # hash(int) is the int modulo this: every UUID(int=1 + k * M61) hashes to 1


#: The longest the loop may stall of its own doing (LoopLag.own: other processes' share taken out, so a
#: loaded machine does not count) while a hostile value decodes; the defects stalled it for 3 and 8.3 s.
MAX_STALL = 1.0


async def _bystander_ok(session: Session, probes: int = 5) -> list[float]:
    """Small queries while the big read decodes: each must succeed (timeout=10: on a loaded machine a round
    trip may be slow; whether the loop stalled is measured by the caller's LoopLag, not by this timeout)."""
    loop = asyncio.get_running_loop()
    took = []
    for _ in range(probes):
        start = loop.time()
        await session.execute("SELECT release_version FROM system.local", timeout=10.0)
        took.append(loop.time() - start)
        await asyncio.sleep(0.02)
    return took


async def test_colliding_uuid_set_reads_without_stalling_the_loop(cassandra: ServerInfo, keyspace: str) -> None:
    """Defect 4 on the server: one row of 16,000 UUIDs sharing one hash, written through aiocql
    itself, took 8.3 s to read and a bystander with timeout=1 timed out after 8.3 s."""
    values = [uuid.UUID(int=1 + k * M61) for k in range(16_000)]
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute(
            "CREATE TABLE IF NOT EXISTS flood (k int PRIMARY KEY, s set<uuid>, m map<uuid, int>)", timeout=60
        )
        # A list is accepted for a set (building a Python set of these would itself be quadratic).
        await session.execute("INSERT INTO flood (k, s) VALUES (1, ?)", (values,), timeout=30)
        await session.execute(
            "INSERT INTO flood (k, m) VALUES (2, ?)", (UnhashedMap((u, i) for i, u in enumerate(values[:5000])),)
        )
        start = time.process_time()
        async with LoopLag() as lag:
            read, probes = await asyncio.gather(
                session.execute("SELECT s FROM flood WHERE k = 1", timeout=30), _bystander_ok(session)
            )
        row = read.one()
        assert row is not None
        (s,) = row
        assert isinstance(s, UnhashedSet) and len(s) == 16_000
        # Cassandra keeps set elements in its own order; compare as sorted ints (ints hash the same way).
        assert sorted(u.int for u in s) == [u.int for u in values]
        assert len(probes) == 5 and lag.worst_own < MAX_STALL, (probes, lag.worst_own)
        row = (await session.execute("SELECT m FROM flood WHERE k = 2", timeout=30)).one()
        assert row is not None and isinstance(row[0], UnhashedMap) and len(row[0]) == 5000
        assert row[0][values[4321]] == 4321
        assert time.process_time() - start < 10  # 8.3 s before, for the set alone


async def test_big_decimal_raises_a_typed_error_without_stalling_the_loop(cassandra: ServerInfo, keyspace: str) -> None:
    """Defect 3 on the server: a 200 KB decimal took 3 s to decode and a concurrent request with
    timeout=1 returned after 3 s. Now the value raises ValueTooLarge at once; the other columns of
    the row stay readable; with the limit lifted it decodes exactly."""
    digits = "7" * 480_000  # about 200 KB unscaled
    unscaled = 7 * (10**480_000 - 1) // 9 * 10 + 5  # digits + "5", without str -> int (4300-digit cap)
    async with Cluster(**cluster_kwargs(cassandra)) as cluster:
        session = await cluster.connect(keyspace)
        await session.execute("CREATE TABLE IF NOT EXISTS dec (k int PRIMARY KEY, d decimal, n int)", timeout=60)
        # The serialized value itself, through blobAsDecimal (encoding such a Decimal is slow in CPython).
        raw = struct.pack(">i", 1) + unscaled.to_bytes(unscaled.bit_length() // 8 + 1, "big", signed=True)
        assert len(raw) > 199_000
        await session.execute("INSERT INTO dec (k, d, n) VALUES (1, blobAsDecimal(?), 42)", (raw,), timeout=30)
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with LoopLag() as lag:
            read = asyncio.ensure_future(session.execute("SELECT d FROM dec WHERE k = 1", timeout=30))
            probes = await _bystander_ok(session)
            with pytest.raises(ValueTooLarge, match="set_decimal_limit"):
                (await read).one()
        assert len(probes) == 5 and lag.worst_own < MAX_STALL, (probes, lag.worst_own)
        assert loop.time() - start < 30
        row = (await session.execute("SELECT n FROM dec WHERE k = 1")).one()
        assert row == (42,)
        old = set_decimal_limit(None)
        try:
            row = (await session.execute("SELECT d FROM dec WHERE k = 1", timeout=60)).one()
        finally:
            set_decimal_limit(old)
        assert row is not None and row[0] == Decimal(digits + ".5")
