"""Reading the schema from ``system_schema`` (and the virtual keyspaces from ``system_virtual_schema``).

A full read queries every schema table; a keyspace read adds ``WHERE keyspace_name = ?`` so that a schema
event costs only the rows of the keyspace it names. Virtual keyspaces (``system_views``,
``system_virtual_schema``) are described by ``system_virtual_schema`` on Cassandra 4.0+; a server
without it simply has none.

Example:
    >>> keyspaces = await read_schema(conn)  # doctest: +SKIP
    >>> one = await read_schema(conn, keyspace="ks")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiocql.connection.connection import Connection
from aiocql.errors import CqlError
from aiocql.model.schema import KeyspaceMetadata, build_keyspaces
from aiocql.session.internal import query_rows

__all__ = ["SCHEMA_TABLES", "VIRTUAL_TABLES", "read_schema", "read_virtual_schema"]

#: The system_schema tables read, in the order :func:`~aiocql.model.schema.build_keyspaces` takes them.
SCHEMA_TABLES: Final = ("keyspaces", "tables", "columns", "types", "indexes", "views", "functions", "aggregates")
VIRTUAL_TABLES: Final = ("keyspaces", "tables", "columns")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def read_schema(conn: Connection, keyspace: str | None = None) -> dict[str, KeyspaceMetadata]:
    """Every keyspace of ``system_schema`` (or only ``keyspace``: empty if it does not exist).

    Example:
        >>> sorted(await read_schema(conn))  # doctest: +SKIP
        ['ks', 'system', 'system_auth', ...]
    """
    where = "" if keyspace is None else f" WHERE keyspace_name = {_literal(keyspace)}"
    rows = await asyncio.gather(*(query_rows(conn, f"SELECT * FROM system_schema.{t}{where}") for t in SCHEMA_TABLES))
    return build_keyspaces(*rows)


async def read_virtual_schema(conn: Connection) -> dict[str, KeyspaceMetadata]:
    """The virtual keyspaces and their tables (``virtual=True``); empty on servers without them.

    Example:
        >>> (await read_virtual_schema(conn))["system_views"].virtual  # doctest: +SKIP
        True
    """
    try:
        keyspaces, tables, columns = await asyncio.gather(
            *(query_rows(conn, f"SELECT * FROM system_virtual_schema.{t}") for t in VIRTUAL_TABLES)
        )
    except CqlError:  # before Cassandra 4.0: no virtual tables
        return {}
    ks_rows: list[dict[str, Any]] = [
        {"keyspace_name": r["keyspace_name"], "replication": {"class": "LocalStrategy"}, "virtual": True}
        for r in keyspaces
    ]
    table_rows = [{k: v for k, v in r.items() if k != "column_name_bytes"} for r in tables]
    return build_keyspaces(ks_rows, table_rows, columns, [], [])
