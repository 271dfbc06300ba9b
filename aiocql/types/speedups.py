"""Which implementation of the per-row core is in use: the compiled one (a Cython extension) or pure Python.

The compiled core (:mod:`aiocql.types._core`) is built by ``pip install`` where a C compiler is available;
without it, or with the environment variable ``AIOCQL_NO_EXTENSIONS=1``, the pure-Python implementation
(same behaviour, same errors) is used. ``AIOCQL_REQUIRE_EXTENSIONS=1`` makes a missing build an import error
instead of a silent fallback (CI sets it for its compiled pass). :data:`aiocql.compiled` says which is in use.

Example:
    >>> import aiocql
    >>> aiocql.compiled in (True, False)
    True
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Final

__all__ = ["COMPILED", "core", "disabled_by_environment"]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip() not in ("", "0")


#: True when AIOCQL_NO_EXTENSIONS asks for the pure-Python implementation.
disabled_by_environment: Final = _flag("AIOCQL_NO_EXTENSIONS")


def _load() -> ModuleType | None:
    if disabled_by_environment:
        return None
    try:
        core = importlib.import_module("aiocql.types._core")
    except ImportError as exc:
        if _flag("AIOCQL_REQUIRE_EXTENSIONS"):
            raise ImportError(
                f"AIOCQL_REQUIRE_EXTENSIONS is set but the compiled core is not built ({exc}): "
                "build it with 'pip install -e .' or 'python setup.py build_ext --inplace'"
            ) from exc
        return None
    return core


#: The compiled core module, or None when the pure-Python implementation is in use.
core: Final = _load()
#: Whether the compiled core is in use.
COMPILED: Final = core is not None
