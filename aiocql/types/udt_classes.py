"""User types decoded as the user's own classes (cassandra-driver's ``register_user_type``).

A :class:`UdtClasses` is an immutable registry: (keyspace, user type name) -> class. Decoding stays
keyed by type only: :func:`bind_classes` rewrites a column's type tree so that every registered UDT
in it (also inside collections, tuples and other UDTs) becomes a :class:`ClassUdtType`, which compares
unequal to the plain :class:`~aiocql.protocol.cqltypes.UdtType` and to the same UDT bound to another
class. The decoder caches (:func:`aiocql.types.codecs.decoder_for`, the row functions of
:mod:`aiocql.types.rowplan`) are therefore keyed by the registration too: registering a class gives
new types, so later results use it, and two registries never see each other's classes.

The class is checked against the UDT's fields once, when the decoder of that type is built
(:func:`udt_maker`), not per value. A class fits when it can be called with the UDT's fields as
keyword arguments: a dataclass or a NamedTuple with a field of each UDT field's name (a CQL name that
is not an identifier also matches its identifier form, ``"zip code"`` -> ``zip_code``, and a keyword
with a trailing underscore, ``from`` -> ``from_``), or any class
whose ``__init__`` takes them (or ``**fields``); every required argument must be a UDT field. A class
without a signature (``dict``, ``types.SimpleNamespace``) is called with the fields as keywords.

Example:
    >>> from dataclasses import dataclass
    >>> from aiocql.protocol.cqltypes import INT, TEXT, ListType, UdtType
    >>> @dataclass
    ... class Address:
    ...     street: str
    ...     zip: int
    >>> address = UdtType("ks", "address", ("street", "zip"), (TEXT, INT))
    >>> classes = UdtClasses().with_class("ks", "address", Address)
    >>> bound = bind_classes(ListType(address), classes)
    >>> bound.elem.python_class is Address, bound == ListType(address)
    (True, False)
    >>> udt_maker(bound.elem)(["Main St", 12345])
    Address(street='Main St', zip=12345)
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiocql.errors.base import InvalidValueError
from aiocql.protocol.cqltypes import CqlType, ListType, MapType, SetType, TupleType, UdtType, VectorType

__all__ = [
    "NO_UDT_CLASSES",
    "ClassUdtType",
    "UdtClasses",
    "bind_classes",
    "check_class",
    "constructor_fields",
    "match_fields",
    "require_hashable",
    "udt_maker",
]

_NON_IDENTIFIER = re.compile(r"\W")


@dataclass(frozen=True, slots=True)
class UdtClasses:
    """An immutable registry of the classes user types decode to: ``(keyspace, type name) -> class``.

    Names are matched exactly as the schema stores them (lower case unless the type was created
    with a quoted name). Hashable, so caches can be keyed by it; :meth:`with_class` returns a new one.

    Example:
        >>> class Point:
        ...     def __init__(self, x: int, y: int) -> None:
        ...         self.x, self.y = x, y
        >>> reg = UdtClasses().with_class("ks", "point", Point)
        >>> reg.get("ks", "point") is Point, reg.get("ks", "other"), bool(UdtClasses())
        (True, None, False)
    """

    entries: tuple[tuple[str, str, type[Any]], ...] = ()

    def get(self, keyspace: str, name: str) -> type[Any] | None:
        """The class registered for ``keyspace.name``, or None."""
        for ks, n, cls in self.entries:
            if n == name and ks == keyspace:
                return cls
        return None

    def with_class(self, keyspace: str, name: str, cls: type[Any]) -> UdtClasses:
        """A registry like this one where ``keyspace.name`` decodes to ``cls`` (replacing any earlier class).

        Raises :class:`~aiocql.errors.InvalidValueError` if a name is not a non-empty str or ``cls``
        is not a class.
        """
        for label, value in (("keyspace", keyspace), ("user_type", name)):
            if not isinstance(value, str) or not value:
                raise InvalidValueError(f"{label} must be a non-empty str, got {value!r}")
        if not isinstance(cls, type):
            raise InvalidValueError(
                f"the class for user type {keyspace}.{name} must be a class (a dataclass, NamedTuple or any class "
                f"taking the fields as keyword arguments), got {cls!r}"
            )
        kept = tuple(e for e in self.entries if (e[0], e[1]) != (keyspace, name))
        return UdtClasses((*kept, (keyspace, name, cls)))

    def merged(self, override: UdtClasses) -> UdtClasses:
        """This registry with ``override``'s classes taking precedence."""
        if not override.entries:
            return self
        if not self.entries:
            return override
        return _merged(self, override)

    def __bool__(self) -> bool:
        return bool(self.entries)


@functools.lru_cache(maxsize=64)
def _merged(base: UdtClasses, override: UdtClasses) -> UdtClasses:
    out = base
    for ks, name, cls in override.entries:
        out = out.with_class(ks, name, cls)
    return out


#: The empty registry: every UDT decodes to its namedtuple.
NO_UDT_CLASSES = UdtClasses()


@dataclass(frozen=True, slots=True)
class ClassUdtType(UdtType):
    """A :class:`~aiocql.protocol.cqltypes.UdtType` whose values decode to ``python_class`` (only made by
    :func:`bind_classes`; never equal to the plain UDT type, so decoders are cached apart)."""

    python_class: type[Any] | None = None


def bind_classes(t: CqlType, classes: UdtClasses) -> CqlType:
    """``t`` with every UDT registered in ``classes`` (at any depth) bound to its class; ``t`` itself
    when none is registered. Cached per (type, registry).

    Example:
        >>> from aiocql.protocol.cqltypes import INT, MapType, TEXT, UdtType
        >>> p = UdtType("ks", "p", ("x",), (INT,))
        >>> m = MapType(TEXT, p)
        >>> bind_classes(m, UdtClasses()) is m
        True
        >>> bind_classes(m, UdtClasses().with_class("ks", "p", dict)).value.python_class
        <class 'dict'>
    """
    if not classes:
        return t
    return _bind(t, classes)


@functools.lru_cache(maxsize=4096)
def _bind(t: CqlType, classes: UdtClasses) -> CqlType:
    if isinstance(t, UdtType):
        field_types = tuple(_bind(f, classes) for f in t.field_types)
        cls = classes.get(t.keyspace, t.name)
        if cls is not None:
            return ClassUdtType(t.keyspace, t.name, t.field_names, field_types, t.frozen, python_class=cls)
        if all(a is b for a, b in zip(field_types, t.field_types, strict=True)):
            return t
        return UdtType(t.keyspace, t.name, t.field_names, field_types, t.frozen)
    if isinstance(t, ListType):
        elem = _bind(t.elem, classes)
        return t if elem is t.elem else ListType(elem, t.frozen)
    if isinstance(t, SetType):
        elem = _bind(t.elem, classes)
        return t if elem is t.elem else SetType(elem, t.frozen)
    if isinstance(t, MapType):
        key, value = _bind(t.key, classes), _bind(t.value, classes)
        return t if key is t.key and value is t.value else MapType(key, value, t.frozen)
    if isinstance(t, TupleType):
        elems = tuple(_bind(e, classes) for e in t.elems)
        return t if all(a is b for a, b in zip(elems, t.elems, strict=True)) else TupleType(elems, t.frozen)
    if isinstance(t, VectorType):
        elem = _bind(t.elem, classes)
        return t if elem is t.elem else VectorType(elem, t.dimension)
    return t


def constructor_fields(cls: Callable[..., Any], what: str) -> tuple[list[str], set[str], bool]:
    """(field names in order, required ones, positional construction allowed) of a class built from
    named values (rows, UDT values); ``([], set(), False)`` when it takes ``**kwargs``. ``what`` names
    the class in the error raised when it has no signature (e.g. ``"row type User"``).

    Example:
        >>> from typing import NamedTuple
        >>> class P(NamedTuple):
        ...     x: int
        ...     y: int = 0
        >>> constructor_fields(P, "P")
        (['x', 'y'], {'x'}, True)
    """
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        fields = [f for f in dataclasses.fields(cls) if f.init]
        required = {
            f.name for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }  # fmt: skip
        positional = all(not f.kw_only for f in fields)
        return [f.name for f in fields], required, positional
    if isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields"):
        names = list(cls._fields)
        defaults = getattr(cls, "_field_defaults", {})
        return names, {n for n in names if n not in defaults}, True
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"{what} has no signature to map fields to: {exc}") from None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return [], set(), False  # **kwargs: takes any field
    usable = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    required = {p.name for p in usable if p.default is p.empty}
    # A required positional-only argument can never be filled by name: report it as unfillable.
    required |= {p.name for p in params if p.kind is p.POSITIONAL_ONLY and p.default is p.empty}
    return [p.name for p in usable], required, False


def match_fields(
    names: tuple[str, ...], fields: list[str], required: set[str], python_name: Callable[[str, set[str]], str]
) -> tuple[tuple[str, ...], list[str], list[str]]:
    """Map CQL names (columns, UDT fields) to a class's fields, once per metadata: ``(the field each name
    fills, names that fill none, required fields no name fills)``; ``python_name(name, known)`` picks a
    name's field.

    Example:
        >>> match_fields(("id", "zip code"), ["id", "zip_code", "city"], {"city"}, _python_name)
        (('id', 'zip_code'), [], ['city'])
    """
    known = set(fields)
    keys = tuple(python_name(n, known) for n in names)
    unknown = [n for n, k in zip(names, keys, strict=True) if k not in known]
    return keys, unknown, sorted(required - set(keys))


def _python_name(cql_name: str, known: set[str]) -> str:
    """The class field a UDT field fills: its own name, else its identifier form (``"zip code"`` ->
    ``zip_code``), else that with a trailing ``_`` (PEP 8's way around a keyword: ``from`` -> ``from_``)."""
    if cql_name in known:
        return cql_name
    name = _NON_IDENTIFIER.sub("_", cql_name)
    return name + "_" if name not in known and name + "_" in known else name


def _plural(items: Sequence[str], noun: str) -> str:
    return f"{noun}{'s' if len(items) > 1 else ''} {', '.join(items)}"


def udt_maker(t: ClassUdtType) -> Callable[[list[object]], object]:
    """The function building ``t.python_class`` from a decoded value's fields (in ``t``'s order).

    Checks the class against the UDT's fields first and raises
    :class:`~aiocql.errors.InvalidValueError` naming them when it cannot take every field, or needs
    an argument that is not a field. An exception from the class itself while decoding a value is
    raised as InvalidValueError too (chained).

    Example:
        >>> from typing import NamedTuple
        >>> from aiocql.protocol.cqltypes import INT
        >>> class P(NamedTuple):
        ...     x: int
        ...     y: int
        >>> udt_maker(ClassUdtType("ks", "p", ("x", "y"), (INT, INT), python_class=P))([1, 2])
        P(x=1, y=2)
    """
    cls = t.python_class
    if cls is None:  # pragma: no cover - bind_classes always sets it
        raise InvalidValueError(f"user type {t.keyspace}.{t.name} has no class bound")
    cls_name = getattr(cls, "__qualname__", repr(cls))
    owner = f"class {cls_name} registered for user type {t.keyspace}.{t.name}"
    try:
        fields, required, positional = constructor_fields(cls, owner)
    except InvalidValueError:  # no signature (dict, types.SimpleNamespace): called with the fields as keywords
        fields, required, positional = [], set(), False
    names = t.field_names
    if not fields and not required and not positional:  # **kwargs
        keys: tuple[str, ...] = names
    else:
        keys, unknown, missing = match_fields(names, fields, required, _python_name)
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"{cls_name} has no field for UDT {_plural(unknown, 'field')}")
            if missing:
                problems.append(f"no UDT field fills required {_plural(missing, 'argument')}")
            raise InvalidValueError(
                f"{owner} does not fit its fields ({', '.join(names) or 'none'}): {'; '.join(problems)}"
            )
    if positional and list(keys) == fields:
        if issubclass(cls, tuple):
            build: Callable[[list[object]], object] = functools.partial(tuple.__new__, cls)
        else:

            def build(values: list[object]) -> object:
                return cls(*values)
    else:

        def build(values: list[object]) -> object:
            return cls(**dict(zip(keys, values, strict=True)))

    def make(values: list[object]) -> object:
        try:
            return build(values)
        except Exception as exc:
            raise InvalidValueError(f"{owner}: building a value failed: {exc!r}") from exc

    return make


def check_class(t: UdtType, cls: type[Any]) -> None:
    """Raise :class:`~aiocql.errors.InvalidValueError` if ``cls`` cannot be built from ``t``'s fields
    (what :func:`udt_maker` checks), without building a decoder.

    Example:
        >>> from aiocql.protocol.cqltypes import INT, UdtType
        >>> class OnlyX:
        ...     def __init__(self, x: int) -> None: ...
        >>> check_class(UdtType("ks", "p", ("x", "y"), (INT, INT)), OnlyX)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: class OnlyX registered for user type ks.p does not fit ...
    """
    udt_maker(ClassUdtType(t.keyspace, t.name, t.field_names, t.field_types, python_class=cls))


def require_hashable(t: ClassUdtType, context: str) -> None:
    """Raise InvalidValueError if ``t``'s class cannot be hashed but its values must be (``context``:
    a set element or map key).

    Example:
        >>> from dataclasses import dataclass
        >>> from aiocql.protocol.cqltypes import INT
        >>> @dataclass
        ... class P:
        ...     x: int
        >>> require_hashable(ClassUdtType("ks", "p", ("x",), (INT,), python_class=P), "a set element")
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: class P registered for user type ks.p is not hashable, ...
    """
    cls = t.python_class
    if cls is not None and getattr(cls, "__hash__", None) is None:
        raise InvalidValueError(
            f"class {cls.__qualname__} registered for user type {t.keyspace}.{t.name} is not hashable, but the "
            f"value is {context}: make it hashable (e.g. @dataclass(frozen=True)) or register another class"
        )
