"""The project's own test set-up: aiocql's pytest plugin, tests grouped by server mode, and a loop choice.

- The plugin (``aiocql.testing.pytest_plugin``) starts the Cassandra a test's markers ask for.
- Server-free tests run first, then each server mode in turn, so each mode starts once.
- ``--loop uvloop`` (or ``AIOCQL_LOOP=uvloop``) runs every async test on uvloop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest

pytest_plugins = ["aiocql.testing.pytest_plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    default = os.environ.get("AIOCQL_LOOP", "asyncio")
    parser.addoption("--loop", default=default, choices=["asyncio", "uvloop"], help="loop for async tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from aiocql.testing.pytest_plugin import group_by_server  # after pytest_plugins loaded it (assert rewriting)

    group_by_server(items)  # sort is stable: file order is kept inside each group


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """The loop every async test runs on: asyncio's default, or uvloop with ``--loop uvloop``."""
    if config.getoption("--loop") == "uvloop":
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}
