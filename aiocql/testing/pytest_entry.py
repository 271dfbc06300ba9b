"""The ``pytest11`` entry point of aiocql: does nothing until a project opts in.

Installing aiocql registers this module with pytest; it only adds the ini settings ``aiocql`` and
``aiocql_group_by_server``. With ``aiocql = true`` in a project's pytest configuration it loads
:mod:`aiocql.testing.pytest_plugin` (markers, the ``cassandra`` and ``keyspace`` fixtures). A project that
loads the plugin itself (``pytest_plugins = ["aiocql.testing.pytest_plugin"]`` or ``-p``) needs no setting.

Example (pyproject.toml):
    [tool.pytest.ini_options]
    aiocql = true
"""

from __future__ import annotations

import pytest

PLUGIN = "aiocql.testing.pytest_plugin"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("aiocql", type="bool", default=False, help="aiocql: load aiocql's pytest plugin (docs/testing.md)")
    parser.addini(
        "aiocql_group_by_server",
        type="bool",
        default=False,
        help="aiocql: run server-free tests first, then the others grouped by server mode (each mode starts once)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getini("aiocql") and not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
