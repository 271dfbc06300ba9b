"""The type tree: names, equality, fixed sizes."""

from __future__ import annotations

import pytest

from aiocql.protocol import cqltypes as ct


def test_cql_names() -> None:
    assert ct.MapType(ct.TEXT, ct.ListType(ct.INT), frozen=True).cql_name == "frozen<map<text, list<int>>>"
    assert ct.VectorType(ct.FLOAT, 3).cql_name == "vector<float, 3>"
    assert ct.SetType(ct.ListType(ct.INT, frozen=True)).cql_name == "set<frozen<list<int>>>"
    assert ct.TupleType((ct.INT, ct.TEXT)).cql_name == "frozen<tuple<int, text>>"
    assert ct.UdtType("ks", "Addr", ("a",), (ct.INT,)).cql_name == '"Addr"'
    assert ct.CustomType("a.B'c").cql_name == "'a.B''c'"
    assert str(ct.INT) == "int"


def test_varchar_is_text() -> None:
    assert ct.NativeType("varchar") is not ct.TEXT
    assert ct.NativeType("VARCHAR") == ct.TEXT == ct.VARCHAR
    assert ct.NATIVE_TYPES["varchar"] is ct.TEXT


def test_unknown_native_name() -> None:
    with pytest.raises(ValueError, match="unknown native CQL type 'integer'"):
        ct.NativeType("integer")


def test_frozen_is_presentation_only() -> None:
    a, b = ct.ListType(ct.INT), ct.ListType(ct.INT, frozen=True)
    assert a == b and hash(a) == hash(b) and a.cql_name != b.cql_name


def test_types_are_immutable_and_hashable() -> None:
    t = ct.UdtType("ks", "u", ["a", "b"], [ct.INT, ct.TEXT])  # type: ignore[arg-type]  # lists become tuples
    assert t.field_names == ("a", "b") and hash(t) == hash(ct.UdtType("ks", "u", ("a", "b"), (ct.INT, ct.TEXT)))
    with pytest.raises(AttributeError):
        t.name = "v"  # type: ignore[misc]
    with pytest.raises(ValueError, match="2 field names but 1 field types"):
        ct.UdtType("ks", "u", ("a", "b"), (ct.INT,))


@pytest.mark.parametrize(
    ("t", "size"),
    [
        (ct.BOOLEAN, 1), (ct.INT, 4), (ct.FLOAT, 4), (ct.BIGINT, 8), (ct.DOUBLE, 8), (ct.TIMESTAMP, 8),
        (ct.UUID, 16), (ct.TIMEUUID, 16),
        # fixed on the wire, but Cassandra 5.0 does not declare them fixed: vint-prefixed in vectors
        (ct.SMALLINT, None), (ct.TINYINT, None), (ct.DATE, None), (ct.TIME, None), (ct.COUNTER, None),
        (ct.TEXT, None), (ct.DECIMAL, None), (ct.VARINT, None), (ct.INET, None), (ct.DURATION, None),
        (ct.VectorType(ct.FLOAT, 3), 12), (ct.VectorType(ct.VectorType(ct.DOUBLE, 2), 3), 48),
        (ct.VectorType(ct.TEXT, 3), None), (ct.ListType(ct.INT), None),
    ],
)  # fmt: skip
def test_serialized_size(t: ct.CqlType, size: int | None) -> None:
    assert t.serialized_size == size
    assert t.is_fixed_size is (size is not None)


def test_vector_dimension_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ct.VectorType(ct.FLOAT, 0)


@pytest.mark.parametrize(("name", "quoted"), [("a_1", "a_1"), ("A", '"A"'), ("1a", '"1a"'), ('q"', '"q"""')])
def test_quote_identifier(name: str, quoted: str) -> None:
    assert ct.quote_identifier(name) == quoted


def test_bad_type_constructions_raise_the_drivers_value_error() -> None:
    # Users catch aiocql.CqlError: building an impossible type never raises a bare builtin error.
    from aiocql import CqlError, InvalidValueError
    from aiocql.protocol.cqltypes import INT, NativeType, UdtType, VectorType

    for make in (
        lambda: NativeType("no_such_type"),
        lambda: VectorType(INT, 0),
        lambda: UdtType("ks", "u", ("a", "b"), (INT,)),
    ):
        with pytest.raises(InvalidValueError) as info:
            make()
        assert isinstance(info.value, CqlError)


def test_internal_misuse_in_types_raises_the_drivers_value_error() -> None:
    from aiocql import CqlError
    from aiocql.protocol.cqltypes import INT
    from aiocql.protocol.primitives import write_unsigned_vint
    from aiocql.types.rows import ValuesEncoder

    with pytest.raises(CqlError, match=r"\[unsigned vint\] must be >= 0"):
        write_unsigned_vint(-1)
    with pytest.raises(CqlError, match="column names but"):
        ValuesEncoder(("a", "b"), (INT,))


def test_out_of_range_vints_raise_the_drivers_value_error() -> None:
    from aiocql import CqlError
    from aiocql.protocol.primitives import write_unsigned_vint, write_vint

    with pytest.raises(CqlError, match=r"\[unsigned vint\] must be < 2\*\*64"):
        write_unsigned_vint(2**64)
    with pytest.raises(CqlError, match=r"\[vint\] must fit in 64 bits"):
        write_vint(2**63)
