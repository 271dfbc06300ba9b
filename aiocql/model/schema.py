"""Schema metadata: immutable keyspaces, tables, columns, indexes and user types, built from ``system_schema`` rows.

:func:`build_keyspaces` is pure: it takes the rows the control connection read (each a ``dict`` keyed
by the Cassandra 5.0 column names) and returns the model. Column types are parsed once, with user
type names resolved through the keyspace's own types (which may nest other user types, in any row
order). Everything is a frozen, slotted dataclass; mappings are read-only views.

Rows used, per ``system_schema`` table (other columns are ignored or kept as options):

* ``keyspaces``: keyspace_name, durable_writes, replication (map<text, text>)
* ``tables`` / ``views``: keyspace_name, table_name (views: view_name, base_table_name, where_clause,
  include_all_columns), id, flags, and table options (comment, compaction, caching, ...)
* ``columns``: keyspace_name, table_name, column_name, clustering_order, kind, position, type
* ``types``: keyspace_name, type_name, field_names, field_types
* ``indexes``: keyspace_name, table_name, index_name, kind, options (map<text, text>)
* ``functions``: keyspace_name, function_name, argument_names, argument_types, return_type, language, body,
  called_on_null_input
* ``aggregates``: keyspace_name, aggregate_name, argument_types, state_func, state_type, final_func,
  initcond, return_type

CQL export (``export_as_string``, ``as_cql_query``) is in :mod:`aiocql.model.schema_cql`.

A type string that cannot be resolved (a user type dropped between two reads of a schema refresh)
becomes a :class:`~aiocql.protocol.cqltypes.CustomType` holding the text, with a logged warning, rather
than failing the whole refresh: result decoding never depends on this model.

Example:
    >>> ks = build_keyspaces(
    ...     [{"keyspace_name": "ks", "durable_writes": True,
    ...       "replication": {"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "1"}}],
    ...     [{"keyspace_name": "ks", "table_name": "t", "flags": {"compound"}, "comment": ""}],
    ...     [{"keyspace_name": "ks", "table_name": "t", "column_name": "k", "clustering_order": "none",
    ...       "kind": "partition_key", "position": 0, "type": "int"},
    ...      {"keyspace_name": "ks", "table_name": "t", "column_name": "v", "clustering_order": "none",
    ...       "kind": "regular", "position": -1, "type": "frozen<pair>"}],
    ...     [{"keyspace_name": "ks", "type_name": "pair", "field_names": ["a", "b"], "field_types": ["int", "text"]}],
    ...     [],
    ... )
    >>> table = ks["ks"].tables["t"]
    >>> [c.name for c in table.partition_key], table.columns["v"].cql_type.cql_name
    (['k'], 'frozen<pair>')
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from aiocql.model.replication import ReplicationSettings
from aiocql.model.schema_functions import (
    AggregateMetadata,
    FunctionMetadata,
    TypeParser,
    aggregate_from_row,
    function_from_row,
)
from aiocql.protocol.cqltypes import CqlType, CustomType, UdtType, quote_identifier
from aiocql.protocol.typestring import TypeStringError, UdtLookup, parse_cql_type

__all__ = [
    "AggregateMetadata",
    "ClusteringOrder",
    "ColumnKind",
    "ColumnMetadata",
    "FunctionMetadata",
    "IndexMetadata",
    "KeyspaceMetadata",
    "ReplicationSettings",
    "TableMetadata",
    "UserTypeMetadata",
    "ViewMetadata",
    "build_keyspaces",
    "build_table",
    "build_user_types",
]

_log = logging.getLogger("aiocql.cluster")

Row = Mapping[str, Any]

_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
# Columns of system_schema.tables / views that are identity, not options.
_TABLE_IDENTITY: Final = frozenset(
    {"keyspace_name", "table_name", "view_name", "id", "flags", "base_table_id", "base_table_name",
     "where_clause", "include_all_columns"}
)  # fmt: skip


def _empty() -> Mapping[str, Any]:
    return _EMPTY


def _ro(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


class ColumnKind(Enum):
    """The role of a column (``system_schema.columns.kind``)."""

    PARTITION_KEY = "partition_key"
    CLUSTERING = "clustering"
    STATIC = "static"
    REGULAR = "regular"


class ClusteringOrder(Enum):
    """``system_schema.columns.clustering_order``: ASC/DESC for clustering columns, NONE for the others."""

    ASC = "asc"
    DESC = "desc"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ColumnMetadata:
    """One column of a table or view.

    ``position`` is the index in the partition key or clustering key, -1 for static and regular columns.

    Example:
        >>> from aiocql.protocol.cqltypes import INT
        >>> c = ColumnMetadata("ts", INT, ColumnKind.CLUSTERING, 0, ClusteringOrder.DESC)
        >>> c.is_primary_key, c.is_reversed
        (True, True)
    """

    name: str
    cql_type: CqlType
    kind: ColumnKind
    position: int = -1
    clustering_order: ClusteringOrder = ClusteringOrder.NONE

    @property
    def is_primary_key(self) -> bool:
        """Partition key or clustering column."""
        return self.kind in (ColumnKind.PARTITION_KEY, ColumnKind.CLUSTERING)

    @property
    def is_reversed(self) -> bool:
        """A clustering column stored in descending order."""
        return self.clustering_order is ClusteringOrder.DESC


@dataclass(frozen=True, slots=True)
class IndexMetadata:
    """A secondary index: ``kind`` is KEYS, COMPOSITES or CUSTOM; ``target`` e.g. ``values(tags)``;
    ``class_name`` is set for custom indexes (``StorageAttachedIndex``...).

    Example:
        >>> IndexMetadata("ks", "t", "t_v_idx", "COMPOSITES", MappingProxyType({"target": "v"})).target
        'v'
    """

    keyspace: str
    table: str
    name: str
    kind: str
    options: Mapping[str, str] = field(default_factory=_empty)

    @property
    def target(self) -> str | None:
        """The indexed column expression, as Cassandra stores it (quoted names stay quoted)."""
        return self.options.get("target")

    @property
    def class_name(self) -> str | None:
        """The implementation class of a CUSTOM index, else ``None``."""
        return self.options.get("class_name")


@dataclass(frozen=True, slots=True)
class UserTypeMetadata:
    """A user-defined type, with its field types resolved (nested user types included).

    Example:
        >>> from aiocql.protocol.cqltypes import TEXT
        >>> ut = UserTypeMetadata("ks", "phone", ("kind", "number"), (TEXT, TEXT))
        >>> ut.cql_type.cql_name, ut.cql_type.field_names
        ('phone', ('kind', 'number'))
    """

    keyspace: str
    name: str
    field_names: tuple[str, ...]
    field_types: tuple[CqlType, ...]

    @property
    def cql_type(self) -> UdtType:
        """The type as column types use it (not frozen; a column's own ``frozen<...>`` sets that)."""
        return UdtType(self.keyspace, self.name, self.field_names, self.field_types)


def _column_sort_key(column: ColumnMetadata) -> tuple[int, int, bytes]:
    # SELECT * order: partition key, clustering (by position), statics, regulars (by UTF-8 name bytes).
    rank = (ColumnKind.PARTITION_KEY, ColumnKind.CLUSTERING, ColumnKind.STATIC, ColumnKind.REGULAR).index(column.kind)
    return (rank, column.position if rank < 2 else 0, column.name.encode())


@dataclass(frozen=True, slots=True)
class TableMetadata:
    """A table: columns in ``SELECT *`` order, its primary key, indexes and options.

    ``options`` holds every other column of its ``system_schema.tables`` row (``comment``,
    ``compaction``, ``default_time_to_live``...), as read. ``flags`` is e.g. ``{"compound"}``,
    ``{"compound", "counter"}``.

    Example:
        >>> from aiocql.protocol.cqltypes import INT, TEXT
        >>> t = TableMetadata.create("ks", "t", [
        ...     ColumnMetadata("v", TEXT, ColumnKind.REGULAR),
        ...     ColumnMetadata("k", INT, ColumnKind.PARTITION_KEY, 0)])
        >>> list(t.columns), [c.name for c in t.partition_key], t.primary_key_cql
        (['k', 'v'], ['k'], 'PRIMARY KEY (k)')
    """

    keyspace: str
    name: str
    columns: Mapping[str, ColumnMetadata]
    partition_key: tuple[ColumnMetadata, ...]
    clustering_key: tuple[ColumnMetadata, ...]
    indexes: Mapping[str, IndexMetadata] = field(default_factory=_empty)
    options: Mapping[str, Any] = field(default_factory=_empty)
    id: uuid.UUID | None = None
    flags: frozenset[str] = frozenset()
    #: The materialized views on this table (filled by :func:`build_keyspaces`), by name.
    views: Mapping[str, ViewMetadata] = field(default_factory=_empty)

    @classmethod
    def create(
        cls,
        keyspace: str,
        name: str,
        columns: Iterable[ColumnMetadata],
        *,
        indexes: Iterable[IndexMetadata] = (),
        options: Mapping[str, Any] | None = None,
        id: uuid.UUID | None = None,
        flags: Iterable[str] = (),
    ) -> TableMetadata:
        """Build a table from its columns in any order: orders them and derives the primary key.

        Example:
            >>> from aiocql.protocol.cqltypes import INT
            >>> TableMetadata.create("ks", "t", [ColumnMetadata("k", INT, ColumnKind.PARTITION_KEY, 0)]).name
            't'
        """
        ordered = sorted(columns, key=_column_sort_key)
        return cls(
            keyspace=keyspace,
            name=name,
            columns=_ro({c.name: c for c in ordered}),
            partition_key=tuple(c for c in ordered if c.kind is ColumnKind.PARTITION_KEY),
            clustering_key=tuple(c for c in ordered if c.kind is ColumnKind.CLUSTERING),
            indexes=_ro({i.name: i for i in indexes}),
            options=_ro(options or {}),
            id=id,
            flags=frozenset(flags),
        )

    @property
    def primary_key(self) -> tuple[ColumnMetadata, ...]:
        """Partition key columns, then clustering columns."""
        return self.partition_key + self.clustering_key

    @property
    def is_counter(self) -> bool:
        """A counter table (flag ``counter``)."""
        return "counter" in self.flags

    @property
    def is_compact_storage(self) -> bool:
        """A legacy COMPACT STORAGE table (flags ``dense`` or ``super``, or not ``compound``)."""
        return bool(self.flags) and ("dense" in self.flags or "super" in self.flags or "compound" not in self.flags)

    @property
    def primary_key_cql(self) -> str:
        """The PRIMARY KEY clause as CQL writes it, e.g. ``PRIMARY KEY ((a, b), c)``."""
        pk = [quote_identifier(c.name) for c in self.partition_key]
        parts = [pk[0] if len(pk) == 1 else f"({', '.join(pk)})"]
        parts += [quote_identifier(c.name) for c in self.clustering_key]
        return f"PRIMARY KEY ({', '.join(parts)})"

    def as_cql_query(self) -> str:
        """The ``CREATE TABLE`` statement that recreates this table (without its indexes and views).

        Example:
            >>> print(cluster.metadata["ks"].tables["t"].as_cql_query())  # doctest: +SKIP
            CREATE TABLE ks.t (
                k int PRIMARY KEY,
                v text
            ) WITH additional_write_policy = '99p'
            ...
        """
        from aiocql.model.schema_cql import table_cql

        return table_cql(self)

    def export_as_string(self) -> str:
        """The table, its indexes and its materialized views as CQL statements (what ``DESCRIBE TABLE`` prints).

        Example:
            >>> print(cluster.metadata["ks"].tables["t"].export_as_string())  # doctest: +SKIP
        """
        from aiocql.model.schema_cql import table_export

        return table_export(self)


@dataclass(frozen=True, slots=True)
class ViewMetadata:
    """A materialized view: its own table-like shape plus the base table and filter.

    Example:
        >>> v = ViewMetadata(TableMetadata.create("ks", "v", []), "t", "k IS NOT NULL", False)
        >>> v.name, v.base_table
        ('v', 't')
    """

    table: TableMetadata
    base_table: str
    where_clause: str
    include_all_columns: bool

    @property
    def name(self) -> str:
        """The view's name."""
        return self.table.name

    def as_cql_query(self) -> str:
        """The ``CREATE MATERIALIZED VIEW`` statement that recreates this view.

        Example:
            >>> print(cluster.metadata["ks"].views["by_v"].as_cql_query())  # doctest: +SKIP
        """
        from aiocql.model.schema_cql import view_cql

        return view_cql(self)


@dataclass(frozen=True, slots=True)
class KeyspaceMetadata:
    """A keyspace and everything in it.

    ``replication`` is the raw map; ``replication_settings`` its parsed form for the token map.

    Example:
        >>> ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "3"})
        >>> ks.replication_settings.replication_factor.all_replicas, ks.durable_writes, dict(ks.tables)
        (3, True, {})
    """

    name: str
    replication: Mapping[str, str]
    replication_settings: ReplicationSettings
    durable_writes: bool = True
    tables: Mapping[str, TableMetadata] = field(default_factory=_empty)
    user_types: Mapping[str, UserTypeMetadata] = field(default_factory=_empty)
    views: Mapping[str, ViewMetadata] = field(default_factory=_empty)
    functions: Mapping[str, FunctionMetadata] = field(default_factory=_empty)
    aggregates: Mapping[str, AggregateMetadata] = field(default_factory=_empty)
    #: A virtual keyspace (``system_views``, ``system_virtual_schema``): no replication, read-only tables.
    virtual: bool = False

    @property
    def indexes(self) -> Mapping[str, IndexMetadata]:
        """Every secondary index of the keyspace's tables, by index name (unique in a keyspace).

        Example:
            >>> dict(KeyspaceMetadata.create("ks", {"class": "LocalStrategy"}).indexes)
            {}
        """
        return _ro({i.name: i for t in self.tables.values() for i in t.indexes.values()})

    def export_as_string(self) -> str:
        """The keyspace and everything in it as CQL statements, in an order that recreates it
        (what ``DESCRIBE KEYSPACE`` prints): keyspace, user types (dependencies first), functions,
        aggregates, then each table with its indexes and views.

        Example:
            >>> print(cluster.metadata["ks"].export_as_string())  # doctest: +SKIP
            CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'} AND ...
        """
        from aiocql.model.schema_cql import keyspace_export

        return keyspace_export(self)

    def as_cql_query(self) -> str:
        """The ``CREATE KEYSPACE`` statement alone.

        Example:
            >>> ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "1"})
            >>> print(ks.as_cql_query().replace(" AND", "\\nAND"))
            CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}
            AND durable_writes = true;
        """
        from aiocql.model.schema_cql import keyspace_cql

        return keyspace_cql(self)

    @classmethod
    def create(
        cls,
        name: str,
        replication: Mapping[str, str],
        *,
        durable_writes: bool = True,
        tables: Iterable[TableMetadata] = (),
        user_types: Iterable[UserTypeMetadata] = (),
        views: Iterable[ViewMetadata] = (),
        functions: Iterable[FunctionMetadata] = (),
        aggregates: Iterable[AggregateMetadata] = (),
        virtual: bool = False,
    ) -> KeyspaceMetadata:
        """Build a keyspace, parsing its replication map.

        Example:
            >>> KeyspaceMetadata.create("ks", {"class": "LocalStrategy"}).replication_settings.strategy
            'LocalStrategy'
        """
        return cls(
            name=name,
            replication=_ro({str(k): str(v) for k, v in replication.items()}),
            replication_settings=ReplicationSettings.from_map(replication),
            durable_writes=durable_writes,
            tables=_ro({t.name: t for t in tables}),
            user_types=_ro({u.name: u for u in user_types}),
            views=_ro({v.name: v for v in views}),
            functions=_ro({f.signature: f for f in functions}),
            aggregates=_ro({a.signature: a for a in aggregates}),
            virtual=virtual,
        )

    def with_table(self, table: TableMetadata) -> KeyspaceMetadata:
        """This keyspace with ``table`` added or replaced (after a table-level schema change).

        Example:
            >>> ks = KeyspaceMetadata.create("ks", {"class": "LocalStrategy"})
            >>> list(ks.with_table(TableMetadata.create("ks", "t", [])).tables)
            ['t']
        """
        return replace(self, tables=_ro({**self.tables, table.name: table}))

    def without_table(self, name: str) -> KeyspaceMetadata:
        """This keyspace without table ``name`` (no error if it is not there).

        Example:
            >>> t = TableMetadata.create("ks", "t", [])
            >>> ks = KeyspaceMetadata.create("ks", {"class": "LocalStrategy"}, tables=[t])
            >>> dict(ks.without_table("t").tables)
            {}
        """
        return replace(self, tables=_ro({k: v for k, v in self.tables.items() if k != name}))


# ----------------------------------------------------------------------------------------------
# Builders from system_schema rows
# ----------------------------------------------------------------------------------------------


def build_user_types(type_rows: Iterable[Row]) -> dict[str, dict[str, UserTypeMetadata]]:
    """Resolve ``system_schema.types`` rows: keyspace -> type name -> :class:`UserTypeMetadata`.

    Field types may name other user types of the same keyspace, in any row order; a cycle or an
    unknown name leaves that field a :class:`CustomType` (Cassandra allows neither).

    Example:
        >>> types = build_user_types([
        ...     {"keyspace_name": "ks", "type_name": "b", "field_names": ["a"], "field_types": ["frozen<a>"]},
        ...     {"keyspace_name": "ks", "type_name": "a", "field_names": ["x"], "field_types": ["int"]}])
        >>> types["ks"]["b"].field_types[0]
        UdtType(keyspace='ks', name='a', field_names=('x',), field_types=(NativeType(name='int'),), frozen=True)
    """
    raw: dict[str, dict[str, Row]] = {}
    for row in type_rows:
        raw.setdefault(row["keyspace_name"], {})[row["type_name"]] = row
    done: dict[tuple[str, str], UserTypeMetadata] = {}
    in_progress: set[tuple[str, str]] = set()

    def resolve(keyspace: str, name: str) -> UserTypeMetadata | None:
        key = (keyspace, name)
        found = done.get(key)
        if found is not None:
            return found
        row = raw.get(keyspace, {}).get(name)
        if row is None or key in in_progress:
            return None
        in_progress.add(key)
        try:

            def lookup(ks: str | None, type_name: str) -> CqlType | None:
                ut = resolve(keyspace if ks is None else ks, type_name)
                return ut.cql_type if ut is not None else None

            names = tuple(row.get("field_names") or ())
            types = tuple(_parse_type(t, lookup, f"{keyspace}.{name}") for t in row.get("field_types") or ())
            done[key] = ut = UserTypeMetadata(keyspace, name, names, types)
        finally:
            in_progress.discard(key)
        return ut

    result: dict[str, dict[str, UserTypeMetadata]] = {}
    for keyspace, rows in raw.items():
        resolved = (resolve(keyspace, name) for name in rows)
        result[keyspace] = {ut.name: ut for ut in resolved if ut is not None}
    return result


def _parse_type(text: str, lookup: UdtLookup, where: str) -> CqlType:
    try:
        return parse_cql_type(text, lookup)
    except TypeStringError as exc:
        _log.warning("schema: cannot resolve type %r of %s (%s); keeping it as a custom type", text, where, exc)
        return CustomType(text)


def _parser(lookup: UdtLookup) -> TypeParser:
    return lambda text, where: _parse_type(text, lookup, where)


def _udt_lookup(keyspace: str, user_types: Mapping[str, Mapping[str, UserTypeMetadata]]) -> UdtLookup:
    def lookup(ks: str | None, name: str) -> CqlType | None:
        ut = user_types.get(keyspace if ks is None else ks, {}).get(name)
        return ut.cql_type if ut is not None else None

    return lookup


def _column(row: Row, lookup: UdtLookup, where: str) -> ColumnMetadata:
    kind = ColumnKind(str(row.get("kind", "regular")).lower())
    position = row.get("position")
    order = str(row.get("clustering_order") or "none").lower()
    return ColumnMetadata(
        name=row["column_name"],
        cql_type=_parse_type(row["type"], lookup, f"{where}.{row['column_name']}"),
        kind=kind,
        position=-1 if position is None else int(position),
        clustering_order=ClusteringOrder(order),
    )


def _index(row: Row) -> IndexMetadata:
    options = row.get("options") or {}
    return IndexMetadata(
        keyspace=row["keyspace_name"],
        table=row["table_name"],
        name=row["index_name"],
        kind=str(row.get("kind") or "COMPOSITES"),
        options=_ro({str(k): str(v) for k, v in options.items()}),
    )


def build_table(
    table_row: Row,
    column_rows: Iterable[Row],
    index_rows: Iterable[Row] = (),
    user_types: Mapping[str, Mapping[str, UserTypeMetadata]] | None = None,
) -> TableMetadata:
    """One table (or a view's table part) from its ``tables`` (or ``views``) row, its ``columns`` rows
    and its ``indexes`` rows. ``user_types`` is keyspace -> name -> type, as :func:`build_user_types`
    returns or from the keyspace's current :attr:`KeyspaceMetadata.user_types` (``{ks: ks_meta.user_types}``).

    Rows of other tables are ignored, so the caller may pass a whole keyspace's rows.

    Example:
        >>> t = build_table({"keyspace_name": "ks", "table_name": "t"},
        ...     [{"keyspace_name": "ks", "table_name": "t", "column_name": "k", "kind": "partition_key",
        ...       "position": 0, "type": "int", "clustering_order": "none"}])
        >>> t.partition_key[0].cql_type.cql_name
        'int'
    """
    keyspace = table_row["keyspace_name"]
    name = table_row.get("table_name") or table_row["view_name"]
    lookup = _udt_lookup(keyspace, user_types or {})
    where = f"{keyspace}.{name}"
    columns = [
        _column(r, lookup, where) for r in column_rows if r["keyspace_name"] == keyspace and r["table_name"] == name
    ]
    indexes = [_index(r) for r in index_rows if r["keyspace_name"] == keyspace and r["table_name"] == name]
    return TableMetadata.create(
        keyspace,
        name,
        columns,
        indexes=indexes,
        options={k: v for k, v in table_row.items() if k not in _TABLE_IDENTITY},
        id=table_row.get("id"),
        flags=table_row.get("flags") or (),
    )


def build_keyspaces(
    keyspace_rows: Iterable[Row],
    table_rows: Iterable[Row],
    column_rows: Iterable[Row],
    type_rows: Iterable[Row],
    index_rows: Iterable[Row],
    view_rows: Iterable[Row] = (),
    function_rows: Iterable[Row] = (),
    aggregate_rows: Iterable[Row] = (),
) -> dict[str, KeyspaceMetadata]:
    """Build every keyspace present in ``keyspace_rows`` from the rows of ``system_schema``.

    Pass all rows (a full refresh) or the rows of one keyspace (``WHERE keyspace_name = ?`` on each
    table, after a keyspace-level schema change) and merge the result into the current schema.
    Tables, views, columns, types and indexes of keyspaces not in ``keyspace_rows`` are ignored.

    Example:
        >>> build_keyspaces([{"keyspace_name": "ks", "durable_writes": False,
        ...                   "replication": {"class": "SimpleStrategy", "replication_factor": "2"}}],
        ...                 [], [], [], [])["ks"].durable_writes
        False
    """
    keyspace_rows = list(keyspace_rows)
    wanted = {r["keyspace_name"] for r in keyspace_rows}
    by_ks: dict[str, tuple[list[Row], ...]] = {ks: ([], [], [], [], [], []) for ks in wanted}
    for slot, rows in enumerate((table_rows, column_rows, index_rows, view_rows, function_rows, aggregate_rows)):
        for row in rows:
            bucket = by_ks.get(row["keyspace_name"])
            if bucket is not None:
                bucket[slot].append(row)
    user_types = build_user_types(r for r in type_rows if r["keyspace_name"] in wanted)
    result: dict[str, KeyspaceMetadata] = {}
    for row in keyspace_rows:
        name = row["keyspace_name"]
        tables, columns, indexes, views, functions, aggregates = by_ks[name]
        lookup = _udt_lookup(name, user_types)
        view_list = [
            ViewMetadata(
                table=build_table(v, columns, (), user_types),
                base_table=v.get("base_table_name") or "",
                where_clause=v.get("where_clause") or "",
                include_all_columns=bool(v.get("include_all_columns")),
            )
            for v in views
        ]
        table_list = [build_table(t, columns, indexes, user_types) for t in tables]
        table_list = [
            replace(t, views=_ro({v.name: v for v in view_list if v.base_table == t.name})) for t in table_list
        ]
        result[name] = KeyspaceMetadata.create(
            name,
            row.get("replication") or {},
            durable_writes=bool(row.get("durable_writes", True)),
            tables=table_list,
            user_types=user_types.get(name, {}).values(),
            views=view_list,
            functions=[function_from_row(f, _parser(lookup)) for f in functions],
            aggregates=[aggregate_from_row(a, _parser(lookup)) for a in aggregates],
            virtual=bool(row.get("virtual", False)),
        )
    return result
