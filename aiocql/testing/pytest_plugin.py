"""A pytest plugin for your own tests: a real Cassandra started on demand, markers, a keyspace per module.

Opt in per project (installing aiocql changes no other test suite): ``aiocql = true`` in the pytest ini
settings (``[tool.pytest.ini_options]`` of pyproject.toml, pytest.ini, ...), or
``pytest_plugins = ["aiocql.testing.pytest_plugin"]`` in a conftest.py, or ``-p aiocql.testing.pytest_plugin``.
See docs/testing.md.

- ``@pytest.mark.server``: the test needs one node (plain). ``@pytest.mark.server(auth=True)`` or
  ``(tls=True)`` asks for PasswordAuthenticator (user ``cassandra``/``cassandra``) or client TLS; the marker
  may sit on the test function, its class or its module (``pytestmark``).
- ``@pytest.mark.cluster3``: the test needs three nodes.
- The ``cassandra`` fixture gives a :class:`ServerInfo` for the mode the test's markers ask for (a test
  without a marker gets a plain node); :func:`cluster_kwargs` turns it into ``Cluster(...)`` arguments.
  One mode runs at a time (all modes share the node addresses and ports).
- The ``keyspace`` fixture (module scope) creates a fresh keyspace on the server of the first test of the
  module that uses it (its function-level markers count), and drops it after the module.
- A node already running in the wanted mode (``python -m aiocql.testing start [--auth] [--tls]``) is used
  as it is and never stopped; nodes the plugin started itself are stopped at the end of the session, even
  when tests fail.
- ``AIOCQL_CONTACT_POINTS=host1,host2`` uses a server you run yourself for every mode it can serve:
  ``AIOCQL_USERNAME``/``AIOCQL_PASSWORD`` say it needs a login (auth tests run), ``AIOCQL_CA_FILE`` that it
  needs TLS (TLS tests run), three contact points or more serve ``cluster3`` tests; ``AIOCQL_PORT``
  (default 9042). Tests it cannot serve are skipped, and say why. Nothing is started or stopped.
- ``AIOCQL_NODE_BASE=N`` moves the plugin's own nodes to 127.0.0.N.. (two suites side by side).
- Tests are not re-ordered, unless ``aiocql_group_by_server = true`` is set: then server-free tests run first
  and the rest grouped by server mode, so that each mode starts once.

Example:
    >>> import pytest
    >>> @pytest.mark.server(auth=True)
    ... async def test_login(cassandra, keyspace):
    ...     async with Cluster(**cluster_kwargs(cassandra)) as cluster:
    ...         session = await cluster.connect(keyspace)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import Callable, Coroutine, Iterator
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

    def __str__(self) -> str:
        parts = [f"{self.nodes} node{'s' if self.nodes > 1 else ''}"]
        parts += ["auth"] * self.auth + ["tls"] * self.tls
        return "+".join(parts)


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """How to reach the server a test asked for."""

    contact_points: tuple[str, ...]
    port: int = 9042
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cluster: LocalCluster | None = None  # None for an external server (AIOCQL_CONTACT_POINTS)
    started_here: bool = False  # True when this session's plugin started it (and will stop it)

    @property
    def host(self) -> str:
        """The first contact point."""
        return self.contact_points[0]


def _external() -> ServerInfo | None:
    """The server named by AIOCQL_CONTACT_POINTS (and friends), if any."""
    points = tuple(p.strip() for p in os.environ.get("AIOCQL_CONTACT_POINTS", "").split(",") if p.strip())
    if not points:
        return None
    username = os.environ.get("AIOCQL_USERNAME") or None
    return ServerInfo(
        points,
        port=int(os.environ.get("AIOCQL_PORT", "9042")),
        username=username,
        password=os.environ.get("AIOCQL_PASSWORD", "") if username else None,
        ca_file=os.environ.get("AIOCQL_CA_FILE") or None,
    )


class _ServerManager:
    """Keeps at most one local cluster in use, switching when a test asks for another mode.

    Only clusters this manager started are ever stopped; one that was already running is used as it is.
    """

    def __init__(self) -> None:
        self.current: tuple[ServerMode, LocalCluster] | None = None
        self.owned = False  # whether self.current was started by us

    def get(self, mode: ServerMode) -> ServerInfo:
        external = _external()
        if external is not None:
            return self._external_for(external, mode)
        if self.current and self.current[0] != mode:
            self._release()
        if self.current is None:
            cluster = LocalCluster(mode.nodes, auth=mode.auth, tls=mode.tls)
            if cluster.running():
                self.owned = False  # someone started it (the CLI, another run): use it, never stop it
            else:
                blocker = self._foreign_running(mode)
                if blocker is not None:
                    pytest.skip(
                        f"a Cassandra node in mode {blocker} that this test run did not start holds the addresses "
                        f"{', '.join(LocalCluster(blocker.nodes).contact_points)}; this test needs mode {mode}: "
                        "stop it (python -m aiocql.testing stop ...) or start that mode yourself"
                    )
                cluster.start()
                self.owned = True
            self.current = (mode, cluster)
        cluster = self.current[1]
        return ServerInfo(
            tuple(cluster.contact_points),
            username="cassandra" if mode.auth else None,
            password="cassandra" if mode.auth else None,
            ca_file=cluster.ca_file,
            cluster=cluster,
            started_here=self.owned,
        )

    @staticmethod
    def _external_for(external: ServerInfo, mode: ServerMode) -> ServerInfo:
        missing = []
        if mode.auth and external.username is None:
            missing.append("auth (set AIOCQL_USERNAME and AIOCQL_PASSWORD)")
        if mode.tls and external.ca_file is None:
            missing.append("TLS (set AIOCQL_CA_FILE)")
        if mode.nodes > len(external.contact_points):
            missing.append(f"{mode.nodes} nodes (AIOCQL_CONTACT_POINTS names {len(external.contact_points)})")
        if missing:
            pytest.skip(
                f"AIOCQL_CONTACT_POINTS is set and its server cannot serve this test: needs {', '.join(missing)}"
            )
        return external

    @staticmethod
    def _foreign_running(wanted: ServerMode) -> ServerMode | None:
        for nodes in (1, 3):
            for auth in (False, True):
                for tls in (False, True):
                    mode = ServerMode(nodes, auth, tls)
                    if mode != wanted and LocalCluster(nodes, auth=auth, tls=tls).running():
                        return mode
        return None

    def _release(self) -> None:
        if self.current is not None and self.owned:
            self.current[1].stop()
        self.current = None
        self.owned = False

    def close(self) -> None:
        self._release()


_MANAGER = _ServerManager()

#: Where the fixtures get a server for a mode from (by default: start or reuse local nodes).
ServerGetter = Callable[[ServerMode], ServerInfo]
#: How the ``keyspace`` fixture runs its DDL on a server (by default: through an aiocql Cluster).
DdlRunner = Callable[[ServerInfo, list[str]], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class _Source:
    get: ServerGetter
    run_ddl: DdlRunner


def use_server_source(*, get: ServerGetter | None = None, run_ddl: DdlRunner | None = None) -> None:
    """Make the fixtures take their servers from ``get(mode)`` and run the ``keyspace`` fixture's DDL
    through ``await run_ddl(info, statements)``, instead of starting local nodes: for testing a project's
    markers and conftest without Cassandra, or for servers provisioned another way. Call it from a
    conftest.py; an argument left out (or None) restores the plugin's own.

    Example:
        >>> from aiocql.testing import pytest_plugin as plugin
        >>> asked = []
        >>> def get(mode):
        ...     asked.append(str(mode))
        ...     return plugin.ServerInfo(("127.0.0.1",), port=19042)
        >>> async def run_ddl(info, statements):
        ...     asked.extend(statements)
        >>> plugin.use_server_source(get=get, run_ddl=run_ddl)
        >>> plugin.server_for(plugin.ServerMode(auth=True)).port, asked
        (19042, ['1 node+auth'])
        >>> plugin.use_server_source()  # the plugin's own again
    """
    _SOURCE.get = get if get is not None else _MANAGER.get
    _SOURCE.run_ddl = run_ddl if run_ddl is not None else _run_ddl


def server_for(mode: ServerMode) -> ServerInfo:
    """The server the fixtures use for ``mode`` (started on demand, or from :func:`use_server_source`).

    Example:
        >>> info = server_for(ServerMode(nodes=3))  # doctest: +SKIP
        >>> len(info.contact_points)  # doctest: +SKIP
        3
    """
    return _SOURCE.get(mode)


def _mode_of(item: pytest.Item | pytest.Collector) -> ServerMode | None:
    """The server mode a test's markers ask for (function, class or module markers), None for none."""
    if item.get_closest_marker("cluster3"):
        return ServerMode(nodes=3)
    marker = item.get_closest_marker("server")
    if marker is None:
        return None
    return ServerMode(auth=bool(marker.kwargs.get("auth")), tls=bool(marker.kwargs.get("tls")))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "aiocql_group_by_server",
        type="bool",
        default=False,
        help="aiocql: run server-free tests first, then the others grouped by server mode (each mode starts once)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server(auth=False, tls=False): needs a real Cassandra node (aiocql)")
    config.addinivalue_line("markers", "cluster3: needs three real Cassandra nodes (aiocql)")


def group_by_server(items: list[pytest.Item]) -> None:
    """Sort ``items`` in place: server-free tests first, then each server mode in turn (stable inside a group)."""

    def key(item: pytest.Item) -> tuple[int, tuple[int, bool, bool]]:
        mode = _mode_of(item)
        return (0, (0, False, False)) if mode is None else (1, mode.order)

    items.sort(key=key)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getini("aiocql_group_by_server"):
        group_by_server(items)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _MANAGER.close()


@pytest.fixture
def cassandra(request: pytest.FixtureRequest) -> ServerInfo:
    """The server for this test's mode (``server`` / ``cluster3`` markers); started on demand."""
    mode = _mode_of(request.node) or ServerMode()
    return server_for(mode)


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
    while True:  # a node that has just started may refuse a moment longer (schema, superuser)
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


_SOURCE = _Source(_MANAGER.get, _run_ddl)


def _module_mode(request: pytest.FixtureRequest) -> ServerMode:
    """The mode of the test that set the module's keyspace up (its own markers count), else the module's."""
    item = getattr(request, "_pyfuncitem", None)  # the test whose set-up instantiates this module fixture
    mode = _mode_of(item) if item is not None else None
    if mode is None:
        items = [i for i in request.session.items if getattr(i, "module", None) is request.module]
        modes = {m for m in map(_mode_of, items) if m is not None}
        mode = min(modes, key=lambda m: m.order) if modes else (_mode_of(request.node) or ServerMode())
        if item is None and len(modes) > 1:
            warnings.warn(
                f"{request.module.__name__}: tests need several server modes ({', '.join(map(str, modes))}); "
                f"its keyspace is made on {mode}",
                pytest.PytestWarning,
                stacklevel=1,
            )
    return mode


@pytest.fixture(scope="module")
def keyspace(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh keyspace (SimpleStrategy, RF 1; RF 3 on three nodes) for one test module, dropped after it.

    Made on the server of the first test of the module that uses it, markers on the test function included.
    """
    mode = _module_mode(request)
    info = server_for(mode)
    name = "ks_" + request.module.__name__.rsplit(".", 1)[-1].lower()[:40]
    rf = 3 if mode.nodes >= 3 else 1
    create = f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
    asyncio.run(_SOURCE.run_ddl(info, [f"DROP KEYSPACE IF EXISTS {name}", create]))
    yield name
    still_up = _external() is not None or (_MANAGER.current and _MANAGER.current[0] == mode)
    if still_up:  # never restart a server just to drop a keyspace: a fresh start wipes it anyway
        with contextlib.suppress(Exception):
            asyncio.run(_SOURCE.run_ddl(server_for(mode), [f"DROP KEYSPACE IF EXISTS {name}"]))
