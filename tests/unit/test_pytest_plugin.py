"""The pytest plugin in a user's project: real pytest runs of small sample projects in temporary directories.

The sample projects see aiocql as an installed distribution: a ``dist-info`` folder whose
``entry_points.txt`` is written from this checkout's pyproject.toml (the ``pytest11`` table), next to the
``aiocql`` package, on PYTHONPATH. Nothing is installed into the environment and no server is needed here:
the runs that need a real Cassandra are in tests/integration/test_pytest_plugin_real.py.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.sample_project import make_site, run_pytest, write


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that looks like site-packages with aiocql installed (package + dist-info with entry points)."""
    return make_site(tmp_path_factory.mktemp("site"))


UNRELATED_TESTS = {
    "pytest.ini": "[pytest]\nasyncio_mode = auto\n",
    "test_b.py": "def test_b1():\n    pass\n",
    "test_a.py": """
        import pytest

        @pytest.mark.server
        def test_a1():
            pass

        def test_a2():
            pass
    """,
}


def test_installed_but_not_opted_in_changes_nothing(site: Path, tmp_path: Path) -> None:
    project = write(tmp_path / "unrelated", UNRELATED_TESTS)
    traced = run_pytest(site, project, "--trace-config", "--co", "-q")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "aiocql.testing.pytest_entry" in traced.stdout  # the entry point is found and loaded ...
    assert "aiocql.testing.pytest_plugin" not in traced.stdout  # ... and loads nothing more
    # No re-ordering: file order as collected (test_a before test_b, the server test first in its file).
    order = [line for line in traced.stdout.splitlines() if "::" in line]
    assert order == ["test_a.py::test_a1", "test_a.py::test_a2", "test_b.py::test_b1"]
    fixtures = run_pytest(site, project, "--fixtures", "-q")
    assert "cassandra" not in fixtures.stdout and "keyspace" not in fixtures.stdout
    loop = run_pytest(site, project, "--loop", "uvloop")
    assert loop.returncode != 0 and "unrecognized arguments: --loop" in loop.stderr
    strict = run_pytest(site, project, "--strict-markers", "-q")
    assert strict.returncode != 0 and "'server' not found in `markers`" in strict.stdout + strict.stderr


SAMPLE_CONFTEST = """
    import json, os
    import pytest
    from aiocql.testing import pytest_plugin as plugin

    asked = []

    def fake_get(mode):
        asked.append(str(mode))
        return plugin.ServerInfo(("127.0.0.1",), port=1)

    async def no_ddl(info, statements):
        asked.append("ddl")

    plugin.use_server_source(get=fake_get, run_ddl=no_ddl)

    def pytest_sessionfinish(session):
        with open(os.environ["ASKED_FILE"], "w") as out:
            json.dump(asked, out)
"""


PLUGINS_LINE = 'pytest_plugins = ["aiocql.testing.pytest_plugin"]\n'


@pytest.mark.parametrize("opt_in", ["ini", "conftest", "-p"])
def test_opted_in_the_fixtures_honour_function_level_markers(site: Path, tmp_path: Path, opt_in: str) -> None:
    files = {
        "pytest.ini": "[pytest]\nasyncio_mode = auto\n" + ("aiocql = true\n" if opt_in == "ini" else ""),
        "conftest.py": textwrap.dedent(SAMPLE_CONFTEST) + (PLUGINS_LINE if opt_in == "conftest" else ""),
        "test_auth_only.py": """
            import pytest

            @pytest.mark.server(auth=True)
            def test_one(cassandra, keyspace):
                assert keyspace == "ks_test_auth_only"

            @pytest.mark.server(auth=True)
            def test_two(cassandra, keyspace):
                pass
        """,
        "test_plain.py": """
            def test_plain(cassandra, keyspace):
                assert cassandra.contact_points == ("127.0.0.1",)
        """,
    }  # fmt: skip
    project = write(tmp_path / "app", files)
    asked_file = tmp_path / "asked.json"
    args = ["-p", "aiocql.testing.pytest_plugin"] if opt_in == "-p" else []
    result = run_pytest(site, project, *args, "-q", "--strict-markers", env={"ASKED_FILE": str(asked_file)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    # The module keyspace is made on the auth server the test functions ask for (issue 14, item 2); the
    # module fixture is set up first, then each test's `cassandra`; files run in their own order (no re-sort).
    assert json.loads(asked_file.read_text()) == [
        "1 node+auth", "ddl", "1 node+auth", "1 node+auth", "1 node", "ddl", "1 node",
    ]  # fmt: skip


def test_group_by_server_is_opt_in_too(site: Path, tmp_path: Path) -> None:
    files = dict(UNRELATED_TESTS)
    files["pytest.ini"] = "[pytest]\naiocql = true\naiocql_group_by_server = true\n"
    project = write(tmp_path / "grouped", files)
    result = run_pytest(site, project, "--co", "-q")
    order = [line for line in result.stdout.splitlines() if "::" in line]
    assert order == ["test_a.py::test_a2", "test_b.py::test_b1", "test_a.py::test_a1"]


def test_external_server_serves_the_modes_it_is_configured_for(site: Path, tmp_path: Path) -> None:
    files = {
        "pytest.ini": "[pytest]\naiocql = true\n",
        "test_modes.py": """
            import pytest

            @pytest.mark.server
            def test_plain(cassandra):
                assert cassandra.contact_points == ("10.0.0.1", "10.0.0.2") and cassandra.port == 9142
                assert cassandra.cluster is None

            @pytest.mark.server(auth=True)
            def test_auth(cassandra):
                assert (cassandra.username, cassandra.password) == ("app", "secret")

            @pytest.mark.server(tls=True)
            def test_tls(cassandra):
                pass

            @pytest.mark.cluster3
            def test_three(cassandra):
                pass
        """,
    }
    project = write(tmp_path / "external", files)
    env = {"AIOCQL_CONTACT_POINTS": "10.0.0.1, 10.0.0.2", "AIOCQL_PORT": "9142",
           "AIOCQL_USERNAME": "app", "AIOCQL_PASSWORD": "secret"}  # fmt: skip
    result = run_pytest(site, project, "-q", "-rs", env=env)
    assert "2 passed, 2 skipped" in result.stdout, result.stdout + result.stderr
    assert "needs TLS (set AIOCQL_CA_FILE)" in result.stdout
    assert "needs 3 nodes (AIOCQL_CONTACT_POINTS names 2)" in result.stdout
