"""Waiting for schema agreement after DDL.

Only the nodes that can agree are counted: a peer the driver knows to be down is left out (its row in
the peers table keeps the schema version it had when it stopped, so counting it would make every DDL
wait out the whole ``max_wait`` and report no agreement while it is down; it catches up when it
returns). A peer the driver does not know is still counted.

Example:
    >>> agreed = await wait_for_schema_agreement(conn, 10.0, is_down=lambda host_id: False)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from aiocql.connection.connection import Connection
from aiocql.errors import CqlError
from aiocql.model.result_metadata import metadata_for
from aiocql.protocol.constants import Consistency
from aiocql.protocol.requests import Query, QueryParameters
from aiocql.protocol.results import RowsResult

_ONE = QueryParameters(Consistency.ONE)


async def _rows(conn: Connection, query: str) -> list[dict[str, object]]:
    response = await conn.send(Query(query, _ONE))
    if not isinstance(response, RowsResult) or response.metadata.columns is None:
        return []
    meta = metadata_for(response.metadata.columns)
    rows = meta.decoder.decode_rows(response.buffer, response.offset, response.rows_count)
    return [dict(zip(meta.names, row, strict=True)) for row in rows]


async def wait_for_schema_agreement(
    conn: Connection,
    max_wait: float,
    interval: float = 0.2,
    *,
    is_down: Callable[[uuid.UUID], bool] | None = None,
) -> bool:
    """Poll ``schema_version`` in system.local and the peers table through ``conn`` until they agree.

    Returns True on agreement, False when ``max_wait`` seconds pass first (the DDL itself succeeded).
    Peers with no schema version (not yet joined) are ignored, and so are peers for whose ``host_id``
    ``is_down`` returns True (asked again at each poll).
    """
    peers_table = "system.peers_v2" if conn.version >= 5 else "system.peers"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    try:
        # The deadline also bounds each poll: a node that stops answering must not hang the DDL call.
        async with asyncio.timeout_at(deadline):
            while True:
                local = await _rows(conn, "SELECT schema_version FROM system.local WHERE key='local'")
                peers = await _rows(conn, f"SELECT host_id, schema_version FROM {peers_table}")
                if is_down is not None:
                    peers = [r for r in peers if not _down(r.get("host_id"), is_down)]
                versions = {row.get("schema_version") for row in local + peers} - {None}
                if len(versions) <= 1:
                    return True
                await asyncio.sleep(interval)
    except (CqlError, TimeoutError):
        return False


def _down(host_id: object, is_down: Callable[[uuid.UUID], bool]) -> bool:
    return isinstance(host_id, uuid.UUID) and is_down(host_id)
