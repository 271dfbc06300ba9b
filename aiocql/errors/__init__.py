"""Exceptions raised by aiocql (driver errors and server errors)."""

from aiocql.errors.base import (
    AuthenticationError,
    ConnectionClosed,
    ConnectionError_,
    ConnectionLost,
    ConnectTimeout,
    CqlError,
    DriverError,
    InvalidValueError,
    NoHostAvailable,
    OperationTimedOut,
    ProtocolError,
    UnsupportedProtocolVersion,
)

__all__ = [
    "AuthenticationError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ConnectionError_",
    "ConnectionLost",
    "CqlError",
    "DriverError",
    "InvalidValueError",
    "NoHostAvailable",
    "OperationTimedOut",
    "ProtocolError",
    "UnsupportedProtocolVersion",
]
