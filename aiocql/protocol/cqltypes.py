"""The CQL type tree: one frozen, slotted dataclass per kind of type.

A type is a value: two equal types decode and encode identically, so they can key caches.
``frozen`` is presentation only (it changes :attr:`CqlType.cql_name`, not the wire format) and
does not take part in equality.

Example:
    >>> from aiocql.protocol.cqltypes import INT, TEXT, ListType, MapType, VectorType, FLOAT
    >>> MapType(TEXT, ListType(INT), frozen=True).cql_name
    'frozen<map<text, list<int>>>'
    >>> VectorType(FLOAT, 3).cql_name, VectorType(FLOAT, 3).serialized_size
    ('vector<float, 3>', 12)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from aiocql.errors.base import InvalidValueError

__all__ = [
    "ASCII",
    "BIGINT",
    "BLOB",
    "BOOLEAN",
    "COUNTER",
    "DATE",
    "DECIMAL",
    "DOUBLE",
    "DURATION",
    "FLOAT",
    "INET",
    "INT",
    "NATIVE_TYPES",
    "SMALLINT",
    "TEXT",
    "TIME",
    "TIMESTAMP",
    "TIMEUUID",
    "TINYINT",
    "UUID",
    "VARCHAR",
    "VARINT",
    "CqlType",
    "CustomType",
    "ListType",
    "MapType",
    "NativeType",
    "SetType",
    "TupleType",
    "UdtType",
    "VectorType",
    "quote_identifier",
]

# Sizes Cassandra declares through AbstractType.valueLengthIfFixed(). Only these element types are
# packed without length prefixes inside a vector. smallint, tinyint, date, time and counter have a
# fixed size on the wire too, but Cassandra 5.0 does not declare it, so vectors of them use
# [unsigned vint] length prefixes (the python and gocql drivers match this).
_FIXED_SIZES: Final[dict[str, int]] = {
    "boolean": 1,
    "int": 4,
    "float": 4,
    "bigint": 8,
    "double": 8,
    "timestamp": 8,
    "uuid": 16,
    "timeuuid": 16,
}

_NATIVE_NAMES: Final[frozenset[str]] = frozenset(
    {
        "ascii", "bigint", "blob", "boolean", "counter", "date", "decimal", "double", "duration",
        "float", "inet", "int", "smallint", "text", "time", "timestamp", "timeuuid", "tinyint",
        "uuid", "varint",
    }
)  # fmt: skip


def quote_identifier(name: str) -> str:
    """Return ``name`` as CQL writes it: bare if lower-case alphanumeric, else double-quoted.

    Example:
        >>> quote_identifier("address"), quote_identifier("Address")
        ('address', '"Address"')
    """
    if (
        name
        and (name[0].isascii() and name[0].isalpha() and name[0].islower())
        and all(c.isascii() and (c.isdigit() or c == "_" or (c.isalpha() and c.islower())) for c in name)
    ):
        return name
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class CqlType:
    """Base of every CQL type. Subclasses say how they are named and whether they have a fixed size."""

    @property
    def cql_name(self) -> str:
        """The type as CQL writes it, e.g. ``frozen<map<text, list<int>>>``."""
        raise NotImplementedError

    @property
    def serialized_size(self) -> int | None:
        """Byte length of every value if Cassandra treats the type as fixed-size, else ``None``.

        This decides the layout of vectors: fixed-size elements are packed without lengths.
        """
        return None

    @property
    def is_fixed_size(self) -> bool:
        """Whether :attr:`serialized_size` is known (see there)."""
        return self.serialized_size is not None

    def __str__(self) -> str:
        return self.cql_name


@dataclass(frozen=True, slots=True)
class NativeType(CqlType):
    """A native (non-parameterized) type such as ``int`` or ``text``; ``varchar`` becomes ``text``.

    Prefer the module constants (:data:`INT`, :data:`TEXT`, ...).

    Example:
        >>> NativeType("varchar") == TEXT
        True
    """

    name: str

    def __post_init__(self) -> None:
        name = self.name.lower()
        if name == "varchar":
            name = "text"
        if name not in _NATIVE_NAMES:
            raise InvalidValueError(f"unknown native CQL type {self.name!r}")
        object.__setattr__(self, "name", name)

    @property
    def cql_name(self) -> str:
        return self.name

    @property
    def serialized_size(self) -> int | None:
        return _FIXED_SIZES.get(self.name)


ASCII: Final = NativeType("ascii")
BIGINT: Final = NativeType("bigint")
BLOB: Final = NativeType("blob")
BOOLEAN: Final = NativeType("boolean")
COUNTER: Final = NativeType("counter")
DATE: Final = NativeType("date")
DECIMAL: Final = NativeType("decimal")
DOUBLE: Final = NativeType("double")
DURATION: Final = NativeType("duration")
FLOAT: Final = NativeType("float")
INET: Final = NativeType("inet")
INT: Final = NativeType("int")
SMALLINT: Final = NativeType("smallint")
TEXT: Final = NativeType("text")
VARCHAR: Final = TEXT
TIME: Final = NativeType("time")
TIMESTAMP: Final = NativeType("timestamp")
TIMEUUID: Final = NativeType("timeuuid")
TINYINT: Final = NativeType("tinyint")
UUID: Final = NativeType("uuid")
VARINT: Final = NativeType("varint")

#: Every native type by its CQL name (``varchar`` included as an alias of ``text``).
NATIVE_TYPES: Final[dict[str, NativeType]] = {
    t.name: t
    for t in (
        ASCII, BIGINT, BLOB, BOOLEAN, COUNTER, DATE, DECIMAL, DOUBLE, DURATION, FLOAT, INET, INT,
        SMALLINT, TEXT, TIME, TIMESTAMP, TIMEUUID, TINYINT, UUID, VARINT,
    )
} | {"varchar": TEXT}  # fmt: skip


def _frozen(name: str, frozen: bool) -> str:
    return f"frozen<{name}>" if frozen else name


@dataclass(frozen=True, slots=True)
class ListType(CqlType):
    """``list<elem>``.

    Example:
        >>> ListType(INT).cql_name
        'list<int>'
    """

    elem: CqlType
    frozen: bool = field(default=False, compare=False)

    @property
    def cql_name(self) -> str:
        return _frozen(f"list<{self.elem.cql_name}>", self.frozen)


@dataclass(frozen=True, slots=True)
class SetType(CqlType):
    """``set<elem>``.

    Example:
        >>> SetType(TEXT, frozen=True).cql_name
        'frozen<set<text>>'
    """

    elem: CqlType
    frozen: bool = field(default=False, compare=False)

    @property
    def cql_name(self) -> str:
        return _frozen(f"set<{self.elem.cql_name}>", self.frozen)


@dataclass(frozen=True, slots=True)
class MapType(CqlType):
    """``map<key, value>``.

    Example:
        >>> MapType(TEXT, INT).cql_name
        'map<text, int>'
    """

    key: CqlType
    value: CqlType
    frozen: bool = field(default=False, compare=False)

    @property
    def cql_name(self) -> str:
        return _frozen(f"map<{self.key.cql_name}, {self.value.cql_name}>", self.frozen)


@dataclass(frozen=True, slots=True)
class TupleType(CqlType):
    """``tuple<a, b, ...>``; a tuple is always frozen in Cassandra.

    Example:
        >>> TupleType((INT, TEXT)).cql_name
        'frozen<tuple<int, text>>'
    """

    elems: tuple[CqlType, ...]
    frozen: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "elems", tuple(self.elems))

    @property
    def cql_name(self) -> str:
        return _frozen(f"tuple<{', '.join(e.cql_name for e in self.elems)}>", self.frozen)


@dataclass(frozen=True, slots=True)
class UdtType(CqlType):
    """A user-defined type: keyspace, name and its fields in declaration order.

    ``cql_name`` is the (quoted if needed) type name without keyspace, as ``system_schema`` writes it.

    Example:
        >>> UdtType("ks", "address", ("street", "zip"), (TEXT, INT), frozen=True).cql_name
        'frozen<address>'
    """

    keyspace: str
    name: str
    field_names: tuple[str, ...]
    field_types: tuple[CqlType, ...]
    frozen: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", tuple(self.field_names))
        object.__setattr__(self, "field_types", tuple(self.field_types))
        if len(self.field_names) != len(self.field_types):
            raise InvalidValueError(
                f"user type {self.name!r} has {len(self.field_names)} field names "
                f"but {len(self.field_types)} field types"
            )

    @property
    def cql_name(self) -> str:
        return _frozen(quote_identifier(self.name), self.frozen)


@dataclass(frozen=True, slots=True)
class VectorType(CqlType):
    """``vector<elem, dimension>`` (Cassandra 5.0); sent on the wire as a custom type.

    Example:
        >>> VectorType(TEXT, 2).cql_name, VectorType(TEXT, 2).serialized_size
        ('vector<text, 2>', None)
    """

    elem: CqlType
    dimension: int

    def __post_init__(self) -> None:
        if self.dimension <= 0:
            raise InvalidValueError(f"vector dimension must be positive, got {self.dimension}")

    @property
    def cql_name(self) -> str:
        return f"vector<{self.elem.cql_name}, {self.dimension}>"

    @property
    def serialized_size(self) -> int | None:
        size = self.elem.serialized_size
        return None if size is None else size * self.dimension


@dataclass(frozen=True, slots=True)
class CustomType(CqlType):
    """A server-side type this driver does not model; values are raw ``bytes``.

    Example:
        >>> CustomType("com.example.PointType").cql_name
        "'com.example.PointType'"
    """

    class_name: str

    @property
    def cql_name(self) -> str:
        return "'" + self.class_name.replace("'", "''") + "'"
