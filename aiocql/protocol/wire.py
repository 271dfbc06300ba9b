"""Which implementation of the wire fast paths is in use: the compiled one (a Cython extension) or none.

:mod:`aiocql.protocol._wire` (built by ``pip install`` where a C compiler is available, beside the per-row
core :mod:`aiocql.types._core`) does the common case of the request path's steps in C and answers ``None``
for anything else, so the pure-Python code of each step (always present, the reference) handles every
unusual input and raises every error: the behaviour is the same with or without it. The same environment
variables as the per-row core select it: ``AIOCQL_NO_EXTENSIONS=1`` turns it off,
``AIOCQL_REQUIRE_EXTENSIONS=1`` makes a missing build an import error.

Example:
    >>> from aiocql.protocol import wire
    >>> wire.COMPILED in (True, False)
    True
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from aiocql import extensions

__all__ = ["COMPILED", "fast"]


def _load() -> ModuleType | None:
    # None when not built, switched off or stale (see aiocql.extensions, which logs why).
    return extensions.load("aiocql.protocol._wire", "the compiled wire module")


#: The compiled wire module, or None when only the pure-Python paths are in use.
fast: Final = _load()
#: Whether the compiled wire fast paths are in use.
COMPILED: Final = fast is not None
