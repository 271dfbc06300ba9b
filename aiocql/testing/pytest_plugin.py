"""A pytest plugin: a real Cassandra started on demand, markers, loop choice.

Load it from a conftest with ``pytest_plugins = ["aiocql.testing.pytest_plugin"]``.

- ``@pytest.mark.server``: the test needs one node (plain). ``@pytest.mark.server(auth=True)`` or
  ``(tls=True)`` asks for PasswordAuthenticator or client TLS.
- ``@pytest.mark.cluster3``: the test needs three nodes on 127.0.0.1-3.
- The ``cassandra`` fixture gives a :class:`ServerInfo` for the mode the test's markers ask for. One
  mode runs at a time (all modes share 127.0.0.1 and its ports); tests are ordered by mode so each
  mode starts once per session. Servers the plugin started are stopped at the end of the session,
  even when tests fail.
- ``AIOCQL_CONTACT_POINTS=127.0.0.1`` uses a server that is already running for plain tests (nothing
  is started or stopped); tests that need another mode are skipped, and say so.
- ``--loop uvloop`` (or ``AIOCQL_LOOP=uvloop``) runs every async test on uvloop.

Example:
    >>> import pytest
    >>> @pytest.mark.server
    ... async def test_version(cassandra):
    ...     assert cassandra.contact_points
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from aiocql.testing.launcher import LocalCluster


@dataclass(frozen=True, slots=True)
class ServerMode:
    """Which server a test needs."""

    nodes: int = 1
    auth: bool = False
    tls: bool = False

    @property
    def order(self) -> tuple[int, bool, bool]:
        return (self.nodes, self.auth, self.tls)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """How to reach the server a test asked for."""

    contact_points: tuple[str, ...]
    port: int = 9042
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cluster: LocalCluster | None = None  # None for an external server

    @property
    def host(self) -> str:
        """The first contact point."""
        return self.contact_points[0]


class _ServerManager:
    """Keeps at most one local cluster running, switching when a test asks for another mode."""

    def __init__(self) -> None:
        self.current: tuple[ServerMode, LocalCluster] | None = None

    def get(self, mode: ServerMode) -> ServerInfo:
        external = os.environ.get("AIOCQL_CONTACT_POINTS")
        if external:
            if mode != ServerMode():
                pytest.skip(f"AIOCQL_CONTACT_POINTS is set: no local server for mode {mode}")
            return ServerInfo(tuple(p.strip() for p in external.split(",") if p.strip()))
        if self.current and self.current[0] != mode:
            self.current[1].stop()
            self.current = None
        if self.current is None:
            cluster = LocalCluster(mode.nodes, auth=mode.auth, tls=mode.tls)
            cluster.start()
            self.current = (mode, cluster)
        cluster = self.current[1]
        return ServerInfo(
            tuple(cluster.contact_points),
            username="cassandra" if mode.auth else None,
            password="cassandra" if mode.auth else None,
            ca_file=cluster.ca_file,
            cluster=cluster,
        )

    def close(self) -> None:
        if self.current:
            self.current[1].stop()
            self.current = None


_MANAGER = _ServerManager()


def _mode_of(item: pytest.Item) -> ServerMode | None:
    if item.get_closest_marker("cluster3"):
        return ServerMode(nodes=3)
    marker = item.get_closest_marker("server")
    if marker is None:
        return None
    return ServerMode(auth=bool(marker.kwargs.get("auth")), tls=bool(marker.kwargs.get("tls")))


def pytest_addoption(parser: pytest.Parser) -> None:
    default = os.environ.get("AIOCQL_LOOP", "asyncio")
    parser.addoption("--loop", default=default, choices=["asyncio", "uvloop"], help="loop for async tests")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server(auth=False, tls=False): needs a real Cassandra node")
    config.addinivalue_line("markers", "cluster3: needs three real Cassandra nodes on 127.0.0.1-3")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Server-free tests first, then each server mode in turn, so each mode starts once.
    def key(item: pytest.Item) -> tuple[int, tuple[int, bool, bool]]:
        mode = _mode_of(item)
        return (0, (0, False, False)) if mode is None else (1, mode.order)

    items.sort(key=key)  # sort is stable: file order is kept inside each group


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _MANAGER.close()


@pytest.fixture
def cassandra(request: pytest.FixtureRequest) -> ServerInfo:
    """The server for this test's mode (``server`` / ``cluster3`` markers); started on demand."""
    mode = _mode_of(request.node) or ServerMode()
    return _MANAGER.get(mode)


@pytest.fixture(scope="session")
def event_loop_policy(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoopPolicy]:
    """The loop every async test runs on: asyncio's default, or uvloop with ``--loop uvloop``."""
    if request.config.getoption("--loop") == "uvloop":
        import uvloop

        yield uvloop.EventLoopPolicy()
    else:
        yield asyncio.DefaultEventLoopPolicy()
