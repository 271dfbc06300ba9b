"""Result metadata with its row decoder, built once per distinct set of columns.

Every page of every query with the same columns reuses the same :class:`ResultMetadata` (and so the
same per-column decoders): the per-row loop never resolves a type again.

Example:
    >>> from aiocql.protocol.results import ColumnSpec
    >>> from aiocql.protocol.cqltypes import INT
    >>> cols = (ColumnSpec("ks", "t", "k", INT),)
    >>> metadata_for(cols) is metadata_for(cols)
    True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiocql.protocol.cqltypes import CqlType
from aiocql.protocol.results import ColumnSpec
from aiocql.types.rows import RowDecoder
from aiocql.types.udt_classes import UdtClasses, bind_classes

_CACHE_SIZE = 1024


@dataclass(slots=True, eq=False)
class ResultMetadata:
    """Column specs of a result plus the row decoder built once for them."""

    columns: tuple[ColumnSpec, ...]
    names: tuple[str, ...] = field(init=False)
    types: tuple[CqlType, ...] = field(init=False)
    decoder: RowDecoder = field(init=False, repr=False)
    _bound: tuple[UdtClasses, RowDecoder] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self.names = tuple(c.name for c in self.columns)
        self.types = tuple(c.type for c in self.columns)
        self.decoder = RowDecoder(list(self.types), self.names)

    def decoder_for(self, classes: UdtClasses) -> RowDecoder:
        """The row decoder that builds the UDTs registered in ``classes`` as their classes (the plain
        :attr:`decoder` when there are none); built once per registry (see :mod:`aiocql.types.udt_classes`)."""
        if not classes:
            return self.decoder
        bound = self._bound
        if bound is None or bound[0] is not classes:
            bound = self._bound = (classes, _bound_decoder(self.decoder.column_types, classes, self.names))
        return bound[1]


@functools.lru_cache(maxsize=256)
def _bound_decoder(types: tuple[CqlType, ...], classes: UdtClasses, names: tuple[str, ...]) -> RowDecoder:
    return RowDecoder([bind_classes(t, classes) for t in types], names)


_cache: dict[tuple[ColumnSpec, ...], ResultMetadata] = {}


def metadata_for(columns: Sequence[ColumnSpec]) -> ResultMetadata:
    """The shared :class:`ResultMetadata` for these columns (a bounded cache keyed by the specs)."""
    key = tuple(columns)
    meta = _cache.get(key)
    if meta is None:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))  # drop the oldest entry
        meta = _cache[key] = ResultMetadata(key)
    return meta
