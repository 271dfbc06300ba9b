"""Parsers for the two textual spellings of a CQL type.

* :func:`parse_marshal_type` reads Cassandra's Java class names, as found in custom [option]s and
  old schema tables: ``org.apache.cassandra.db.marshal.VectorType(...FloatType,3)``;
  :func:`marshal_name` writes them.
* :func:`parse_cql_type` reads CQL as ``system_schema`` stores it: ``frozen<map<text, list<int>>>``,
  ``vector<float, 3>``, ``tuple<int, text>``, ``'com.example.Custom'`` and user type names, which a
  lookup callable resolves.

Both parsers raise :class:`~aiocql.errors.TypeStringError` (a :class:`ValueError`) naming the position
of the problem.

Example:
    >>> parse_cql_type("map<text, frozen<list<int>>>").cql_name
    'map<text, frozen<list<int>>>'
    >>> parse_marshal_type("org.apache.cassandra.db.marshal.ListType(Int32Type)")
    ListType(elem=NativeType(name='int'), frozen=False)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Final

from aiocql.errors.base import InvalidValueError, TypeStringError
from aiocql.protocol.cqltypes import (
    NATIVE_TYPES,
    CqlType,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)

__all__ = [
    "MARSHAL_CLASSES",
    "MARSHAL_PREFIX",
    "TypeStringError",
    "UdtLookup",
    "marshal_name",
    "parse_cql_type",
    "parse_marshal_type",
]

MARSHAL_PREFIX: Final = "org.apache.cassandra.db.marshal."

#: Resolves a user type name: called as ``lookup(keyspace_or_None, name)`` with unquoted names.
UdtLookup = Callable[[str | None, str], CqlType | None]

_MAX_DEPTH: Final = 64

MARSHAL_CLASSES: Final[dict[str, str]] = {
    "ascii": "AsciiType",
    "bigint": "LongType",
    "blob": "BytesType",
    "boolean": "BooleanType",
    "counter": "CounterColumnType",
    "date": "SimpleDateType",
    "decimal": "DecimalType",
    "double": "DoubleType",
    "duration": "DurationType",
    "float": "FloatType",
    "inet": "InetAddressType",
    "int": "Int32Type",
    "smallint": "ShortType",
    "text": "UTF8Type",
    "time": "TimeType",
    "timestamp": "TimestampType",
    "timeuuid": "TimeUUIDType",
    "tinyint": "ByteType",
    "uuid": "UUIDType",
    "varint": "IntegerType",
}
"""CQL native type -> its Java marshal class (short name): the one table both directions use."""

# Java marshal class (short name) -> CQL native type. DateType is the pre-2.0 timestamp (read, never written).
MARSHAL_NATIVES: Final[dict[str, NativeType]] = {
    **{cls: NATIVE_TYPES[name] for name, cls in MARSHAL_CLASSES.items()},
    "DateType": NATIVE_TYPES["timestamp"],
}

# Characters Cassandra's TypeParser accepts in a class name or parameter.
_IDENT_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+._&")


def _freeze(t: CqlType) -> CqlType:
    if isinstance(t, (ListType, SetType, MapType, TupleType, UdtType)):
        return dataclasses.replace(t, frozen=True)
    return t


class _Scanner:
    __slots__ = ("depth", "kind", "pos", "text")

    def __init__(self, text: str, kind: str) -> None:
        self.text = text
        self.kind = kind
        self.pos = 0
        self.depth = 0

    def error(self, detail: str, pos: int | None = None) -> TypeStringError:
        return TypeStringError(self.kind, self.text, self.pos if pos is None else pos, detail)

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "end of string"
            raise self.error(f"expected {char!r}" + ("" if found == "end of string" else f", found {found}"))
        self.pos += 1

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"type nested deeper than {_MAX_DEPTH} levels")

    def end(self) -> None:
        if self.peek():
            raise self.error(f"unexpected {self.text[self.pos]!r} after the type")


# ----------------------------------------------------------------------------------------------
# Java marshal class strings
# ----------------------------------------------------------------------------------------------


def parse_marshal_type(text: str) -> CqlType:
    """Parse a Java marshal class string into a :class:`CqlType`.

    Understands the native types, ``ListType``, ``SetType``, ``MapType``, ``TupleType``,
    ``UserType(ks,hexname,hexfield:type,...)``, ``VectorType(type,n)``, ``FrozenType`` and
    ``ReversedType`` (unwrapped). Any other class, with its parameters, becomes a
    :class:`CustomType` holding the exact text. The ``org.apache.cassandra.db.marshal.`` prefix is
    optional.

    Example:
        >>> p = "org.apache.cassandra.db.marshal."
        >>> parse_marshal_type(f"{p}VectorType({p}FloatType,3)")
        VectorType(elem=NativeType(name='float'), dimension=3)
        >>> parse_marshal_type("ReversedType(TimestampType)")
        NativeType(name='timestamp')
    """
    scanner = _Scanner(text, "marshal type")
    result = _marshal(scanner)
    scanner.end()
    return result


def _ident(s: _Scanner, what: str) -> str:
    s.skip_ws()
    start = pos = s.pos
    text = s.text
    while pos < len(text) and text[pos] in _IDENT_CHARS:
        pos += 1
    if pos == start:
        raise s.error(f"expected {what}")
    s.pos = pos
    return text[start:pos]


def _short_name(name: str) -> str | None:
    if name.startswith(MARSHAL_PREFIX):
        name = name[len(MARSHAL_PREFIX) :]
    return None if "." in name else name


def _skip_params(s: _Scanner) -> None:
    # Skips a balanced "(...)" group of a class we do not model (e.g. DynamicCompositeType(a=>X)).
    s.expect("(")
    depth = 1
    text, pos = s.text, s.pos
    while pos < len(text) and depth:
        if text[pos] == "(":
            depth += 1
        elif text[pos] == ")":
            depth -= 1
        pos += 1
    if depth:
        s.pos = pos
        raise s.error("unbalanced parentheses")
    s.pos = pos


def _hex_name(s: _Scanner, what: str) -> str:
    start = s.pos
    raw = _ident(s, what)
    try:
        return bytes.fromhex(raw).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise s.error(f"{what} {raw!r} is not hex-encoded UTF-8", start) from None


def _marshal(s: _Scanner) -> CqlType:
    s.enter()
    s.skip_ws()
    start = s.pos
    name = _ident(s, "a class name")
    short = _short_name(name)
    if s.peek() != "(":
        s.depth -= 1
        if short is not None and short in MARSHAL_NATIVES:
            return MARSHAL_NATIVES[short]
        return CustomType(name)
    result: CqlType
    if short in ("ReversedType", "FrozenType", "ListType", "SetType"):
        s.expect("(")
        inner = _marshal(s)
        s.expect(")")
        if short == "ReversedType":
            result = inner
        elif short == "FrozenType":
            result = _freeze(inner)
        elif short == "ListType":
            result = ListType(inner)
        else:
            result = SetType(inner)
    elif short == "MapType":
        s.expect("(")
        key = _marshal(s)
        s.expect(",")
        value = _marshal(s)
        s.expect(")")
        result = MapType(key, value)
    elif short == "TupleType":
        s.expect("(")
        elems = [_marshal(s)]
        while s.peek() == ",":
            s.pos += 1
            elems.append(_marshal(s))
        s.expect(")")
        result = TupleType(tuple(elems))
    elif short == "UserType":
        result = _marshal_udt(s)
    elif short == "VectorType":
        s.expect("(")
        elem = _marshal(s)
        s.expect(",")
        dim_pos = s.pos
        dim = _ident(s, "a vector dimension")
        if not dim.isdigit() or int(dim) <= 0:
            raise s.error(f"vector dimension must be a positive integer, got {dim!r}", dim_pos)
        s.expect(")")
        result = VectorType(elem, int(dim))
    else:
        _skip_params(s)
        result = CustomType(s.text[start : s.pos].strip())
    s.depth -= 1
    return result


def _marshal_udt(s: _Scanner) -> UdtType:
    s.expect("(")
    keyspace = _ident(s, "a keyspace name")
    s.expect(",")
    name = _hex_name(s, "a hex-encoded type name")
    names: list[str] = []
    types: list[CqlType] = []
    while s.peek() == ",":
        s.pos += 1
        names.append(_hex_name(s, "a hex-encoded field name"))
        s.expect(":")
        types.append(_marshal(s))
    s.expect(")")
    return UdtType(keyspace, name, tuple(names), tuple(types))


# ----------------------------------------------------------------------------------------------
# CQL type strings
# ----------------------------------------------------------------------------------------------


def parse_cql_type(text: str, lookup: UdtLookup | None = None) -> CqlType:
    """Parse a CQL type as written in DDL and ``system_schema`` (``frozen<list<int>>``...).

    User type names (optionally ``keyspace.name``, optionally double-quoted) are resolved with
    ``lookup(keyspace_or_None, name)``; without a lookup, or when it returns ``None``, they raise
    :class:`TypeStringError`. Unquoted names are case-insensitive (lower-cased).

    Example:
        >>> parse_cql_type("vector<float, 3>")
        VectorType(elem=NativeType(name='float'), dimension=3)
        >>> from aiocql.protocol.cqltypes import TEXT, UdtType
        >>> addr = UdtType("ks", "address", ("street",), (TEXT,))
        >>> parse_cql_type("frozen<address>", lambda ks, name: addr if name == "address" else None).cql_name
        'frozen<address>'
    """
    scanner = _Scanner(text, "CQL type")
    result = _cql(scanner, lookup)
    scanner.end()
    return result


def _cql_ident(s: _Scanner) -> tuple[str, bool]:
    """Read a bare or double-quoted identifier; returns (name, quoted)."""
    s.skip_ws()
    text, pos = s.text, s.pos
    if pos < len(text) and text[pos] == '"':
        out: list[str] = []
        pos += 1
        while True:
            end = text.find('"', pos)
            if end < 0:
                s.pos = len(text)
                raise s.error("unterminated quoted identifier")
            out.append(text[pos:end])
            if text.startswith('"', end + 1):
                out.append('"')
                pos = end + 2
                continue
            s.pos = end + 1
            return "".join(out), True
    start = pos
    while pos < len(text) and (text[pos].isalnum() or text[pos] == "_"):
        pos += 1
    if pos == start:
        raise s.error("expected a type name")
    s.pos = pos
    return text[start:pos].lower(), False


def _cql_string(s: _Scanner) -> str:
    text = s.text
    pos = s.pos + 1
    out: list[str] = []
    while True:
        end = text.find("'", pos)
        if end < 0:
            s.pos = len(text)
            raise s.error("unterminated quoted class name")
        out.append(text[pos:end])
        if text.startswith("'", end + 1):
            out.append("'")
            pos = end + 2
            continue
        s.pos = end + 1
        return "".join(out)


def _cql(s: _Scanner, lookup: UdtLookup | None) -> CqlType:
    s.enter()
    if s.peek() == "'":
        class_name = _cql_string(s)
        try:
            result = parse_marshal_type(class_name)
        except TypeStringError:
            result = CustomType(class_name)
        s.depth -= 1
        return result
    start = s.pos
    name, quoted = _cql_ident(s)
    if not quoted and s.peek() == "<" and name in ("frozen", "list", "set", "map", "tuple", "vector"):
        s.pos += 1
        result = _cql_generic(s, name, lookup)
        s.expect(">")
    elif not quoted and name in NATIVE_TYPES and s.peek() != ".":
        result = NATIVE_TYPES[name]
    else:
        keyspace: str | None = None
        if s.peek() == ".":
            s.pos += 1
            keyspace = name
            name, _ = _cql_ident(s)
        found = lookup(keyspace, name) if lookup is not None else None
        if found is None:
            shown = name if keyspace is None else f"{keyspace}.{name}"
            reason = "no lookup was given" if lookup is None else "the lookup does not know it"
            raise s.error(f"unknown type {shown!r} ({reason})", start)
        result = found
    s.depth -= 1
    return result


def _cql_generic(s: _Scanner, name: str, lookup: UdtLookup | None) -> CqlType:
    if name == "frozen":
        return _freeze(_cql(s, lookup))
    if name in ("list", "set"):
        elem = _cql(s, lookup)
        return ListType(elem) if name == "list" else SetType(elem)
    if name == "map":
        key = _cql(s, lookup)
        s.expect(",")
        return MapType(key, _cql(s, lookup))
    if name == "tuple":
        elems = [_cql(s, lookup)]
        while s.peek() == ",":
            s.pos += 1
            elems.append(_cql(s, lookup))
        return TupleType(tuple(elems))
    # vector<elem, n>
    elem = _cql(s, lookup)
    s.expect(",")
    s.skip_ws()
    start = s.pos
    while s.pos < len(s.text) and s.text[s.pos].isdigit():
        s.pos += 1
    digits = s.text[start : s.pos]
    if not digits or int(digits) <= 0:
        raise s.error("expected a positive vector dimension", start)
    return VectorType(elem, int(digits))


def marshal_name(t: CqlType) -> str:
    """The Java marshal class string of a type (how custom [option]s and vectors are spelled).

    Example:
        >>> from aiocql.protocol.cqltypes import FLOAT, VectorType
        >>> marshal_name(VectorType(FLOAT, 3))
        'org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)'
    """
    if isinstance(t, NativeType):
        return MARSHAL_PREFIX + MARSHAL_CLASSES[t.name]
    if isinstance(t, CustomType):
        return t.class_name
    if isinstance(t, VectorType):
        return f"{MARSHAL_PREFIX}VectorType({marshal_name(t.elem)},{t.dimension})"
    inner: str
    if isinstance(t, ListType):
        inner = f"{MARSHAL_PREFIX}ListType({marshal_name(t.elem)})"
    elif isinstance(t, SetType):
        inner = f"{MARSHAL_PREFIX}SetType({marshal_name(t.elem)})"
    elif isinstance(t, MapType):
        inner = f"{MARSHAL_PREFIX}MapType({marshal_name(t.key)},{marshal_name(t.value)})"
    elif isinstance(t, TupleType):
        return f"{MARSHAL_PREFIX}TupleType({','.join(marshal_name(e) for e in t.elems)})"
    elif isinstance(t, UdtType):
        fields = "".join(
            f",{n.encode().hex()}:{marshal_name(ft)}" for n, ft in zip(t.field_names, t.field_types, strict=True)
        )
        inner = f"{MARSHAL_PREFIX}UserType({t.keyspace},{t.name.encode().hex()}{fields})"
    else:
        raise InvalidValueError(f"cannot name {t!r}")
    return f"{MARSHAL_PREFIX}FrozenType({inner})" if t.frozen else inner
