"""No ``Cluster(...)`` argument is accepted and ignored: each one is honoured, and a test observes its effect.

This table names, for every parameter of ``Cluster.__init__``, the test that fails when the setting does
not reach where it matters (the wire, the pool, the plan, the session...). A new parameter without such
a test, or a test that no longer exists, fails here. Wrong values are a separate matter
(tests/unit/test_validation.py), and so are cassandra-driver arguments aiocql does not take (they raise
UsageError with the aiocql way: aiocql.cluster.config.DRIVER_ARGUMENTS, docs/migration.md).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

from aiocql import Cluster

ROOT = Path(__file__).resolve().parents[2]

#: Cluster(...) parameter -> the test proving its effect ("folder/module::test function", under tests/).
EFFECT_TESTS: dict[str, str] = {
    "contact_points": "adversity/test_cluster_config_errors::test_every_contact_point_down_names_each_host",
    "port": "adversity/test_config_objects::test_each_config_object_reaches_the_wire",
    "connection": "adversity/test_config_objects::test_each_config_object_reaches_the_wire",
    "pool": "adversity/test_config_objects::test_each_config_object_reaches_the_wire",
    "protocol_version": "adversity/test_protocol_fallback::test_cluster_falls_back_to_v4_on_a_fresh_socket",
    "auth_provider": "adversity/test_fakeserver::test_authentication_success_challenge_and_failure",
    "ssl_context": "integration/test_tls::test_tls_with_hostname_checking",
    "compression": "adversity/test_config_objects::test_each_config_object_reaches_the_wire",
    "connect_timeout": "adversity/test_dead_server::test_server_that_accepts_but_never_answers_startup_times_out",
    "request_timeout": "adversity/test_dead_server::test_all_waiting_requests_fail_promptly_when_the_server_dies",
    "connections_per_host": "adversity/test_cluster_arguments::test_pools_are_sized_by_distance",
    "remote_connections_per_host": "adversity/test_cluster_arguments::test_pools_are_sized_by_distance",
    "heartbeat_interval": "adversity/test_heartbeat::test_heartbeat_through_the_session_pool_reconnects",
    "heartbeat_timeout": "adversity/test_heartbeat::test_heartbeat_through_the_session_pool_reconnects",
    "consistency_level": "adversity/test_config_objects::test_each_config_object_reaches_the_wire",
    "serial_consistency_level": "adversity/test_option_validation::test_good_options_still_reach_the_server",
    "fetch_size": "adversity/test_config_objects::test_each_config_object_reaches_the_wire",
    "row_factory": "adversity/test_profiles::test_a_named_profile_sets_consistency_timeout_and_row_factory",
    "retry_policy": "adversity/test_retries::test_ignore_decision_returns_an_empty_result_without_retrying",
    "load_balancing_policy": "adversity/test_cluster_arguments::test_pools_are_sized_by_distance",
    "local_dc": "cluster/test_two_dcs::test_a_wrong_local_dc_is_a_driver_error",
    "reconnection_policy": "adversity/test_control_connection::"
    "test_the_control_connection_reconnects_on_the_reconnection_policy_schedule",
    "speculative_execution_policy": "adversity/test_profiles::test_a_profile_turns_speculation_on",
    "execution_profiles": "adversity/test_profiles::test_a_named_profile_sets_consistency_timeout_and_row_factory",
    "request_tracker": "adversity/test_operation_info::test_a_query_carries_its_resolved_settings_and_its_coordinator",
    "max_requests_in_flight": "adversity/test_throttle::test_never_more_than_n_requests_at_the_server",
    "max_requests_queued": "adversity/test_throttle::test_a_full_queue_refuses_at_once",
    "client_timestamps": "integration/test_timestamps::test_the_session_timestamp_generator",
    "schema_agreement_wait": "adversity/test_schema_agreement::test_ddl_with_disagreeing_peer_returns_after_the_wait",
    "max_streams_per_connection": "adversity/test_backpressure::"
    "test_a_connection_out_of_stream_ids_sends_the_request_to_the_next_node",
    "max_orphans_per_connection": "adversity/test_orphans::test_connection_is_replaced_past_max_orphans",
    "schema_metadata": "adversity/test_cluster_arguments::test_schema_metadata_false_reads_no_schema",
    "resolver": "adversity/test_deployment::test_contact_points_are_resolved_again_when_no_known_host_answers",
    "contact_points_are_hosts": "adversity/test_cluster_arguments::test_pools_are_sized_by_distance",
    "schema_event_refresh": "integration/test_parity_features::test_refresh_one_table_with_event_refresh_off",
    "server_hostname": "integration/test_tls::test_server_hostname_fixed_or_per_host",
    "address_translator": "adversity/test_deployment::test_translator_maps_every_peer_and_event_address",
    "slow_query_threshold": "adversity/test_operation_info::test_slow_queries_are_logged_without_values_per_profile",
}


#: Config-object fields that no Cluster(...) keyword sets -> the test proving their effect.
CONFIG_ONLY_EFFECT_TESTS: dict[str, str] = {
    "internal_request_timeout": "adversity/test_cluster_arguments::"
    "test_internal_request_timeout_bounds_the_control_connections_queries",
}


def _parameters() -> set[str]:
    params = inspect.signature(Cluster.__init__).parameters.values()
    return {p.name for p in params if p.name != "self" and p.kind is not inspect.Parameter.VAR_KEYWORD}


def test_every_cluster_parameter_has_a_test_of_its_effect() -> None:
    assert set(EFFECT_TESTS) == _parameters()


def test_every_config_only_field_has_a_test_of_its_effect() -> None:
    from aiocql.connection.config import CONNECTION_KEYWORDS, ConnectionConfig
    from aiocql.pool.config import POOL_KEYWORDS, PoolConfig

    config_only = {f.name for f in dataclasses.fields(ConnectionConfig)} - set(CONNECTION_KEYWORDS.values())
    config_only |= {f.name for f in dataclasses.fields(PoolConfig)} - set(POOL_KEYWORDS.values())
    assert set(CONFIG_ONLY_EFFECT_TESTS) == config_only


def test_each_named_test_exists_and_uses_its_setting() -> None:
    missing = []
    for name, where in {**EFFECT_TESTS, **CONFIG_ONLY_EFFECT_TESTS}.items():
        module, function = where.split("::")
        source = (ROOT / "tests" / f"{module}.py").read_text(encoding="utf-8")
        tests = {
            node.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        if function not in tests or name not in source:
            missing.append(f"{name}: {where}")
    assert missing == []


def test_a_keyword_that_nothing_would_read_alone_is_a_usage_error() -> None:
    """``server_hostname`` is read only with TLS, ``max_requests_queued`` only with a throttle: given without
    them, each would be ignored, so each raises UsageError saying what to add."""
    import ssl

    import pytest

    from aiocql import ConnectionConfig, UsageError

    with pytest.raises(UsageError, match="pass ssl_context= too"):
        Cluster(server_hostname="db.example")
    with pytest.raises(UsageError, match="pass ssl_context= too"):
        ConnectionConfig(server_hostname=lambda host: "db.example")
    with pytest.raises(UsageError, match="pass max_requests_in_flight= too"):
        Cluster(max_requests_queued=5)
    tls = ssl.create_default_context()
    assert Cluster(server_hostname="db.example", ssl_context=tls).server_hostname == "db.example"
    assert Cluster(max_requests_queued=5, max_requests_in_flight=2).defaults.max_requests_queued == 5
