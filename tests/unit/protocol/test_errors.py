"""ERROR bodies: every code of the spec, in its v4 and v5 forms, decoded to typed exceptions."""

from __future__ import annotations

import ipaddress
import pickle
from typing import Any

import pytest

from aiocql.errors import CqlError, ProtocolError
from aiocql.errors import server as s
from aiocql.protocol.constants import Consistency, ErrorCode
from aiocql.protocol.error_codec import decode_error, encode_error
from tests.unit.protocol.conftest import a, h

MSG = "0001 6d"  # the [string] message "m"
IP1 = ipaddress.ip_address("10.0.0.1")
IP6 = ipaddress.ip_address("::1")

# (versions, body, class, fields)
CASES: list[tuple[tuple[int, ...], bytes, type[s.ServerError], dict[str, Any]]] = [
    ((4, 5), h("00000000", MSG), s.InternalServerError, {}),
    ((4, 5), h("0000000a", MSG), s.ProtocolErrorFromServer, {}),
    ((4, 5), h("00000100", MSG), s.BadCredentials, {}),
    (
        (4, 5),
        h("00001000", MSG, "0004", "00000003", "00000001"),  # <cl><required><alive>
        s.Unavailable,
        {"consistency": Consistency.QUORUM, "required": 3, "alive": 1},
    ),
    ((4, 5), h("00001001", MSG), s.Overloaded, {}),
    ((4, 5), h("00001002", MSG), s.IsBootstrapping, {}),
    ((4, 5), h("00001003", MSG), s.TruncateError, {}),
    (
        (4, 5),
        h("00001100", MSG, "0006 00000001 00000002", "0006", a("SIMPLE")),  # <cl><received><blockfor><writeType>
        s.WriteTimeout,
        {
            "consistency": Consistency.LOCAL_QUORUM,
            "received": 1,
            "block_for": 2,
            "write_type": "SIMPLE",
            "contentions": None,
        },
    ),
    (
        (4,),
        h("00001100", MSG, "0008 00000000 00000002", "0003", a("CAS")),  # v4: no contentions
        s.WriteTimeout,
        {
            "consistency": Consistency.SERIAL,
            "received": 0,
            "block_for": 2,
            "write_type": "CAS",
            "contentions": None,
        },
    ),
    (
        (5,),
        h("00001100", MSG, "0008 00000000 00000002", "0003", a("CAS"), "0005"),  # v5 CAS: + <contentions>
        s.WriteTimeout,
        {
            "consistency": Consistency.SERIAL,
            "received": 0,
            "block_for": 2,
            "write_type": "CAS",
            "contentions": 5,
        },
    ),
    (
        (4, 5),
        h("00001200", MSG, "000a 00000000 00000001", "00"),  # <cl><received><blockfor><data_present>
        s.ReadTimeout,
        {"consistency": Consistency.LOCAL_ONE, "received": 0, "block_for": 1, "data_present": False},
    ),
    (
        (4,),
        h("00001300", MSG, "0004 00000001 00000002", "00000001", "01"),  # v4: <numfailures><data_present>
        s.ReadFailure,
        {
            "consistency": Consistency.QUORUM,
            "received": 1,
            "block_for": 2,
            "num_failures": 1,
            "reason_map": {},
            "data_present": True,
        },
    ),
    (
        (5,),
        h(
            "00001300",
            MSG,
            "0004 00000001 00000002",
            "00000002",  # reason map: [int] n, then <endpoint [inetaddr]><failurecode [short]>
            "04 0a000001 0001",
            "10 00000000000000000000000000000001 0000",
            "00",  # data_present
        ),
        s.ReadFailure,
        {
            "consistency": Consistency.QUORUM,
            "received": 1,
            "block_for": 2,
            "num_failures": 2,
            "reason_map": {IP1: 1, IP6: 0},
            "data_present": False,
        },
    ),
    (
        (4, 5),
        h("00001400", MSG, "0002 6b73", "0001 66", "0002 0003", a("int"), "0004", a("text")),
        s.FunctionFailure,
        {"keyspace": "ks", "function": "f", "arg_types": ("int", "text")},
    ),
    (
        (4,),
        h("00001500", MSG, "0004 00000001 00000002", "00000003", "0005", a("BATCH")),
        s.WriteFailure,
        {
            "consistency": Consistency.QUORUM,
            "received": 1,
            "block_for": 2,
            "num_failures": 3,
            "reason_map": {},
            "write_type": "BATCH",
        },
    ),
    (
        (5,),
        h("00001500", MSG, "0004 00000001 00000002", "00000001 04 0a000001 0003", "0005", a("BATCH")),
        s.WriteFailure,
        {
            "consistency": Consistency.QUORUM,
            "received": 1,
            "block_for": 2,
            "num_failures": 1,
            "reason_map": {IP1: 3},
            "write_type": "BATCH",
        },
    ),
    ((4, 5), h("00001600", MSG), s.CDCWriteFailure, {}),
    (
        (5,),
        h("00001700", MSG, "0009 00000000 00000001"),
        s.CASWriteUnknown,
        {"consistency": Consistency.LOCAL_SERIAL, "received": 0, "block_for": 1},
    ),
    ((4, 5), h("00002000", MSG), s.CqlSyntaxError, {}),
    ((4, 5), h("00002100", MSG), s.Unauthorized, {}),
    ((4, 5), h("00002200", MSG), s.InvalidRequest, {}),
    ((4, 5), h("00002300", MSG), s.ConfigError, {}),
    ((4, 5), h("00002400", MSG, "0002 6b73", "0000"), s.AlreadyExists, {"keyspace": "ks", "table": ""}),
    ((4, 5), h("00002500", MSG, "0002 cafe"), s.Unprepared, {"statement_id": b"\xca\xfe"}),
]

PARAMS = [(v, body, cls, fields) for versions, body, cls, fields in CASES for v in versions]


@pytest.mark.parametrize(("version", "body", "cls", "fields"), PARAMS)
def test_error_golden(version: int, body: bytes, cls: type[s.ServerError], fields: dict[str, Any]) -> None:
    exc = decode_error(memoryview(body), 0, version)
    assert type(exc) is cls
    assert exc.message == "m" == str(exc)
    assert exc.code == cls.code == int.from_bytes(body[:4], "big")
    assert exc.fields() == fields
    for name, value in fields.items():
        assert getattr(exc, name) == value
    # Encoding (for fake servers) gives the same bytes back.
    assert encode_error(exc, version) == body
    # Trailing bytes are tolerated.
    assert decode_error(body + b"\x00\x00\x00", 0, version).fields() == fields


@pytest.mark.parametrize(("version", "body", "cls", "fields"), PARAMS)
def test_error_truncated(version: int, body: bytes, cls: type[s.ServerError], fields: dict[str, Any]) -> None:
    for cut in range(len(body)):
        if cls is s.WriteTimeout and fields["contentions"] is not None and cut >= len(body) - 2:
            continue  # contentions are optional on the wire: tolerated when absent
        with pytest.raises(ProtocolError):
            decode_error(body[:cut], 0, version)


def test_every_spec_code_has_a_class() -> None:
    assert set(s.ERROR_CLASSES) == {int(c) for c in ErrorCode}
    assert {cls for _, _, cls, _ in CASES} == set(s.ERROR_CLASSES.values())


def test_unknown_code() -> None:
    exc = decode_error(h("00007777", MSG, "ffff"), 0, 5)
    assert type(exc) is s.ServerError
    assert exc.code == 0x7777
    assert repr(exc) == "ServerError('m', code=0x7777)"
    assert encode_error(exc, 5) == h("00007777", MSG)


def test_hierarchy() -> None:
    assert issubclass(s.ServerError, CqlError)
    assert not issubclass(s.ServerError, ProtocolError)
    for cls in (s.Unavailable, s.Overloaded, s.WriteTimeout, s.ReadFailure, s.CASWriteUnknown):
        assert issubclass(cls, s.RequestExecutionError)
    for cls in (s.CqlSyntaxError, s.InvalidRequest, s.Unprepared, s.AlreadyExists):
        assert issubclass(cls, s.RequestValidationError)
    assert issubclass(s.ReadTimeout, s.ReplicaTimeout) and issubclass(s.WriteTimeout, s.ReplicaTimeout)
    assert issubclass(s.ReadFailure, s.ReplicaFailure) and issubclass(s.WriteFailure, s.ReplicaFailure)
    assert issubclass(s.AlreadyExists, s.ConfigError)


@pytest.mark.parametrize(("version", "body", "cls", "fields"), PARAMS)
def test_pickle_round_trip(version: int, body: bytes, cls: type[s.ServerError], fields: dict[str, Any]) -> None:
    exc = decode_error(body, 0, version)
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is cls
    assert (copy.message, copy.code, copy.fields()) == (exc.message, exc.code, exc.fields())


def test_repr_and_construction() -> None:
    exc = s.Unavailable("no", consistency=Consistency.ALL, required=3, alive=2)
    assert repr(exc) == "Unavailable('no', consistency=<Consistency.ALL: 5>, required=3, alive=2)"
    exc2 = s.WriteFailure("x", consistency=1, received=0, block_for=1, reason_map={IP1: 0}, write_type="SIMPLE")
    assert exc2.num_failures == 1
