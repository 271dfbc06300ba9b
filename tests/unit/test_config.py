"""Issue 10 item 5: public frozen config objects (ConnectionConfig, PoolConfig, the default ExecutionProfile),
the Cluster(...) keywords a thin shim that builds them, each default written once (and docs/configuration.md
stating the same defaults), validation in the config objects, conflicting inputs refused, nothing mutated."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect
import math
import re
import ssl
from pathlib import Path
from typing import Any

import pytest

import aiocql
from aiocql import (
    EXEC_PROFILE_DEFAULT,
    NO_PAGING,
    Cluster,
    ConnectionConfig,
    ConsistencyLevel,
    ConstantReconnectionPolicy,
    ConstantSpeculativeExecutionPolicy,
    CqlError,
    DCAwareRoundRobinPolicy,
    ExecutionProfile,
    FallthroughRetryPolicy,
    InvalidValueError,
    PlainTextAuthProvider,
    PoolConfig,
    RoundRobinPolicy,
    UsageError,
    dict_factory,
)
from aiocql.cluster.config import DRIVER_ARGUMENTS, PROFILE_KEYWORDS, SESSION_KEYWORDS
from aiocql.connection.config import CONNECTION_KEYWORDS, ConnectionOptions
from aiocql.pool.config import POOL_KEYWORDS
from aiocql.session.profiles import ResolvedProfile
from aiocql.session.session import SessionDefaults

ROOT = Path(__file__).resolve().parents[2]
#: Cluster(...) parameters that are the cluster's own (no config object holds them).
CLUSTER_OWN = {
    "contact_points", "local_dc", "execution_profiles", "schema_metadata", "schema_event_refresh", "resolver",
    "contact_points_are_hosts", "address_translator", "connection", "pool",
}  # fmt: skip


@pytest.mark.parametrize(
    "name", ["aiocql.connection.config", "aiocql.pool.config", "aiocql.cluster.config", "aiocql.session.profiles"]
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_the_cluster_docstring_examples_run() -> None:
    import aiocql.cluster.cluster as module

    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    cluster = module.Cluster
    for name, obj in [("Cluster", cluster), ("default_profile", cluster.default_profile),
                      ("protocol_version", cluster.protocol_version)]:  # fmt: skip
        for test in finder.find(obj, name, globs=vars(module)):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 7


def test_every_cluster_keyword_is_a_config_field_or_the_clusters_own() -> None:
    params = {n for n, p in inspect.signature(Cluster.__init__).parameters.items() if p.kind is not p.VAR_KEYWORD}
    params -= {"self"}
    mapped = {*CONNECTION_KEYWORDS, *POOL_KEYWORDS, *PROFILE_KEYWORDS, *SESSION_KEYWORDS}
    assert params == mapped | CLUSTER_OWN, (params - mapped - CLUSTER_OWN, mapped - params)
    config_only = {"internal_request_timeout"}  # set in a ConnectionConfig only: no Cluster keyword
    assert set(CONNECTION_KEYWORDS.values()) | config_only == {f.name for f in dataclasses.fields(ConnectionConfig)}
    assert set(POOL_KEYWORDS.values()) == {f.name for f in dataclasses.fields(PoolConfig)}
    assert set(PROFILE_KEYWORDS) == {f.name for f in dataclasses.fields(ResolvedProfile)}
    session_fields = {f.name for f in dataclasses.fields(SessionDefaults)} - {"default_profile", "execution_profiles"}
    assert set(SESSION_KEYWORDS) == session_fields


# Each keyword with a value other than its default, and where the cluster must show it.
AUTH = PlainTextAuthProvider("u", "p")
TLS = ssl.create_default_context()
RECONNECT = ConstantReconnectionPolicy(2.0)
RETRY = FallthroughRetryPolicy()
BALANCE = RoundRobinPolicy()
SPECULATE = ConstantSpeculativeExecutionPolicy(0.1, 2)
KEYWORD_VALUES: dict[str, Any] = {
    "port": 9043, "protocol_version": 4, "compression": True, "auth_provider": AUTH, "ssl_context": TLS,
    "server_hostname": "db.example", "connect_timeout": 2.5, "heartbeat_interval": 0, "heartbeat_timeout": 3.0,
    "max_streams_per_connection": 128, "max_orphans_per_connection": 7,
    "connections_per_host": 3, "remote_connections_per_host": 2, "reconnection_policy": RECONNECT,
    "consistency_level": ConsistencyLevel.QUORUM, "serial_consistency_level": ConsistencyLevel.LOCAL_SERIAL,
    "request_timeout": None, "fetch_size": NO_PAGING, "row_factory": dict_factory, "retry_policy": RETRY,
    "load_balancing_policy": BALANCE, "speculative_execution_policy": SPECULATE, "slow_query_threshold": 0.25,
    "client_timestamps": False, "schema_agreement_wait": 0, "max_requests_in_flight": 8, "max_requests_queued": 9,
}  # fmt: skip


def test_the_cluster_docstring_names_every_config_keyword() -> None:
    doc = Cluster.__doc__ or ""
    missing = [k for k in (*CONNECTION_KEYWORDS, *POOL_KEYWORDS, *PROFILE_KEYWORDS) if f"``{k}``" not in doc]
    assert missing == []


def test_the_keyword_table_covers_every_config_keyword() -> None:
    assert set(KEYWORD_VALUES) == {*CONNECTION_KEYWORDS, *POOL_KEYWORDS, *PROFILE_KEYWORDS, *SESSION_KEYWORDS} - {
        "request_tracker"  # composed with the cluster's metrics tracker: test_the_request_tracker_is_composed
    }


def test_the_request_tracker_is_composed_with_the_clusters_metrics() -> None:
    from aiocql.metrics.trackers import CompositeTracker

    class Tracker:
        def on_start(self, info: Any) -> None: ...
        def on_success(self, info: Any) -> None: ...
        def on_error(self, info: Any) -> None: ...

    tracker = Tracker()
    composed = Cluster(request_tracker=tracker).defaults.request_tracker
    assert isinstance(composed, CompositeTracker) and tracker in composed.trackers


def test_assigning_the_protocol_version_is_a_usage_error_with_the_aiocql_way() -> None:
    cluster = Cluster()
    with pytest.raises(UsageError, match=r"Cluster\(protocol_version=\.\.\.\) or ConnectionConfig"):
        cluster.protocol_version = 4
    assert cluster.protocol_version is None and cluster.connection.protocol_version is None


#: Keywords that mean something only with another one (given alone, they raise UsageError).
PARTNERS: dict[str, dict[str, Any]] = {
    "server_hostname": {"ssl_context": TLS},
    "max_requests_queued": {"max_requests_in_flight": 8},
}


@pytest.mark.parametrize("keyword", sorted(KEYWORD_VALUES))
def test_each_keyword_sets_its_config_field(keyword: str) -> None:
    value = KEYWORD_VALUES[keyword]
    partners = PARTNERS.get(keyword, {})
    cluster = Cluster(**{keyword: value}, **partners)
    if keyword in CONNECTION_KEYWORDS:
        field = CONNECTION_KEYWORDS[keyword]
        assert getattr(cluster.connection, field) is value or getattr(cluster.connection, field) == value
        assert getattr(cluster.options, field) == value or keyword == "server_hostname"
        # the same cluster as the config object would make
        assert cluster.connection == Cluster(connection=ConnectionConfig(**{field: value}, **partners)).connection
        others = {f.name for f in dataclasses.fields(ConnectionConfig)} - {field} - set(partners)
        assert all(getattr(cluster.connection, n) == getattr(ConnectionConfig(), n) for n in others)
    elif keyword in POOL_KEYWORDS:
        assert getattr(cluster.pool, POOL_KEYWORDS[keyword]) is value
        assert getattr(Cluster(pool=PoolConfig(**{keyword: value})).pool, keyword) is value
    elif keyword in PROFILE_KEYWORDS:
        assert getattr(cluster.default_profile, keyword) is value or getattr(cluster.default_profile, keyword) == value
        assert getattr(cluster.defaults.default_profile, keyword) == value
        if value is not None:  # in a profile None means "inherit"
            made = Cluster(execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(**{keyword: value})})
            assert getattr(made.default_profile, keyword) == value
    else:
        assert keyword in SESSION_KEYWORDS
        assert getattr(cluster.defaults, keyword) == value


def test_the_cluster_attributes_follow_the_config_objects() -> None:
    cluster = Cluster(
        connection=ConnectionConfig(port=9050, server_hostname="db.example", ssl_context=TLS),
        pool=PoolConfig(connections_per_host=4, remote_connections_per_host=2, reconnection_policy=RECONNECT),
        load_balancing_policy=BALANCE,
    )
    assert cluster.port == 9050 and cluster.server_hostname == "db.example"
    assert cluster.options.port == 9050 and cluster.options.tls_name() == "db.example"
    assert (cluster.connections_per_host, cluster.remote_connections_per_host) == (4, 2)
    assert cluster.reconnection_policy is RECONNECT and cluster.load_balancing_policy is BALANCE
    # a server_hostname function is the cluster's to call per host: connections see no fixed name
    per_host = Cluster(server_hostname=lambda host: "node.example", ssl_context=TLS)
    assert callable(per_host.server_hostname) and per_host.options.tls_name() is None


def test_a_load_balancing_policy_in_the_default_profile_is_the_clusters() -> None:
    cluster = Cluster(execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=BALANCE)})
    assert cluster.load_balancing_policy is BALANCE and cluster.default_profile.load_balancing_policy is BALANCE
    with pytest.raises(InvalidValueError, match="give local_dc to the load_balancing_policy"):
        Cluster(local_dc="dc1", execution_profiles={"default": ExecutionProfile(load_balancing_policy=BALANCE)})
    dc = Cluster(local_dc="dc1").load_balancing_policy
    assert isinstance(dc.child, DCAwareRoundRobinPolicy) and dc.child.local_dc == "dc1"  # type: ignore[attr-defined]


def _same(a: Any, b: Any) -> bool:
    """Equal values, or objects of one type whose public attributes are the same (policies have no __eq__)."""
    if a == b:
        return True
    if type(a) is not type(b) or isinstance(a, (int, float, str, bytes, tuple)):
        return False
    names = {n for n in dir(a) if not n.startswith("_") and not callable(getattr(a, n))}
    return all(_same(getattr(a, n), getattr(b, n)) for n in names)


def _defaults(cls: type[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def test_a_cluster_given_nothing_has_the_config_classes_defaults() -> None:
    cluster = Cluster()
    assert cluster.connection == ConnectionConfig()
    assert _same(cluster.pool, PoolConfig()) and _same(
        cluster.pool.reconnection_policy, PoolConfig().reconnection_policy
    )
    for name, value in _defaults(ResolvedProfile).items():
        assert _same(getattr(cluster.default_profile, name), value), name
    for name in SESSION_KEYWORDS:
        if name != "request_tracker":  # the cluster adds its metrics tracker
            assert getattr(cluster.defaults, name) == _defaults(SessionDefaults)[name], name
    assert cluster.protocol_version is None


def _literal(value: Any) -> str | None:
    """How a default is written in the source, for the ones a grep can find (None, flags and factories: no)."""
    if value is None or isinstance(value, bool) or callable(value):
        return None
    if isinstance(value, ConsistencyLevel):
        return f"Consistency.{value.name}"
    if isinstance(value, int) and value >= 10_000:
        return f"(?:{value}|{value:_})"
    return re.escape(repr(value)) if isinstance(value, (int, float)) else None


def test_each_default_is_written_once() -> None:
    """A grep for each default literal, as a keyword's or a field's default, finds its one definition."""
    # The driver's sources; aiocql/testing (fake servers, the launcher) is tooling with its own settings.
    sources = {p: p.read_text() for p in (ROOT / "aiocql").rglob("*.py") if "testing" not in p.parts}
    keyword_of = {field: keyword for keyword, field in CONNECTION_KEYWORDS.items()}
    checked = 0
    for cls in (ConnectionConfig, PoolConfig, ResolvedProfile, SessionDefaults):
        for name, value in _defaults(cls).items():
            literal = _literal(value)
            if literal is None:
                continue
            names = "|".join(sorted({name, keyword_of.get(name, name)}))
            # `name: type = literal` (a field or a parameter) or `name=literal` (a call's keyword)
            pattern = re.compile(rf"^(?!\s*>>>).*\b(?:{names})\b\s*(?::[^=\n]*)?=\s*{literal}(?![\w.])", re.M | re.I)
            hits = [f"{p.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
                    for p, text in sources.items() for m in pattern.finditer(text)]  # fmt: skip
            if name == "port":  # 9042 is also the default of a Host value (model layer, below connection)
                hits = [h for h in hits if "/host.py:" not in h]
            assert len(hits) == 1, (cls.__name__, name, hits)
            checked += 1
    assert checked >= 12


@pytest.mark.parametrize("config", [ConnectionConfig(), PoolConfig(), ExecutionProfile()])
def test_config_objects_are_frozen_and_slotted(config: Any) -> None:
    field = dataclasses.fields(config)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, field, getattr(config, field))
    assert not hasattr(config, "__dict__")
    with pytest.raises((AttributeError, TypeError)):
        config.made_up = 1


def test_the_cluster_neither_changes_nor_copies_the_objects_it_is_given() -> None:
    connection = ConnectionConfig(port=9044)
    pool = PoolConfig(connections_per_host=2)
    default = ExecutionProfile(consistency_level=ConsistencyLevel.ONE)
    profiles = {EXEC_PROFILE_DEFAULT: default}
    cluster = Cluster(connection=connection, pool=pool, execution_profiles=profiles, fetch_size=10)
    assert cluster.connection is connection and cluster.pool is pool
    assert (
        cluster.default_profile.consistency_level is ConsistencyLevel.ONE and cluster.default_profile.fetch_size == 10
    )
    assert default == ExecutionProfile(consistency_level=ConsistencyLevel.ONE) and profiles == {"default": default}
    cluster.add_execution_profile("later", ExecutionProfile(fetch_size=3))
    assert list(profiles) == ["default"]  # the caller's mapping is not the cluster's


# A config object and a keyword that sets one of its fields: refused, whatever the values.
CONFLICTS: list[tuple[dict[str, Any], str]] = [
    ({"connection": ConnectionConfig(), "connect_timeout": 5.0}, "connect_timeout"),
    ({"connection": ConnectionConfig(port=9043), "port": 9043}, "port"),
    ({"connection": ConnectionConfig(), "protocol_version": None}, "protocol_version"),
    ({"connection": ConnectionConfig(), "max_streams_per_connection": 8}, "max_streams"),
    ({"pool": PoolConfig(), "connections_per_host": 2}, "connections_per_host"),
    ({"pool": PoolConfig(), "reconnection_policy": RECONNECT}, "reconnection_policy"),
    ({"execution_profiles": {"default": ExecutionProfile(fetch_size=5)}, "fetch_size": 6}, "fetch_size"),
    ({"execution_profiles": {"default": ExecutionProfile(retry_policy=RETRY)}, "retry_policy": RETRY}, "retry_policy"),
    ({"execution_profiles": {"default": ExecutionProfile(load_balancing_policy=BALANCE)},
      "load_balancing_policy": BALANCE}, "load_balancing_policy"),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "field"), CONFLICTS, ids=[c[1] for c in CONFLICTS])
def test_a_keyword_given_with_its_config_object_is_a_usage_error(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(UsageError, match=rf"both set {field}: set it in one place") as info:
        Cluster(**arguments)
    assert isinstance(info.value, CqlError)
    keyword = next(k for k in arguments if k not in ("connection", "pool", "execution_profiles"))
    assert f"Cluster({keyword}=...)" in str(info.value)


def test_the_port_given_by_position_with_a_connection_config_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="both set port"):
        Cluster(["127.0.0.1"], 9042, connection=ConnectionConfig())


def test_a_keyword_and_a_default_profile_setting_different_fields_combine() -> None:
    profile = ExecutionProfile(consistency_level=ConsistencyLevel.QUORUM)
    cluster = Cluster(request_timeout=2.0, execution_profiles={"default": profile})
    assert cluster.default_profile.consistency_level is ConsistencyLevel.QUORUM
    assert cluster.default_profile.request_timeout == 2.0


@pytest.mark.parametrize(("argument", "value"), [("connection", {"port": 1}), ("connection", PoolConfig()),
                                                 ("pool", ConnectionConfig()), ("pool", 2)])  # fmt: skip
def test_a_config_argument_of_the_wrong_type_names_itself(argument: str, value: Any) -> None:
    with pytest.raises(
        InvalidValueError, match=rf"^{argument} must be a \w+Config or None, not .*\({type(value).__name__}\)"
    ):
        Cluster(**{argument: value})


BAD_FIELDS: list[tuple[type[Any], str, Any, str]] = [
    (ConnectionConfig, "port", "9042", "an int from 1 to 65535"),
    (ConnectionConfig, "port", 0, "an int from 1 to 65535"),
    (ConnectionConfig, "protocol_version", 3, "4, 5 or None"),
    (ConnectionConfig, "compression", "lz4", "True or False"),
    (ConnectionConfig, "auth_provider", PlainTextAuthProvider, "pass an instance"),
    (ConnectionConfig, "ssl_context", True, "an ssl.SSLContext or None"),
    (ConnectionConfig, "server_hostname", 5, "a host name"),
    (ConnectionConfig, "connect_timeout", None, "a number of seconds"),
    (ConnectionConfig, "connect_timeout", math.nan, "a finite number of seconds"),
    (ConnectionConfig, "heartbeat_interval", -1, "at least 0 seconds"),
    (ConnectionConfig, "heartbeat_timeout", 0, "more than 0 seconds"),
    (ConnectionConfig, "max_streams", 32769, "an int from 1 to 32768"),
    (ConnectionConfig, "max_orphans", 0, "an int >= 1"),
    (PoolConfig, "connections_per_host", 1.5, "an int from 1 to 1024"),
    (PoolConfig, "remote_connections_per_host", 0, "an int from 1 to 1024"),
    (PoolConfig, "reconnection_policy", 1, "a ReconnectionPolicy"),
    (PoolConfig, "reconnection_policy", None, "a ReconnectionPolicy"),
]


@pytest.mark.parametrize(
    ("cls", "field", "value", "expected"), BAD_FIELDS, ids=[f"{b[1]}={b[2]!r}" for b in BAD_FIELDS]
)
def test_a_config_object_checks_each_field_once_naming_it(
    cls: type[Any], field: str, value: Any, expected: str
) -> None:
    with pytest.raises(InvalidValueError, match=rf"^{cls.__name__}\.{field} must be ") as info:
        cls(**{field: value})
    assert expected in str(info.value) and f"({type(value).__name__})" in str(info.value)
    assert isinstance(info.value, CqlError)
    good = cls()
    with pytest.raises(InvalidValueError, match=rf"{cls.__name__}\.{field}"):
        dataclasses.replace(good, **{field: value})  # a changed copy is checked too


def test_connection_options_are_the_config_with_the_clusters_tls_names() -> None:
    config = ConnectionConfig(port=9045, compression=True)
    options = ConnectionOptions.of(config, tls_name_for=lambda address: "x")
    assert isinstance(options, ConnectionConfig) and options.port == 9045 and options.compression
    assert options.tls_name_for is not None and options.tls_name_for("a") == "x"
    assert ConnectionOptions().max_streams == ConnectionConfig().max_streams  # one set of defaults
    with pytest.raises(InvalidValueError, match=r"ConnectionOptions\.port"):
        ConnectionOptions(port=0)


@pytest.mark.parametrize("name", sorted(DRIVER_ARGUMENTS))
def test_a_cassandra_driver_argument_raises_with_the_aiocql_way(name: str) -> None:
    with pytest.raises(UsageError, match=rf"^Cluster\({name}=\.\.\.\) is cassandra-driver's: ") as info:
        Cluster(**{name: 1})
    assert DRIVER_ARGUMENTS[name] in str(info.value) and isinstance(info.value, CqlError)


def test_a_misspelt_argument_is_a_usage_error_naming_the_close_ones() -> None:
    with pytest.raises(UsageError, match=r"has no argument 'conect_timeout'; did you mean connect_timeout"):
        Cluster(conect_timeout=1.0)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"^Cluster\(\) has no argument 'zzz' \(every setting"):
        Cluster(zzz=1)  # type: ignore[arg-type]


# -- docs/configuration.md states the same defaults ------------------------------------------------------------
DOC = ROOT / "docs" / "configuration.md"
SECTIONS: dict[str, Any] = {
    "ConnectionConfig": ConnectionConfig,
    "PoolConfig": PoolConfig,
    "ExecutionProfile: the default profile": ResolvedProfile,
    "Session settings": SessionDefaults,
    "Cluster settings": Cluster,
}


def _doc_tables() -> dict[str, list[tuple[str, str, str]]]:
    tables: dict[str, list[tuple[str, str, str]]] = {}
    section = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            tables[section] = []
        elif section is not None and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            setting, keyword, default = (c.strip("`") for c in cells[:3])
            tables[section].append((setting, keyword, default))
    return tables


def _real_defaults(owner: Any) -> dict[str, Any]:
    if owner is Cluster:
        params = inspect.signature(Cluster.__init__).parameters
        return {n: params[n].default for n in CLUSTER_OWN - {"connection", "pool"}}
    values = _defaults(owner)
    if owner is SessionDefaults:
        return {n: values[n] for n in SESSION_KEYWORDS}
    return values


def test_the_configuration_doc_lists_every_setting_with_its_default() -> None:
    tables = _doc_tables()
    assert set(SECTIONS) <= set(tables), sorted(tables)
    namespace = {**vars(aiocql), "ConsistencyLevel": ConsistencyLevel}
    keyword_of = {field: keyword for keyword, field in CONNECTION_KEYWORDS.items()}
    for section, owner in SECTIONS.items():
        rows = tables[section]
        real = _real_defaults(owner)
        assert sorted(r[0] for r in rows) == sorted(real), section  # every setting, once
        for setting, keyword, written in rows:
            if owner is ConnectionConfig:
                assert keyword == keyword_of.get(setting, "(none)"), setting
            else:
                assert keyword == setting
            documented = eval(written, namespace)  # a Python expression of the default
            assert _same(documented, real[setting]), (
                f"{section}: {setting} is {real[setting]!r}, the doc says {written}"
            )
