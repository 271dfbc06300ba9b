"""A BoundStatement made by PreparedStatement.bind() takes every option of its prepared statement (the fast
path copies them one by one: a new StatementOptions field must be copied too, or this fails)."""

from __future__ import annotations

from typing import Any

from aiocql.protocol.constants import Consistency
from aiocql.statements import BoundStatement, PreparedStatement, StatementOptions

SAMPLES: dict[str, Any] = {
    "consistency_level": Consistency.QUORUM,
    "serial_consistency_level": Consistency.LOCAL_SERIAL,
    "fetch_size": 7,
    "timeout": 3.0,
    "is_idempotent": True,
    "keyspace": "ks",
    "custom_payload": {"k": b"v"},
    "routing_key": b"key",
    "routing_token": 5,
}


def test_the_samples_cover_every_option() -> None:
    assert set(SAMPLES) == set(StatementOptions.__dataclass_fields__)


def test_bind_inherits_every_option_of_the_prepared_statement() -> None:
    prepared = PreparedStatement(query="SELECT 1", query_id=b"\x01", **SAMPLES)
    bound = prepared.bind(())
    assert {name: getattr(bound, name) for name in SAMPLES} == SAMPLES
    assert bound.prepared is prepared and bound.values == [] and bound.parameters == ()


def test_bind_of_a_plain_prepared_statement_has_the_defaults() -> None:
    bound = PreparedStatement(query="SELECT 1", query_id=b"\x01").bind(())
    assert {name: getattr(bound, name) for name in SAMPLES} == {
        name: (False if name == "is_idempotent" else None) for name in SAMPLES
    }


def test_options_given_to_a_bound_statement_win_over_the_prepared_ones() -> None:
    prepared = PreparedStatement(query="SELECT 1", query_id=b"\x01", **SAMPLES)
    bound = BoundStatement(prepared, [], fetch_size=11, keyspace="other")
    assert bound.fetch_size == 11 and bound.keyspace == "other"
    assert bound.consistency_level is Consistency.QUORUM and bound.routing_token == 5
