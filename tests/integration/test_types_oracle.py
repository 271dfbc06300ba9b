"""Every CQL type through a real server, cross-checked with cassandra-driver as the oracle.

Written with aiocql, read with cassandra-driver, and the reverse; and both drivers reading the same
rows. cassandra-driver's synchronous API runs in the test body (it blocks the loop briefly: it is the
oracle here, not the driver under test).

Values are compared through :func:`tests.helpers.oracle.canon`, which maps both drivers' Python
representations to one form. The differences it bridges, type by type:

==========  ==============================================  =============================================
CQL type    aiocql                                          cassandra-driver
==========  ==============================================  =============================================
timestamp   aware UTC ``datetime`` (int ms outside 1..9999)  naive UTC ``datetime`` via float seconds
                                                            (may be microseconds off far from 1970):
                                                            compared as milliseconds, rounded
date        ``datetime.date`` / ``Date`` (days)             ``util.Date`` (``days_from_epoch``)
time        ``Time`` (nanoseconds)                          ``util.Time`` (``nanosecond_time``)
duration    ``Duration``                                    ``util.Duration`` (same three fields)
inet        ``IPv4Address`` / ``IPv6Address``               ``str``
decimal     ``Decimal``                                     ``Decimal``: compared by ``as_tuple()``, so
                                                            the scale must match too (1.50 != 1.5)
float,      ``float``                                       ``float``; NaN compared as a marker, since
double                                                      NaN != NaN
set         ``set`` (``frozenset`` when nested)             ``util.SortedSet``: both as frozensets
map         ``dict`` (``FrozenMap`` when nested)            ``OrderedMapSerializedKey``: both as
                                                            frozensets of (key, value) pairs
list,       ``list`` (``tuple`` when nested)                ``list`` (``tuple`` when nested): both as
vector                                                      tuples
tuple, UDT  ``tuple`` / a namedtuple per UDT                ``tuple`` / a namedtuple per UDT: both as
                                                            positional tuples, missing fields as None
empty int   ``EMPTY``                                       ``None`` (checked separately)
==========  ==============================================  =============================================
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from aiocql import Session
from aiocql.protocol import cqltypes as ct
from aiocql.testing.pytest_plugin import ServerInfo
from aiocql.types.values import EMPTY, Date, Duration, Time
from tests.helpers.oracle import canon, to_cassandra_driver

from .conftest import VERSIONS, ddl

cassandra_cluster = pytest.importorskip("cassandra.cluster")
util = pytest.importorskip("cassandra.util")

pytestmark = pytest.mark.server

UTC = dt.UTC

SCHEMA = (
    "CREATE TYPE address (street text, zip int, tags frozen<set<text>>)",
    "CREATE TYPE person (name text, addr frozen<address>, nums frozen<list<int>>, born date)",
    """CREATE TABLE alltypes (
        k int PRIMARY KEY,
        a ascii, bi bigint, bl blob, bo boolean, d date, de decimal, db double, du duration, f float,
        i inet, n int, si smallint, t text, tm time, ts timestamp, tu timeuuid, ti tinyint, u uuid,
        vi varint,
        l list<int>, s set<text>, m map<text, int>,
        nl frozen<list<frozen<map<int, text>>>>,
        sl set<frozen<list<int>>>,
        mm map<frozen<set<int>>, frozen<list<text>>>,
        lt list<frozen<tuple<int, text>>>,
        tp tuple<int, text, frozen<list<int>>, frozen<tuple<boolean, double>>>,
        ud frozen<person>,
        un address,
        lu list<frozen<person>>,
        vf vector<float, 3>,
        vt vector<text, 2>,
        vl vector<frozen<list<int>>, 2>
    )""",
    "CREATE TABLE counters (k int PRIMARY KEY, c counter)",
    "CREATE TABLE empties (k int PRIMARY KEY, n int, bi bigint, bo boolean, d date)",
)

ADDRESS = ("Main St 1", 12345, {"home", "ünïcode"})
TYPICAL: dict[str, Any] = {
    "a": "plain ascii ~!",
    "bi": 1234567890123,
    "bl": b"\x00\x01binary\xff",
    "bo": True,
    "d": dt.date(2024, 2, 29),
    "de": Decimal("3.14159265358979323846264338327950288"),
    "db": 2.718281828459045,
    "du": Duration(14, 3, 3_600_000_000_123),
    "f": 1.5,
    "i": ipaddress.ip_address("192.168.0.1"),
    "n": 42,
    "si": 1234,
    "t": "text ✓",
    "tm": Time(45_296_789_012_345),  # 12:34:56.789012345
    "ts": dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
    "tu": uuid.UUID("d2177dd0-eaa2-11de-a572-001b779c76e3"),
    "ti": 7,
    "u": uuid.UUID("01234567-89ab-cdef-0123-456789abcdef"),
    "vi": 12345678901234567890123456789,
    "l": [3, 1, 2, 3],
    "s": {"b", "a", "ç"},
    "m": {"one": 1, "two": 2},
    "nl": [{1: "a", 2: "b"}, {}, {3: ""}],
    "sl": {(1, 2), (), (3,)},
    "mm": {frozenset({1, 2}): ["x", "y"], frozenset(): []},
    "lt": [(1, "a"), (2, None)],
    "tp": (1, "t", [1, 2], (True, -0.5)),
    "ud": ("Ada", ADDRESS, [1, 2, 3], dt.date(1815, 12, 10)),
    "un": ("Elm St", None, {"x"}),
    "lu": [("A", ADDRESS, [], dt.date(2000, 1, 1)), ("B", None, [7], None)],
    "vf": [1.0, -2.5, 3.25],
    "vt": ["vector", "ünï"],
    "vl": [[1, 2], []],
}
LOW: dict[str, Any] = {
    "a": "",
    "bi": -(2**63),
    "bl": b"",
    "bo": False,
    "d": Date(-(2**31)),  # the smallest CQL date, year -5877641
    "de": Decimal("-0.000000000000000000001"),
    "db": -math.inf,
    "du": Duration(-(2**31), -(2**31), -(2**63)),
    "f": -math.inf,
    "i": ipaddress.ip_address("::"),
    "n": -(2**31),
    "si": -(2**15),
    "t": "",
    "tm": Time(0),
    "ts": dt.datetime(1, 1, 1, tzinfo=UTC),
    "tu": uuid.UUID("00000000-0000-1000-8000-000000000000"),
    "ti": -128,
    "u": uuid.UUID(int=0),
    "vi": -(2**200) - 1,
    "l": [-(2**31)],
    "s": {""},
    "m": {"": -(2**31)},
    "nl": [],
    "sl": {()},
    "mm": {frozenset(): []},
    "lt": [(None, None)],
    "tp": (None, None, None, None),
    "ud": (None, None, None, None),
    # A non-frozen UDT is stored field by field: with every field null nothing is left, and it reads
    # back as null (in both drivers); one set field keeps it.
    "un": (None, 0, None),
    "lu": [(None, None, None, None)],
    "vf": [-math.inf, -3.4028234663852886e38, -1.401298464324817e-45],
    "vt": ["", ""],
    "vl": [[], []],
}
HIGH: dict[str, Any] = {
    "a": "".join(map(chr, range(128))),
    "bi": 2**63 - 1,
    "bl": bytes(range(256)) * 4,
    "bo": True,
    "d": Date(2**31 - 1),
    "de": Decimal("1E+1000"),
    "db": math.nan,
    "du": Duration(2**31 - 1, 2**31 - 1, 2**63 - 1),
    "f": math.nan,
    "i": ipaddress.ip_address("2001:db8::ff00:42:8329"),
    "n": 2**31 - 1,
    "si": 2**15 - 1,
    "t": "日本語 😀 \u0000 end",
    "tm": Time(86_399_999_999_999),
    "ts": dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    "tu": uuid.UUID("ffffffff-ffff-1fff-bfff-ffffffffffff"),
    "ti": 127,
    "u": uuid.UUID(int=2**128 - 1),
    "vi": 2**300,
    "l": list(range(1000)),
    "s": {str(i) for i in range(100)},
    "m": {f"k{i}": i for i in range(100)},
    "nl": [{i: str(i)} for i in range(50)],
    "sl": {tuple(range(i)) for i in range(20)},
    "mm": {frozenset(range(i)): [str(i)] * i for i in range(10)},
    "lt": [(2**31 - 1, "z" * 1000)],
    "tp": (2**31 - 1, "😀", list(range(100)), (False, math.inf)),
    "ud": ("x" * 10_000, ("s", 0, set()), [-1], Date(2**31 - 1)),
    "un": ("", -1, set()),
    "lu": [("n", ADDRESS, [1], None)] * 20,
    "vf": [math.inf, 3.4028234663852886e38, math.nan],
    "vt": ["x" * 5000, "é"],
    "vl": [list(range(100)), [0]],
}
PRE_1970: dict[str, Any] = {
    "d": dt.date(1, 1, 1),
    "ts": dt.datetime(1900, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
    "tu": uuid.uuid1(),
    "de": Decimal("-1.50"),  # a scale to keep: -150 * 10**-2
    "vi": -1,
    "db": -0.0,
    "f": 0.1,  # rounded to float32 on the wire: compared after the same rounding
    "i": ipaddress.ip_address("255.255.255.255"),
}
NULLS: dict[str, Any] = dict.fromkeys(TYPICAL)
ROWS = {1: TYPICAL, 2: LOW, 3: HIGH, 4: PRE_1970, 5: NULLS}
COLUMNS = tuple(TYPICAL)


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(server, keyspace, *SCHEMA)


@pytest.fixture(scope="module")
def oracle(server: ServerInfo, keyspace: str) -> Iterator[Any]:
    """A cassandra-driver session on the module keyspace (its own threads; shut down after the module)."""
    cluster = cassandra_cluster.Cluster(list(server.contact_points), port=server.port, protocol_version=5)
    session = cluster.connect(keyspace)
    yield session
    cluster.shutdown()


async def _column_types(session: Session) -> dict[str, ct.CqlType]:
    """The column types as the server describes them (the result metadata drives the comparison)."""
    rs = await session.execute(f"SELECT {', '.join(COLUMNS)} FROM alltypes LIMIT 1")
    return dict(zip(rs.column_names, rs.column_types, strict=True))


def _compare(types: dict[str, ct.CqlType], expected: dict[str, Any], got: dict[str, Any], label: str) -> None:
    wrong = {
        column: (expected[column], got[column])
        for column in expected
        if canon(types[column], expected[column]) != canon(types[column], got[column])
    }
    assert not wrong, f"{label}: {wrong}"


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_aiocql_writes_cassandra_driver_reads(session: Session, oracle: Any) -> None:
    base = 100 * session.pools[0].connections[0].version
    insert = await session.prepare(
        f"INSERT INTO alltypes (k, {', '.join(COLUMNS)}) VALUES (?, {', '.join('?' * len(COLUMNS))})"
    )
    for k, values in ROWS.items():
        await session.execute(insert, (base + k, *(values.get(c) for c in COLUMNS)))
    types = await _column_types(session)
    for k, values in ROWS.items():
        row = oracle.execute("SELECT * FROM alltypes WHERE k = %s", (base + k,)).one()
        got = {c: getattr(row, c) for c in values}
        _compare(types, values, got, f"row {k} read by cassandra-driver")


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_cassandra_driver_writes_aiocql_reads(session: Session, oracle: Any) -> None:
    base = 1000 + 100 * session.pools[0].connections[0].version
    types = await _column_types(session)
    insert = oracle.prepare(
        f"INSERT INTO alltypes (k, {', '.join(COLUMNS)}) VALUES (?, {', '.join('?' * len(COLUMNS))})"
    )
    for k, values in ROWS.items():
        oracle.execute(insert, (base + k, *(to_cassandra_driver(types[c], values.get(c)) for c in COLUMNS)))
    select = await session.prepare("SELECT * FROM alltypes WHERE k = ?")
    for k, values in ROWS.items():
        row = (await session.execute(select, (base + k,))).one()
        got = {c: getattr(row, c) for c in values}
        _compare(types, values, got, f"row {k} read by aiocql")
        # aiocql's own value types, per the mapping in aiocql.types.codecs.
        if k == 1:
            assert isinstance(row.ts, dt.datetime) and row.ts.tzinfo is not None
            assert type(row.d) is dt.date and type(row.tm) is Time and type(row.du) is Duration
            assert type(row.s) is set and type(row.m) is dict and type(row.l) is list
            assert type(row.sl) is set and all(type(x) is tuple for x in row.sl)
            assert row.ud.addr.street == "Main St 1" and row.ud._fields == ("name", "addr", "nums", "born")
            assert isinstance(row.i, ipaddress.IPv4Address)
        if k == 2:
            assert type(row.d) is Date and row.d.days == -(2**31)


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_both_drivers_read_the_same_rows(session: Session, oracle: Any) -> None:
    types = await _column_types(session)
    ours = {r.k: r for r in await (await session.execute("SELECT * FROM alltypes")).all()}
    theirs = {r.k: r for r in oracle.execute("SELECT * FROM alltypes")}
    assert ours.keys() == theirs.keys() and len(ours) >= len(ROWS)
    for k in ours:
        _compare(types, {c: getattr(theirs[k], c) for c in COLUMNS}, {c: getattr(ours[k], c) for c in COLUMNS}, f"{k}")


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_counters(session: Session, oracle: Any) -> None:
    k = session.pools[0].connections[0].version
    increment = await session.prepare("UPDATE counters SET c = c + ? WHERE k = ?")
    await session.execute(increment, (2**62, k))
    await session.execute(increment, (-(2**62) - 5, k))
    assert oracle.execute("SELECT c FROM counters WHERE k = %s", (k,)).one().c == -5
    oracle.execute("UPDATE counters SET c = c + %s WHERE k = %s", (2**63 - 1, k))
    oracle.execute("UPDATE counters SET c = c + %s WHERE k = %s", (5, k))
    row = (await session.execute("SELECT c FROM counters WHERE k = ?", (k,))).one()
    assert row.c == 2**63 - 1
    assert type(row.c) is int


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_empty_values(session: Session, oracle: Any) -> None:
    """Zero-length values of fixed-size types: aiocql keeps them apart from null, cassandra-driver reads None."""
    k = session.pools[0].connections[0].version
    insert = await session.prepare("INSERT INTO empties (k, n, bi, bo, d) VALUES (?, ?, ?, ?, ?)")
    await session.execute(insert, (k, EMPTY, EMPTY, EMPTY, None))
    row = (await session.execute("SELECT n, bi, bo, d FROM empties WHERE k = ?", (k,))).one()
    assert (row.n, row.bi, row.bo, row.d) == (EMPTY, EMPTY, EMPTY, None)
    # The server stores zero bytes, not a null: its own blob conversion shows the difference.
    raw = (await session.execute("SELECT intAsBlob(n) AS n, dateAsBlob(d) AS d FROM empties WHERE k = ?", (k,))).one()
    assert (raw.n, raw.d) == (b"", None)
    theirs = oracle.execute("SELECT n, bi, bo, d FROM empties WHERE k = %s", (k,)).one()
    assert tuple(theirs) == (None, None, None, None)
    # Written by cassandra-driver with CQL's own empty-value syntax, read by aiocql.
    oracle.execute("INSERT INTO empties (k, n) VALUES (%s, blobAsInt(0x))", (k + 10,))
    assert (await session.execute("SELECT n FROM empties WHERE k = ?", (k + 10,))).one().n is EMPTY
