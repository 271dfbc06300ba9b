"""Python 3.12 for the clients that need it (async-cassandra requires Python >= 3.12), set up by the harness.

The interpreter is ``$AIOCQL_BENCH_PY312`` if set, else the newest pyenv 3.12 (``pyenv root``/versions/3.12.*),
else ``python3.12`` on the PATH. Before the first run the harness installs :data:`REQUIREMENTS` into it with
its own pip (``<python3.12> -m pip install async-cassandra lz4``: pip does nothing when they are there),
then checks that the adapter imports. When any step fails, the client is reported as not run, with why.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import subprocess
from pathlib import Path

REQUIREMENTS = ["async-cassandra>=0.0.1", "lz4>=4.3"]  # lz4: cassandra-driver's LZ4 for --compression lz4
REQUIREMENT_MODULES = ["async_cassandra", "lz4.block"]
ROOT = Path(__file__).resolve().parent.parent


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


@functools.cache
def interpreter() -> str | None:
    """The Python 3.12 to run the worker with, or None."""
    if os.environ.get("AIOCQL_BENCH_PY312"):
        return os.environ["AIOCQL_BENCH_PY312"]
    roots = [os.environ.get("PYENV_ROOT", "")]
    if shutil.which("pyenv"):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            roots.append(subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip())
    roots.append(str(Path.home() / ".pyenv"))
    for root in filter(None, roots):
        found = sorted(glob.glob(os.path.join(root, "versions", "3.12*", "bin", "python")), key=_version_key)
        if found:
            return found[-1]
    return shutil.which("python3.12")


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@functools.cache
def unavailable_reason(module: str) -> str | None:
    """None when ``module`` imports under Python 3.12 (installing the requirements first if needed)."""
    python = interpreter()
    if python is None:
        return "no Python 3.12 found (pyenv 3.12, python3.12 or $AIOCQL_BENCH_PY312)"
    check = [python, "-c", f"import {module}, " + ", ".join(REQUIREMENT_MODULES)]
    try:
        if _run(check, 60).returncode != 0:
            pip = _run([python, "-m", "pip", "install", "--quiet", *REQUIREMENTS], 600)
            if pip.returncode != 0:
                tail = " | ".join((pip.stderr or pip.stdout).strip().splitlines()[-3:])
                return f"pip install {' '.join(REQUIREMENTS)} failed under {Path(python).name}: {tail}"[:400]
            done = _run(check, 60)
            if done.returncode != 0:
                tail = " | ".join(done.stderr.strip().splitlines()[-2:])
                return f"import failed under Python 3.12: {tail}"[:400]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not run Python 3.12: {type(exc).__name__}: {exc}"[:400]
    return None


def version() -> str:
    """``python --version`` and async-cassandra's version under the 3.12 interpreter (for the report)."""
    python = interpreter()
    if python is None:
        return "not found"
    code = "import sys, importlib.metadata as m; print(sys.version.split()[0], m.version('async-cassandra'))"
    try:
        out = _run([python, "-c", code], 60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"
