"""The recipes of docs/request-tracker.md, run as written: per-table statistics of whole requests and a log
line per retry, composed with the OpenTelemetry tracker, through a retried request on fake nodes."""

from __future__ import annotations

import logging
import re
import types
from pathlib import Path

import pytest

from aiocql import CompositeTracker, RoundRobinPolicy
from aiocql.testing.fakeserver import Opcode, ReceivedRequest

from .conftest import echo_row, is_kv
from .fakecluster import cluster_of, fake_nodes
from .test_tracker import UNAVAILABLE, select

DOC = Path(__file__).resolve().parents[2] / "docs" / "request-tracker.md"


def recipes() -> types.ModuleType:
    module = types.ModuleType("recipes")
    for code in re.findall(r"```python\n(# recipe: .*?)```", DOC.read_text(), flags=re.S):
        exec(compile(code, str(DOC), "exec"), module.__dict__)
    return module


async def test_the_recipes_run_as_written(caplog: pytest.LogCaptureFixture) -> None:
    r = recipes()
    stats, retries = r.TableStats(), r.RetryLogger()
    caplog.set_level(logging.INFO, logger="myapp.cassandra")
    async with fake_nodes(2) as nodes:
        failed = {"done": False}

        def unavailable_once(req: ReceivedRequest) -> object:
            if not failed["done"] and req.query == select(1):
                failed["done"] = True
                return UNAVAILABLE
            return echo_row(req)

        for node in nodes:
            node.on(Opcode.QUERY, match=is_kv, reply=unavailable_once)
        tracker = CompositeTracker(stats, retries)
        async with cluster_of(nodes, request_tracker=tracker, load_balancing_policy=RoundRobinPolicy()) as cluster:
            session = await cluster.connect("ks")
            for k in (1, 2, 3):
                await session.execute(select(k))
    key = ("ks", "kv", "SELECT")
    assert stats.requests[key] == 3 and stats.failures[key] == 0 and 0 < stats.seconds[key] < 5
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "myapp.cassandra"]
    assert len(messages) == 2, messages
    assert "attempt 0 on" in messages[0] and "Unavailable" in messages[0]
    assert re.search(r"retry 1 on 127\.0\.0\.\d", messages[1])
