"""User types read as the user's own classes on a real node (``register_user_type``): columns, nested
in lists, maps, sets and other user types, written back as instances, mismatches, per cluster and per
session registrations, typed rows with a UDT field."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest

from aiocql import Cluster, InvalidValueError, Session, object_factory
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl

pytestmark = pytest.mark.server


@dataclass(frozen=True)
class Address:
    street: str
    zip: int | None = None


@dataclass
class Person:
    home: Address | None  # not the UDT's field order: built by name
    name: str


class AddressTuple(NamedTuple):
    street: str
    zip: int | None


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        "CREATE TYPE IF NOT EXISTS address (street text, zip int)",
        "CREATE TYPE IF NOT EXISTS person (name text, home frozen<address>)",
        "CREATE TABLE IF NOT EXISTS udt_people (id int PRIMARY KEY, home address, others list<frozen<address>>, "
        "by_kind map<text, frozen<address>>, places set<frozen<address>>, who frozen<person>)",
    )


@pytest.fixture
async def cluster(cassandra: ServerInfo) -> Any:
    async with Cluster(**cluster_kwargs(cassandra)) as c:
        yield c


A = Address("Main St", 12345)
B = Address("Side St", None)
PERSON = Person(home=B, name="Ann")


async def _write(session: Session, id_: int) -> None:
    ps = await session.prepare(
        "INSERT INTO udt_people (id, home, others, by_kind, places, who) VALUES (?, ?, ?, ?, ?, ?)"
    )
    # Writes take instances of the registered classes (their attributes), nested too.
    await session.execute(ps, (id_, A, [A, B], {"work": B}, {A, B}, PERSON))


async def test_registered_dataclasses_are_read_at_every_depth_and_written_back(cluster: Cluster, keyspace: str) -> None:
    cluster.register_user_type(keyspace, "address", Address)
    cluster.register_user_type(keyspace, "person", Person)
    session = await cluster.connect(keyspace)
    await _write(session, 1)
    row = (await session.execute("SELECT home, others, by_kind, places, who FROM udt_people WHERE id = 1")).one()
    assert type(row.home) is Address and row.home == A
    assert row.others == [A, B] and all(type(a) is Address for a in row.others)
    assert row.by_kind == {"work": B}
    assert row.places == {A, B}  # a set of frozen (hashable) dataclasses
    assert row.who == PERSON and type(row.who.home) is Address
    # Read values go back in as they are (prepared and unprepared writes alike).
    ps = await session.prepare("SELECT * FROM udt_people WHERE id = ?")
    await session.execute(
        "INSERT INTO udt_people (id, home, others, who) VALUES (?, ?, ?, ?)", (2, row.home, row.others, row.who)
    )
    again = (await session.execute(ps, (2,))).one()
    assert (again.home, again.others, again.who) == (A, [A, B], PERSON)


@pytest.mark.parametrize("version", [4, 5])
async def test_results_read_after_registering_use_the_class(cassandra: ServerInfo, keyspace: str, version: int) -> None:
    # v5 skips the result metadata of a prepared SELECT: its rows are decoded with the metadata the
    # statement kept from before the registration, which must not keep the old classes.
    async with Cluster(**cluster_kwargs(cassandra, protocol_version=version)) as cluster:
        await _read_after_registering(cluster, keyspace)


async def _read_after_registering(cluster: Cluster, keyspace: str) -> None:
    session = await cluster.connect(keyspace)
    await _write(session, 3)
    ps = await session.prepare("SELECT home, others FROM udt_people WHERE id = ?")
    before = (await session.execute(ps, (3,))).one()
    plain = (await session.execute("SELECT home FROM udt_people WHERE id = 3")).one()
    assert type(before.home) is not Address and before.home.street == "Main St"  # the namedtuple
    assert type(plain.home) is type(before.home)
    cluster.register_user_type(keyspace, "address", AddressTuple)
    after = (await session.execute(ps, (3,))).one()  # same prepared statement, metadata decoded before
    assert type(after.home) is AddressTuple and after.others == [AddressTuple("Main St", 12345), ("Side St", None)]
    assert type((await session.execute("SELECT home FROM udt_people WHERE id = 3")).one().home) is AddressTuple
    cluster.register_user_type(keyspace, "address", Address)  # registering again replaces it
    assert (await session.execute(ps, (3,))).one().home == A


async def test_a_class_that_does_not_fit_is_refused_naming_the_fields(cluster: Cluster, keyspace: str) -> None:
    @dataclass
    class StreetOnly:
        street: str

    class NeedsCountry:
        def __init__(self, street: str, zip: int, country: str) -> None: ...

    session = await cluster.connect(keyspace)  # the schema metadata knows the type: refused at once
    with pytest.raises(InvalidValueError, match=r"address does not fit its fields \(street, zip\).*field zip"):
        cluster.register_user_type(keyspace, "address", StreetOnly)
    with pytest.raises(InvalidValueError, match=r"no UDT field fills required argument country"):
        cluster.register_user_type(keyspace, "address", NeedsCountry)
    assert cluster.udt_classes.get(keyspace, "address") is None  # a refused class is not registered
    await _write(session, 4)
    # A session registration is checked when the first result with the type is decoded.
    session.register_user_type(keyspace, "address", StreetOnly)
    with pytest.raises(InvalidValueError, match=r"StreetOnly registered for user type .*address.*field zip"):
        await session.execute("SELECT others FROM udt_people WHERE id = 4")
    session.register_user_type(keyspace, "address", Address)
    assert (await session.execute("SELECT others FROM udt_people WHERE id = 4")).one().others == [A, B]


async def test_two_clusters_and_two_sessions_keep_their_own_classes(
    cassandra: ServerInfo, cluster: Cluster, keyspace: str
) -> None:
    cluster.register_user_type(keyspace, "address", Address)
    mine = await cluster.connect(keyspace)
    other_session = await cluster.connect(keyspace)
    other_session.register_user_type(keyspace, "address", AddressTuple)  # this session only
    await _write(mine, 5)
    query = "SELECT home, others FROM udt_people WHERE id = 5"
    async with Cluster(**cluster_kwargs(cassandra)) as plain_cluster:
        plain = await plain_cluster.connect(keyspace)
        for _ in range(3):  # interleaved, concurrently: each sees its own registration only
            a, b, c = await asyncio.gather(mine.execute(query), other_session.execute(query), plain.execute(query))
            assert type(a.one().home) is Address and a.one().others == [A, B]
            assert type(b.one().home) is AddressTuple
            assert type(c.one().home) not in (Address, AddressTuple) and c.one().home.zip == 12345


async def test_typed_rows_with_a_udt_field(cluster: Cluster, keyspace: str) -> None:
    @dataclass
    class Row:
        id: int
        home: Address
        who: Person

    cluster.register_user_type(keyspace, "address", Address)
    cluster.register_user_type(keyspace, "person", Person)
    session = await cluster.connect(keyspace)
    await _write(session, 6)
    rs = await session.execute("SELECT id, home, who FROM udt_people WHERE id = 6", row_factory=object_factory(Row))
    assert rs.one() == Row(6, A, PERSON)
