"""Requests: golden bodies for v4 and v5, written field by field from the spec's layouts."""

from __future__ import annotations

import pytest

from aiocql.errors import ProtocolError
from aiocql.protocol.constants import BatchType, Consistency, EventType, Opcode
from aiocql.protocol.requests import (
    AuthResponse,
    Batch,
    BatchPrepared,
    BatchQuery,
    Execute,
    Options,
    Prepare,
    Query,
    QueryParameters,
    Register,
    Request,
    Startup,
    encode_request,
    with_custom_payload,
)
from aiocql.protocol.unset import UNSET
from tests.unit.protocol.conftest import a, h

FULL_PARAMS = QueryParameters(
    consistency=Consistency.QUORUM,
    values=[b"\x01", None, UNSET],
    skip_metadata=True,
    page_size=5000,
    paging_state=b"\xaa\xbb",
    serial_consistency=Consistency.LOCAL_SERIAL,
    timestamp=1234567890,
)
FULL_PARAMS_TAIL = h(
    "0003",  # n values
    "00000001 01",  # [value] 0x01
    "ffffffff",  # [value] null
    "fffffffe",  # [value] not set
    "00001388",  # result_page_size 5000
    "00000002 aabb",  # paging_state [bytes]
    "0009",  # serial_consistency LOCAL_SERIAL
    "00000000499602d2",  # timestamp [long] 1234567890
)

CASES: list[tuple[str, Request, int, Opcode, bytes]] = [
    (
        "startup",
        Startup({"CQL_VERSION": "3.0.0", "COMPRESSION": "lz4"}),
        4,
        Opcode.STARTUP,
        h("0002", "000b", a("CQL_VERSION"), "0005", a("3.0.0"), "000b", a("COMPRESSION"), "0003", a("lz4")),
    ),
    (
        "startup v5",
        Startup({"CQL_VERSION": "3.0.0"}),
        5,
        Opcode.STARTUP,
        h("0001 000b", a("CQL_VERSION"), "0005", a("3.0.0")),
    ),
    ("options", Options(), 4, Opcode.OPTIONS, b""),
    ("options v5", Options(), 5, Opcode.OPTIONS, b""),
    (
        "query minimal v4",
        Query("SELECT 1"),
        4,
        Opcode.QUERY,
        h("00000008", a("SELECT 1"), "0001", "00"),  # <query> <consistency ONE> <flags [byte]>
    ),
    (
        "query minimal v5",
        Query("SELECT 1"),
        5,
        Opcode.QUERY,
        h("00000008", a("SELECT 1"), "0001", "00000000"),  # flags are an [int] in v5
    ),
    (
        "query all v4 flags",
        Query("SELECT ?", FULL_PARAMS),
        4,
        Opcode.QUERY,
        h("00000008", a("SELECT ?"), "0004", "3f") + FULL_PARAMS_TAIL,  # 3f = values..timestamp
    ),
    (
        "query all v5 flags",
        Query(
            "SELECT ?",
            QueryParameters(
                Consistency.QUORUM,
                [b"\x01", None, UNSET],
                skip_metadata=True,
                page_size=5000,
                paging_state=b"\xaa\xbb",
                serial_consistency=Consistency.LOCAL_SERIAL,
                timestamp=1234567890,
                keyspace="ks",
                now_in_seconds=100,
            ),
        ),
        5,
        Opcode.QUERY,
        h("00000008", a("SELECT ?"), "0004", "000001bf")  # + WITH_KEYSPACE 0x80 + NOW 0x100
        + FULL_PARAMS_TAIL
        + h("0002 6b73", "00000064"),  # keyspace "ks", now_in_seconds 100
    ),
    (
        "query named values",
        Query("SELECT :x", QueryParameters(Consistency.LOCAL_ONE, [b"\x02"], names=["x"])),
        4,
        Opcode.QUERY,
        h("00000009", a("SELECT :x"), "000a", "41", "0001", "0001 78", "00000001 02"),
    ),
    ("prepare v4", Prepare("SELECT 1"), 4, Opcode.PREPARE, h("00000008", a("SELECT 1"))),
    ("prepare v5", Prepare("SELECT 1"), 5, Opcode.PREPARE, h("00000008", a("SELECT 1"), "00000000")),
    (
        "prepare v5 keyspace",
        Prepare("SELECT 1", keyspace="ks"),
        5,
        Opcode.PREPARE,
        h("00000008", a("SELECT 1"), "00000001", "0002 6b73"),
    ),
    (
        "execute v4",
        Execute(b"\xca\xfe", QueryParameters(Consistency.ONE, [b"\x05"], skip_metadata=True)),
        4,
        Opcode.EXECUTE,
        h("0002 cafe", "0001", "03", "0001", "00000001 05"),
    ),
    (
        "execute v5",
        Execute(
            b"\xca\xfe",
            QueryParameters(Consistency.ONE, [b"\x05"], skip_metadata=True),
            result_metadata_id=b"\xbe\xef",
        ),
        5,
        Opcode.EXECUTE,
        h("0002 cafe", "0002 beef", "0001", "00000003", "0001", "00000001 05"),
    ),
    (
        "batch v4",
        Batch(
            [BatchQuery("INSERT a", [b"\x01"]), BatchPrepared(b"\xca\xfe", [None, UNSET])],
            BatchType.COUNTER,
            Consistency.QUORUM,
            serial_consistency=Consistency.SERIAL,
            timestamp=1,
        ),
        4,
        Opcode.BATCH,
        h(
            "02",  # type: counter
            "0002",  # n queries
            "00 00000008",
            a("INSERT a"),
            "0001 00000001 01",  # kind 0: query string, 1 value
            "01 0002 cafe 0002 ffffffff fffffffe",  # kind 1: prepared id, null and unset
            "0004",  # consistency QUORUM
            "30",  # flags [byte]: serial consistency | timestamp
            "0008",  # serial consistency SERIAL
            "0000000000000001",  # timestamp
        ),
    ),
    (
        "batch v5",
        Batch([BatchPrepared(b"\x01")], BatchType.LOGGED, keyspace="ks", now_in_seconds=10),
        5,
        Opcode.BATCH,
        h("00", "0001", "01 0001 01 0000", "0001", "00000180", "0002 6b73", "0000000a"),
    ),
    ("batch v5 unlogged empty", Batch([], BatchType.UNLOGGED), 5, Opcode.BATCH, h("01 0000 0001 00000000")),
    (
        "register",
        Register(),
        4,
        Opcode.REGISTER,
        h("0003", "000f", a("TOPOLOGY_CHANGE"), "000d", a("STATUS_CHANGE"), "000d", a("SCHEMA_CHANGE")),
    ),
    (
        "register one",
        Register([EventType.SCHEMA_CHANGE]),
        5,
        Opcode.REGISTER,
        h("0001 000d", a("SCHEMA_CHANGE")),
    ),
    (
        "auth response",
        AuthResponse(b"\x00cassandra\x00cassandra"),
        4,
        Opcode.AUTH_RESPONSE,
        h("00000014 00", a("cassandra"), "00", a("cassandra")),
    ),
    ("auth response null", AuthResponse(None), 5, Opcode.AUTH_RESPONSE, h("ffffffff")),
]


@pytest.mark.parametrize(("name", "msg", "version", "opcode", "body"), CASES, ids=[c[0] for c in CASES])
def test_request_golden(name: str, msg: Request, version: int, opcode: Opcode, body: bytes) -> None:
    assert encode_request(msg, version) == (opcode, body)
    assert msg.opcode is opcode


@pytest.mark.parametrize(
    "msg",
    [
        Query("x", QueryParameters(keyspace="ks")),
        Query("x", QueryParameters(now_in_seconds=1)),
        Prepare("x", keyspace="ks"),
        Batch([], keyspace="ks"),
        Batch([], now_in_seconds=1),
    ],
)
def test_v5_only_features_are_refused_on_v4(msg: Request) -> None:
    with pytest.raises(ProtocolError, match="needs protocol v5"):
        encode_request(msg, 4)
    encode_request(msg, 5)


def test_execute_v5_needs_result_metadata_id() -> None:
    with pytest.raises(ProtocolError, match="result_metadata_id"):
        Execute(b"\x01").encode(5)
    assert Execute(b"\x01", result_metadata_id=b"\x02").encode(4) == h("0001 01", "0001", "00")


@pytest.mark.parametrize(
    "params",
    [
        QueryParameters(values=[b"x"], names=["a", "b"]),
        QueryParameters(values=["text"]),  # type: ignore[list-item]
        QueryParameters(values=[None] * 65536),
        QueryParameters(page_size=2**31),
        QueryParameters(timestamp=2**63),
        QueryParameters(consistency=70000),
    ],
)
def test_bad_parameters(params: QueryParameters) -> None:
    with pytest.raises(ProtocolError):
        params.encode(4)


def test_custom_payload_prefix() -> None:
    body = with_custom_payload(Options().encode(4), {"k": b"v", "n": None})
    assert body == h("0002", "0001 6b 00000001 76", "0001 6e ffffffff")


@pytest.mark.parametrize("version", [4, 5])
def test_cross_check_with_datastax_driver(version: int) -> None:
    """An independent encoder (the DataStax Python driver) produces the same bodies."""
    import io

    proto = pytest.importorskip("cassandra.protocol")
    from cassandra import ConsistencyLevel
    from cassandra.query import BatchType as TheirBatchType

    def theirs(msg: object) -> bytes:
        buf = io.BytesIO()
        msg.send_body(buf, version)  # type: ignore[attr-defined]
        return buf.getvalue()

    keyspace = "ks" if version == 5 else None
    query = proto.QueryMessage(
        "SELECT ?",
        ConsistencyLevel.QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        fetch_size=100,
        paging_state=b"\x01\x02",
        timestamp=123,
        keyspace=keyspace,
    )
    query.query_params = [b"\x01", None]
    ours = QueryParameters(
        Consistency.QUORUM,
        [b"\x01", None],
        page_size=100,
        paging_state=b"\x01\x02",
        serial_consistency=Consistency.LOCAL_SERIAL,
        timestamp=123,
        keyspace=keyspace,
    )
    assert Query("SELECT ?", ours).encode(version) == theirs(query)

    execute = proto.ExecuteMessage(
        b"\xca\xfe", [b"\x05"], ConsistencyLevel.ONE, fetch_size=50, result_metadata_id=b"\xbe\xef"
    )
    ours_execute = Execute(b"\xca\xfe", QueryParameters(Consistency.ONE, [b"\x05"], page_size=50), b"\xbe\xef")
    assert ours_execute.encode(version) == theirs(execute)

    assert Prepare("SELECT 1", keyspace).encode(version) == theirs(proto.PrepareMessage("SELECT 1", keyspace))

    batch = proto.BatchMessage(
        TheirBatchType.UNLOGGED,
        [(False, "INSERT a", [b"\x01"]), (True, b"\xca\xfe", [None])],
        ConsistencyLevel.QUORUM,
        serial_consistency_level=ConsistencyLevel.SERIAL,
        timestamp=7,
        keyspace=keyspace,
    )
    ours_batch = Batch(
        [BatchQuery("INSERT a", [b"\x01"]), BatchPrepared(b"\xca\xfe", [None])],
        BatchType.UNLOGGED,
        Consistency.QUORUM,
        Consistency.SERIAL,
        7,
        keyspace=keyspace,
    )
    assert ours_batch.encode(version) == theirs(batch)
