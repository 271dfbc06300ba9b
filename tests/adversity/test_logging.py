"""Logging per layer on fake nodes: connects and the negotiated protocol at INFO, a host down at WARNING,
retries at DEBUG with the query text, server warnings at WARNING with the query; never a bound value or a
password; and nothing below WARNING is emitted when the loggers are at WARNING."""

from __future__ import annotations

import logging

import pytest

from aiocql import Cluster, Overloaded, PlainTextAuthProvider, RoundRobinPolicy
from aiocql.testing.fakeserver import Error, Opcode, Prepared, Void, introduce, start_fake_servers
from aiocql.testing.polling import wait_until
from aiocql.types import INT, TEXT

SECRET_VALUE = "s3cr3t-bound-value"
PASSWORD = "hunter2-password"
INSERT = "INSERT INTO kv (k, v) VALUES (?, ?)"


def overloaded_once() -> object:
    """A reply for every node: Overloaded for the first request that reaches any of them, then the default."""
    sent = []

    def reply(req: object) -> object:
        if sent:
            return None
        sent.append(req)
        return Error(Overloaded("busy"))

    return reply


def records(caplog: pytest.LogCaptureFixture, logger: str, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and r.levelno == level]


async def test_each_layer_logs_what_it_does_and_never_a_value_or_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiocql")
    nodes = await start_fake_servers(
        2, authenticator="org.apache.cassandra.auth.PasswordAuthenticator", credentials=("app", PASSWORD)
    )
    introduce(nodes)  # each lists the other in its peers tables: two hosts
    try:
        once = overloaded_once()
        for node in nodes:
            node.on(Opcode.PREPARE, reply=Prepared(bind=[("k", INT), ("v", TEXT)]))
            node.on(Opcode.EXECUTE, reply=once)
            node.on(Opcode.QUERY, match=lambda r: "BEGIN" in (r.query or "") or "warn" in (r.query or ""),
                    reply=Void(warnings=("Unlogged batch covering 30 partitions detected",)))  # fmt: skip
        auth = PlainTextAuthProvider("app", PASSWORD)
        async with Cluster([n.host for n in nodes], port=nodes[0].port, auth_provider=auth,
                           load_balancing_policy=RoundRobinPolicy()) as cluster:  # fmt: skip
            session = await cluster.connect()
            ps = await session.prepare(INSERT)
            await session.execute(ps, (1, SECRET_VALUE), is_idempotent=True)  # Overloaded, then the other node
            await session.execute("UPDATE kv SET v = 1 WHERE k = 0 -- warn")  # a write: Void is its reply
            await nodes[1].close()
            await wait_until(lambda: not all(cluster.is_up(h) for h in cluster.hosts), timeout=5.0)
    finally:
        for node in nodes:
            await node.close()

    connects = records(caplog, "aiocql.connection", logging.INFO)
    assert any("connected to 127.0.0.1:" in m and "(protocol v5" in m for m in connects), connects
    assert any("negotiated protocol v5 with 127.0.0.1" in m for m in records(caplog, "aiocql.cluster", logging.INFO))
    retries = records(caplog, "aiocql.session", logging.DEBUG)
    assert any("Overloaded: busy" in m and "retry 1" in m and INSERT in m for m in retries), retries
    warned = records(caplog, "aiocql.session", logging.WARNING)
    assert any("Unlogged batch covering 30 partitions" in m and "-- warn" in m for m in warned), warned
    down = records(caplog, "aiocql.cluster", logging.WARNING)
    assert any("host 127.0.0.2" in m and "is down" in m for m in down), down
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET_VALUE not in everything and PASSWORD not in everything


async def test_nothing_below_warning_is_emitted_at_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="aiocql")
    nodes = await start_fake_servers(2)
    introduce(nodes)
    try:
        once = overloaded_once()
        for node in nodes:
            node.on(Opcode.QUERY, match=lambda r: "kv" in (r.query or ""), reply=once)
        async with Cluster([n.host for n in nodes], port=nodes[0].port) as cluster:
            session = await cluster.connect()
            await session.execute("SELECT * FROM kv WHERE k = 1", is_idempotent=True)  # a retry, not logged
    finally:
        for node in nodes:
            await node.close()
    assert [r for r in caplog.records if r.levelno < logging.WARNING] == []
    assert logging.getLogger("aiocql.session").isEnabledFor(logging.DEBUG) is False
