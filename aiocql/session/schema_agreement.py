"""Waiting for schema agreement after DDL (protocol-pitfalls #15).

Example:
    >>> agreed = await wait_for_schema_agreement(conn, 10.0)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio

from aiocql.connection.connection import Connection
from aiocql.errors import CqlError
from aiocql.protocol.constants import Consistency
from aiocql.protocol.requests import Query, QueryParameters
from aiocql.protocol.results import RowsResult
from aiocql.session.metadata_cache import metadata_for

_ONE = QueryParameters(Consistency.ONE)


async def _versions(conn: Connection, query: str) -> list[tuple[object, ...]]:
    response = await conn.send(Query(query, _ONE))
    if not isinstance(response, RowsResult) or response.metadata.columns is None:
        return []
    meta = metadata_for(response.metadata.columns)
    return meta.decoder.decode_rows(response.buffer, response.offset, response.rows_count)


async def wait_for_schema_agreement(conn: Connection, max_wait: float, interval: float = 0.2) -> bool:
    """Poll ``schema_version`` in system.local and the peers table through ``conn`` until they agree.

    Returns True on agreement, False when ``max_wait`` seconds pass first (the DDL itself succeeded).
    Peers with no schema version (not yet joined) are ignored.
    """
    peers_table = "system.peers_v2" if conn.version >= 5 else "system.peers"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    try:
        # The deadline also bounds each poll: a node that stops answering must not hang the DDL call.
        async with asyncio.timeout_at(deadline):
            while True:
                local = await _versions(conn, "SELECT schema_version FROM system.local WHERE key='local'")
                peers = await _versions(conn, f"SELECT schema_version FROM {peers_table}")
                versions = {row[0] for row in local + peers if row[0] is not None}
                if len(versions) <= 1:
                    return True
                await asyncio.sleep(interval)
    except (CqlError, TimeoutError):
        return False
