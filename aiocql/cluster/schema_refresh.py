"""Refreshing schema metadata: everything, one keyspace, or one table, optionally after schema agreement.

A schema event names the keyspace it changed, so the cluster reads only that keyspace's rows of
``system_schema`` (eight small queries with ``WHERE keyspace_name = ...``); a table refresh reads only
that table's rows. A full read happens at connect, after a reconnect, and when several events come at
once. User types, functions and aggregates are refreshed with their keyspace (a type's fields can
reference other types of the keyspace).

Example:
    >>> state = await refreshed_state(conn, cluster.state, keyspace="ks")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses

from aiocql.cluster.schema_reader import read_schema, read_virtual_schema
from aiocql.connection.connection import Connection
from aiocql.model.schema import build_table
from aiocql.model.state import ClusterState
from aiocql.session.internal import query_rows

__all__ = ["refreshed_state"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def refreshed_state(
    conn: Connection, state: ClusterState, keyspace: str | None = None, table: str | None = None
) -> ClusterState:
    """``state`` with the schema read again on ``conn``: all of it (``keyspace=None``), one keyspace (dropped
    from the state if it no longer exists) or one table or view of a known keyspace.

    Example:
        >>> new = await refreshed_state(conn, cluster.state, "ks", "t")  # doctest: +SKIP
    """
    if keyspace is None:
        keyspaces, virtual = await asyncio.gather(read_schema(conn), read_virtual_schema(conn))
        return state.with_keyspaces({**virtual, **keyspaces})
    current = state.keyspaces.get(keyspace)
    if table is None or current is None or current.virtual:
        found = await read_schema(conn, keyspace)
        if keyspace in found:
            return state.with_keyspace(found[keyspace])
        if current is not None and current.virtual:
            return state  # virtual keyspaces are not in system_schema
        return state.without_keyspace(keyspace)
    where = f" WHERE keyspace_name = {_literal(keyspace)} AND table_name = {_literal(table)}"
    tables, columns, indexes, views = await asyncio.gather(
        query_rows(conn, f"SELECT * FROM system_schema.tables{where}"),
        query_rows(conn, f"SELECT * FROM system_schema.columns{where}"),
        query_rows(conn, f"SELECT * FROM system_schema.indexes{where}"),
        query_rows(conn, f"SELECT * FROM system_schema.views WHERE keyspace_name = {_literal(keyspace)}"),
    )
    views = [v for v in views if v.get("view_name") == table]
    if views:  # a materialized view: its columns are listed under its name too
        return await refreshed_state(conn, state, keyspace)  # the view and its base table's view list
    user_types = {keyspace: current.user_types}
    if not tables:
        keyspace_md = current.without_table(table)
    else:
        built = build_table(tables[0], columns, indexes, user_types)
        built = dataclasses.replace(
            built, views=current.tables[table].views if table in current.tables else built.views
        )
        keyspace_md = current.with_table(built)
    return state.with_keyspace(keyspace_md)
