"""Loading the optional compiled extensions, and refusing one built from other sources than the ones beside it.

Each extension (:mod:`aiocql.types._core`, :mod:`aiocql.protocol._wire`, :mod:`aiocql.types._murmur3`) is
optional: without it, aiocql runs the pure-Python implementation of the same behaviour. ``AIOCQL_NO_EXTENSIONS=1``
turns them all off; ``AIOCQL_REQUIRE_EXTENSIONS=1`` makes a missing (or stale) build an ``ImportError`` instead of
a fallback (CI sets it for its compiled pass).

**A stale build.** In a source checkout the built ``.so`` is untracked: it survives a ``git pull`` that changes
the ``.pyx`` or ``.h`` it was compiled from, and imported it would behave like the old code. So the build
(``setup.py``) records in each extension the names of the sources it compiled (``SOURCE_FILES``) and their
digest (``SOURCE_DIGEST``, see :func:`source_digest`). At import, where those sources are beside the extension
(a source checkout, an editable install), their digest is computed again and compared: a difference, or an
extension that records nothing while its ``.pyx`` is there (built before the build recorded), means the
extension is not used; a warning on the ``aiocql`` logger says so and how to rebuild (an ``ImportError`` under
``AIOCQL_REQUIRE_EXTENSIONS=1``). An installed wheel carries no sources: there is nothing to compare, the check is
skipped. It costs one read and one SHA-256 of some 60 kB of sources per import of aiocql (well under a
millisecond).

Example:
    >>> from pathlib import Path
    >>> import aiocql.extensions as extensions
    >>> len(extensions.source_digest([Path(extensions.__file__)]))
    64
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

__all__ = ["flag", "load", "source_digest", "stale_reason"]

log = logging.getLogger("aiocql")

REBUILD = "rebuild it with 'python setup.py build_ext --inplace' (or 'pip install -e .')"


def flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to something other than empty or ``0``.

    Example:
        >>> flag("AIOCQL_SURELY_NOT_SET")
        False
    """
    return os.environ.get(name, "").strip() not in ("", "0")


def source_digest(paths: Iterable[Path]) -> str:
    """The SHA-256 (hex) of the named files, in order: each file's name, its size and its bytes.

    ``setup.py`` records it in each extension it builds; :func:`stale_reason` computes it again at import.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = Path(tmp) / "a.pyx"
        ...     _ = path.write_bytes(b"x = 1")
        ...     source_digest([path]) == source_digest([path]), source_digest([path]) == source_digest([])
        (True, False)
    """
    digest = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        digest.update(b"%s\0%d\0" % (path.name.encode(), len(data)))
        digest.update(data)
    return digest.hexdigest()


def stale_reason(module: ModuleType) -> str | None:
    """Why the compiled ``module`` does not match the sources beside it, or None (it matches, or no sources).

    Example:
        >>> import types
        >>> stale_reason(types.ModuleType("aiocql.types._nowhere"))  # no file, no sources: nothing to compare
    """
    location = getattr(module, "__file__", None)
    if not location:
        return None
    folder = Path(location).parent
    primary = folder / (module.__name__.rpartition(".")[2] + ".pyx")
    recorded = getattr(module, "SOURCE_DIGEST", None)
    names = str(getattr(module, "SOURCE_FILES", "")).split()
    if recorded is None:  # built before the build recorded its sources: older than a .pyx that asks for it
        return f"it records no digest of its sources and {primary.name} is beside it" if primary.is_file() else None
    if not recorded or not names:  # built by other means than setup.py (which always records): cannot tell
        return None
    paths = [folder / name for name in names]
    if not paths[0].is_file():  # installed without its sources (a wheel): nothing to compare
        return None
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        return f"it was built from {', '.join(names)}, and {', '.join(missing)} no longer exists"
    if source_digest(paths) != recorded:
        return f"{', '.join(names)} changed since it was built"
    return None


def load(name: str, what: str) -> ModuleType | None:
    """The compiled module ``name`` if it is built, switched on and built from the sources beside it, else None.

    ``what`` names it in messages ("the compiled core"). Under ``AIOCQL_REQUIRE_EXTENSIONS=1`` a missing or
    stale build raises ``ImportError``; otherwise a stale one is logged as a warning on the ``aiocql`` logger.

    Example:
        >>> flag("AIOCQL_REQUIRE_EXTENSIONS") or load("aiocql.types._no_such_extension", "nothing") is None
        True
    """
    if flag("AIOCQL_NO_EXTENSIONS"):
        return None
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        if flag("AIOCQL_REQUIRE_EXTENSIONS"):
            message = f"AIOCQL_REQUIRE_EXTENSIONS is set but {what} ({name}) is not built ({exc}): {REBUILD}"
            raise ImportError(message) from exc
        return None
    reason = stale_reason(module)
    if reason is None:
        return module
    message = f"{what} ({name}) is stale: {reason}; {REBUILD}"
    if flag("AIOCQL_REQUIRE_EXTENSIONS"):
        raise ImportError(f"AIOCQL_REQUIRE_EXTENSIONS is set but {message}")
    log.warning("%s. Using the pure-Python implementation meanwhile (same behaviour, slower).", message)
    return None
