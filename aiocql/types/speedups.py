"""Which implementation of the per-row core is in use: the compiled one (a Cython extension) or pure Python.

The compiled core (:mod:`aiocql.types._core`) is built by ``pip install`` where a C compiler is available;
without it, or with the environment variable ``AIOCQL_NO_EXTENSIONS=1``, the pure-Python implementation
(same behaviour, same errors) is used. ``AIOCQL_REQUIRE_EXTENSIONS=1`` makes a missing build an import error
instead of a silent fallback (CI sets it for its compiled pass). A build older than its sources (an untracked
``.so`` left by a ``git pull`` that changed the ``.pyx``) is not used: a warning says so (see
:mod:`aiocql.extensions`). :data:`aiocql.compiled` says which is in use.

Example:
    >>> import aiocql
    >>> aiocql.compiled in (True, False)
    True
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

from aiocql import extensions

__all__ = ["COMPILED", "core", "disabled_by_environment"]

#: True when AIOCQL_NO_EXTENSIONS asks for the pure-Python implementation.
disabled_by_environment: Final = extensions.flag("AIOCQL_NO_EXTENSIONS")


def _load() -> ModuleType | None:
    # None when not built, switched off, or stale (built from other sources than the ones beside it: see
    # aiocql.extensions, which logs why).
    return extensions.load("aiocql.types._core", "the compiled core")


#: The compiled core module, or None when the pure-Python implementation is in use.
core: Final = _load()
#: Whether the compiled core is in use.
COMPILED: Final = core is not None
