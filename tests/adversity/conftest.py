"""Shared pieces of the adversity tests: a fake server per test, key-echo replies, a clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from aiocql.testing.fakeserver import FakeServer, ReceivedRequest, Rows
from aiocql.types import INT, TEXT

KV_COLUMNS = [("k", INT), ("v", TEXT)]
_KEY = re.compile(r"k\s*=\s*(-?\d+)")


def key_of(req: ReceivedRequest) -> int:
    """The key a request asks for: the bound value of an EXECUTE, or ``k = N`` in the query text."""
    if req.values:
        value = req.value(0, INT)
        assert isinstance(value, int)
        return value
    assert req.query is not None
    match = _KEY.search(req.query)
    assert match is not None, req.query
    return int(match.group(1))


def echo_row(req: ReceivedRequest) -> Rows:
    """The row for the key the request asked for: each caller can check it got its own answer."""
    k = key_of(req)
    return Rows(KV_COLUMNS, [(k, f"value-{k}")], table="kv")


def is_kv(req: ReceivedRequest) -> bool:
    """True for requests on the kv table."""
    return req.query is not None and " kv" in req.query


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    """A fake server speaking v4 and v5; fails the test if it could not decode what the driver sent."""
    async with FakeServer() as fake:
        yield fake
        assert fake.errors == [], fake.errors
