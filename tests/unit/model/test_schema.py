"""Schema model built from system_schema rows shaped as Cassandra 5.0 returns them.

The rows below were written by hand after reading them from a Cassandra 5.0.9 node for this DDL:

    CREATE KEYSPACE probe WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}
        AND durable_writes = false;
    CREATE TYPE probe.phone (kind text, number text);
    CREATE TYPE probe."Address" (street text, phones list<frozen<phone>>, zip int);
    CREATE TABLE probe.users (org int, id uuid, "Name" text, addr frozen<"Address">, tags set<text>,
        emb vector<float, 3>, PRIMARY KEY (org, id)) WITH comment = 'people';
    CREATE TABLE probe.events (a int, b text, c timeuuid, d int, s text static, m map<text, frozen<list<int>>>,
        PRIMARY KEY ((a, b), c, d)) WITH CLUSTERING ORDER BY (c DESC, d ASC);
    CREATE TABLE probe.cnt (k int PRIMARY KEY, n counter);
    CREATE INDEX users_name ON probe.users ("Name");
    CREATE INDEX ON probe.users (values(tags));
    CREATE CUSTOM INDEX events_d_sai ON probe.events (d) USING 'StorageAttachedIndex';
    CREATE INDEX ON probe.events (keys(m));
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

import pytest

from aiocql.model.replication import StrategyKind
from aiocql.model.schema import (
    ClusteringOrder,
    ColumnKind,
    ColumnMetadata,
    KeyspaceMetadata,
    TableMetadata,
    build_keyspaces,
    build_table,
    build_user_types,
)
from aiocql.protocol.cqltypes import (
    COUNTER,
    FLOAT,
    INT,
    TEXT,
    TIMEUUID,
    UUID,
    CustomType,
    ListType,
    MapType,
    SetType,
    UdtType,
    VectorType,
)

NTS = "org.apache.cassandra.locator.NetworkTopologyStrategy"

KEYSPACES = [
    {"keyspace_name": "probe", "durable_writes": False, "replication": {"class": NTS, "datacenter1": "1"}},
    {
        "keyspace_name": "system",
        "durable_writes": True,
        "replication": {"class": "org.apache.cassandra.locator.LocalStrategy"},
    },
    {
        "keyspace_name": "system_traces",
        "durable_writes": True,
        "replication": {"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "2"},
    },
]


def _table_row(name: str, comment: str = "", flags: frozenset[str] = frozenset({"compound"})) -> dict[str, Any]:
    return {
        "keyspace_name": "probe",
        "table_name": name,
        "additional_write_policy": "99p",
        "allow_auto_snapshot": None,
        "bloom_filter_fp_chance": 0.01,
        "caching": {"keys": "ALL", "rows_per_partition": "NONE"},
        "cdc": None,
        "comment": comment,
        "compaction": {
            "class": "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
            "max_threshold": "32",
            "min_threshold": "4",
        },
        "compression": {"chunk_length_in_kb": "16", "class": "org.apache.cassandra.io.compress.LZ4Compressor"},
        "crc_check_chance": 1.0,
        "dclocal_read_repair_chance": 0.0,
        "default_time_to_live": 0,
        "extensions": {},
        "flags": flags,
        "gc_grace_seconds": 864000,
        "id": uuid.UUID("d8873f50-e861-11f1-925d-dda3e9095753"),
        "incremental_backups": None,
        "max_index_interval": 2048,
        "memtable": None,
        "memtable_flush_period_in_ms": 0,
        "min_index_interval": 128,
        "read_repair": "BLOCKING",
        "read_repair_chance": 0.0,
        "speculative_retry": "99p",
    }


TABLES = [
    _table_row("cnt", flags=frozenset({"compound", "counter"})),
    _table_row("events"),
    _table_row("users", comment="people"),
    {
        "keyspace_name": "system",
        "table_name": "local",
        "flags": {"compound"},
        "comment": "information about the local node",
    },
    {"keyspace_name": "elsewhere", "table_name": "ignored", "flags": {"compound"}},
]


def _col(
    table: str, name: str, kind: str, position: int, type_: str, order: str = "none", ks: str = "probe"
) -> dict[str, Any]:
    return {
        "keyspace_name": ks,
        "table_name": table,
        "column_name": name,
        "clustering_order": order,
        "column_name_bytes": name.encode(),
        "kind": kind,
        "position": position,
        "type": type_,
    }


# In the order Cassandra returns them: by table, then by column name bytes.
COLUMNS = [
    _col("cnt", "k", "partition_key", 0, "int"),
    _col("cnt", "n", "regular", -1, "counter"),
    _col("events", "a", "partition_key", 0, "int"),
    _col("events", "b", "partition_key", 1, "text"),
    _col("events", "c", "clustering", 0, "timeuuid", "desc"),
    _col("events", "d", "clustering", 1, "int", "asc"),
    _col("events", "m", "regular", -1, "map<text, frozen<list<int>>>"),
    _col("events", "s", "static", -1, "text"),
    _col("users", "Name", "regular", -1, "text"),
    _col("users", "addr", "regular", -1, 'frozen<"Address">'),
    _col("users", "emb", "regular", -1, "vector<float, 3>"),
    _col("users", "id", "clustering", 0, "uuid", "asc"),
    _col("users", "org", "partition_key", 0, "int"),
    _col("users", "tags", "regular", -1, "set<text>"),
    _col("local", "key", "partition_key", 0, "text", ks="system"),
    _col("local", "tokens", "regular", -1, "set<text>", ks="system"),
    _col("ignored", "k", "partition_key", 0, "int", ks="elsewhere"),
]

# "Address" (which uses phone) sorts before phone: resolution must not depend on row order.
TYPES = [
    {
        "keyspace_name": "probe",
        "type_name": "Address",
        "field_names": ["street", "phones", "zip"],
        "field_types": ["text", "list<frozen<phone>>", "int"],
    },
    {
        "keyspace_name": "probe",
        "type_name": "phone",
        "field_names": ["kind", "number"],
        "field_types": ["text", "text"],
    },
]

INDEXES = [
    {
        "keyspace_name": "probe",
        "table_name": "events",
        "index_name": "events_d_sai",
        "kind": "CUSTOM",
        "options": {"class_name": "StorageAttachedIndex", "target": "d"},
    },
    {
        "keyspace_name": "probe",
        "table_name": "events",
        "index_name": "events_m_idx",
        "kind": "COMPOSITES",
        "options": {"target": "keys(m)"},
    },
    {
        "keyspace_name": "probe",
        "table_name": "users",
        "index_name": "users_name",
        "kind": "COMPOSITES",
        "options": {"target": '"Name"'},
    },
    {
        "keyspace_name": "probe",
        "table_name": "users",
        "index_name": "users_tags_idx",
        "kind": "COMPOSITES",
        "options": {"target": "values(tags)"},
    },
]

PHONE = UdtType("probe", "phone", ("kind", "number"), (TEXT, TEXT))
ADDRESS = UdtType("probe", "Address", ("street", "phones", "zip"), (TEXT, ListType(PHONE), INT))


@pytest.fixture(scope="module")
def schema() -> dict[str, KeyspaceMetadata]:
    return build_keyspaces(KEYSPACES, TABLES, COLUMNS, TYPES, INDEXES)


def test_keyspaces_and_replication(schema: dict[str, KeyspaceMetadata]) -> None:
    assert sorted(schema) == ["probe", "system", "system_traces"]
    probe = schema["probe"]
    assert probe.durable_writes is False
    assert dict(probe.replication) == {"class": NTS, "datacenter1": "1"}
    assert probe.replication_settings.kind is StrategyKind.NETWORK_TOPOLOGY
    assert probe.replication_settings.dc_full_replicas == {"datacenter1": 1}
    assert schema["system"].replication_settings.kind is StrategyKind.LOCAL
    traces = schema["system_traces"].replication_settings
    assert traces.kind is StrategyKind.SIMPLE and traces.replication_factor is not None
    assert traces.replication_factor.full_replicas == 2
    assert dict(schema["system_traces"].tables) == {}


def test_user_types_resolve_nested_types_in_any_order(schema: dict[str, KeyspaceMetadata]) -> None:
    types = schema["probe"].user_types
    assert sorted(types) == ["Address", "phone"]
    assert types["phone"].cql_type == PHONE
    address = types["Address"]
    assert address.field_names == ("street", "phones", "zip")
    assert address.field_types == (TEXT, ListType(PHONE), INT)
    phones = address.field_types[1]
    assert isinstance(phones, ListType) and isinstance(phones.elem, UdtType) and phones.elem.frozen
    assert address.cql_type == ADDRESS and address.cql_type.cql_name == '"Address"'


def test_users_table(schema: dict[str, KeyspaceMetadata]) -> None:
    users = schema["probe"].tables["users"]
    assert (users.keyspace, users.name) == ("probe", "users")
    # SELECT * order: partition key, clustering, then regular columns by name bytes ("Name" < "addr").
    assert list(users.columns) == ["org", "id", "Name", "addr", "emb", "tags"]
    assert [c.name for c in users.partition_key] == ["org"]
    assert [c.name for c in users.clustering_key] == ["id"]
    assert users.columns["id"] == ColumnMetadata("id", UUID, ColumnKind.CLUSTERING, 0, ClusteringOrder.ASC)
    assert users.columns["tags"].cql_type == SetType(TEXT)
    assert users.columns["emb"].cql_type == VectorType(FLOAT, 3)
    addr = users.columns["addr"].cql_type
    assert addr == ADDRESS and isinstance(addr, UdtType) and addr.frozen and addr.cql_name == 'frozen<"Address">'
    assert users.options["comment"] == "people"
    assert users.options["gc_grace_seconds"] == 864000
    assert users.options["compaction"]["max_threshold"] == "32"
    assert "keyspace_name" not in users.options and "flags" not in users.options and "id" not in users.options
    assert users.id == uuid.UUID("d8873f50-e861-11f1-925d-dda3e9095753")
    assert users.flags == {"compound"} and not users.is_counter and not users.is_compact_storage
    assert users.primary_key_cql == "PRIMARY KEY (org, id)"


def test_composite_partition_key_static_and_clustering_order(schema: dict[str, KeyspaceMetadata]) -> None:
    events = schema["probe"].tables["events"]
    assert list(events.columns) == ["a", "b", "c", "d", "s", "m"]
    assert [(c.name, c.position) for c in events.partition_key] == [("a", 0), ("b", 1)]
    assert [(c.name, c.clustering_order) for c in events.clustering_key] == [
        ("c", ClusteringOrder.DESC),
        ("d", ClusteringOrder.ASC),
    ]
    assert events.columns["c"].cql_type == TIMEUUID and events.columns["c"].is_reversed
    assert not events.columns["d"].is_reversed
    assert events.columns["s"].kind is ColumnKind.STATIC and events.columns["s"].position == -1
    assert events.columns["m"].cql_type == MapType(TEXT, ListType(INT))
    assert [c.name for c in events.primary_key] == ["a", "b", "c", "d"]
    assert events.primary_key_cql == "PRIMARY KEY ((a, b), c, d)"
    assert not events.columns["m"].is_primary_key and events.columns["a"].is_primary_key


def test_counter_table(schema: dict[str, KeyspaceMetadata]) -> None:
    cnt = schema["probe"].tables["cnt"]
    assert cnt.is_counter and cnt.columns["n"].cql_type == COUNTER


def test_indexes(schema: dict[str, KeyspaceMetadata]) -> None:
    events, users = schema["probe"].tables["events"], schema["probe"].tables["users"]
    assert sorted(events.indexes) == ["events_d_sai", "events_m_idx"]
    sai = events.indexes["events_d_sai"]
    assert (sai.kind, sai.target, sai.class_name, sai.table) == ("CUSTOM", "d", "StorageAttachedIndex", "events")
    assert events.indexes["events_m_idx"].target == "keys(m)"
    assert events.indexes["events_m_idx"].class_name is None
    assert users.indexes["users_name"].target == '"Name"'
    assert users.indexes["users_tags_idx"].target == "values(tags)"


def test_rows_of_other_keyspaces_are_ignored(schema: dict[str, KeyspaceMetadata]) -> None:
    assert "elsewhere" not in schema
    assert list(schema["system"].tables) == ["local"]
    assert list(schema["system"].tables["local"].columns) == ["key", "tokens"]


def test_model_is_immutable(schema: dict[str, KeyspaceMetadata]) -> None:
    users = schema["probe"].tables["users"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        users.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        users.columns["x"] = users.columns["id"]  # type: ignore[index]
    with pytest.raises(TypeError):
        schema["probe"].tables["x"] = users  # type: ignore[index]
    with pytest.raises(TypeError):
        schema["probe"].replication["class"] = "x"  # type: ignore[index]


def test_rebuilding_gives_equal_values(schema: dict[str, KeyspaceMetadata]) -> None:
    again = build_keyspaces(reversed(KEYSPACES), reversed(TABLES), reversed(COLUMNS), reversed(TYPES), INDEXES)
    assert again == schema


def test_one_keyspace_refresh() -> None:
    only = build_keyspaces(KEYSPACES[:1], TABLES, COLUMNS, TYPES, INDEXES)
    assert list(only) == ["probe"] and sorted(only["probe"].tables) == ["cnt", "events", "users"]


def test_build_table_for_a_table_level_refresh(schema: dict[str, KeyspaceMetadata]) -> None:
    probe = schema["probe"]
    users = build_table(TABLES[2], COLUMNS, INDEXES, {"probe": probe.user_types})
    assert users == probe.tables["users"]
    updated = probe.with_table(dataclasses.replace(users, options={"comment": "changed"}))
    assert updated.tables["users"].options["comment"] == "changed"
    assert updated.tables["events"] is probe.tables["events"]
    assert probe.tables["users"].options["comment"] == "people"
    assert sorted(updated.without_table("users").tables) == ["cnt", "events"]
    assert updated.without_table("nope").tables == updated.tables


def test_views() -> None:
    view_row = {
        "keyspace_name": "probe",
        "view_name": "users_by_name",
        "base_table_id": uuid.UUID("d8873f50-e861-11f1-925d-dda3e9095753"),
        "base_table_name": "users",
        "include_all_columns": False,
        "where_clause": '"Name" IS NOT NULL AND org IS NOT NULL AND id IS NOT NULL',
        "id": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
        "comment": "",
        "gc_grace_seconds": 864000,
    }
    view_cols = [
        _col("users_by_name", "Name", "partition_key", 0, "text"),
        _col("users_by_name", "id", "clustering", 1, "uuid", "asc"),
        _col("users_by_name", "org", "clustering", 0, "int", "asc"),
    ]
    ks = build_keyspaces(KEYSPACES[:1], TABLES, COLUMNS + view_cols, TYPES, INDEXES, [view_row])["probe"]
    view = ks.views["users_by_name"]
    assert (view.name, view.base_table, view.include_all_columns) == ("users_by_name", "users", False)
    assert view.where_clause.startswith('"Name" IS NOT NULL')
    assert list(view.table.columns) == ["Name", "org", "id"]
    assert view.table.primary_key_cql == 'PRIMARY KEY ("Name", org, id)'
    assert view.table.options == {"comment": "", "gc_grace_seconds": 864000}
    assert "users_by_name" not in ks.tables


def test_unresolvable_types_become_custom_types_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    rows = [_col("t", "k", "partition_key", 0, "int"), _col("t", "v", "regular", -1, "frozen<gone>")]
    with caplog.at_level(logging.WARNING, logger="aiocql.model.schema"):
        ks = build_keyspaces(KEYSPACES[:1], [_table_row("t")], rows, [], [])
    assert ks["probe"].tables["t"].columns["v"].cql_type == CustomType("frozen<gone>")
    assert "probe.t.v" in caplog.text


def test_type_cycles_do_not_recurse_forever() -> None:
    types = build_user_types(
        [
            {"keyspace_name": "k", "type_name": "a", "field_names": ["b"], "field_types": ["frozen<b>"]},
            {"keyspace_name": "k", "type_name": "b", "field_names": ["a"], "field_types": ["frozen<a>"]},
        ]
    )
    a = types["k"]["a"]
    inner = a.field_types[0]
    assert isinstance(inner, UdtType) and inner.name == "b"
    assert isinstance(inner.field_types[0], CustomType)


def test_keyspace_qualified_type_names_and_other_keyspaces() -> None:
    types = build_user_types(
        [
            {"keyspace_name": "k1", "type_name": "t", "field_names": ["x"], "field_types": ["int"]},
            {"keyspace_name": "k2", "type_name": "u", "field_names": ["y"], "field_types": ["frozen<k1.t>"]},
        ]
    )
    assert types["k2"]["u"].field_types[0] == UdtType("k1", "t", ("x",), (INT,))


def test_table_metadata_create_orders_columns() -> None:
    cols = [
        ColumnMetadata("zeta", INT, ColumnKind.REGULAR),
        ColumnMetadata("Beta", INT, ColumnKind.REGULAR),
        ColumnMetadata("st2", INT, ColumnKind.STATIC),
        ColumnMetadata("ast", INT, ColumnKind.STATIC),
        ColumnMetadata("c", INT, ColumnKind.CLUSTERING, 0, ClusteringOrder.ASC),
        ColumnMetadata("k", INT, ColumnKind.PARTITION_KEY, 0),
        ColumnMetadata("alpha", INT, ColumnKind.REGULAR),
    ]
    # What SELECT * returned on Cassandra 5.0.9 for this table.
    assert list(TableMetadata.create("ks", "ord", cols).columns) == ["k", "c", "ast", "st2", "Beta", "alpha", "zeta"]


def test_compact_storage_flags() -> None:
    assert TableMetadata.create("k", "t", [], flags={"dense"}).is_compact_storage
    assert TableMetadata.create("k", "t", [], flags={"compound", "super"}).is_compact_storage
    assert TableMetadata.create("k", "t", [], flags=set()).is_compact_storage is False
    assert not TableMetadata.create("k", "t", [], flags={"compound"}).is_compact_storage
