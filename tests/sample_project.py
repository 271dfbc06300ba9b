"""Sample projects for the pytest plugin's tests: aiocql "installed" in a folder, pytest run in another.

The folder looks like site-packages: the ``aiocql`` package (a link to this checkout's) and a ``dist-info``
whose ``entry_points.txt`` is written from this checkout's pyproject.toml (its ``pytest11`` table), so pytest
finds the entry point as it would after ``pip install aiocql``. Nothing is installed into the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_site(site: Path) -> Path:
    """Fill ``site`` with aiocql as an installed distribution and return it."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "aiocql").symlink_to(ROOT / "aiocql")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    info = site / f"aiocql-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: aiocql\nVersion: {project['version']}\n")
    lines = ["[pytest11]", *(f"{k} = {v}" for k, v in project["entry-points"]["pytest11"].items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def run_pytest(
    site: Path, project: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``project`` with only ``site`` added to the path (no AIOCQL_* settings of ours leak in)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AIOCQL_") and k != "PYTEST_ADDOPTS"}
    full_env["PYTHONPATH"] = str(site)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project, env=full_env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def write(project: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (dedented) into ``project`` and return it."""
    project.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (project / name).write_text(textwrap.dedent(text))
    return project
