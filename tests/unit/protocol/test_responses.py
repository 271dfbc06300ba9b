"""Responses: golden bodies for every message kind, result kind and metadata flag, v4 and v5."""

from __future__ import annotations

import ipaddress
import uuid

import pytest

from aiocql.errors import ProtocolError
from aiocql.errors.server import Unavailable
from aiocql.protocol.constants import (
    Opcode,
    SchemaChangeTarget,
    SchemaChangeType,
    StatusChangeType,
    TopologyChangeType,
)
from aiocql.protocol.cqltypes import INT, TEXT, ListType, MapType
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.responses import (
    AuthChallenge,
    Authenticate,
    AuthSuccess,
    ColumnSpec,
    ErrorResponse,
    PreparedResult,
    Ready,
    Response,
    RowsResult,
    SchemaChangeEvent,
    SchemaChangeResult,
    SetKeyspaceResult,
    StatusChangeEvent,
    Supported,
    TopologyChangeEvent,
    VoidResult,
    decode_response,
)
from tests.unit.protocol.conftest import a, h


def decode(opcode: Opcode, body: bytes, version: int = 4, flags: int = 0) -> Response:
    return decode_response(Envelope(version, flags, 1, opcode, body))


# --------------------------------------------------------------------------------------- simple kinds


@pytest.mark.parametrize("version", [4, 5])
def test_simple_responses(version: int) -> None:
    assert decode(Opcode.READY, b"", version) == Ready()
    auth = "org.apache.cassandra.auth.PasswordAuthenticator"
    assert decode(Opcode.AUTHENTICATE, h("002f", a(auth)), version) == Authenticate(auth)
    supported = decode(
        Opcode.SUPPORTED,
        h("0002", "000b", a("CQL_VERSION"), "0001 0005", a("3.4.7"), "0011", a("PROTOCOL_VERSIONS"))
        + h("0002 0004", a("4/v4"), "0009", a("5/v5-beta")),
        version,
    )
    assert supported == Supported({"CQL_VERSION": ["3.4.7"], "PROTOCOL_VERSIONS": ["4/v4", "5/v5-beta"]})
    assert decode(Opcode.AUTH_CHALLENGE, h("00000002 abcd"), version) == AuthChallenge(b"\xab\xcd")
    assert decode(Opcode.AUTH_SUCCESS, h("ffffffff"), version) == AuthSuccess(None)


def test_prefixes_in_order_tracing_warnings_custom_payload() -> None:
    trace = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
    body = h(
        "0123456789abcdef0123456789abcdef",  # tracing id (flag 0x02)
        "0001 0004",
        a("slow"),  # warnings (flag 0x08)
        "0001 0001 6b 00000001 76",  # custom payload (flag 0x04)
        "00000001",  # the message: RESULT Void
    )
    resp = decode(Opcode.RESULT, body, 5, flags=0x02 | 0x04 | 0x08)
    assert resp == VoidResult(tracing_id=trace, warnings=("slow",), custom_payload={"k": b"v"})
    # Only some flags: the present prefixes keep their relative order.
    resp = decode(Opcode.RESULT, h("0001 0001 78", "0001 0001 6b ffffffff", "00000001"), 4, flags=0x0C)
    assert (resp.tracing_id, resp.warnings, resp.custom_payload) == (None, ("x",), {"k": None})


def test_trailing_bytes_are_ignored() -> None:
    assert decode(Opcode.READY, b"future extension") == Ready()
    assert decode(Opcode.RESULT, h("00000003 0002 6b73 ffff")) == SetKeyspaceResult("ks")


def test_error_body_decodes_to_an_exception_not_raised() -> None:
    resp = decode(Opcode.ERROR, h("00001000 0002", a("no"), "0004 00000003 00000001"))
    assert isinstance(resp, ErrorResponse)
    assert isinstance(resp.error, Unavailable)
    assert (resp.error.required, resp.error.alive) == (3, 1)


# --------------------------------------------------------------------------------------------- events

INET4 = h("04 0a000002 00002352")  # 10.0.0.2:9042
INET6 = h("10 20010db8000000000000000000000001 00002352")  # [2001:db8::1]:9042


def test_topology_and_status_events() -> None:
    event = decode(Opcode.EVENT, h("000f", a("TOPOLOGY_CHANGE"), "0008", a("NEW_NODE")) + INET4)
    assert event == TopologyChangeEvent(TopologyChangeType.NEW_NODE, (ipaddress.ip_address("10.0.0.2"), 9042))
    event = decode(Opcode.EVENT, h("000f", a("TOPOLOGY_CHANGE"), "000c", a("REMOVED_NODE")) + INET6, 5)
    assert isinstance(event, TopologyChangeEvent)
    assert event.change is TopologyChangeType.REMOVED_NODE
    assert event.address == (ipaddress.ip_address("2001:db8::1"), 9042)
    event = decode(Opcode.EVENT, h("000d", a("STATUS_CHANGE"), "0004", a("DOWN")) + INET4)
    assert event == StatusChangeEvent(StatusChangeType.DOWN, (ipaddress.ip_address("10.0.0.2"), 9042))


SCHEMA_CHANGES = [
    # (body after the event type / result kind, expected fields)
    (h("0007", a("CREATED"), "0008", a("KEYSPACE"), "0002 6b73"), ("CREATED", "KEYSPACE", "ks", None, None)),
    (h("0007", a("UPDATED"), "0005", a("TABLE"), "0002 6b73 0001 74"), ("UPDATED", "TABLE", "ks", "t", None)),
    (h("0007", a("DROPPED"), "0004", a("TYPE"), "0002 6b73 0001 75"), ("DROPPED", "TYPE", "ks", "u", None)),
    (
        h(
            "0007",
            a("CREATED"),
            "0008",
            a("FUNCTION"),
            "0002 6b73 0001 66",
            "0002 0003",
            a("int"),
            "0004",
            a("text"),
        ),
        ("CREATED", "FUNCTION", "ks", "f", ("int", "text")),
    ),
    (
        h("0007", a("DROPPED"), "0009", a("AGGREGATE"), "0002 6b73 0001 67", "0000"),
        ("DROPPED", "AGGREGATE", "ks", "g", ()),
    ),
]


@pytest.mark.parametrize(("body", "fields"), SCHEMA_CHANGES)
@pytest.mark.parametrize("version", [4, 5])
def test_schema_change_event_and_result(body: bytes, fields: tuple[object, ...], version: int) -> None:
    change, target, keyspace, name, args = fields
    event = decode(Opcode.EVENT, h("000d", a("SCHEMA_CHANGE")) + body, version)
    assert isinstance(event, SchemaChangeEvent)
    assert (event.change_type, event.target, event.keyspace, event.name, event.argument_types) == fields
    assert isinstance(event.change_type, SchemaChangeType)
    assert isinstance(event.target, SchemaChangeTarget)
    result = decode(Opcode.RESULT, h("00000005") + body, version)
    assert result == SchemaChangeResult(SchemaChangeType(change), SchemaChangeTarget(target), str(keyspace), name, args)  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- results


def test_void_and_set_keyspace() -> None:
    assert decode(Opcode.RESULT, h("00000001")) == VoidResult()
    assert decode(Opcode.RESULT, h("00000003 0004", a("ks_1")), 5) == SetKeyspaceResult("ks_1")


ROWS_CONTENT = h(
    "00000002",  # rows_count
    "00000004 00000001",
    "00000001 61",  # row 1: 1, 'a'
    "ffffffff",
    "00000000",  # row 2: null, ''
)


@pytest.mark.parametrize("version", [4, 5])
def test_rows_global_table_spec_and_paging(version: int) -> None:
    body = h(
        "00000002",  # kind Rows
        "00000003",  # flags: Global_tables_spec | Has_more_pages
        "00000002",  # columns_count
        "00000003 010203",  # paging_state [bytes]
        "0002 6b73 0001 74",  # global table spec: ks.t
        "0001 6b 0009",  # column k int
        "0001 76 000d",  # column v varchar
    )
    resp = decode(Opcode.RESULT, body + ROWS_CONTENT, version)
    assert isinstance(resp, RowsResult)
    md = resp.metadata
    assert md.columns == (ColumnSpec("ks", "t", "k", INT), ColumnSpec("ks", "t", "v", TEXT))
    assert (md.column_count, md.paging_state, md.has_more_pages, md.no_metadata, md.metadata_changed) == (
        2, b"\x01\x02\x03", True, False, False,
    )  # fmt: skip
    assert resp.rows_count == 2
    assert bytes(resp.buffer[resp.offset :]) == ROWS_CONTENT[4:]


def test_rows_per_column_table_spec_and_collections() -> None:
    body = h(
        "00000002",
        "00000000",  # no flags: every column has its own keyspace and table
        "00000002",
        "0003 6b7331 0002 7431 0001 61 0020 0009",  # ks1.t1.a list<int>
        "0003 6b7332 0002 7432 0001 62 0021 000d 0009",  # ks2.t2.b map<text, int>
        "00000000",  # no rows
    )
    resp = decode(Opcode.RESULT, body)
    assert isinstance(resp, RowsResult)
    assert resp.metadata.columns == (
        ColumnSpec("ks1", "t1", "a", ListType(INT)),
        ColumnSpec("ks2", "t2", "b", MapType(TEXT, INT)),
    )
    assert (resp.rows_count, resp.offset, resp.metadata.has_more_pages) == (0, len(body) - 4 + 4, False)


@pytest.mark.parametrize("version", [4, 5])
def test_rows_no_metadata(version: int) -> None:
    body = h("00000002", "00000006", "00000002", "00000001 ff") + ROWS_CONTENT  # No_metadata | more pages
    resp = decode(Opcode.RESULT, body, version)
    assert isinstance(resp, RowsResult)
    assert resp.metadata.columns is None
    assert resp.metadata.no_metadata
    assert (resp.metadata.column_count, resp.metadata.paging_state) == (2, b"\xff")
    assert bytes(resp.buffer[resp.offset :]) == ROWS_CONTENT[4:]


def test_rows_v5_metadata_changed() -> None:
    body = h(
        "00000002",
        "00000009",  # Global_tables_spec | Metadata_changed
        "00000001",
        "0002 abcd",  # new_metadata_id [short bytes] (after the paging state, before the specs)
        "0002 6b73 0001 74",
        "0001 6b 0009",
        "00000000",
    )
    resp = decode(Opcode.RESULT, body, 5)
    assert isinstance(resp, RowsResult)
    assert resp.metadata.new_metadata_id == b"\xab\xcd"
    assert resp.metadata.metadata_changed
    assert resp.metadata.columns == (ColumnSpec("ks", "t", "k", INT),)
    # v4 has no such field: the 0x0008 bit is ignored and nothing extra is read.
    v4 = h("00000002", "00000009", "00000001", "0002 6b73 0001 74", "0001 6b 0009", "00000000")
    resp = decode(Opcode.RESULT, v4, 4)
    assert isinstance(resp, RowsResult)
    assert resp.metadata.new_metadata_id is None
    assert resp.metadata.columns == (ColumnSpec("ks", "t", "k", INT),)


def test_rows_offset_accounts_for_prefixes() -> None:
    body = h("0001 0001 77", "00000002 00000004 00000001") + ROWS_CONTENT
    resp = decode(Opcode.RESULT, body, 5, flags=0x08)
    assert isinstance(resp, RowsResult)
    assert resp.warnings == ("w",)
    assert bytes(resp.buffer[resp.offset :]) == ROWS_CONTENT[4:]


PREPARED_BIND_METADATA = h(
    "00000001",  # flags: Global_tables_spec
    "00000002",  # columns_count (bind markers)
    "00000002 0001 0000",  # pk_count 2, pk indexes [1, 0]
    "0002 6b73 0001 74",  # ks.t
    "0001 61 0009",  # a int
    "0001 62 000d",  # b varchar
)


def test_prepared_v4() -> None:
    body = h("00000004", "0002 cafe") + PREPARED_BIND_METADATA
    body += h("00000001 00000001 0002 6b73 0001 74 0001 63 0009")  # result metadata: ks.t.c int
    resp = decode(Opcode.RESULT, body, 4)
    assert isinstance(resp, PreparedResult)
    assert (resp.query_id, resp.result_metadata_id) == (b"\xca\xfe", None)
    assert resp.bind_metadata.pk_indexes == (1, 0)
    assert resp.bind_metadata.columns == (ColumnSpec("ks", "t", "a", INT), ColumnSpec("ks", "t", "b", TEXT))
    assert resp.result_metadata.columns == (ColumnSpec("ks", "t", "c", INT),)


def test_prepared_v5() -> None:
    body = h("00000004", "0002 cafe", "0003 0a0b0c") + PREPARED_BIND_METADATA
    body += h("00000004 00000000")  # result metadata: No_metadata, 0 columns (not a SELECT)
    resp = decode(Opcode.RESULT, body, 5)
    assert isinstance(resp, PreparedResult)
    assert (resp.query_id, resp.result_metadata_id) == (b"\xca\xfe", b"\x0a\x0b\x0c")
    assert resp.bind_metadata.pk_indexes == (1, 0)
    assert resp.result_metadata.columns is None
    assert resp.result_metadata.column_count == 0


def test_prepared_without_pk_indexes_per_column_spec() -> None:
    body = h("00000004", "0001 01", "00000000 00000001 00000000", "0001 6b 0001 74 0001 61 0009")
    body += h("00000004 00000000")
    resp = decode(Opcode.RESULT, body)
    assert isinstance(resp, PreparedResult)
    assert resp.bind_metadata.pk_indexes == ()
    assert resp.bind_metadata.columns == (ColumnSpec("k", "t", "a", INT),)


@pytest.mark.parametrize(
    ("opcode", "body", "match"),
    [
        (Opcode.RESULT, h("00000009"), "unknown result kind"),
        (Opcode.QUERY, b"", "not a response"),
        (Opcode.EVENT, h("0003", a("FOO")), "unknown value 'FOO'"),
        (
            Opcode.EVENT,
            h("000d", a("SCHEMA_CHANGE"), "0007", a("CREATED"), "0004", a("VIEW")),
            "unknown value",
        ),
        (Opcode.RESULT, h("00000002 00000000 ffffffff"), "column count"),
        (Opcode.RESULT, h("00000002 00000004 00000000 ffffffff"), "rows count"),
        (Opcode.RESULT, h("00000002 00000000 00000001 0001 6b"), "truncated"),
        (Opcode.RESULT, h("00000004 0001 01 00000000 00000000 fffffff0"), "partition key index count"),
        (Opcode.READY, b"", "tracing id"),  # flag set below
    ],
)
def test_malformed_bodies(opcode: Opcode, body: bytes, match: str) -> None:
    flags = 0x02 if match == "tracing id" else 0
    with pytest.raises(ProtocolError, match=match):
        decode(opcode, body, flags=flags)
