"""One ``execute()`` call's settings, resolved once (call, statement, execution profile), and the checks of a
statement's own options.

Example:
    >>> _first(None, Consistency.ANY, Consistency.ONE)
    <Consistency.ANY: 0>
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiocql.errors import InvalidValueError
from aiocql.model.result_metadata import ResultMetadata
from aiocql.protocol.constants import Consistency
from aiocql.results import RowFactory
from aiocql.session.profiles import ResolvedProfile
from aiocql.statements import BatchStatement, BoundStatement, PreparedStatement, SimpleStatement, Statement
from aiocql.validation import (
    NoPaging,
    check_bool,
    check_consistency,
    check_custom_payload,
    check_fetch_size,
    check_keyspace,
    check_serial_consistency,
    check_timeout,
    describe_value,
)


@dataclass(slots=True)
class _Call:
    consistency: Consistency
    serial: Consistency | None
    timeout: float | None
    fetch_size: int | NoPaging
    timestamp: int | None
    idempotent: bool
    keyspace: str | None
    trace: bool
    custom_payload: Mapping[str, bytes] | None
    row_factory: RowFactory
    profile: ResolvedProfile
    sent_metadata: ResultMetadata | None = None  # the result metadata an EXECUTE skipped (v5)


_STATEMENT_TYPES = (SimpleStatement, PreparedStatement, BoundStatement, BatchStatement)
_describe = describe_value


def _check_parameters(parameters: object) -> None:
    if isinstance(parameters, (str, bytes, bytearray)) or not isinstance(parameters, (Sequence, Mapping)):
        raise InvalidValueError(
            f"parameters must be a sequence or a mapping, not {_describe(parameters)}: wrap one value in a tuple"
        )


def _check_statement(stmt: Statement) -> None:
    """The statement's options, checked again at execute (cheaply: they are usually None, or right)."""
    cl = stmt.consistency_level
    if cl is not None and type(cl) is not Consistency:
        check_consistency(f"{type(stmt).__name__}.consistency_level", cl)
    serial = stmt.serial_consistency_level
    if serial is not None and serial is not Consistency.SERIAL and serial is not Consistency.LOCAL_SERIAL:
        check_serial_consistency(f"{type(stmt).__name__}.serial_consistency_level", serial)
    if stmt.fetch_size is not None:
        check_fetch_size(f"{type(stmt).__name__}.fetch_size", stmt.fetch_size)
    if stmt.timeout is not None:
        check_timeout(f"{type(stmt).__name__}.timeout", stmt.timeout)
    if stmt.keyspace is not None:
        check_keyspace(f"{type(stmt).__name__}.keyspace", stmt.keyspace)
    if stmt.custom_payload is not None:
        check_custom_payload(f"{type(stmt).__name__}.custom_payload", stmt.custom_payload)
    if stmt.is_idempotent is not False and stmt.is_idempotent is not True:
        check_bool(f"{type(stmt).__name__}.is_idempotent", stmt.is_idempotent)


def _first(*values: Any) -> Any:
    """The first value that is not None (unlike ``or``, keeps falsy settings such as ``Consistency.ANY``)."""
    return next((v for v in values if v is not None), None)


def _options_of(stmt: SimpleStatement) -> dict[str, Any]:
    return {
        name: getattr(stmt, name)
        for name in ("consistency_level", "serial_consistency_level", "fetch_size", "timeout", "is_idempotent",
                     "keyspace", "custom_payload", "routing_key", "routing_token")
        if getattr(stmt, name) is not None
    }  # fmt: skip
