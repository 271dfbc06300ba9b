"""Builds the optional compiled core (aiocql/types/_core.pyx, aiocql/protocol/_wire.pyx,
aiocql/types/_murmur3.pyx) with Cython; everything else is in pyproject.toml.

Where Cython or a C compiler is missing, or the build fails, the package installs without it (a warning says
so) and aiocql runs its pure-Python implementation of the same behaviour (see aiocql/types/speedups.py).
``AIOCQL_NO_EXTENSIONS=1`` at build time skips the build; ``AIOCQL_REQUIRE_EXTENSIONS=1`` makes a failed
build an error instead.
"""

from __future__ import annotations

import os
import sys

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
    ext = Extension(
        "aiocql.types._core", ["aiocql/types/_core.pyx"], depends=["aiocql/types/_core_helpers.h"],
        include_dirs=["aiocql/types"], extra_compile_args=flags,
    )  # fmt: skip
    wire = Extension(
        "aiocql.protocol._wire", ["aiocql/protocol/_wire.pyx"], depends=["aiocql/protocol/_wire_helpers.h"],
        include_dirs=["aiocql/protocol"], extra_compile_args=flags,
    )  # fmt: skip
    murmur3 = Extension("aiocql.types._murmur3", ["aiocql/types/_murmur3.pyx"], extra_compile_args=flags)
    return list(cythonize([ext, wire, murmur3], compiler_directives={"language_level": "3"}, quiet=True))


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
