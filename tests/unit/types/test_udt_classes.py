"""User types decoded as the user's own classes: the decoder hook, its one-time check, the caches keyed
by the registry (server-free; the real-server side is tests/integration/test_udt_classes.py)."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

import aiocql.types.udt_classes as udt_classes
from aiocql import Cluster, InvalidValueError, object_factory
from aiocql.model.result_metadata import metadata_for
from aiocql.protocol.cqltypes import INT, TEXT, ListType, MapType, SetType, TupleType, UdtType
from aiocql.protocol.results import ColumnSpec
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.composite_decoders import udt_class
from aiocql.types.udt_classes import NO_UDT_CLASSES, ClassUdtType, UdtClasses, bind_classes

ADDRESS = UdtType("ks", "address", ("street", "zip"), (TEXT, INT))
PERSON = UdtType("ks", "person", ("name", "home"), (TEXT, ADDRESS))


@dataclass
class Address:
    zip: int  # declared in another order than the UDT: built by name
    street: str


@dataclass(frozen=True)
class FrozenAddress:
    street: str
    zip: int


class AddressTuple(NamedTuple):
    street: str
    zip: int


class Loose:
    def __init__(self, **fields: Any) -> None:
        self.fields = fields


@dataclass
class Person:
    name: str
    home: Address | None


def _decode(t: Any, classes: UdtClasses, value: object) -> object:
    data = encoder_for(t, "test")(value)
    return decoder_for(bind_classes(t, classes))(memoryview(data))


def _reg(*entries: tuple[str, type[Any]]) -> UdtClasses:
    reg = NO_UDT_CLASSES
    for name, cls in entries:
        reg = reg.with_class("ks", name, cls)
    return reg


def test_a_dataclass_is_built_by_field_name() -> None:
    assert _decode(ADDRESS, _reg(("address", Address)), ("Main St", 12345)) == Address(zip=12345, street="Main St")


def test_a_namedtuple_in_field_order_and_a_kwargs_class() -> None:
    value = _decode(ADDRESS, _reg(("address", AddressTuple)), ("Main St", 1))
    assert type(value) is AddressTuple and value == ("Main St", 1)
    loose = _decode(ADDRESS, _reg(("address", Loose)), ("Main St", 1))
    assert isinstance(loose, Loose) and loose.fields == {"street": "Main St", "zip": 1}


def test_classes_without_a_signature_get_the_fields_as_keywords() -> None:
    assert _decode(ADDRESS, _reg(("address", dict)), ("Main St", 1)) == {"street": "Main St", "zip": 1}
    ns = _decode(ADDRESS, _reg(("address", types.SimpleNamespace)), ("Main St", 1))
    assert ns == types.SimpleNamespace(street="Main St", zip=1)


def test_missing_trailing_fields_reach_the_class_as_none() -> None:
    decode = decoder_for(bind_classes(ADDRESS, _reg(("address", Address))))
    assert decode(memoryview(b"")) == Address(zip=None, street=None)  # type: ignore[arg-type]


def test_nested_in_collections_tuples_and_other_udts() -> None:
    reg = _reg(("address", Address))
    a, b = ("A St", 1), ("B St", 2)
    assert _decode(ListType(ADDRESS), reg, [a, b]) == [Address(1, "A St"), Address(2, "B St")]
    assert _decode(MapType(TEXT, ADDRESS), reg, {"home": a}) == {"home": Address(1, "A St")}
    assert _decode(TupleType((INT, ADDRESS)), reg, (7, b)) == (7, Address(2, "B St"))
    # The outer UDT stays a namedtuple (not registered); its field is the class.
    outer = _decode(PERSON, reg, ("Ann", a))
    assert type(outer) is not Person and outer.name == "Ann" and outer.home == Address(1, "A St")  # type: ignore[attr-defined]
    both = _decode(PERSON, reg.with_class("ks", "person", Person), ("Ann", a))
    assert both == Person("Ann", Address(1, "A St"))
    assert _decode(ListType(PERSON), reg.with_class("ks", "person", Person), [("Bo", None)]) == [Person("Bo", None)]


def test_in_a_set_or_map_key_the_class_must_be_hashable() -> None:
    assert _decode(SetType(ADDRESS), _reg(("address", FrozenAddress)), [("A", 1)]) == {FrozenAddress("A", 1)}
    assert _decode(MapType(ADDRESS, INT), _reg(("address", AddressTuple)), {("A", 1): 5}) == {AddressTuple("A", 1): 5}
    with pytest.raises(InvalidValueError, match=r"class Address registered for user type ks.address is not hashable"):
        decoder_for(bind_classes(SetType(ADDRESS), _reg(("address", Address))))


def test_a_class_lacking_a_field_is_refused_naming_it() -> None:
    @dataclass
    class StreetOnly:
        street: str

    with pytest.raises(InvalidValueError) as info:
        decoder_for(bind_classes(ListType(ADDRESS), _reg(("address", StreetOnly))))
    assert "user type ks.address does not fit its fields (street, zip)" in str(info.value)
    assert "has no field for UDT field zip" in str(info.value)


def test_a_required_argument_that_is_no_field_is_refused_naming_it() -> None:
    class NeedsCountry:
        def __init__(self, street: str, zip: int, country: str, planet: str) -> None: ...

    with pytest.raises(InvalidValueError, match=r"no UDT field fills required arguments country, planet"):
        decoder_for(bind_classes(ADDRESS, _reg(("address", NeedsCountry))))

    class PositionalOnly:
        def __init__(self, street: str, zip: int, /) -> None: ...

    with pytest.raises(InvalidValueError, match=r"no field for UDT fields street, zip"):
        decoder_for(bind_classes(ADDRESS, _reg(("address", PositionalOnly))))


def test_the_class_is_checked_once_per_type_not_per_value(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = udt_classes.constructor_fields

    def counting(cls: Any, what: str) -> Any:
        calls.append(cls)
        return real(cls, what)

    monkeypatch.setattr(udt_classes, "constructor_fields", counting)

    @dataclass
    class Fresh:  # a new class: no decoder of it is cached yet
        street: str
        zip: int

    decode = decoder_for(bind_classes(ListType(ADDRESS), _reg(("address", Fresh))))
    data = memoryview(encoder_for(ListType(ADDRESS), "t")([("a", i) for i in range(50)]))
    for _ in range(3):
        assert decode(data)[49] == Fresh("a", 49)  # type: ignore[index]
    assert decoder_for(bind_classes(ListType(ADDRESS), _reg(("address", Fresh)))) is decode  # cached
    assert calls == [Fresh]


def test_an_error_in_the_users_class_is_a_cql_error() -> None:
    class Picky:
        def __init__(self, street: str, zip: int) -> None:
            if zip < 0:
                raise ValueError("negative zip")

    with pytest.raises(InvalidValueError, match=r"Picky registered for user type ks.address: building a value") as info:
        _decode(ADDRESS, _reg(("address", Picky)), ("x", -1))
    assert isinstance(info.value.__cause__, ValueError)


def test_non_identifier_field_names_match_their_identifier_form() -> None:
    t = UdtType("ks", "addr", ("zip code",), (INT,))

    @dataclass
    class Addr:
        zip_code: int

    assert _decode(t, _reg(("addr", Addr)), (9,)) == Addr(9)

    @dataclass
    class Move:
        from_: str
        to: str

    move = UdtType("ks", "move", ("from", "to"), (TEXT, TEXT))
    assert _decode(move, _reg(("move", Move)), ("a", "b")) == Move("a", "b")


def test_registries_do_not_see_each_others_classes() -> None:
    a, b = _reg(("address", Address)), _reg(("address", AddressTuple))
    assert bind_classes(ADDRESS, a) != bind_classes(ADDRESS, b) != ADDRESS
    assert type(_decode(ADDRESS, a, ("s", 1))) is Address
    assert type(_decode(ADDRESS, b, ("s", 1))) is AddressTuple
    assert type(_decode(ADDRESS, NO_UDT_CLASSES, ("s", 1))) is udt_class(ADDRESS)  # the namedtuple, unchanged
    other_keyspace = UdtType("other", "address", ADDRESS.field_names, ADDRESS.field_types)
    assert bind_classes(other_keyspace, a) is other_keyspace


def test_registering_again_replaces_the_class() -> None:
    reg = _reg(("address", Address)).with_class("ks", "address", AddressTuple)
    assert reg.get("ks", "address") is AddressTuple and len(reg.entries) == 1
    assert reg.merged(_reg(("address", Address))).get("ks", "address") is Address
    assert reg.merged(NO_UDT_CLASSES) is reg and NO_UDT_CLASSES.merged(reg) is reg


@pytest.mark.parametrize(
    ("keyspace", "name", "cls", "match"),
    [
        ("ks", "address", Address(1, "x"), "must be a class"),
        ("ks", "address", lambda **kw: kw, "must be a class"),
        ("", "address", Address, "keyspace must be a non-empty str"),
        ("ks", None, Address, "user_type must be a non-empty str"),
    ],
)
def test_bad_registrations_are_refused(keyspace: Any, name: Any, cls: Any, match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        NO_UDT_CLASSES.with_class(keyspace, name, cls)
    with pytest.raises(InvalidValueError, match=match):
        Cluster().register_user_type(keyspace, name, cls)


def test_result_metadata_decodes_rows_with_the_registry() -> None:
    cols = (ColumnSpec("ks", "t", "id", INT), ColumnSpec("ks", "t", "home", ADDRESS))
    meta = metadata_for(cols)
    body = b"".join(len(v).to_bytes(4, "big") + v for v in (b"\0\0\0\1", encoder_for(ADDRESS, "t")(("s", 2))))
    reg = _reg(("address", Address))
    plain = meta.decoder_for(NO_UDT_CLASSES).decode_rows(memoryview(body), 0, 1)
    assert meta.decoder_for(NO_UDT_CLASSES) is meta.decoder and type(plain[0][1]) is udt_class(ADDRESS)
    rows = meta.decoder_for(reg).decode_rows(memoryview(body), 0, 1)
    assert rows == [(1, Address(2, "s"))] and meta.decoder_for(reg) is meta.decoder_for(reg)
    # The column types a ResultSet shows stay the schema's.
    assert meta.decoder.column_types == (INT, ADDRESS)

    @dataclass
    class Row:  # a typed row whose field is the registered class
        id: int
        home: Address

    assert object_factory(Row)(meta.names, rows) == [Row(1, Address(2, "s"))]


def test_cluster_registrations_are_per_cluster() -> None:
    one, two = Cluster(), Cluster()
    one.register_user_type("ks", "address", Address)
    assert one.udt_classes.get("ks", "address") is Address
    assert two.udt_classes is NO_UDT_CLASSES and Cluster.udt_classes is NO_UDT_CLASSES


def test_bound_types_keep_the_udt_identity_for_encoders() -> None:
    bound = bind_classes(ADDRESS, _reg(("address", Address)))
    assert isinstance(bound, ClassUdtType) and isinstance(bound, UdtType) and bound.cql_name == ADDRESS.cql_name
    # Writes: an instance of the registered class is encoded through its attributes.
    data = encoder_for(ADDRESS, "column 'home'")(Address(zip=5, street="x"))
    assert data == encoder_for(ADDRESS, "column 'home'")(("x", 5))


@pytest.mark.parametrize("compiled", [False, True], ids=["pure", "compiled"])
def test_both_row_cores_build_the_registered_class(compiled: bool) -> None:
    from aiocql.types import speedups
    from aiocql.types.rows import RowDecoder

    if compiled and speedups.core is None:
        pytest.skip("the compiled core is not built here")
    types = [INT, ListType(ADDRESS), ADDRESS]
    body = b"".join(
        len(v).to_bytes(4, "big") + v
        for v in (b"\0\0\0\7", encoder_for(types[1], "t")([("a", 1)]), encoder_for(ADDRESS, "t")(("b", 2)))
    )
    reg = _reg(("address", Address))
    decoder = RowDecoder([bind_classes(t, reg) for t in types], compiled=compiled)
    assert decoder.compiled is compiled
    assert decoder.decode_rows(memoryview(body), 0, 1) == [(7, [Address(1, "a")], Address(2, "b"))]
