"""Which reply kinds answer which request: anything else on a request's stream is a protocol violation.

A server (or a proxy) that answers a SELECT with READY, an EVENT, or a RESULT of another kind is not
speaking the protocol: the caller gets :class:`~aiocql.ProtocolError` and the connection is dropped
(its other requests fail with :class:`~aiocql.ConnectionLost`, retried as the retry policy allows),
instead of an empty result that hides the fault.

Example:
    >>> from aiocql.protocol.requests import Query
    >>> [c.__name__ for c in expected_replies(Query("SELECT * FROM t"))]
    ['RowsResult']
    >>> check_reply(Query("SELECT * FROM t"), VoidResult())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    aiocql.errors.base.ProtocolError: the server answered QUERY 'SELECT * FROM t' with RESULT Void (expected ...)
"""

from __future__ import annotations

import re

from aiocql.errors import ProtocolError
from aiocql.protocol.message import Response
from aiocql.protocol.requests import (
    AuthResponse,
    Batch,
    Execute,
    Options,
    Prepare,
    Query,
    Register,
    Request,
    Startup,
)
from aiocql.protocol.responses import (
    AuthChallenge,
    Authenticate,
    AuthSuccess,
    Event,
    Ready,
    Supported,
)
from aiocql.protocol.results import (
    PreparedResult,
    RowsResult,
    SchemaChangeResult,
    SetKeyspaceResult,
    VoidResult,
)

__all__ = [
    "ANY_RESULT",
    "BATCH_RESULT",
    "PREPARED",
    "ROWS",
    "Replies",
    "check_reply",
    "describe_reply",
    "expected_replies",
    "returns_rows",
]

Replies = tuple[type[Response], ...]

ROWS: Replies = (RowsResult,)
"""A SELECT (or a prepared statement with result columns): rows only."""
ANY_RESULT: Replies = (VoidResult, RowsResult, SetKeyspaceResult, SchemaChangeResult)
"""A statement that may write, change the schema, switch keyspace or (LWT) return rows."""
BATCH_RESULT: Replies = (VoidResult, RowsResult)
"""A BATCH: Void, or rows for a conditional batch."""
PREPARED: Replies = (PreparedResult,)
"""A PREPARE."""

_BY_REQUEST: dict[type, Replies] = {
    Query: ANY_RESULT,
    Execute: ANY_RESULT,
    Batch: BATCH_RESULT,
    Prepare: PREPARED,
    Options: (Supported,),
    Register: (Ready,),
    Startup: (Ready, Authenticate),
    AuthResponse: (AuthSuccess, AuthChallenge),
}

_SELECT = re.compile(r"\s*select\b", re.IGNORECASE)

_NAMES: dict[type, str] = {
    VoidResult: "RESULT Void",
    RowsResult: "RESULT Rows",
    SetKeyspaceResult: "RESULT Set_keyspace",
    SchemaChangeResult: "RESULT Schema_change",
    PreparedResult: "RESULT Prepared",
    Ready: "READY",
    Authenticate: "AUTHENTICATE",
    Supported: "SUPPORTED",
    AuthChallenge: "AUTH_CHALLENGE",
    AuthSuccess: "AUTH_SUCCESS",
}


def returns_rows(query: str) -> bool:
    """True for CQL text that is a SELECT (its only right answer is RESULT Rows).

    Example:
        >>> returns_rows("  select * from t"), returns_rows("INSERT INTO t (k) VALUES (1)"), returns_rows("selector")
        (True, False, False)
    """
    head = query[:7]
    if head == "SELECT " or head == "select ":
        return True
    if head[:1].isalpha() and head[:1] not in "sS":
        return False  # INSERT, UPDATE, ...: no regex needed
    return _SELECT.match(query) is not None


def expected_replies(request: Request) -> Replies:
    """The reply kinds that may answer ``request`` (a QUERY that is a SELECT: rows only)."""
    if type(request) is Query and returns_rows(request.query):
        return ROWS
    replies = _BY_REQUEST.get(type(request))
    if replies is None:  # a subclass (e.g. the lean path's pre-encoded EXECUTE): what its request kind allows
        replies = next((_BY_REQUEST[c] for c in type(request).__mro__ if c in _BY_REQUEST), ANY_RESULT)
    return replies


def describe_reply(response: Response) -> str:
    """The protocol name of a reply kind, e.g. ``RESULT Void`` or ``EVENT``."""
    if isinstance(response, Event):
        return "EVENT"
    return _NAMES.get(type(response), type(response).__name__)


_REQUEST_NAMES: dict[type, str] = {
    Query: "QUERY",
    Execute: "EXECUTE",
    Batch: "BATCH",
    Prepare: "PREPARE",
    Options: "OPTIONS",
    Register: "REGISTER",
    Startup: "STARTUP",
    AuthResponse: "AUTH_RESPONSE",
}


def _describe_request(request: Request) -> str:
    # By request kind, subclasses included (the lean path's pre-encoded EXECUTE is an Execute).
    name = next((_REQUEST_NAMES[c] for c in type(request).__mro__ if c in _REQUEST_NAMES), "a request")
    query = getattr(request, "query", None)
    if isinstance(query, str):
        return f"{name} {query[:60] + '...' if len(query) > 60 else query!r}"
    return name


def check_reply(request: Request, response: Response, expected: Replies | None = None) -> None:
    """Raise :class:`~aiocql.ProtocolError` when ``response`` is not a kind that answers ``request``."""
    accepted = expected_replies(request) if expected is None else expected
    if isinstance(response, accepted):
        return
    wanted = " or ".join(_NAMES.get(c, c.__name__) for c in accepted)
    raise ProtocolError(
        f"the server answered {_describe_request(request)} with {describe_reply(response)} (expected {wanted})"
    )
