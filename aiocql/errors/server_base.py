"""The families of server errors: :class:`ServerError` and the bases the per-code classes of
:mod:`aiocql.errors.server` (generated from :mod:`aiocql.errors.codes`) derive from.

Import these from :mod:`aiocql.errors` or :mod:`aiocql.errors.server`, which re-export them.

Example:
    >>> from aiocql.errors.server_base import ReplicaTimeout, RequestExecutionError
    >>> issubclass(ReplicaTimeout, RequestExecutionError)
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv6Address
from typing import Any, ClassVar, TypeAlias

from aiocql.errors.base import CqlError

__all__ = [
    "Endpoint",
    "ReplicaFailure",
    "ReplicaTimeout",
    "RequestExecutionError",
    "RequestValidationError",
    "ServerError",
]

Endpoint: TypeAlias = IPv4Address | IPv6Address
"""A replica's address in a failure reason map."""


def _restore(cls: type[ServerError], message: str, state: dict[str, Any]) -> ServerError:
    exc = cls.__new__(cls)
    CqlError.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


class ServerError(CqlError):
    """An ERROR response. Used as is for error codes this driver does not know.

    Example:
        >>> exc = ServerError("odd", code=0x7777)
        >>> hex(exc.code), exc.message
        ('0x7777', 'odd')
    """

    code: int = -1
    """The error code; class constant for known codes, set per instance for unknown ones."""

    wire_fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(attribute, wire kind) of the fields after <code><message>, in wire order."""

    def __init__(self, message: str = "", *, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def fields(self) -> dict[str, Any]:
        """The code-specific fields, by attribute name.

        Example:
            >>> from aiocql.errors.server import AlreadyExists
            >>> AlreadyExists("exists", keyspace="ks", table="t").fields()
            {'keyspace': 'ks', 'table': 't'}
        """
        names: list[str] = []
        for name, kind in self.wire_fields:
            names.extend(("num_failures", "reason_map") if kind == "failures" else (name,))
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.fields().items())
        code = "" if type(self).code == self.code else f", code=0x{self.code:04x}"
        return f"{type(self).__name__}({self.message!r}{code}{extra})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.message, dict(self.__dict__)))


class RequestExecutionError(ServerError):
    """Base of the errors raised while executing a valid request (codes 0x1xxx)."""


class ReplicaTimeout(RequestExecutionError):
    """Base of :class:`ReadTimeout` and :class:`WriteTimeout` (the coordinator waited for replicas)."""

    consistency: int
    received: int
    block_for: int


class ReplicaFailure(RequestExecutionError):
    """Base of :class:`ReadFailure` and :class:`WriteFailure` (replicas failed, not timed out).

    v4 sends only ``num_failures``; v5 sends ``reason_map`` (replica address -> failure reason
    code) and ``num_failures`` is its size. In v4 ``reason_map`` is empty.
    """

    consistency: int
    received: int
    block_for: int
    num_failures: int
    reason_map: dict[Endpoint, int]

    def _set_failures(self, num_failures: int | None, reason_map: Mapping[Endpoint, int] | None) -> None:
        self.reason_map = dict(reason_map or {})
        self.num_failures = len(self.reason_map) if num_failures is None else num_failures


class RequestValidationError(ServerError):
    """Base of the errors for requests the server refuses to run (codes 0x2xxx)."""
