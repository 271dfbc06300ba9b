"""Issue 11 item 6: Cluster(...), ExecutionProfile and statement options are checked when they are made,
with an InvalidValueError (a CqlError) naming the option and the value."""

from __future__ import annotations

import math
import ssl
from typing import Any

import pytest

import aiocql.connection.replies
import aiocql.validation
from aiocql import (
    NO_PAGING,
    BatchStatement,
    BatchType,
    Cluster,
    ConsistencyLevel,
    CqlError,
    DefaultRetryPolicy,
    ExecutionProfile,
    InvalidValueError,
    PlainTextAuthProvider,
    SimpleStatement,
)
from tests.helpers.doctests import run_doctests


@pytest.mark.parametrize("module", [aiocql.validation, aiocql.connection.replies])
def test_docstring_examples(module: object) -> None:
    run_doctests(module)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "rows"),
    [("SELECT k FROM t", True), ("select\nk from t", True), ("  Select k from t", True), ("selector", False),
     ("INSERT INTO t (k) VALUES (1)", False), ("USE ks", False), ("/* c */ SELECT 1", False), ("", False)],
)  # fmt: skip
def test_a_select_is_told_from_other_statements(query: str, rows: bool) -> None:
    from aiocql.connection.replies import returns_rows

    assert returns_rows(query) is rows


BAD_CLUSTER_ARGUMENTS: list[tuple[str, Any]] = [
    ("contact_points", []),
    ("contact_points", [1]),
    ("contact_points", None),
    ("port", "9042"),
    ("port", 0),
    ("port", 70000),
    ("protocol_version", 3),
    ("protocol_version", "5"),
    ("auth_provider", 1),
    ("auth_provider", PlainTextAuthProvider),  # the class, not an instance
    ("ssl_context", True),
    ("compression", "lz4"),
    ("connect_timeout", 0),
    ("connect_timeout", math.nan),
    ("connect_timeout", None),
    ("request_timeout", "10"),
    ("request_timeout", math.inf),
    ("connections_per_host", 0),
    ("connections_per_host", 1.5),
    ("remote_connections_per_host", -1),
    ("heartbeat_interval", -1),
    ("heartbeat_interval", math.nan),
    ("heartbeat_timeout", 0),
    ("consistency_level", "LOCAL_ONE"),
    ("consistency_level", None),
    ("serial_consistency_level", ConsistencyLevel.ONE),
    ("fetch_size", 0),
    ("fetch_size", None),
    ("row_factory", 5),
    ("retry_policy", DefaultRetryPolicy),
    ("retry_policy", "default"),
    ("load_balancing_policy", object()),
    ("local_dc", 1),
    ("reconnection_policy", 1),
    ("speculative_execution_policy", 1),
    ("execution_profiles", {"a": {"fetch_size": 1}}),
    ("execution_profiles", [ExecutionProfile()]),
    ("request_tracker", 1),
    ("max_requests_in_flight", 0),
    ("max_requests_queued", -1),
    ("client_timestamps", "yes"),
    ("schema_agreement_wait", -1),
    ("max_streams_per_connection", 0),
    ("max_streams_per_connection", 32769),
    ("max_orphans_per_connection", 0),
    ("schema_metadata", 1),
    ("contact_points_are_hosts", "yes"),
    ("schema_event_refresh", None),
    ("resolver", 5),
    ("address_translator", {"10.0.0.1": "1.2.3.4"}),
    ("server_hostname", 5),
]


@pytest.mark.parametrize(("name", "value"), BAD_CLUSTER_ARGUMENTS)
def test_a_bad_cluster_argument_names_itself(name: str, value: Any) -> None:
    with pytest.raises(InvalidValueError, match=name) as info:
        Cluster(**{name: value})
    assert isinstance(info.value, CqlError)
    shown = value[0] if name == "contact_points" and value else value  # a wrong entry is named itself
    assert f"({type(shown).__name__})" in str(info.value)


def test_good_cluster_arguments_are_accepted() -> None:
    cluster = Cluster(
        "127.0.0.1",
        port=9043,
        protocol_version=4,
        auth_provider=PlainTextAuthProvider("u", "p"),
        ssl_context=ssl.create_default_context(),
        connect_timeout=1,
        request_timeout=None,
        heartbeat_interval=0,
        consistency_level=ConsistencyLevel.ANY,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        fetch_size=NO_PAGING,
        max_requests_in_flight=None,
        schema_agreement_wait=0,
        execution_profiles={"x": ExecutionProfile(fetch_size=10)},
    )
    assert cluster.contact_points == ["127.0.0.1"]
    assert cluster.default_profile.fetch_size is NO_PAGING


def test_local_dc_with_a_policy_is_a_cql_error() -> None:
    from aiocql import RoundRobinPolicy

    with pytest.raises(InvalidValueError, match="local_dc"):
        Cluster(load_balancing_policy=RoundRobinPolicy(), local_dc="dc1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("consistency_level", "ONE"),
        ("serial_consistency_level", ConsistencyLevel.ONE),
        ("request_timeout", math.nan),
        ("request_timeout", -1),
        ("fetch_size", 0),
        ("row_factory", "tuple"),
        ("retry_policy", 1),
        ("load_balancing_policy", 1),
        ("speculative_execution_policy", 1),
    ],
)
def test_execution_profile_checks_its_settings_once(name: str, value: Any) -> None:
    with pytest.raises(InvalidValueError, match=f"ExecutionProfile.{name}"):
        ExecutionProfile(**{name: value})


def test_statements_refuse_unknown_options_and_bad_batches() -> None:
    with pytest.raises(InvalidValueError, match="has no option 'consistency'"):
        SimpleStatement("SELECT 1", consistency=ConsistencyLevel.ONE)
    with pytest.raises(InvalidValueError, match="routing_key"):
        SimpleStatement("SELECT 1", routing_key="k")
    with pytest.raises(InvalidValueError, match="batch_type"):
        BatchStatement("UNLOGGED")  # type: ignore[arg-type]
    batch = BatchStatement(BatchType.UNLOGGED)
    with pytest.raises(InvalidValueError, match="a batch takes query strings"):
        batch.add(BatchStatement())  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="a batch takes query strings"):
        batch.add(None)  # type: ignore[arg-type]


def test_a_batch_refuses_its_65536th_statement_when_added() -> None:
    batch = BatchStatement(BatchType.UNLOGGED)
    child = SimpleStatement("INSERT INTO t (k) VALUES (1)")
    batch.entries = [(child, None)] * 65535
    with pytest.raises(InvalidValueError, match="at most 65535"):
        batch.add(child)


def test_no_paging_is_one_object() -> None:
    import pickle

    assert pickle.loads(pickle.dumps(NO_PAGING)) is NO_PAGING
    assert type(NO_PAGING)() is NO_PAGING
    assert repr(NO_PAGING) == "NO_PAGING"
