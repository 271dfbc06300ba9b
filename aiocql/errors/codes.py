"""The one table of the server's error codes (v4 spec section 9, v5 spec section 8).

Each row gives a code, its spec name (the :class:`~aiocql.errors.server.ErrorCode` member), the
exception class raised for it, that class's base, its fields after ``<code><message>`` in wire order
as (attribute, wire kind), and its docstring. :mod:`aiocql.errors.server` is generated from this
table (``python -m aiocql.errors.codegen``; a unit test regenerates it and fails if it differs), and
:mod:`aiocql.protocol.error_codec` reads and writes every ERROR body from the fields' wire kinds.
Rows with ``code=None`` are refinements: classes raised for a code that another row owns.

Wire kinds: ``consistency`` [consistency], ``int`` [int], ``string`` [string], ``bool`` [byte] 0/1,
``short_bytes`` [short bytes], ``string_list`` [string list]; ``failures`` fills ``num_failures`` and
``reason_map`` (v4: an [int] count; v5: a map of [inetaddr] to [short] failure code);
``cas_contentions`` (v5, CAS write timeouts only) an optional [short].

Example:
    >>> row = next(r for r in ERROR_TABLE if r.class_name == "Unavailable")
    >>> hex(row.code), row.name, row.base, [attr for attr, _ in row.fields]
    ('0x1000', 'UNAVAILABLE', 'RequestExecutionError', ['consistency', 'required', 'alive'])
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ERROR_TABLE", "WIRE_KINDS", "ErrorRow"]

WIRE_KINDS = frozenset(
    ("consistency", "int", "string", "bool", "short_bytes", "string_list", "failures", "cas_contentions")
)
"""Every wire kind a field may have (see the module docs)."""


class ErrorRow(NamedTuple):
    """One row of :data:`ERROR_TABLE`."""

    code: int | None
    """The error code; None for a refinement of another row's code."""
    name: str | None
    """The spec's name of the code (the ErrorCode member); None for a refinement."""
    class_name: str
    base: str
    fields: tuple[tuple[str, str], ...]
    """(attribute, wire kind) after <code><message>, in wire order."""
    doc: str


_CL_RECEIVED_BLOCKFOR = (("consistency", "consistency"), ("received", "int"), ("block_for", "int"))

ERROR_TABLE: tuple[ErrorRow, ...] = (
    ErrorRow(
        0x0000,
        "SERVER_ERROR",
        "InternalServerError",
        "ServerError",
        (),
        "0x0000 Server error: something unexpected happened on the server (a server-side bug).",
    ),
    ErrorRow(
        0x000A,
        "PROTOCOL_ERROR",
        "ProtocolErrorFromServer",
        "ServerError",
        (),
        """0x000A Protocol error: the server says a client message violated the protocol.

Also the reply to an unsupported protocol version during negotiation.""",
    ),
    ErrorRow(
        None,
        None,
        "InvalidPagingState",
        "ProtocolErrorFromServer",
        (),
        """The server refused the ``paging_state`` passed to ``execute``: it is not a token this cluster made
for this statement (a truncated, altered or foreign token, e.g. from an HTTP client). Not a driver
bug: answer it as a bad request (HTTP 400). Still a :class:`ProtocolErrorFromServer` (code 0x000A).

Example:
    >>> issubclass(InvalidPagingState, ProtocolErrorFromServer)
    True""",
    ),
    ErrorRow(
        0x0100,
        "BAD_CREDENTIALS",
        "BadCredentials",
        "ServerError",
        (),
        "0x0100 Authentication error: authentication was required and failed.",
    ),
    ErrorRow(
        0x1000,
        "UNAVAILABLE",
        "Unavailable",
        "RequestExecutionError",
        (("consistency", "consistency"), ("required", "int"), ("alive", "int")),
        """0x1000 Not enough replicas alive to achieve the consistency level.

Example:
    >>> Unavailable("no", consistency=1, required=1, alive=0).alive
    0""",
    ),
    ErrorRow(0x1001, "OVERLOADED", "Overloaded", "RequestExecutionError", (), "0x1001 The coordinator is overloaded."),
    ErrorRow(
        0x1002,
        "IS_BOOTSTRAPPING",
        "IsBootstrapping",
        "RequestExecutionError",
        (),
        "0x1002 The coordinator is bootstrapping.",
    ),
    ErrorRow(0x1003, "TRUNCATE_ERROR", "TruncateError", "RequestExecutionError", (), "0x1003 A TRUNCATE failed."),
    ErrorRow(
        0x1100,
        "WRITE_TIMEOUT",
        "WriteTimeout",
        "ReplicaTimeout",
        (*_CL_RECEIVED_BLOCKFOR, ("write_type", "string"), ("contentions", "cas_contentions")),
        """0x1100 Replicas did not acknowledge a write in time.

``contentions`` (v5) is the number of Paxos contentions of a CAS write; ``None`` otherwise.""",
    ),
    ErrorRow(
        0x1200,
        "READ_TIMEOUT",
        "ReadTimeout",
        "ReplicaTimeout",
        (*_CL_RECEIVED_BLOCKFOR, ("data_present", "bool")),
        "0x1200 Replicas did not answer a read in time; ``data_present`` tells if the data replica did.",
    ),
    ErrorRow(
        0x1300,
        "READ_FAILURE",
        "ReadFailure",
        "ReplicaFailure",
        (*_CL_RECEIVED_BLOCKFOR, ("failures", "failures"), ("data_present", "bool")),
        "0x1300 A non-timeout failure during a read.",
    ),
    ErrorRow(
        0x1400,
        "FUNCTION_FAILURE",
        "FunctionFailure",
        "RequestExecutionError",
        (("keyspace", "string"), ("function", "string"), ("arg_types", "string_list")),
        "0x1400 A user-defined function failed.",
    ),
    ErrorRow(
        0x1500,
        "WRITE_FAILURE",
        "WriteFailure",
        "ReplicaFailure",
        (*_CL_RECEIVED_BLOCKFOR, ("failures", "failures"), ("write_type", "string")),
        "0x1500 A non-timeout failure during a write.",
    ),
    ErrorRow(
        0x1600,
        "CDC_WRITE_FAILURE",
        "CDCWriteFailure",
        "RequestExecutionError",
        (),
        "0x1600 A write to a CDC-enabled table failed (CDC space exhausted).",
    ),
    ErrorRow(
        0x1700,
        "CAS_WRITE_UNKNOWN",
        "CASWriteUnknown",
        "RequestExecutionError",
        _CL_RECEIVED_BLOCKFOR,
        "0x1700 (v5) A contended CAS write may or may not have been applied.",
    ),
    ErrorRow(
        0x2000, "SYNTAX_ERROR", "CqlSyntaxError", "RequestValidationError", (), "0x2000 The query has a syntax error."
    ),
    ErrorRow(
        0x2100,
        "UNAUTHORIZED",
        "Unauthorized",
        "RequestValidationError",
        (),
        "0x2100 The logged-in user may not perform the query.",
    ),
    ErrorRow(
        0x2200,
        "INVALID",
        "InvalidRequest",
        "RequestValidationError",
        (),
        "0x2200 The query is syntactically correct but invalid.",
    ),
    ErrorRow(
        0x2300,
        "CONFIG_ERROR",
        "ConfigError",
        "RequestValidationError",
        (),
        "0x2300 The query is invalid because of some configuration issue.",
    ),
    ErrorRow(
        0x2400,
        "ALREADY_EXISTS",
        "AlreadyExists",
        "ConfigError",
        (("keyspace", "string"), ("table", "string")),
        '0x2400 The keyspace or table to create exists already (``table`` is "" for a keyspace).',
    ),
    ErrorRow(
        0x2500,
        "UNPREPARED",
        "Unprepared",
        "RequestValidationError",
        (("statement_id", "short_bytes"),),
        "0x2500 The node does not know the prepared statement ``statement_id``: re-prepare, retry.",
    ),
)
"""Every error code of the v4 and v5 specs, plus the refinements the driver raises."""
