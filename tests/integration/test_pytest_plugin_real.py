"""The pytest plugin against real nodes, in a user's project: ``python -m aiocql.testing start --auth``
returns only once the superuser can log in, the plugin reuses a node it finds running and never stops it,
and stops the node it started itself. The nodes live at AIOCQL_NODE_BASE + 5 so that they never meet the
servers of the suite running this test."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from aiocql import Cluster, PlainTextAuthProvider
from aiocql.testing.launcher import LocalCluster
from tests.sample_project import ROOT, make_site, run_pytest, write

BASE = int(os.environ.get("AIOCQL_NODE_BASE", "1")) + 5
ENV = {"AIOCQL_NODE_BASE": str(BASE)}

SAMPLE = {
    "pytest.ini": "[pytest]\nasyncio_mode = auto\naiocql = true\n",
    "test_app.py": """
        import pytest
        from aiocql import Cluster
        from aiocql.testing.pytest_plugin import cluster_kwargs

        @pytest.mark.server(auth=True)
        async def test_login(cassandra, keyspace):
            assert not cassandra.started_here  # the node started from the command line
            async with Cluster(**cluster_kwargs(cassandra)) as cluster:
                session = await cluster.connect(keyspace)
                await session.execute("CREATE TABLE t (k int PRIMARY KEY)")

        @pytest.mark.server
        def test_plain(cassandra):
            pass
    """,
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "aiocql.testing", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=400,
    )  # fmt: skip


async def _login_once(address: str) -> str:
    # One attempt, no retry: the superuser must exist as soon as `start --auth` has returned.
    auth = PlainTextAuthProvider("cassandra", "cassandra")
    async with Cluster([address], auth_provider=auth, connect_timeout=10) as cluster:
        session = await cluster.connect()
        row = (await session.execute("SELECT release_version FROM system.local")).one()
        assert row is not None
        return str(row.release_version)


def test_a_node_started_with_the_cli_is_ready_reused_and_left_running(tmp_path: Path) -> None:
    started = cli("start", "--auth")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        address = LocalCluster(1, auth=True, base=BASE).contact_points[0]
        assert asyncio.run(_login_once(address)).startswith("5.")
        site = make_site(tmp_path / "site")
        project = write(tmp_path / "app", SAMPLE)
        result = run_pytest(site, project, "-q", "-rs", env=ENV, timeout=400)
        assert "1 passed, 1 skipped" in result.stdout, result.stdout + result.stderr
        assert "that this test run did not start" in result.stdout  # the plain test: the node is not ours to stop
        assert LocalCluster(1, auth=True, base=BASE).running()  # the plugin did not stop the node it found
    finally:
        stopped = cli("stop", "--auth")
    assert stopped.returncode == 0 and not LocalCluster(1, auth=True, base=BASE).running()


def test_the_plugin_stops_the_node_it_started(tmp_path: Path) -> None:
    assert not LocalCluster(1, base=BASE).running()
    site = make_site(tmp_path / "site")
    project = write(tmp_path / "app", {
        "pytest.ini": "[pytest]\naiocql = true\n",
        "test_one.py": """
            import pytest

            @pytest.mark.server
            def test_started_here(cassandra):
                assert cassandra.started_here and cassandra.cluster.running()
        """,
    })  # fmt: skip
    try:
        result = run_pytest(site, project, "-q", env=ENV, timeout=400)
        assert "1 passed" in result.stdout, result.stdout + result.stderr
        assert not LocalCluster(1, base=BASE).running()
    finally:
        cli("stop")
