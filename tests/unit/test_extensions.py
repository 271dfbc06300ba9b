"""A compiled extension built from other sources than the ones beside it is not used (aiocql.extensions).

A source checkout keeps its built ``.so`` files untracked: after a ``git pull`` that changes a ``.pyx`` or a
``.h``, the old build would still be imported and behave like the old code. setup.py records the sources'
names and digest in each extension; at import the digest is compared with the sources beside it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiocql import extensions
from aiocql.types import speedups

ROOT = Path(__file__).resolve().parents[2]
NAME = "aiocql.types._stamp_test_fake"


def _built(
    folder: Path, *, digest: str | None = "auto", files: str = "_stamp_test_fake.pyx _fake_helpers.h"
) -> types.ModuleType:
    """A stand-in for an extension module built in ``folder`` from the sources named in ``files``."""
    module = types.ModuleType(NAME)
    module.__file__ = str(folder / "_stamp_test_fake.cpython-311-x86_64-linux-gnu.so")
    if digest == "auto":
        digest = extensions.source_digest([folder / name for name in files.split()])
    if digest is not None:
        module.SOURCE_DIGEST = digest  # type: ignore[attr-defined]
        module.SOURCE_FILES = files  # type: ignore[attr-defined]
    return module


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    (tmp_path / "_stamp_test_fake.pyx").write_text("def f():\n    return 1\n")
    (tmp_path / "_fake_helpers.h").write_text("static int one(void) { return 1; }\n")
    return tmp_path


@pytest.fixture
def switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIOCQL_NO_EXTENSIONS", raising=False)
    monkeypatch.delenv("AIOCQL_REQUIRE_EXTENSIONS", raising=False)


@pytest.fixture
def importable(sources: Path) -> Iterator[types.ModuleType]:
    module = _built(sources)
    sys.modules[NAME] = module
    try:
        yield module
    finally:
        sys.modules.pop(NAME, None)


def test_a_build_of_the_sources_beside_it_is_fresh(sources: Path) -> None:
    assert extensions.stale_reason(_built(sources)) is None


def test_a_changed_pyx_or_header_makes_it_stale(sources: Path) -> None:
    module = _built(sources)
    (sources / "_fake_helpers.h").write_text("static int one(void) { return 2; }\n")
    assert extensions.stale_reason(module) == "_stamp_test_fake.pyx, _fake_helpers.h changed since it was built"
    module = _built(sources)
    with (sources / "_stamp_test_fake.pyx").open("a") as pyx:
        pyx.write("# one more line\n")
    assert "changed since it was built" in (extensions.stale_reason(module) or "")


def test_a_removed_header_makes_it_stale(sources: Path) -> None:
    module = _built(sources)
    (sources / "_fake_helpers.h").unlink()
    assert "_fake_helpers.h no longer exists" in (extensions.stale_reason(module) or "")


def test_a_build_that_records_nothing_is_stale_beside_its_pyx(sources: Path) -> None:
    # built before the build recorded its sources: its .pyx (which reads the macros) is newer than it
    assert "records no digest" in (extensions.stale_reason(_built(sources, digest=None)) or "")
    (sources / "_stamp_test_fake.pyx").unlink()
    assert extensions.stale_reason(_built(sources, digest=None)) is None


def test_no_sources_beside_it_is_not_checked(sources: Path) -> None:
    module = _built(sources)
    (sources / "_stamp_test_fake.pyx").unlink()  # an installed wheel carries the .so only
    (sources / "_fake_helpers.h").unlink()
    assert extensions.stale_reason(module) is None
    assert extensions.stale_reason(_built(sources, digest="")) is None  # built without setup.py: cannot tell


@pytest.mark.usefixtures("switched_on")
def test_load_falls_back_with_a_warning(
    importable: types.ModuleType, sources: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aiocql"):
        assert extensions.load(NAME, "the fake core") is importable
    assert not caplog.records
    (sources / "_stamp_test_fake.pyx").write_text("def f():\n    return 2\n")
    with caplog.at_level(logging.WARNING, logger="aiocql"):
        assert extensions.load(NAME, "the fake core") is None
    [record] = caplog.records
    assert record.name == "aiocql" and record.levelno == logging.WARNING
    message = record.getMessage()
    assert f"the fake core ({NAME}) is stale" in message and "_stamp_test_fake.pyx" in message
    assert "build_ext --inplace" in message and "pure-Python" in message


@pytest.mark.usefixtures("switched_on")
def test_load_raises_when_extensions_are_required(
    importable: types.ModuleType, sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIOCQL_REQUIRE_EXTENSIONS", "1")
    assert extensions.load(NAME, "the fake core") is importable
    (sources / "_fake_helpers.h").write_text("/* changed */\n")
    with pytest.raises(ImportError, match=r"AIOCQL_REQUIRE_EXTENSIONS is set but the fake core .* is stale"):
        extensions.load(NAME, "the fake core")


def test_load_honours_no_extensions(importable: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOCQL_NO_EXTENSIONS", "1")
    assert extensions.load(NAME, "the fake core") is None


@pytest.mark.usefixtures("switched_on")
def test_a_missing_build_is_none_or_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert extensions.load("aiocql.types._never_built", "nothing") is None
    monkeypatch.setenv("AIOCQL_REQUIRE_EXTENSIONS", "1")
    with pytest.raises(ImportError, match="is not built"):
        extensions.load("aiocql.types._never_built", "nothing")


# -- the real build ----------------------------------------------------------------------------------------------
def _needs_the_build() -> None:
    if speedups.core is None:
        if extensions.flag("AIOCQL_REQUIRE_EXTENSIONS"):
            pytest.fail("the compiled core is required (AIOCQL_REQUIRE_EXTENSIONS) but not in use")
        pytest.skip("the compiled core is not built (or is switched off)")


def test_the_build_records_the_digest_of_its_sources() -> None:
    # setup.py and the import-time check compute the same digest over the same files
    _needs_the_build()
    core = speedups.core
    assert core is not None
    assert core.SOURCE_FILES == "_core.pyx _core_helpers.h"
    folder = Path(core.__file__).parent
    assert extensions.source_digest([folder / "_core.pyx", folder / "_core_helpers.h"]) == core.SOURCE_DIGEST


def _copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "aiocql", tmp_path / "aiocql", ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    return tmp_path


def _import_in(tree: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AIOCQL_")}
    environ.update(env, PYTHONPATH=str(tree))
    code = "import aiocql; print(aiocql.compiled)"
    return subprocess.run([sys.executable, "-c", code], cwd=tree, env=environ, capture_output=True, text=True)


def test_a_pull_that_changes_a_pyx_turns_the_old_build_off(tmp_path: Path) -> None:
    """End to end: a checkout whose built .so is older than its _core_helpers.h imports the pure core."""
    _needs_the_build()
    tree = _copy_of_the_package(tmp_path)
    fresh = _import_in(tree)
    assert fresh.returncode == 0 and fresh.stdout.strip() == "True", fresh.stderr
    assert "stale" not in fresh.stderr
    with (tree / "aiocql" / "types" / "_core_helpers.h").open("a") as header:
        header.write("/* a change pulled after the build */\n")
    stale = _import_in(tree)
    assert stale.returncode == 0 and stale.stdout.strip() == "False", stale.stderr
    assert "the compiled core (aiocql.types._core) is stale: _core.pyx, _core_helpers.h changed" in stale.stderr
    required = _import_in(tree, AIOCQL_REQUIRE_EXTENSIONS="1")
    assert required.returncode != 0
    assert "ImportError: AIOCQL_REQUIRE_EXTENSIONS is set but the compiled core" in required.stderr
