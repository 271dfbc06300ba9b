"""The compiled lean path (aiocql/session/_lean.pyx, which includes aiocql/session/fast.py) is used where it is
built from the fast.py beside it, and not once fast.py changed (a pull after the build); AIOCQL_NO_EXTENSIONS
keeps the pure module. Both run the same tests (test_fast_template, tests/adversity/test_fast_path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiocql import extensions
from aiocql.session import fast

ROOT = Path(__file__).resolve().parents[2]


def _needs_the_build() -> None:
    if not fast.COMPILED:
        if extensions.flag("AIOCQL_REQUIRE_EXTENSIONS"):
            pytest.fail("the compiled extensions are required (AIOCQL_REQUIRE_EXTENSIONS) but the lean path is pure")
        pytest.skip("the compiled lean path is not built (or is switched off)")


def test_the_pure_module_when_extensions_are_off() -> None:
    if not extensions.flag("AIOCQL_NO_EXTENSIONS"):
        pytest.skip("the compiled pass (the pure pass runs this)")
    assert not fast.COMPILED
    assert fast.execute.__module__ == "aiocql.session.fast"


def test_the_build_is_fast_py_and_records_it() -> None:
    _needs_the_build()
    lean = sys.modules["aiocql.session._lean"]
    assert fast.execute is lean.execute and fast.StatementPlan is lean.StatementPlan
    assert lean.SOURCE_FILES == "_lean.pyx fast.py"
    folder = Path(lean.__file__).parent
    assert extensions.source_digest([folder / "_lean.pyx", folder / "fast.py"]) == lean.SOURCE_DIGEST


def _in(tree: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AIOCQL_")}
    environ.update(env, PYTHONPATH=str(tree))
    code = "import aiocql.session.fast as f; print(f.COMPILED)"
    return subprocess.run([sys.executable, "-c", code], cwd=tree, env=environ, capture_output=True, text=True)


def test_a_changed_fast_py_turns_the_old_build_off(tmp_path: Path) -> None:
    _needs_the_build()
    shutil.copytree(ROOT / "aiocql", tmp_path / "aiocql", ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    fresh = _in(tmp_path)
    assert fresh.returncode == 0 and fresh.stdout.strip() == "True", fresh.stderr
    assert _in(tmp_path, AIOCQL_NO_EXTENSIONS="1").stdout.strip() == "False"
    with (tmp_path / "aiocql" / "session" / "fast.py").open("a") as source:
        source.write("\n# a change pulled after the build\n")
    stale = _in(tmp_path)
    assert stale.returncode == 0 and stale.stdout.strip() == "False", stale.stderr
    assert "the compiled lean path (aiocql.session._lean) is stale: _lean.pyx, fast.py changed" in stale.stderr


def test_the_build_encodes_the_body_in_c() -> None:
    _needs_the_build()
    lean = sys.modules["aiocql.session._lean"]
    assert lean._native_body is lean._body_c
    from aiocql.protocol.unset import UNSET

    body = lean._body_c(b"H", [b"ab", None, UNSET], b"T", -2, b"K")
    assert (
        body
        == b"H\x00\x03\x00\x00\x00\x02ab\xff\xff\xff\xff\xff\xff\xff\xfeT" + (-2).to_bytes(8, "big", signed=True) + b"K"
    )
    assert lean._body_c(b"H", [bytearray(b"x")], b"", None, b"") is None  # left to the Python code
    assert lean._body_c(b"H", [], b"", 1 << 64, b"") is None
