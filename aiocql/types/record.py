"""The default row type, :class:`Row`: a tuple with attribute and key access, one class per set of columns.

A row is a tuple (``row[0]``, slicing, unpacking, ``len``, ``==`` and ``hash`` exactly as the tuple of its
values), with ``row.name`` and ``row["name"]`` access, ``_asdict()``, ``keys()``/``values()``/``items()``,
``get()``, a readable repr, and pickling. Each distinct tuple of column names gets its own subclass of
:class:`Row` (built once, cached) that carries the names and one C attribute getter per column, like a
namedtuple, so the decoder builds rows without any per-row Python code.

Index access is implemented by the row base class: in C when the compiled core is built
(:data:`aiocql.compiled`), else by the pure-Python :class:`PyRowBase` here. Both behave the same.

Example:
    >>> cls = row_class(("k", "[applied]"))
    >>> row = cls((1, True))
    >>> row, row.k, row["[applied]"], row.applied, row == (1, True)
    (Row(k=1, applied=True), 1, True, True, True)
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar

from aiocql.errors.base import InvalidValueError

__all__ = ["PyRow", "PyRowBase", "Row", "attribute_names", "clean_name", "make_row", "row_class"]

try:  # the C getter namedtuple uses (CPython); a property over itemgetter elsewhere
    from collections import _tuplegetter  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons
    _tuplegetter = None

_EDGE_JUNK = re.compile(r"^[^a-zA-Z0-9]+|[^a-zA-Z0-9_]+$")
_INNER_JUNK = re.compile(r"[^a-zA-Z0-9_]")
_tuple_getitem = tuple.__getitem__


def clean_name(name: str) -> str:
    """A column name as a Python identifier, as cassandra-driver does: ``[applied]`` -> ``applied``,
    ``writetime(v)`` -> ``writetime_v``.

    Example:
        >>> clean_name("writetime(v)")
        'writetime_v'
    """
    return _INNER_JUNK.sub("_", _EDGE_JUNK.sub("", name))


def attribute_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """The attribute names of the columns, the same as the namedtuple rows' ``_fields``: the names
    themselves if they are identifiers, else cleaned (:func:`clean_name`) and, where still not usable
    (a keyword, a leading underscore or digit, a duplicate), renamed ``_N``.

    Example:
        >>> attribute_names(("[applied]", "k", "k", "class"))
        ('applied', 'k', '_2', '_3')
    """
    if _usable(names):
        return names
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(clean_name(n) for n in names):
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name in seen:
            name = f"_{i}"
        seen.add(name)
        out.append(name)
    return tuple(out)


def _usable(names: tuple[str, ...]) -> bool:
    return len(set(names)) == len(names) and all(
        n.isidentifier() and not keyword.iskeyword(n) and not n.startswith("_") for n in names
    )


if TYPE_CHECKING:
    _MethodsBase = tuple[Any, ...]
else:
    _MethodsBase = object  # a mixin: the tuple base comes from PyRowBase or the compiled RowBase


class PyRowBase(tuple[Any, ...]):
    """The pure-Python row base: ``row[i]``, slices and ``row["column"]``."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if key.__class__ is str:
            try:
                key = self._index[key]
            except KeyError:
                raise self._missing(key) from None  # type: ignore[attr-defined]
        return _tuple_getitem(self, key)


class _RowMethods(_MethodsBase):
    """What every row class has beyond its base's tuple and index access (no per-instance state)."""

    __slots__ = ()
    #: The column names as the server sent them.
    _names: ClassVar[tuple[str, ...]] = ()
    #: The attribute names (a namedtuple's ``_fields``).
    _fields: ClassVar[tuple[str, ...]] = ()
    _field_defaults: ClassVar[dict[str, Any]] = {}
    _index: ClassVar[dict[str, int]] = {}

    def __repr__(self) -> str:
        return "Row(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=False)) + ")"

    def __reduce__(self) -> tuple[Any, tuple[tuple[str, ...], tuple[Any, ...]]]:
        return make_row, (self._names, tuple(self))

    def _missing(self, key: str) -> KeyError:
        """The error of ``row[key]`` for a column that does not exist (the base classes raise it)."""
        return KeyError(f"{key!r}: no such column (the columns are {', '.join(self._names) or 'none'})")

    def _asdict(self) -> dict[str, Any]:
        """The row as a dict keyed by attribute name (as a namedtuple's ``_asdict``)."""
        return dict(zip(self._fields, self, strict=False))

    def _replace(self, **changes: Any) -> Any:
        """A copy with some attributes changed (as a namedtuple's ``_replace``)."""
        values = [changes.pop(n, v) for n, v in zip(self._fields, self, strict=False)]
        if changes:
            raise InvalidValueError(f"no such field(s): {', '.join(map(repr, changes))}")
        return type(self)(values)

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Any:
        """A row of this class from an iterable of values (as a namedtuple's ``_make``)."""
        return cls(iterable)

    def keys(self) -> tuple[str, ...]:
        """The column names, as the server sent them."""
        return self._names

    def values(self) -> tuple[Any, ...]:
        """The values, as a plain tuple."""
        return tuple(self)

    def items(self) -> Iterator[tuple[str, Any]]:
        """(column name, value) pairs."""
        return zip(self._names, self, strict=False)

    def get(self, key: str, default: Any = None) -> Any:
        """The value of column ``key``, or ``default`` if there is no such column."""
        index = self._index.get(key)
        return default if index is None else _tuple_getitem(self, index)


def _compiled_base() -> type[tuple[Any, ...]] | None:
    from aiocql.types import speedups

    return None if speedups.core is None else speedups.core.RowBase


class Row(_RowMethods, _compiled_base() or PyRowBase):  # type: ignore[misc]
    """A result row: a tuple of the column values, with attribute (``row.k``) and key (``row["k"]``)
    access; one subclass per set of column names (:func:`row_class`).

    ``==`` and ``hash`` are the tuple's (a row equals the tuple of its values, as namedtuple rows do);
    attribute names are the namedtuple rows' ``_fields`` (``[applied]`` -> ``applied``); keys are the
    column names as the server sent them, and the attribute names too. A missing key raises ``KeyError``,
    a missing attribute ``AttributeError`` (the protocols ``in``/``get``/``hasattr`` rely on).

    Example:
        >>> row = row_class(("k", "v"))((1, "a"))
        >>> row._asdict(), row["v"], tuple(row), row[-1], row[:1]
        ({'k': 1, 'v': 'a'}, 'a', (1, 'a'), 'a', (1,))
    """

    __slots__ = ()


def _compiled_lean_row_type() -> Any:
    from aiocql.types import speedups

    return None if speedups.core is None else speedups.core.lean_row_type


_lean_row_type = _compiled_lean_row_type()

#: The same Row on the pure-Python base (what :class:`Row` is without the compiled core), for tests.
PyRow: type[Row] = (
    Row
    if PyRowBase in Row.__mro__
    else type("Row", (_RowMethods, PyRowBase), {"__slots__": (), "__module__": __name__, "__doc__": Row.__doc__})
)


@functools.lru_cache(maxsize=1024)
def row_class(names: tuple[str, ...], root: type[Row] = Row) -> type[Row]:
    """The :class:`Row` subclass of rows with these column names (built once per tuple of names).

    Example:
        >>> row_class(("a", "b")) is row_class(("a", "b")), row_class(("a", "b"))._fields
        (True, ('a', 'b'))
    """
    fields = attribute_names(names)
    index: dict[str, int] = {}
    for i, n in enumerate(names):
        index.setdefault(n, i)
    for i, n in enumerate(fields):
        index.setdefault(n, i)
    namespace: dict[str, Any] = {
        "__slots__": (), "_names": names, "_fields": fields, "_index": index, "__module__": __name__,
        "__qualname__": "Row",
    }  # fmt: skip
    for i, f in enumerate(fields):
        doc = f"Column {names[i]!r}"
        namespace[f] = _tuplegetter(i, doc) if _tuplegetter is not None else property(itemgetter(i), doc=doc)
    cls = type("Row", (root,), namespace)
    if _lean_row_type is not None:
        _lean_row_type(cls)  # the compiled core frees these rows as tuples (no subtype_dealloc walk)
    return cls


def make_row(names: tuple[str, ...], values: Iterable[Any]) -> Row:
    """A row with these column names and values (how rows are unpickled).

    Example:
        >>> make_row(("k",), [1])
        Row(k=1)
    """
    return row_class(tuple(names))(values)
