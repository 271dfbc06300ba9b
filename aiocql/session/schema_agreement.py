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
from aiocql.session.internal import PEERS_TABLES, query_peers, query_rows

_LOCAL = "SELECT schema_version FROM system.local WHERE key='local'"


async def wait_for_schema_agreement(
    conn: Connection,
    max_wait: float,
    interval: float = 0.2,
    *,
    is_down: Callable[[uuid.UUID], bool] | None = None,
    peers_table: str = PEERS_TABLES[0],
) -> bool:
    """Poll ``schema_version`` in system.local and the peers table through ``conn`` until they agree.

    Returns True on agreement, False when ``max_wait`` seconds pass first (the DDL itself succeeded).
    Peers with no schema version (not yet joined) are ignored, and so are peers for whose ``host_id``
    ``is_down`` returns True (asked again at each poll). The peers table is the one the control
    connection reads: ``peers_table``, or ``system.peers`` on a server without ``system.peers_v2``.
    Each poll is a request of the execution core whose deadline is what is left of ``max_wait``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    try:
        while True:
            # The deadline also bounds each poll: a node that stops answering must not hang the DDL call.
            local = await query_rows(conn, _LOCAL, timeout=_left(loop, deadline))
            peers, peers_table = await query_peers(
                conn, "host_id, schema_version", table=peers_table, timeout=_left(loop, deadline)
            )
            if is_down is not None:
                peers = [r for r in peers if not _down(r.get("host_id"), is_down)]
            versions = {row.get("schema_version") for row in local + peers} - {None}
            if len(versions) <= 1:
                return True
            await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
    except CqlError:  # a timed-out poll (OperationTimedOut) included
        return False


class _Expired(CqlError):
    """The schema-agreement wait is over (internal)."""


def _left(loop: asyncio.AbstractEventLoop, deadline: float) -> float:
    left = deadline - loop.time()
    if left <= 0:
        raise _Expired("schema agreement wait is over")
    return left


def _down(host_id: object, is_down: Callable[[uuid.UUID], bool]) -> bool:
    return isinstance(host_id, uuid.UUID) and is_down(host_id)
