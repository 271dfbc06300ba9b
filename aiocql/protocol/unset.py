"""The ``UNSET`` marker: a bound value that leaves the column untouched.

Protocol v4+ encodes it as a [value] of length -2 ("not set"), which differs from ``None``
(length -1, a null that overwrites the column with a tombstone).

Example:
    >>> from aiocql.protocol.unset import UNSET
    >>> UNSET
    UNSET
    >>> bool(UNSET)
    False
"""

from __future__ import annotations

from typing import Final

__all__ = ["UNSET", "Unset"]


class Unset:
    """Type of the :data:`UNSET` singleton; there is only ever one instance."""

    __slots__ = ()
    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        # Pickle by reference so that unpickling yields the same singleton.
        return "UNSET"

    def __copy__(self) -> Unset:
        return self

    def __deepcopy__(self, memo: object) -> Unset:
        return self


UNSET: Final[Unset] = Unset()
