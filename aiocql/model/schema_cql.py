"""Schema metadata as CQL: the statements that recreate a keyspace, table, type, index, view, function or
aggregate, formatted as Cassandra's own ``DESCRIBE`` prints them.

The output of :func:`keyspace_export` run statement by statement on an empty cluster recreates the same
schema (the round trip is tested against the real server). Table options come from the table's
``system_schema.tables`` row; options the server does not report (null) are left out, so they take the
server's defaults on recreation, and options a CREATE no longer accepts (the ``read_repair_chance`` pair
of Cassandra 3) are skipped. Table ids are not exported (``DESCRIBE`` leaves them out too).

Example:
    >>> from aiocql.model.schema import KeyspaceMetadata
    >>> ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "1"})
    >>> print(keyspace_cql(ks).replace(" AND", "\\nAND"))
    CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}
    AND durable_writes = true;
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from aiocql.protocol.cqltypes import CqlType, ListType, MapType, SetType, TupleType, UdtType, quote_identifier

if TYPE_CHECKING:
    from aiocql.model.schema import (
        AggregateMetadata,
        FunctionMetadata,
        IndexMetadata,
        KeyspaceMetadata,
        TableMetadata,
        UserTypeMetadata,
        ViewMetadata,
    )

__all__ = [
    "SYSTEM_KEYSPACES",
    "aggregate_cql",
    "cql_literal",
    "function_cql",
    "index_cql",
    "keyspace_cql",
    "keyspace_export",
    "schema_export",
    "split_statements",
    "table_cql",
    "table_export",
    "type_cql",
    "view_cql",
]

#: Keyspaces the server owns; a whole-schema export leaves them out unless asked (``DESCRIBE FULL SCHEMA``).
SYSTEM_KEYSPACES: Final = frozenset(
    {"system", "system_schema", "system_auth", "system_distributed", "system_traces", "system_views",
     "system_virtual_schema", "system_cluster_metadata"}
)  # fmt: skip

# Table options a CREATE TABLE of Cassandra 4.0+ refuses although system_schema.tables may still list them.
_DROPPED_OPTIONS: Final = frozenset({"read_repair_chance", "dclocal_read_repair_chance"})
_STRATEGY_PREFIX: Final = "org.apache.cassandra.locator."
_INDENT: Final = "    "


def cql_literal(value: Any) -> str:
    """A Python value as a CQL literal: strings quoted (``'`` doubled), maps as ``{...}``, blobs as ``0x..``.

    Example:
        >>> cql_literal("it's"), cql_literal({"a": "1"}), cql_literal(True), cql_literal(0.01), cql_literal(b"\\x01")
        ("'it''s'", "{'a': '1'}", 'true', '0.01', '0x01')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, (int, uuid.UUID)):
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{cql_literal(k)}: {cql_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(cql_literal(v) for v in sorted(value, key=repr)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cql_literal(v) for v in value) + "]"
    return cql_literal(str(value))


def _name(keyspace: str, name: str) -> str:
    return f"{quote_identifier(keyspace)}.{quote_identifier(name)}"


def keyspace_cql(ks: KeyspaceMetadata) -> str:
    """``CREATE KEYSPACE ...;`` for ``ks`` alone (a virtual keyspace comes out as a comment).

    Example:
        >>> from aiocql.model.schema import KeyspaceMetadata
        >>> ks = KeyspaceMetadata.create("Ks", {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy",
        ...     "dc1": "3"})
        >>> print(keyspace_cql(ks).split(" AND")[0])
        CREATE KEYSPACE "Ks" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '3'}
    """
    if ks.virtual:
        name = quote_identifier(ks.name)
        return f"/*\nWarning: Keyspace {name} is a virtual keyspace and cannot be recreated with CQL.\n*/"
    replication = dict(ks.replication)
    strategy = replication.get("class", "")
    if strategy.startswith(_STRATEGY_PREFIX):
        replication["class"] = strategy[len(_STRATEGY_PREFIX) :]
    ordered = {"class": replication.pop("class", ""), **dict(sorted(replication.items()))}
    durable = "true" if ks.durable_writes else "false"
    return (
        f"CREATE KEYSPACE {quote_identifier(ks.name)} WITH replication = {cql_literal(ordered)}"
        f" AND durable_writes = {durable};"
    )


def type_cql(ut: UserTypeMetadata) -> str:
    """``CREATE TYPE ks.name (field type, ...);``.

    Example:
        >>> from aiocql.model.schema import UserTypeMetadata
        >>> from aiocql.protocol.cqltypes import INT, TEXT
        >>> print(type_cql(UserTypeMetadata("ks", "pair", ("a", "B"), (INT, TEXT))))
        CREATE TYPE ks.pair (
            a int,
            "B" text
        );
    """
    fields = ",\n".join(
        f"{_INDENT}{quote_identifier(n)} {t.cql_name}" for n, t in zip(ut.field_names, ut.field_types, strict=True)
    )
    return f"CREATE TYPE {_name(ut.keyspace, ut.name)} (\n{fields}\n);"


def _options(options: Mapping[str, Any]) -> list[str]:
    return [
        f"{name} = {cql_literal(value)}"
        for name, value in sorted(options.items())
        if value is not None and name not in _DROPPED_OPTIONS
    ]


def _with_clause(table: TableMetadata, extra: Iterable[str] = ()) -> str:
    clauses = list(extra)
    if table.clustering_key:
        order = ", ".join(
            f"{quote_identifier(c.name)} {'DESC' if c.is_reversed else 'ASC'}" for c in table.clustering_key
        )
        clauses.append(f"CLUSTERING ORDER BY ({order})")
    clauses += _options(table.options)
    if not clauses:
        return ""
    return " WITH " + f"\n{_INDENT}AND ".join(clauses)


def table_cql(table: TableMetadata) -> str:
    """``CREATE TABLE ...;`` with columns, primary key, clustering order and options.

    Example:
        >>> from aiocql.model.schema import ColumnKind, ColumnMetadata, TableMetadata
        >>> from aiocql.protocol.cqltypes import INT
        >>> print(table_cql(TableMetadata.create("ks", "t", [ColumnMetadata("k", INT, ColumnKind.PARTITION_KEY, 0),
        ...     ColumnMetadata("s", INT, ColumnKind.STATIC)], options={"comment": "hi"})))
        CREATE TABLE ks.t (
            k int PRIMARY KEY,
            s int static
        ) WITH comment = 'hi';
    """
    inline = len(table.partition_key) == 1 and not table.clustering_key  # "k int PRIMARY KEY", as DESCRIBE
    lines = [
        f"{_INDENT}{quote_identifier(c.name)} {c.cql_type.cql_name}"
        + (" static" if c.kind.value == "static" else "")
        + (" PRIMARY KEY" if inline and c.kind.value == "partition_key" else "")
        for c in table.columns.values()
    ]
    if not inline:
        lines.append(f"{_INDENT}{table.primary_key_cql}")
    extra = ["COMPACT STORAGE"] if table.is_compact_storage else []
    body = ",\n".join(lines)
    return f"CREATE TABLE {_name(table.keyspace, table.name)} (\n{body}\n){_with_clause(table, extra)};"


def index_cql(index: IndexMetadata) -> str:
    """``CREATE INDEX`` (or ``CREATE CUSTOM INDEX ... USING ... WITH OPTIONS``) for one index.

    Example:
        >>> from types import MappingProxyType
        >>> from aiocql.model.schema import IndexMetadata
        >>> index_cql(IndexMetadata("ks", "t", "t_m", "COMPOSITES", MappingProxyType({"target": "keys(m)"})))
        'CREATE INDEX t_m ON ks.t (keys(m));'
    """
    target = index.target or ""
    on = f"{quote_identifier(index.name)} ON {_name(index.keyspace, index.table)} ({target})"
    if index.kind.upper() != "CUSTOM":
        return f"CREATE INDEX {on};"
    stmt = f"CREATE CUSTOM INDEX {on} USING {cql_literal(index.class_name or '')}"
    options = {k: v for k, v in index.options.items() if k not in ("target", "class_name")}
    if options:
        stmt += f" WITH OPTIONS = {cql_literal(options)}"
    return stmt + ";"


def view_cql(view: ViewMetadata) -> str:
    """``CREATE MATERIALIZED VIEW ... AS SELECT ... FROM ... WHERE ... PRIMARY KEY (...) WITH ...;``.

    Example:
        >>> print(view_cql(view))  # doctest: +SKIP
    """
    table = view.table
    columns = "*" if view.include_all_columns else ", ".join(quote_identifier(c) for c in table.columns)
    return (
        f"CREATE MATERIALIZED VIEW {_name(table.keyspace, table.name)} AS\n"
        f"{_INDENT}SELECT {columns}\n"
        f"{_INDENT}FROM {_name(table.keyspace, view.base_table)}\n"
        f"{_INDENT}WHERE {view.where_clause}\n"
        f"{_INDENT}{table.primary_key_cql}\n"
        f"{_with_clause(table).lstrip()};"
    )


def _body_literal(body: str) -> str:
    return f"$${body}$$" if "$$" not in body else cql_literal(body)


def function_cql(fn: FunctionMetadata) -> str:
    """``CREATE FUNCTION ks.name(arg type, ...) ... LANGUAGE ... AS $$body$$;``.

    Example:
        >>> from aiocql.model.schema import FunctionMetadata
        >>> from aiocql.protocol.cqltypes import INT
        >>> print(function_cql(FunctionMetadata("ks", "inc", ("x",), (INT,), INT, "java", "return x + 1;", False)))
        CREATE FUNCTION ks.inc(x int)
            RETURNS NULL ON NULL INPUT
            RETURNS int
            LANGUAGE java
            AS $$return x + 1;$$;
    """
    args = ", ".join(
        f"{quote_identifier(n)} {t.cql_name}" for n, t in zip(fn.argument_names, fn.argument_types, strict=True)
    )
    on_null = "CALLED ON NULL INPUT" if fn.called_on_null_input else "RETURNS NULL ON NULL INPUT"
    return (
        f"CREATE FUNCTION {_name(fn.keyspace, fn.name)}({args})\n"
        f"{_INDENT}{on_null}\n"
        f"{_INDENT}RETURNS {fn.return_type.cql_name}\n"
        f"{_INDENT}LANGUAGE {fn.language}\n"
        f"{_INDENT}AS {_body_literal(fn.body)};"
    )


def aggregate_cql(agg: AggregateMetadata) -> str:
    """``CREATE AGGREGATE ks.name(type, ...) SFUNC ... STYPE ... [FINALFUNC ...] [INITCOND ...];``.

    Example:
        >>> from aiocql.model.schema import AggregateMetadata
        >>> from aiocql.protocol.cqltypes import INT
        >>> print(aggregate_cql(AggregateMetadata("ks", "total", (INT,), "plus", INT, None, "0", INT)))
        CREATE AGGREGATE ks.total(int)
            SFUNC plus
            STYPE int
            INITCOND 0;
    """
    lines = [
        f"CREATE AGGREGATE {_name(agg.keyspace, agg.name)}({', '.join(t.cql_name for t in agg.argument_types)})",
        f"{_INDENT}SFUNC {quote_identifier(agg.state_func)}",
        f"{_INDENT}STYPE {agg.state_type.cql_name}",
    ]
    if agg.final_func:
        lines.append(f"{_INDENT}FINALFUNC {quote_identifier(agg.final_func)}")
    if agg.initial_condition is not None:
        lines.append(f"{_INDENT}INITCOND {agg.initial_condition}")
    return "\n".join(lines) + ";"


def table_export(table: TableMetadata) -> str:
    """The table, then its indexes, then its materialized views (``DESCRIBE TABLE``), blank-line separated.

    Example:
        >>> print(table_export(cluster.metadata["ks"].tables["t"]))  # doctest: +SKIP
    """
    parts = [table_cql(table)]
    parts += [index_cql(i) for i in sorted(table.indexes.values(), key=lambda i: i.name)]
    parts += [view_cql(v) for v in sorted(table.views.values(), key=lambda v: v.name)]
    return "\n\n".join(parts)


def _types_in_dependency_order(types: Iterable[UserTypeMetadata]) -> list[UserTypeMetadata]:
    """User types with every type a field uses before it (CREATE TYPE needs them to exist)."""
    by_name = {t.name: t for t in types}
    done: dict[str, UserTypeMetadata] = {}

    def uses(t: CqlType) -> Iterable[str]:
        if isinstance(t, UdtType):
            yield t.name
            for f in t.field_types:
                yield from uses(f)
        elif isinstance(t, (ListType, SetType)):
            yield from uses(t.elem)
        elif isinstance(t, MapType):
            yield from uses(t.key)
            yield from uses(t.value)
        elif isinstance(t, TupleType):
            for e in t.elems:
                yield from uses(e)

    def visit(ut: UserTypeMetadata, seen: frozenset[str]) -> None:
        if ut.name in done or ut.name in seen:
            return
        for field_type in ut.field_types:
            for name in uses(field_type):
                dep = by_name.get(name)
                if dep is not None and dep.keyspace == ut.keyspace:
                    visit(dep, seen | {ut.name})
        done[ut.name] = ut

    for ut in sorted(by_name.values(), key=lambda t: t.name):
        visit(ut, frozenset())
    return list(done.values())


def keyspace_export(ks: KeyspaceMetadata) -> str:
    """Everything in ``ks`` as CQL in an order that recreates it (``DESCRIBE KEYSPACE``).

    Example:
        >>> print(keyspace_export(cluster.metadata["ks"]))  # doctest: +SKIP
    """
    parts = [keyspace_cql(ks)]
    if ks.virtual:  # its tables exist on every node and cannot be created: list them as comments
        parts += [f"/*\n{table_cql(t)}\n*/" for t in sorted(ks.tables.values(), key=lambda t: t.name)]
        return "\n\n".join(parts)
    parts += [type_cql(t) for t in _types_in_dependency_order(ks.user_types.values())]
    parts += [function_cql(f) for _, f in sorted(ks.functions.items())]
    parts += [aggregate_cql(a) for _, a in sorted(ks.aggregates.items())]
    parts += [table_export(t) for _, t in sorted(ks.tables.items())]
    return "\n\n".join(parts)


def schema_export(keyspaces: Mapping[str, KeyspaceMetadata], *, include_system: bool = False) -> str:
    """Every keyspace's export (``DESCRIBE SCHEMA``; ``include_system``: ``DESCRIBE FULL SCHEMA``).

    Example:
        >>> print(schema_export(cluster.metadata))  # doctest: +SKIP
    """
    chosen = [ks for name, ks in sorted(keyspaces.items()) if include_system or name not in SYSTEM_KEYSPACES]
    return "\n\n".join(keyspace_export(ks) for ks in chosen)


def split_statements(script: str) -> list[str]:
    """Split an export into its statements (on ``;`` at the end of a line outside quotes and ``$$`` bodies),
    dropping ``/* ... */`` comments.

    Example:
        >>> split_statements("CREATE TYPE a (x int);\\n/* no */ CREATE TABLE t (k int) WITH comment = 'a;';")
        ['CREATE TYPE a (x int);', "CREATE TABLE t (k int) WITH comment = 'a;';"]
    """
    out: list[str] = []
    current: list[str] = []
    i, n = 0, len(script)
    quote: str | None = None
    while i < n:
        ch = script[i]
        if quote is None and script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if quote is None and ch in "'\"":
            quote = ch
        elif quote is None and script.startswith("$$", i):
            quote = "$$"
            current.append("$$")
            i += 2
            continue
        elif quote == "$$" and script.startswith("$$", i):
            quote = None
            current.append("$$")
            i += 2
            continue
        elif quote is not None and quote != "$$" and ch == quote:
            if script.startswith(quote * 2, i):  # an escaped quote
                current.append(quote * 2)
                i += 2
                continue
            quote = None
        current.append(ch)
        i += 1
        if quote is None and ch == ";":
            stmt = "".join(current).strip()
            if stmt:
                out.append(stmt)
            current = []
    rest = "".join(current).strip()
    if rest:
        out.append(rest)
    return out
