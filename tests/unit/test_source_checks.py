"""Source checks as tests: the sans-I/O rule (protocol, types and the model values), ruff (lint, format), mypy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"asyncio", "socket", "ssl", "threading", "concurrent", "selectors"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["protocol", "types", "model"])
def test_sans_io_core_imports_no_io(package: str) -> None:
    files = sorted((ROOT / "aiocql" / package).rglob("*.py"))
    assert files, f"aiocql/{package} has no modules"
    offenders = {str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN) for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_import_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom asyncio import sleep\nimport socket as s\n")
    assert _imports(bad) & FORBIDDEN == {"asyncio", "socket"}


def test_ruff_clean() -> None:
    cmd = [sys.executable, "-m", "ruff", "check", "aiocql", "tests", "benchmarks", "scripts"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_clean() -> None:
    # The tooling too: a benchmark or a script read by others stays in the project's one format.
    cmd = [sys.executable, "-m", "ruff", "format", "--check", "aiocql", "tests", "benchmarks", "scripts"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "aiocql"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
