"""Builds the optional compiled core (aiocql/types/_core.pyx, aiocql/protocol/_wire.pyx,
aiocql/types/_murmur3.pyx, aiocql/session/_lean.pyx) with Cython; everything else is in pyproject.toml.

Where Cython or a C compiler is missing, or the build fails, the package installs without it (a warning says
so) and aiocql runs its pure-Python implementation of the same behaviour (see aiocql/types/speedups.py).
``AIOCQL_NO_EXTENSIONS=1`` at build time skips the build; ``AIOCQL_REQUIRE_EXTENSIONS=1`` makes a failed
build an error instead.

Each extension records the names and the SHA-256 of the sources it is compiled from (the macros
AIOCQL_SOURCE_FILES and AIOCQL_SOURCE_DIGEST, read by the .pyx): at import, aiocql/extensions.py compares them
with the sources beside it and does not use a build older than its sources (a .so left by a git pull).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0")


class OptionalBuildExt(build_ext):
    """build_ext that warns and carries on (pure-Python fallback) when the extension cannot be built."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, no Python headers, ...
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    def _skip(self, exc: BaseException) -> None:
        if _flag("AIOCQL_REQUIRE_EXTENSIONS"):
            raise exc
        print(f"WARNING: aiocql's compiled core was not built ({exc}); the pure-Python implementation will be "
              "used (same behaviour, slower)", file=sys.stderr)  # fmt: skip


def _source_digest(paths: list[Path]) -> str:
    # The digest the import-time check computes (aiocql/extensions.py, loaded by path: the package itself is not
    # importable while it is being built).
    spec = importlib.util.spec_from_file_location("_aiocql_extensions", Path("aiocql") / "extensions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.source_digest(paths))


def _extension(name: str, pyx: str, depends: tuple[str, ...] = (), **kwargs: Any) -> Extension:
    """An Extension of one .pyx (and the headers it includes), recording their names and digest in it."""
    paths = [Path(pyx), *map(Path, depends)]
    if len({path.parent for path in paths}) != 1:
        raise SystemExit(f"{name}: its sources must sit in one folder (the import-time check looks beside it)")
    names = " ".join(path.name for path in paths)
    macros = [("AIOCQL_SOURCE_DIGEST", f'"{_source_digest(paths)}"'), ("AIOCQL_SOURCE_FILES", f'"{names}"')]
    return Extension(name, [pyx], depends=list(depends), define_macros=macros, **kwargs)


def _extensions() -> list[Extension]:
    if _flag("AIOCQL_NO_EXTENSIONS"):
        print("AIOCQL_NO_EXTENSIONS is set: not building the compiled core", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if _flag("AIOCQL_REQUIRE_EXTENSIONS"):
            raise
        print("WARNING: Cython is not installed: aiocql's compiled core is not built (pure-Python fallback)",
              file=sys.stderr)  # fmt: skip
        return []
    flags = ["-O2"] if os.name != "nt" else []
    ext = _extension("aiocql.types._core", "aiocql/types/_core.pyx", ("aiocql/types/_core_helpers.h",),
                     include_dirs=["aiocql/types"], extra_compile_args=flags)  # fmt: skip
    wire = _extension("aiocql.protocol._wire", "aiocql/protocol/_wire.pyx", ("aiocql/protocol/_wire_helpers.h",),
                      include_dirs=["aiocql/protocol"], extra_compile_args=flags)  # fmt: skip
    murmur3 = _extension("aiocql.types._murmur3", "aiocql/types/_murmur3.pyx", extra_compile_args=flags)
    # The session's lean path: aiocql/session/fast.py compiled (the .pyx includes it).
    lean = _extension("aiocql.session._lean", "aiocql/session/_lean.pyx", ("aiocql/session/fast.py",),
                      extra_compile_args=flags)  # fmt: skip
    return list(cythonize([ext, wire, murmur3, lean], compiler_directives={"language_level": "3"}, quiet=True))


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
