"""What a statement sends: the :class:`~aiocql.session.executor.RequestSpec` of a QUERY, EXECUTE or BATCH
(built per attempt, for the connection it goes to), and the re-PREPARE that answers an UNPREPARED.

Example:
    >>> spec = _spec_for(SimpleStatement("SELECT 1"), call, None, {}, None)  # doctest: +SKIP
    >>> spec.build(conn)  # doctest: +SKIP
    Query(query='SELECT 1', ...)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiocql.connection.connection import Connection
from aiocql.connection.replies import ANY_RESULT, BATCH_RESULT, PREPARED, ROWS, returns_rows
from aiocql.errors import InvalidValueError
from aiocql.errors.server import Unprepared
from aiocql.model.result_metadata import metadata_for
from aiocql.protocol.message import Response
from aiocql.protocol.requests import (
    Batch,
    BatchPrepared,
    BatchQuery,
    Execute,
    Prepare,
    Query,
    QueryParameters,
    Request,
    envelope_extras,
    keyspace_field,
    skips_result_metadata,
)
from aiocql.protocol.results import PreparedResult
from aiocql.session.call import _Call
from aiocql.session.executor import Reprepare, RequestSpec
from aiocql.session.lwt import is_conditional
from aiocql.statements import BatchStatement, BoundStatement, PreparedStatement, SimpleStatement, Statement


def _routing_keyspace(stmt: Statement, call: _Call, session_keyspace: str | None) -> str | None:
    """The keyspace a statement's partition lives in (for token-aware routing)."""
    if isinstance(stmt, BoundStatement) and stmt.prepared is not None and stmt.prepared.bind_columns:
        return stmt.prepared.bind_columns[0].keyspace  # where the table really is
    return call.keyspace or session_keyspace


def _spec_for(
    stmt: Statement,
    call: _Call,
    paging_state: bytes | None,
    prepared_cache: Mapping[tuple[str | None, str], PreparedStatement],
    session_keyspace: str | None,
) -> RequestSpec:
    """The request ``stmt`` makes with the settings of ``call``: how to build its QUERY, EXECUTE or BATCH for a
    connection, which replies answer it, and how to re-prepare it (``prepared_cache``: the statements
    :meth:`Session.prepare` made, for a batch's children with parameters)."""
    flags, prefix = envelope_extras(call.trace, call.custom_payload)
    keyspace = call.keyspace
    page_size = call.fetch_size if type(call.fetch_size) is int else None  # None: NO_PAGING

    def params(values: Any = (), skip_metadata: bool = False, version: int = 5) -> QueryParameters:
        return QueryParameters(
            consistency=call.consistency,
            values=values,
            skip_metadata=skip_metadata,
            page_size=page_size,
            paging_state=paging_state,
            serial_consistency=call.serial,
            timestamp=call.timestamp,
            keyspace=keyspace_field(keyspace, version),
        )

    if isinstance(stmt, SimpleStatement):
        query = stmt.query

        def build_query(conn: Connection) -> Request:
            _check_keyspace(conn, keyspace)
            return Query(query, params(version=conn.version))

        replies = ROWS if returns_rows(query) else ANY_RESULT
        return RequestSpec(build_query, call.idempotent, flags, prefix, replies=replies)

    if isinstance(stmt, BoundStatement):
        prepared = stmt.prepared
        assert prepared is not None
        bound = stmt

        def build_execute(conn: Connection) -> Request:
            # Skip metadata where the protocol says when our copy is stale (METADATA_CHANGED).
            # The reply is decoded with the metadata that matches the id sent *now*: a re-prepare
            # (after UNPREPARED) or another reply may replace the statement's copy meanwhile.
            version = conn.version
            meta = prepared.result_metadata if skips_result_metadata(version) else None
            call.sent_metadata = meta
            return Execute(
                prepared.query_id,
                params(bound.values, meta is not None, version),  # encoded again by a re-prepare
                prepared.result_metadata_id,  # sent where the protocol has the field (v5)
            )

        # A statement with result columns (a SELECT, an LWT) answers with rows, and only rows.
        replies = ROWS if prepared.result_metadata is not None else ANY_RESULT

        def reprepare(exc: Unprepared) -> Reprepare:
            return _reprepare(prepared, bound)

        return RequestSpec(build_execute, call.idempotent, flags, prefix, reprepare, replies=replies)

    assert isinstance(stmt, BatchStatement)
    children: list[BoundStatement | SimpleStatement] = []
    prepared_children: dict[bytes, BoundStatement] = {}
    for child, child_params in stmt.entries:
        if isinstance(child, SimpleStatement) and child_params is not None:
            prepared_child = prepared_cache.get((keyspace or session_keyspace, child.query))
            if prepared_child is None:  # not prepared by execute() (e.g. a BatchStatement changed since)
                raise InvalidValueError(f"batch child {child.query!r} has parameters but was not prepared")
            child = prepared_child
        if isinstance(child, PreparedStatement):
            child = child.bind(child_params)
        if isinstance(child, BoundStatement):
            assert child.prepared is not None
            prepared_children[child.prepared.query_id] = child
        children.append(child)
    if not children:
        raise InvalidValueError("a BatchStatement needs at least one statement")

    def build_batch(conn: Connection) -> Request:
        _check_keyspace(conn, keyspace)
        # Built per attempt: a re-prepare may have given a child a new id or encoded its values again.
        entries: list[BatchQuery | BatchPrepared] = [
            BatchQuery(c.query) if isinstance(c, SimpleStatement)
            else BatchPrepared(c.prepared.query_id if c.prepared else b"", c.values) for c in children
        ]  # fmt: skip
        return Batch(
            entries, stmt.batch_type, call.consistency, call.serial, call.timestamp,
            keyspace_field(keyspace, conn.version),
        )  # fmt: skip

    def reprepare_child(exc: Unprepared) -> Reprepare:
        child = prepared_children.get(bytes(exc.statement_id))
        if child is None or child.prepared is None:
            raise exc
        return _reprepare(child.prepared, child)

    spec = RequestSpec(build_batch, call.idempotent, flags, prefix, reprepare_child, replies=BATCH_RESULT)
    if stmt.routing_key is None:  # the batch's own (explicit) one wins; else its first child's that has one
        first = next((c for c in children if c.routing_key is not None), None)
        if first is not None:
            spec.routing_key = first.routing_key
            if isinstance(first, BoundStatement):
                spec.routing_keyspace = _routing_keyspace(first, call, session_keyspace)
    return spec


def _check_keyspace(conn: Connection, keyspace: str | None) -> None:
    """A per-request keyspace on v4 (which has no field for it) must be the connection's own."""
    if keyspace is not None and keyspace != conn.keyspace and keyspace_field(keyspace, conn.version) is None:
        raise InvalidValueError(
            f"a per-request keyspace needs protocol v5 (this connection speaks v{conn.version}): "
            "qualify the table name or connect with that keyspace"
        )


def _reprepare(prepared: PreparedStatement, bound: BoundStatement | None = None) -> Reprepare:
    """What answers an UNPREPARED for ``prepared``: PREPARE it again (on the node that lost it)."""
    keyspace = prepared.prepared_keyspace

    def build(conn: Connection) -> Request:
        return Prepare(prepared.query, keyspace_field(keyspace, conn.version))

    def apply(response: Response) -> None:
        if isinstance(response, PreparedResult):
            _take_reprepared(prepared, bound, response)

    return Reprepare(RequestSpec(build, True, replies=PREPARED), apply)


def _prepared_from(response: PreparedResult, query: str, keyspace: str | None) -> PreparedStatement:
    result_columns = response.result_metadata.columns
    return PreparedStatement(
        query=query,
        query_id=response.query_id,
        bind_columns=tuple(response.bind_metadata.columns),
        pk_indexes=tuple(response.bind_metadata.pk_indexes),
        result_metadata=metadata_for(result_columns) if result_columns else None,
        result_metadata_id=response.result_metadata_id,
        prepared_keyspace=keyspace,
        is_lwt=is_conditional(query),
    )


def _is_lwt(stmt: Statement) -> bool:
    """Whether a statement is a lightweight transaction (prepared: decided once, at prepare time)."""
    if isinstance(stmt, BoundStatement):
        return stmt.prepared is not None and stmt.prepared.is_lwt
    if isinstance(stmt, PreparedStatement):
        return stmt.is_lwt
    if isinstance(stmt, BatchStatement):  # a conditional batch (its conditions all hit one partition)
        return any(_is_lwt(child) for child, _ in stmt.entries)
    query = getattr(stmt, "query", None)
    return isinstance(query, str) and is_conditional(query)


def _take_reprepared(prepared: PreparedStatement, bound: BoundStatement | None, response: PreparedResult) -> None:
    """Update ``prepared`` (and the values of ``bound``) from a re-PREPARE's reply, in one synchronous step."""
    if response.query_id != prepared.query_id:
        prepared.query_id = response.query_id
    # The statement may have been evicted because its table changed (ALTER TABLE): the
    # new metadata id comes with new columns. Replace both together, or the next EXECUTE
    # would skip metadata under the new id and have its rows decoded with the old columns.
    columns = response.result_metadata.columns
    prepared.result_metadata = metadata_for(columns) if columns else None
    prepared.result_metadata_id = response.result_metadata_id
    # The bind markers may have new types too (a table dropped and created again): the
    # encoder follows, and values bound with the old one are encoded again.
    bind = response.bind_metadata
    if prepared.update_bind_metadata(bind.columns, bind.pk_indexes) and bound is not None:
        if bound.parameters is None:
            raise InvalidValueError(
                f"the bind markers of {prepared.query!r} changed on the server since these values "
                "were encoded: bind them again"
            )
        bound.values = prepared.encode(bound.parameters)
