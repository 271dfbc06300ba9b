"""Server-free checks of the ``aiocql`` command and the scan API: text forms of every CQL type both ways,
token ranges (splitting, wrap-around, intersections), and the driver's import path staying free of the
command's dependencies."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from aiocql.cli.common import CliError, split_table
from aiocql.cli.formats import duration_text, formatter, json_formatter, json_parser, parse_duration, parser
from aiocql.cli.main import build_parser
from aiocql.protocol.cqltypes import (
    ASCII,
    BIGINT,
    BLOB,
    BOOLEAN,
    DATE,
    DECIMAL,
    DOUBLE,
    DURATION,
    FLOAT,
    INET,
    INT,
    SMALLINT,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMEUUID,
    TINYINT,
    UUID,
    VARINT,
    CqlType,
    ListType,
    MapType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)  # fmt: skip
from aiocql.scan import MAX_TOKEN, MIN_TOKEN, TokenRange, token_ranges
from aiocql.types.values import Date, Duration, Time

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.UTC

CASES: list[tuple[CqlType, object, str]] = [
    (INT, -5, "-5"),
    (BIGINT, 2**62, str(2**62)),
    (SMALLINT, 7, "7"),
    (TINYINT, -1, "-1"),
    (VARINT, 10**30, str(10**30)),
    (FLOAT, 1.5, "1.5"),
    (DOUBLE, 1 / 3, repr(1 / 3)),
    (TEXT, 'a,"b"\n', 'a,"b"\n'),
    (ASCII, "x", "x"),
    (BOOLEAN, True, "true"),
    (BLOB, b"\x00\xff", "0x00ff"),
    (UUID, uuid.UUID(int=5), "00000000-0000-0000-0000-000000000005"),
    (TIMEUUID, uuid.UUID("d2177dd0-eaa2-11de-a572-001b779c76e3"), "d2177dd0-eaa2-11de-a572-001b779c76e3"),
    (TIMESTAMP, dt.datetime(2024, 2, 29, 1, 2, 3, 456000, tzinfo=UTC), "2024-02-29T01:02:03.456Z"),
    (DATE, Date(0), "1970-01-01"),
    (TIME, Time(3_723_000_000_007), "01:02:03.000000007"),
    (DECIMAL, decimal.Decimal("-1.250"), "-1.250"),
    (INET, ipaddress.ip_address("::1"), "::1"),
    (DURATION, Duration(14, 2, 90_000_000_000), "1y2mo2d1m30s"),
]


@pytest.mark.parametrize(("cql_type", "value", "text"), CASES, ids=[c[0].cql_name for c in CASES])
def test_native_text_forms_both_ways(cql_type: CqlType, value: object, text: str) -> None:
    fmt = formatter(cql_type)
    shown = value if fmt is None else fmt(value)
    assert str(shown) == text
    back = parser(cql_type)(text)
    if isinstance(value, Date):
        assert back == value.to_date() or back == value
    else:
        assert back == value


def test_collections_as_json() -> None:
    m = MapType(INT, ListType(TIMESTAMP))
    value = {1: [dt.datetime(2020, 1, 1, tzinfo=UTC)]}
    text = formatter(m)(value)  # type: ignore[misc]
    assert text == '[[1, ["2020-01-01T00:00:00.000Z"]]]'
    assert parser(m)(text) == value
    assert formatter(MapType(TEXT, INT))({"a": 1}) == '{"a": 1}'  # type: ignore[misc]
    assert parser(SetType(BLOB))('["0x01", "0x02"]') == {b"\x01", b"\x02"}
    tup = TupleType((INT, TEXT))
    assert parser(tup)(formatter(tup)((1, "x"))) == (1, "x")  # type: ignore[misc]
    udt = UdtType("ks", "addr", ("street", "zip"), (TEXT, INT))
    assert formatter(udt)({"street": "Main", "zip": 1}) == '{"street": "Main", "zip": 1}'  # type: ignore[misc]
    assert parser(udt)('{"street": "Main", "zip": 1}') == {"street": "Main", "zip": 1}
    assert parser(VectorType(FLOAT, 2))("[1.0, 2.5]") == [1.0, 2.5]
    # JSON lines keep JSON values: a list stays a list, a boolean a boolean.
    assert json_formatter(ListType(INT))([1, 2]) == [1, 2]  # type: ignore[misc]
    assert json_formatter(BOOLEAN) is None and json_parser(ListType(INT))([1, 2]) == [1, 2]


def test_bad_text_is_a_value_error() -> None:
    for cql_type, text in [(INT, "x"), (BOOLEAN, "maybe"), (UUID, "nope"), (TIMESTAMP, "yesterday"),
                           (BLOB, "0xzz"), (ListType(INT), "[1,"), (DURATION, "5 parsecs")]:  # fmt: skip
        with pytest.raises(ValueError):
            parser(cql_type)(text)


def test_duration_texts() -> None:
    assert duration_text(Duration(-13, -1, -1)) == "-1y1mo1d1ns"
    assert parse_duration("1w2d3h4m5s6ms7us8ns") == Duration(0, 9, 3 * 3600 * 10**9 + 4 * 60 * 10**9 + 5 * 10**9
                                                             + 6 * 10**6 + 7000 + 8)  # fmt: skip


def test_token_range_splitting_and_wrapping() -> None:
    r = TokenRange(10, 1)
    assert r.wraps and r.contains(MAX_TOKEN) and r.contains(1) and not r.contains(5)
    assert r.width == (MAX_TOKEN - 10) + (1 - MIN_TOKEN)
    pieces = token_ranges(None, within=r, splits=7)
    assert sum(p.width for p in pieces) == r.width and all(not p.wraps for p in pieces)
    assert pieces[0].start == MIN_TOKEN and pieces[-1].end == MAX_TOKEN
    assert TokenRange(0, 3).split(10) == (TokenRange(0, 1), TokenRange(1, 2), TokenRange(2, 3))
    assert TokenRange(0, 10).intersection(TokenRange(5, 20)) == (TokenRange(5, 10),)
    assert TokenRange(0, 10).intersection(TokenRange(20, 30)) == ()
    whole = TokenRange(0, 0)
    assert whole.wraps and whole.width == MAX_TOKEN - MIN_TOKEN
    from aiocql.errors import InvalidValueError

    with pytest.raises(InvalidValueError):
        TokenRange(0, 2**63)
    with pytest.raises(InvalidValueError):
        token_ranges(None, splits=0)


def test_ranges_follow_the_ring() -> None:
    from aiocql.model.host import Host
    from aiocql.model.replication import ReplicationSettings
    from aiocql.model.state import ClusterState
    from aiocql.model.token_map import TokenMap

    hosts = [Host(uuid.UUID(int=i), f"10.0.0.{i}", tokens=(i * 1000,)) for i in (1, 2, 3)]
    state = ClusterState.create(hosts)
    rf2 = ReplicationSettings.from_map({"class": "SimpleStrategy", "replication_factor": "2"})
    state = type(state)(**{**{f: getattr(state, f) for f in state.__dataclass_fields__},
                           "token_map": TokenMap(hosts, {"ks": rf2})})  # fmt: skip
    ranges = token_ranges(state, "ks")
    assert [(r.start, r.end) for r in ranges] == [(MIN_TOKEN, 1000), (1000, 2000), (2000, 3000), (3000, MAX_TOKEN)]
    assert ranges[1].replicas == ("10.0.0.2", "10.0.0.3")
    assert ranges[0].replicas == ranges[3].replicas == ("10.0.0.1", "10.0.0.2")  # the wrap-around range
    split = token_ranges(state, "ks", splits=40)
    assert len(split) >= 39 and {r.end for r in ranges} <= {r.end for r in split}
    for piece in split:  # every piece keeps the replicas of the range it came from
        owner = next(r for r in ranges if r.start <= piece.start and piece.end <= r.end)
        assert piece.replicas == owner.replicas


def test_split_table_names() -> None:
    assert split_table("KS.T", None) == ("ks", "t")
    with pytest.raises(CliError):
        split_table("t", None)


def test_importing_aiocql_does_not_import_the_command() -> None:
    code = (
        "import sys, aiocql; bad = [m for m in ('prompt_toolkit', 'rich', 'aiocql.cli') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_command_line_parses() -> None:
    p = build_parser()
    args = p.parse_args(["load", "ks.t", "-i", "x.csv", "--workers", "3", "--rate", "100"])
    assert (args.operation, args.workers, args.rate) == ("load", 3, 100.0)
    done = subprocess.run([sys.executable, "-m", "aiocql", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0 and "unload" in done.stdout and "shell" in done.stdout


def test_connection_options_become_cluster_settings(tmp_path: Path) -> None:
    import argparse
    import ssl

    from aiocql import PlainTextAuthProvider
    from aiocql.cli.common import add_connection_options, make_cluster
    from aiocql.protocol.constants import Consistency

    p = argparse.ArgumentParser()
    add_connection_options(p)
    args = p.parse_args(["-H", "10.0.0.1,10.0.0.2", "-P", "9142", "-u", "me", "-p", "pw", "--ssl", "--no-verify",
                         "--protocol-version", "4", "-c", "local_quorum", "--request-timeout", "7"])  # fmt: skip
    cluster = make_cluster(args)
    assert cluster.contact_points == ["10.0.0.1", "10.0.0.2"] and cluster.port == 9142
    assert isinstance(cluster.options.auth_provider, PlainTextAuthProvider)
    ctx = cluster.options.ssl_context
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert cluster.protocol_version == 4 and cluster.default_profile.consistency_level == Consistency.LOCAL_QUORUM
    assert cluster.default_profile.request_timeout == 7
    plain = make_cluster(p.parse_args([]))
    assert plain.options.ssl_context is None and plain.options.auth_provider is None
    with pytest.raises(CliError, match="unknown consistency level"):
        make_cluster(p.parse_args(["-c", "most"]))
    with pytest.raises(FileNotFoundError):
        make_cluster(p.parse_args(["--ssl-ca", str(tmp_path / "missing.pem")]))
