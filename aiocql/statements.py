"""Statements: what a user hands to :meth:`aiocql.Session.execute`.

The nouns are cassandra-driver's (SimpleStatement, PreparedStatement, BoundStatement, BatchStatement);
each statement carries optional per-request settings that override the session's defaults.

Example:
    >>> from aiocql import SimpleStatement, ConsistencyLevel
    >>> stmt = SimpleStatement("SELECT * FROM t WHERE k = ?", consistency_level=ConsistencyLevel.QUORUM)
    >>> stmt.query
    'SELECT * FROM t WHERE k = ?'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from aiocql.errors import InvalidValueError
from aiocql.model.result_metadata import ResultMetadata
from aiocql.protocol.constants import BatchType, Consistency
from aiocql.protocol.results import ColumnSpec
from aiocql.protocol.unset import UNSET, Unset
from aiocql.types.rows import ValuesEncoder
from aiocql.types.token import composite_routing_key
from aiocql.validation import NO_PAGING, NoPaging, check_statement_options

#: The most statements one BATCH carries (its count is a [short]).
MAX_BATCH_STATEMENTS = 65535

#: The value a bound parameter takes when it should be left unset (v4+): the column keeps its value.
UNSET_VALUE = UNSET

__all__ = [
    "NO_PAGING",
    "UNSET_VALUE",
    "BatchStatement",
    "BoundStatement",
    "PreparedStatement",
    "SimpleStatement",
    "Statement",
    "StatementOptions",
]

EncodedValue = bytes | None | Unset
Parameters = Sequence[Any] | Mapping[str, Any] | None


@dataclass(slots=True, kw_only=True)
class StatementOptions:
    """Per-statement settings; ``None`` means the session's (or execution profile's) default.

    Each is checked when the statement is made, and again when it is executed (attributes may be set
    later): a wrong one raises :class:`aiocql.InvalidValueError` naming it, before anything is sent.
    ``consistency_level`` is a :class:`aiocql.ConsistencyLevel` (strings and ints are refused);
    ``serial_consistency_level`` is ``SERIAL`` or ``LOCAL_SERIAL``; ``fetch_size`` a positive int, or
    :data:`aiocql.NO_PAGING` for one reply with every row; ``timeout`` a finite number of seconds > 0;
    ``keyspace`` a str; ``custom_payload`` a mapping of str to bytes; ``routing_key`` bytes.
    """

    consistency_level: Consistency | None = None
    serial_consistency_level: Consistency | None = None
    fetch_size: int | NoPaging | None = None
    timeout: float | None = None
    is_idempotent: bool = False
    keyspace: str | None = None
    custom_payload: Mapping[str, bytes] | None = None
    routing_key: bytes | None = None
    #: The partition token to route by, when known without a key (token-range scans); wins over routing_key.
    routing_token: int | None = None


@dataclass(slots=True)
class SimpleStatement(StatementOptions):
    """A CQL string, sent as QUERY (or transparently prepared when it has parameters).

    Example:
        >>> SimpleStatement("SELECT now() FROM system.local", fetch_size=100).fetch_size
        100
    """

    query: str = ""

    def __init__(self, query: str, **options: Any) -> None:
        if not isinstance(query, str):
            raise InvalidValueError(f"SimpleStatement needs a CQL string, not {type(query).__name__}")
        if options:
            check_statement_options("SimpleStatement", options)
        StatementOptions.__init__(self, **options)
        self.query = query

    def __repr__(self) -> str:
        return statement_repr(self)

    __str__ = __repr__


@dataclass(slots=True, eq=False)
class PreparedStatement(StatementOptions):
    """A statement prepared on the server; bind values to it to execute it.

    Built by :meth:`aiocql.Session.prepare`; holds the bind markers' names and types (with a value
    encoder built once), the partition-key indexes for routing, and the result metadata (with a row
    decoder built once) that lets executions skip metadata in every reply.

    Example:
        >>> ps = await session.prepare("SELECT v FROM t WHERE k = ?")  # doctest: +SKIP
        >>> rows = await session.execute(ps, (1,))  # doctest: +SKIP
    """

    query: str = ""
    query_id: bytes = b""
    bind_columns: tuple[ColumnSpec, ...] = ()
    pk_indexes: tuple[int, ...] = ()
    result_metadata: ResultMetadata | None = None
    result_metadata_id: bytes | None = None
    prepared_keyspace: str | None = None
    is_lwt: bool = False  # a conditional write (INSERT/UPDATE/DELETE ... IF): routed to replicas in a fixed order
    encoder: ValuesEncoder = field(init=False, repr=False)
    #: What the session's lean path worked out once for this statement (aiocql.session.fast); any attribute set
    #: on the statement (an option, or a re-prepare's new id, metadata or bind types) drops it.
    _fast: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.encoder = ValuesEncoder([c.name for c in self.bind_columns], [c.type for c in self.bind_columns])

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "_fast":
            object.__setattr__(self, "_fast", None)

    def __getstate__(self) -> dict[str, Any]:
        # Pickled and copied without the session's plan (it belongs to one session).
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_fast"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_fast", None)

    def bind(self, values: Parameters = None) -> BoundStatement:
        """Encode ``values`` (a sequence, or a mapping by bind-marker name) and return a BoundStatement.

        Raises :class:`aiocql.InvalidValueError` naming the column for a wrong count, type or name.

        Example:
            >>> bound = ps.bind((1, "one"))  # doctest: +SKIP
        """
        bound = BoundStatement(self, self.encode(values))
        bound.parameters = values  # kept to encode again if the server's bind types change (re-prepare)
        return bound

    def encode(self, values: Parameters) -> list[EncodedValue]:
        """The encoded bind values, checked against the bind markers."""
        if values is None:
            values = ()
        elif type(values) is not tuple and isinstance(values, (str, bytes)):
            raise InvalidValueError(
                f"parameters must be a sequence or a mapping, not {type(values).__name__}: wrap it in a tuple"
            )
        encoded = self.encoder.encode(values)
        for i in self.pk_indexes:  # the server refuses it; say so before sending, naming the column
            if encoded[i] is UNSET:
                raise InvalidValueError(
                    f"partition key column {self.bind_columns[i].name!r} cannot be UNSET_VALUE: a partition key "
                    "needs a value (UNSET_VALUE leaves a regular column unchanged)"
                )
        return encoded

    def update_bind_metadata(self, columns: Sequence[ColumnSpec], pk_indexes: Sequence[int]) -> bool:
        """Take the bind markers the server gave on a re-prepare; True if they differ from ours (the
        table or a type it uses changed), in which case the value encoder is rebuilt."""
        columns, pk_indexes = tuple(columns), tuple(pk_indexes)
        if columns == self.bind_columns and pk_indexes == self.pk_indexes:
            return False
        self.bind_columns, self.pk_indexes = columns, pk_indexes
        self.encoder = ValuesEncoder([c.name for c in columns], [c.type for c in columns])
        return True

    def routing_key_from(self, encoded: Sequence[EncodedValue]) -> bytes | None:
        """The partition key bytes from encoded bind values (composite keys too), or None if unknown."""
        pk_indexes = self.pk_indexes
        if len(pk_indexes) == 1:  # the common case: one partition key column
            key = encoded[pk_indexes[0]]
            return key if isinstance(key, bytes) else None
        if not pk_indexes:
            return None
        parts = [encoded[i] for i in pk_indexes]
        if any(not isinstance(p, bytes) for p in parts):
            return None
        keys = [p for p in parts if isinstance(p, bytes)]
        return keys[0] if len(keys) == 1 else composite_routing_key(keys)

    def __repr__(self) -> str:
        return statement_repr(self)

    __str__ = __repr__


@dataclass(slots=True, eq=False)
class BoundStatement(StatementOptions):
    """A prepared statement with its values encoded; options default to the prepared statement's.

    Example:
        >>> bound = ps.bind((1,))  # doctest: +SKIP
        >>> await session.execute(bound)  # doctest: +SKIP
    """

    prepared: PreparedStatement | None = None
    values: list[EncodedValue] = field(default_factory=list)
    #: The values as given (None when unknown): encoded again if a re-prepare brings new bind types.
    parameters: Parameters = field(default=None, repr=False)

    def __init__(self, prepared: PreparedStatement, values: list[EncodedValue], **options: Any) -> None:
        if options:
            check_statement_options("BoundStatement", options)
            inherited = {
                name: getattr(prepared, name)
                for name in StatementOptions.__dataclass_fields__
                if getattr(prepared, name) is not None and name not in options
            }
            StatementOptions.__init__(self, **inherited, **options)
        else:  # the common case (PreparedStatement.bind): every option is the prepared statement's
            self.consistency_level = prepared.consistency_level
            self.serial_consistency_level = prepared.serial_consistency_level
            self.fetch_size = prepared.fetch_size
            self.timeout = prepared.timeout
            idempotent = prepared.is_idempotent
            self.is_idempotent = False if idempotent is None else idempotent
            self.keyspace = prepared.keyspace
            self.custom_payload = prepared.custom_payload
            self.routing_key = prepared.routing_key
            self.routing_token = prepared.routing_token
        self.prepared = prepared
        self.values = values
        self.parameters = None
        if self.routing_key is None:
            self.routing_key = prepared.routing_key_from(values)

    def __repr__(self) -> str:
        return statement_repr(self)

    __str__ = __repr__


@dataclass(slots=True, eq=False)
class BatchStatement(StatementOptions):
    """A BATCH of simple and bound statements (logged, unlogged or counter).

    Example:
        >>> batch = BatchStatement(BatchType.UNLOGGED)
        >>> batch.add(SimpleStatement("INSERT INTO t (k, v) VALUES (1, 'a')"))
        >>> len(batch)
        1
    """

    batch_type: BatchType = BatchType.LOGGED
    entries: list[tuple[SimpleStatement | PreparedStatement | BoundStatement, Parameters]] = field(default_factory=list)

    def __init__(self, batch_type: BatchType = BatchType.LOGGED, **options: Any) -> None:
        if type(batch_type) is not BatchType:
            raise InvalidValueError(f"batch_type must be a BatchType (LOGGED, UNLOGGED or COUNTER), not {batch_type!r}")
        if options:
            check_statement_options("BatchStatement", options)
        StatementOptions.__init__(self, **options)
        self.batch_type = batch_type
        self.entries = []

    def add(
        self,
        statement: str | SimpleStatement | PreparedStatement | BoundStatement,
        parameters: Parameters = None,
    ) -> None:
        """Add a child statement with its parameters (a query string, simple, prepared or bound statement).

        A query string or SimpleStatement with parameters is prepared transparently when the batch is
        executed (once per query text, then cached), so its values are encoded by column type.

        Example:
            >>> batch = BatchStatement(BatchType.UNLOGGED)
            >>> batch.add("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))
            >>> batch.add("DELETE FROM t WHERE k = 2")
            >>> len(batch)
            2
        """
        if isinstance(statement, str):
            statement = SimpleStatement(statement)
        elif not isinstance(statement, (SimpleStatement, PreparedStatement, BoundStatement)):
            raise InvalidValueError(
                "a batch takes query strings, SimpleStatement, PreparedStatement or BoundStatement, "
                f"not {type(statement).__name__}"
            )
        if len(self.entries) >= MAX_BATCH_STATEMENTS:
            raise InvalidValueError(f"a batch holds at most {MAX_BATCH_STATEMENTS} statements (the protocol's limit)")
        if isinstance(statement, BoundStatement) and parameters is not None:
            raise InvalidValueError("a BoundStatement already carries its values: pass no parameters")
        self.entries.append((statement, parameters))

    def add_all(self, statements: Sequence[Any], parameters: Sequence[Parameters]) -> None:
        """Add each statement with the parameters at the same position."""
        if len(statements) != len(parameters):
            raise InvalidValueError(f"{len(statements)} statements but {len(parameters)} parameter sets")
        for stmt, params in zip(statements, parameters, strict=True):
            self.add(stmt, params)

    def clear(self) -> None:
        """Remove every child statement."""
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return statement_repr(self)

    __str__ = __repr__


Statement = SimpleStatement | PreparedStatement | BoundStatement | BatchStatement


_OPTION_NAMES = ("consistency_level", "serial_consistency_level", "fetch_size", "timeout", "keyspace")


def statement_repr(stmt: StatementOptions) -> str:
    """A readable one-line description of a statement: kind, query (shortened), the options set, never a
    bound value (they may be secrets).

    Example:
        >>> from aiocql import ConsistencyLevel
        >>> SimpleStatement("SELECT * FROM t", consistency_level=ConsistencyLevel.QUORUM)
        <SimpleStatement 'SELECT * FROM t' consistency_level=QUORUM>
    """
    parts = [type(stmt).__name__]
    if isinstance(stmt, BatchStatement):
        parts.append(f"{stmt.batch_type.name} of {len(stmt.entries)} statement{'s' if len(stmt.entries) != 1 else ''}")
    else:
        query = (
            stmt.prepared.query if isinstance(stmt, BoundStatement) and stmt.prepared else getattr(stmt, "query", "")
        )
        parts.append(repr(query if len(query) <= 120 else query[:117] + "..."))
    if isinstance(stmt, PreparedStatement):
        parts.append(f"id={stmt.query_id.hex()[:16]}")
        parts.append(f"markers=[{', '.join(f'{c.name} {c.type.cql_name}' for c in stmt.bind_columns)}]")
    if isinstance(stmt, BoundStatement):
        parts.append(f"{len(stmt.values)} value{'s' if len(stmt.values) != 1 else ''}")
    for name in _OPTION_NAMES:
        value = getattr(stmt, name)
        if value is not None:
            parts.append(f"{name}={getattr(value, 'name', value)}")
    if stmt.is_idempotent:
        parts.append("idempotent")
    return f"<{' '.join(parts)}>"
