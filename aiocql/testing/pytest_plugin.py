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
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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


def cluster_kwargs(info: ServerInfo, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for :class:`aiocql.Cluster` that reach ``info``'s server (auth and TLS included).

    Example:
        >>> Cluster(**cluster_kwargs(cassandra, compression=True))  # doctest: +SKIP
    """
    kwargs: dict[str, Any] = {"contact_points": list(info.contact_points), "port": info.port}
    if info.username is not None:
        from aiocql import PlainTextAuthProvider

        kwargs["auth_provider"] = PlainTextAuthProvider(info.username, info.password or "")
    if info.ca_file is not None:
        import ssl

        kwargs["ssl_context"] = ssl.create_default_context(cafile=info.ca_file)
    kwargs.update(extra)
    return kwargs


async def _run_ddl(info: ServerInfo, statements: list[str]) -> None:
    from aiocql import Cluster

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:  # with auth on, the default superuser appears a moment after the node is up
        try:
            async with Cluster(**cluster_kwargs(info)) as cluster:
                session = await cluster.connect()
                for stmt in statements:
                    await session.execute(stmt, timeout=60)
                return
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(1)


@pytest.fixture(scope="module")
def keyspace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh keyspace (SimpleStrategy, RF 1; RF 3 on three nodes) for one test module, dropped after it."""
    mode = _mode_of(request.node) or ServerMode()
    for item in getattr(request.node, "items", None) or []:
        mode = _mode_of(item) or mode
    info = _MANAGER.get(mode)
    name = "ks_" + request.module.__name__.rsplit(".", 1)[-1].lower()[:40]
    rf = 3 if mode.nodes >= 3 else 1
    create = f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
    asyncio.run(_run_ddl(info, [f"DROP KEYSPACE IF EXISTS {name}", create]))
    yield name
    still_up = os.environ.get("AIOCQL_CONTACT_POINTS") or (_MANAGER.current and _MANAGER.current[0] == mode)
    if still_up:  # never restart a server just to drop a keyspace: a fresh start wipes it anyway
        with contextlib.suppress(Exception):
            asyncio.run(_run_ddl(_MANAGER.get(mode), [f"DROP KEYSPACE IF EXISTS {name}"]))


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """The loop every async test runs on: asyncio's default, or uvloop with ``--loop uvloop``."""
    if config.getoption("--loop") == "uvloop":
        import uvloop

        return {"uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}
