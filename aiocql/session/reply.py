"""What a reply becomes: a :class:`~aiocql.results.ResultSet` with its rows decoded and its next page wired, a
``USE`` that every connection of the session follows, or schema agreement (and a schema refresh) after DDL.

Example:
    >>> rs = await _result(session, response, conn, stmt, call)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiocql.connection.connection import Connection
from aiocql.errors import CqlError, ProtocolError
from aiocql.model.result_metadata import ResultMetadata, metadata_for
from aiocql.protocol.message import Response
from aiocql.protocol.results import RowsResult, SchemaChangeResult, SetKeyspaceResult
from aiocql.results import ResultSet
from aiocql.session.call import _Call
from aiocql.session.describe import _statement_text
from aiocql.session.schema_agreement import wait_for_schema_agreement
from aiocql.statements import BoundStatement, Statement

if TYPE_CHECKING:
    from aiocql.session.session import Session

log = logging.getLogger("aiocql.session")


async def _result(
    session: Session, response: Response, conn: Connection, stmt: Statement, call: _Call
) -> ResultSet[Any]:
    """The :class:`ResultSet` of a reply: its rows decoded (and its next page wired to ``session``), a
    ``USE`` followed by every connection, or, after DDL, schema agreement awaited and the schema refreshed."""
    rs = _result_set(session, response, conn, stmt, call)
    if needs_follow_up(response):
        await _follow_up(session, response, conn, stmt, rs)
    return rs


def needs_follow_up(response: Response) -> bool:
    """Whether a reply needs :func:`_follow_up` (a ``USE`` or a schema change) after :func:`_result_set`."""
    return isinstance(response, (SetKeyspaceResult, SchemaChangeResult))


def _result_set(session: Session, response: Response, conn: Connection, stmt: Statement, call: _Call) -> ResultSet[Any]:
    """The :class:`ResultSet` of a reply, built at once (rows decoded, next page wired); no await, so the
    common reply (rows, or a write's void) costs no coroutine."""
    extra = response.custom_payload
    payload: dict[str, bytes] | None = dict(extra) if extra else None  # type: ignore[arg-type]
    warnings = response.warnings
    if not isinstance(response, RowsResult):
        rs: ResultSet[Any] = ResultSet(
            warnings=warnings, tracing_id=response.tracing_id, custom_payload=payload, coordinator=conn.host,
            _session=session,
        )  # fmt: skip
    else:
        meta = _rows_metadata(response, stmt, call)
        udt_classes = session.udt_classes
        decoder = meta.decoder_for(udt_classes) if udt_classes else meta.decoder
        paging_state = response.metadata.paging_state
        rs = ResultSet(
            # the default rows and tuples are built by the decoder; any other factory gets the tuples
            current_rows=decoder.decode_page(response.buffer, response.offset, response.rows_count, call.row_factory),
            column_names=meta.names, column_types=meta.types, paging_state=paging_state, warnings=warnings,
            tracing_id=response.tracing_id, custom_payload=payload, coordinator=conn.host, _session=session,
        )  # fmt: skip
        if paging_state is not None:

            async def next_page(state: bytes) -> ResultSet[Any]:  # holds no ResultSet: no cycle per page
                session._check_open()
                return await session._execute(stmt, call, state)

            rs._next_page = next_page
    if warnings:
        for warning in warnings:  # as cassandra-driver: the server's words and the statement's text
            log.warning("server warning from %s: %s; query: %s", conn.host, warning, _statement_text(stmt))
    return rs


async def _follow_up(
    session: Session, response: Response, conn: Connection, stmt: Statement, rs: ResultSet[Any]
) -> None:
    """What a ``USE`` or a schema change needs after its result set is built."""
    if isinstance(response, SetKeyspaceResult):
        # USE through execute(): every connection (and every one opened later) must follow, or
        # the next statement would run in whichever keyspace its connection happens to be in.
        conn.keyspace = response.keyspace
        await session.set_keyspace(response.keyspace)
    elif isinstance(response, SchemaChangeResult):
        session.on_schema_change(response.keyspace)
        wait = session.defaults.schema_agreement_wait
        rs.schema_agreement = await wait_for_schema_agreement(conn, wait, is_down=session._is_known_down)
        if not rs.schema_agreement:
            log.warning("schema agreement not reached within %ss after: %s", wait, _statement_text(stmt))
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("schema change %s %s %s.%s on %s: agreed", response.change_type, response.target,
                      response.keyspace, response.name or "", conn.host)  # fmt: skip
        if session.cluster is not None:
            # The caller sees its own DDL in cluster.metadata as soon as execute() returns.
            with contextlib.suppress(CqlError):
                await session.cluster.refresh_schema(response.keyspace)  # that keyspace's rows only


def _rows_metadata(response: RowsResult, stmt: Statement, call: _Call) -> ResultMetadata:
    """The metadata that decodes a page: the reply's own, or (metadata skipped) the copy the EXECUTE was sent with;
    a METADATA_CHANGED reply updates the prepared statement's."""
    md = response.metadata
    prepared = stmt.prepared if isinstance(stmt, BoundStatement) else None
    if md.columns is None:
        sent = call.sent_metadata
        if sent is None:
            raise ProtocolError("the server sent rows without metadata for a statement we have none for")
        if md.column_count != len(sent.columns):
            # decoded with the statement's metadata, the values would shift into the wrong columns
            raise ProtocolError(
                f"the server sent rows of {md.column_count} columns without metadata for a statement whose "
                f"result has {len(sent.columns)} columns"
            )
        return sent
    meta = metadata_for(md.columns)
    if prepared is not None and (md.metadata_changed or prepared.result_metadata is None):
        prepared.result_metadata = meta  # the table changed: later executions decode with this
        if md.new_metadata_id is not None:
            prepared.result_metadata_id = md.new_metadata_id
    return meta
