"""Type-string parsers: Java marshal classes and CQL as system_schema writes it."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aiocql.protocol import cqltypes as ct
from aiocql.protocol.typestring import TypeStringError, marshal_name, parse_cql_type, parse_marshal_type

from .strategies import cql_types

M = "org.apache.cassandra.db.marshal."
ADDRESS = ct.UdtType("ks", "address", ("street", "zip"), (ct.TEXT, ct.INT))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{M}Int32Type", ct.INT),
        ("UTF8Type", ct.TEXT),
        (f"{M}DateType", ct.TIMESTAMP),
        (f"{M}ReversedType({M}TimestampType)", ct.TIMESTAMP),
        (f"{M}FrozenType({M}ListType({M}Int32Type))", ct.ListType(ct.INT, frozen=True)),
        (f"{M}MapType({M}UTF8Type,{M}ListType({M}Int32Type))", ct.MapType(ct.TEXT, ct.ListType(ct.INT))),
        (f"{M}SetType({M}UUIDType)", ct.SetType(ct.UUID)),
        (f"{M}TupleType({M}Int32Type,{M}UTF8Type)", ct.TupleType((ct.INT, ct.TEXT))),
        (f"{M}VectorType({M}FloatType,1536)", ct.VectorType(ct.FLOAT, 1536)),
        (f"{M}VectorType({M}UTF8Type, 2)", ct.VectorType(ct.TEXT, 2)),
        (
            f"{M}UserType(ks,61646472657373,737472656574:{M}UTF8Type,7a6970:{M}Int32Type)",
            ADDRESS,
        ),
        (
            f"{M}FrozenType({M}UserType(ks,61646472657373,737472656574:{M}UTF8Type,7a6970:{M}Int32Type))",
            ADDRESS,
        ),
        (f"{M}UserType(ks,c3a9)", ct.UdtType("ks", "é", (), ())),
        (" com.example.Point ", ct.CustomType("com.example.Point")),
        (f"com.example.{'UTF8Type'}", ct.CustomType("com.example.UTF8Type")),
        (
            f"{M}CompositeType({M}UTF8Type,{M}Int32Type)",
            ct.CustomType(f"{M}CompositeType({M}UTF8Type,{M}Int32Type)"),
        ),
        (
            f"{M}ListType({M}DynamicCompositeType(a=>{M}BytesType,b=>{M}UTF8Type))",
            ct.ListType(ct.CustomType(f"{M}DynamicCompositeType(a=>{M}BytesType,b=>{M}UTF8Type)")),
        ),
    ],
)
def test_marshal(text: str, expected: ct.CqlType) -> None:
    assert parse_marshal_type(text) == expected


def test_marshal_frozen_flag() -> None:
    assert parse_marshal_type(f"{M}FrozenType({M}SetType({M}Int32Type))").cql_name == "frozen<set<int>>"
    assert parse_marshal_type(f"{M}SetType({M}Int32Type)").cql_name == "set<int>"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"expected a class name at position 0"),
        (f"{M}ListType(", r"expected a class name at position 41"),
        (f"{M}ListType({M}Int32Type", r"expected '\)' at position"),
        (f"{M}MapType({M}Int32Type)", r"expected ','.*found '\)'"),
        (f"{M}VectorType({M}FloatType,0)", r"vector dimension must be a positive integer, got '0'"),
        (f"{M}VectorType({M}FloatType,x)", r"vector dimension must be a positive integer, got 'x'"),
        (f"{M}UserType(ks,zz)", r"a hex-encoded type name 'zz' is not hex-encoded UTF-8"),
        (f"{M}UserType(ks,61,6a:)", r"expected a class name"),
        (f"{M}Int32Type)", r"unexpected '\)' after the type"),
        ("Foo(a(b)", r"unbalanced parentheses"),
        ("ListType(" * 100 + "Int32Type" + ")" * 100, r"nested deeper than 64 levels"),
    ],
)
def test_marshal_errors(text: str, message: str) -> None:
    with pytest.raises(TypeStringError, match=message) as info:
        parse_marshal_type(text)
    assert isinstance(info.value, ValueError)
    assert repr(text) in str(info.value)


@settings(max_examples=200, deadline=None)
@given(cql_types)
def test_marshal_roundtrip(t: ct.CqlType) -> None:
    assert parse_marshal_type(marshal_name(t)) == t


def _lookup(keyspace: str | None, name: str) -> ct.CqlType | None:
    if name == "address" and keyspace in (None, "ks"):
        return ADDRESS
    if name == "Quoted Type":
        return ct.UdtType("ks", "Quoted Type", ("a",), (ct.INT,))
    return None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", ct.INT),
        ("  VarChar ", ct.TEXT),
        ("frozen<map<text, list<int>>>", ct.MapType(ct.TEXT, ct.ListType(ct.INT))),
        ("map<text,frozen<list<int>>>", ct.MapType(ct.TEXT, ct.ListType(ct.INT))),
        ("set<frozen<tuple<int, text>>>", ct.SetType(ct.TupleType((ct.INT, ct.TEXT)))),
        ("tuple<int, text, frozen<list<blob>>>", ct.TupleType((ct.INT, ct.TEXT, ct.ListType(ct.BLOB)))),
        ("vector<float, 3>", ct.VectorType(ct.FLOAT, 3)),
        ("vector<text,2>", ct.VectorType(ct.TEXT, 2)),
        ("vector<vector<float, 2>, 3>", ct.VectorType(ct.VectorType(ct.FLOAT, 2), 3)),
        ("frozen<address>", ADDRESS),
        ("list<frozen<address>>", ct.ListType(ADDRESS)),
        ("ks.address", ADDRESS),
        ("Address", ADDRESS),
        ('"Quoted Type"', ct.UdtType("ks", "Quoted Type", ("a",), (ct.INT,))),
        ("'com.example.Point'", ct.CustomType("com.example.Point")),
        ("'org.apache.cassandra.db.marshal.DurationType'", ct.DURATION),
        ("'it''s'", ct.CustomType("it's")),
        ("duration", ct.DURATION),
    ],
)
def test_cql(text: str, expected: ct.CqlType) -> None:
    assert parse_cql_type(text, _lookup) == expected


def test_cql_names_survive() -> None:
    for text in [
        "frozen<map<text, list<int>>>",
        "vector<float, 3>",
        "frozen<tuple<int, text>>",
        "set<frozen<address>>",
    ]:
        assert parse_cql_type(text, _lookup).cql_name == text


@pytest.mark.parametrize(
    ("text", "lookup", "message"),
    [
        ("list<int", _lookup, r"invalid CQL type 'list<int': expected '>' at position 8"),
        ("map<int>", _lookup, r"expected ',', found '>' at position 7"),
        ("list<>", _lookup, r"expected a type name at position 5"),
        ("vector<float>", _lookup, r"expected ',', found '>' at position 12"),
        ("vector<float, 0>", _lookup, r"expected a positive vector dimension at position 14"),
        ("vector<float, -1>", _lookup, r"expected a positive vector dimension"),
        ("int int", _lookup, r"unexpected 'i' after the type at position 4"),
        ("nosuch", _lookup, r"unknown type 'nosuch' \(the lookup does not know it\) at position 0"),
        ("address", None, r"unknown type 'address' \(no lookup was given\)"),
        ("other.address", _lookup, r"unknown type 'other.address'"),
        ('"unterminated', _lookup, r"unterminated quoted identifier"),
        ("'unterminated", _lookup, r"unterminated quoted class name"),
        ("list<" * 70 + "int" + ">" * 70, _lookup, r"nested deeper than 64 levels"),
        ("", _lookup, r"expected a type name at position 0"),
    ],
)
def test_cql_errors(text: str, lookup: object, message: str) -> None:
    with pytest.raises(TypeStringError, match=message):
        parse_cql_type(text, lookup)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(cql_types)
def test_cql_roundtrip(t: ct.CqlType) -> None:
    udts: dict[str, ct.CqlType] = {}

    def collect(x: ct.CqlType) -> None:
        if isinstance(x, ct.UdtType):
            assume(udts.setdefault(x.name, x) == x)  # one definition per name, as in a keyspace
            for f in x.field_types:
                collect(f)
        for child in getattr(x, "elems", ()) or ():
            collect(child)
        for attr in ("elem", "key", "value"):
            if isinstance(getattr(x, attr, None), ct.CqlType):
                collect(getattr(x, attr))

    collect(t)
    assert parse_cql_type(t.cql_name, lambda ks, name: udts.get(name)) == t


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="<>,. '\"frozenlistmapsetupleintvectorabc0123()", max_size=30))
def test_cql_fuzz_only_type_string_errors(text: str) -> None:
    with contextlib.suppress(TypeStringError):
        parse_cql_type(text, _lookup)
    with contextlib.suppress(TypeStringError):
        parse_marshal_type(text)


def test_one_marshal_table_serves_both_directions() -> None:
    from aiocql.protocol.cqltypes import NATIVE_TYPES
    from aiocql.protocol.typestring import MARSHAL_CLASSES, MARSHAL_PREFIX

    for native in set(NATIVE_TYPES.values()):
        name = marshal_name(native)
        assert name == MARSHAL_PREFIX + MARSHAL_CLASSES[native.name]
        assert parse_marshal_type(name) == native
    assert parse_marshal_type(MARSHAL_PREFIX + "DateType") == NATIVE_TYPES["timestamp"]  # read, never written
    assert len(set(MARSHAL_CLASSES.values())) == len(MARSHAL_CLASSES)
