"""The driver's own requests, sent through the one execution core with a deadline each.

The control connection's queries and REGISTER, the schema reads, schema-agreement polls, ``USE`` on a
connection and PREPARE on the other hosts are requests like any other: they run through
:func:`aiocql.session.executor.run_with_deadline` on a :class:`~aiocql.session.executor.Fixed` target
(one connection, or one host's pool), never retried elsewhere (a failure reaches the caller as it
came), each with a deadline: ``ConnectionConfig.internal_request_timeout`` unless the caller gives one.
System-table queries page through the same core, one request per page.

Example:
    >>> rows = await query_rows(conn, "SELECT * FROM system.local WHERE key='local'")  # doctest: +SKIP
    >>> rows[0]["cluster_name"]  # doctest: +SKIP
    'Test Cluster'
"""

from __future__ import annotations

from typing import Any

from aiocql.connection.connection import Connection
from aiocql.connection.replies import Replies
from aiocql.errors import NoHostAvailable
from aiocql.errors.server import InvalidRequest
from aiocql.model.result_metadata import metadata_for
from aiocql.policies.request import RequestInfo
from aiocql.policies.retry import FallthroughRetryPolicy
from aiocql.protocol.constants import Consistency
from aiocql.protocol.message import Response
from aiocql.protocol.requests import Query, QueryParameters, Request
from aiocql.protocol.results import RowsResult, SetKeyspaceResult
from aiocql.session.executor import ExecutionOptions, Fixed, OneConnection, RequestSpec, Router, run_with_deadline

__all__ = ["PEERS_TABLES", "query_peers", "query_rows", "run", "send", "use_keyspace"]

_NO_RETRY = FallthroughRetryPolicy()
_INFO = RequestInfo(is_idempotent=True)
#: The peers tables, newest first: ``system.peers_v2`` (Cassandra 4.0+), then ``system.peers``.
PEERS_TABLES = ("system.peers_v2", "system.peers")
_PAGE_SIZE = 5000


def _route(target: Router | Connection) -> tuple[Router, float]:
    """The router for ``target`` and the default deadline of a request to it."""
    if isinstance(target, Connection):
        return Fixed(OneConnection(target)), target.options.internal_request_timeout
    return target, 0.0


async def send(
    target: Router | Connection, request: Request, *, timeout: float | None = None, replies: Replies | None = None
) -> Response:
    """Send ``request`` to one connection (or the router's one target) through the execution core.

    ``timeout`` is the request's one deadline (default: the connection's ``internal_request_timeout``;
    a router must be given one). Not retried: a server error, a lost connection or a timeout
    (:class:`OperationTimedOut`) is raised as is.

    Example:
        >>> await send(conn, Register((EventType.SCHEMA_CHANGE,)))  # doctest: +SKIP
        ReadyResponse()
    """
    return await run(target, RequestSpec(lambda conn: request, True, replies=replies), timeout=timeout)


async def run(target: Router | Connection, spec: RequestSpec, *, timeout: float | None = None) -> Response:
    """:func:`send` for a request built per connection (``spec.build``), e.g. PREPARE on another host.

    Example:
        >>> await run(Fixed(pool), RequestSpec(lambda conn: Prepare("SELECT 1")), timeout=5.0)  # doctest: +SKIP
    """
    router, default = _route(target)
    wait = default if timeout is None else timeout
    assert wait > 0, "every internal request has a deadline"
    try:
        response, _ = await run_with_deadline(router, spec, _INFO, ExecutionOptions(_NO_RETRY), wait)
    except NoHostAvailable as exc:
        if len(exc.errors) == 1:  # the one target's own error (e.g. out of stream ids), not a plan's
            raise next(iter(exc.errors.values())) from None
        raise
    return response


async def query_rows(
    target: Router | Connection,
    cql: str,
    *,
    timeout: float | None = None,
    consistency: Consistency = Consistency.ONE,
) -> list[dict[str, Any]]:
    """Run a system-table query and return its rows as dicts, every page (one deadline per page).

    Example:
        >>> await query_rows(conn, "SELECT keyspace_name FROM system_schema.keyspaces")  # doctest: +SKIP
        [{'keyspace_name': 'system'}, ...]
    """
    out: list[dict[str, Any]] = []
    paging_state: bytes | None = None
    while True:
        params = QueryParameters(consistency, page_size=_PAGE_SIZE, paging_state=paging_state)
        response = await send(target, Query(cql, params), timeout=timeout)
        if not isinstance(response, RowsResult) or response.metadata.columns is None:
            return out
        meta = metadata_for(response.metadata.columns)
        names = meta.names
        for row in meta.decoder.decode_rows(response.buffer, response.offset, response.rows_count):
            out.append(dict(zip(names, row, strict=True)))
        paging_state = response.metadata.paging_state
        if paging_state is None:
            return out


async def query_peers(
    target: Router | Connection, columns: str = "*", *, table: str = PEERS_TABLES[0], timeout: float | None = None
) -> tuple[list[dict[str, Any]], str]:
    """The rows of the peers table and the table read: ``table`` (``system.peers_v2`` by default), or
    ``system.peers`` on a server that has no ``peers_v2`` (before Cassandra 4.0).

    Example:
        >>> rows, table = await query_peers(conn, "host_id, schema_version")  # doctest: +SKIP
    """
    try:
        return await query_rows(target, f"SELECT {columns} FROM {table}", timeout=timeout), table
    except InvalidRequest:
        if table == PEERS_TABLES[-1]:
            raise
    table = PEERS_TABLES[-1]
    return await query_rows(target, f"SELECT {columns} FROM {table}", timeout=timeout), table


async def use_keyspace(conn: Connection, keyspace: str) -> None:
    """Run ``USE keyspace`` on one connection (quoted, so mixed-case names work), within the connection's
    ``internal_request_timeout``.

    Example:
        >>> await use_keyspace(conn, "ks"); conn.keyspace  # doctest: +SKIP
        'ks'
    """
    from aiocql.protocol.cqltypes import quote_identifier

    response = await send(conn, Query(f"USE {quote_identifier(keyspace)}", QueryParameters(Consistency.ONE)))
    if isinstance(response, SetKeyspaceResult):
        conn.keyspace = response.keyspace
