"""The slow-query log: a request that took at least its execution profile's ``slow_query_threshold`` is logged
at WARNING on the ``aiocql.session.slow`` logger, with the CQL without values (literals of unprepared text
replaced by ``?``), the coordinator, the latency, the attempts and the consistency level.

The record carries the same facts as attributes for structured logging: ``cql``, ``coordinator``
(``address:port`` or ``None``), ``latency`` (seconds), ``attempts``, ``speculative_executions``,
``consistency``, ``keyspace``, ``error`` (the error class name or ``None``) and ``threshold``.

Example:
    >>> cluster = Cluster(["127.0.0.1"], slow_query_threshold=0.5)  # doctest: +SKIP
    >>> logging.getLogger("aiocql.session.slow").setLevel(logging.WARNING)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from typing import Final

from aiocql.errors import InvalidValueError
from aiocql.metrics.operations import OperationInfo, node_label

__all__ = ["LOGGER_NAME", "check_threshold", "log_slow_query"]

LOGGER_NAME: Final = "aiocql.session.slow"
_log = logging.getLogger(LOGGER_NAME)


def check_threshold(value: object, where: str = "slow_query_threshold") -> None:
    """Raise :class:`aiocql.InvalidValueError` unless ``value`` is ``None`` or a number of seconds >= 0.

    Example:
        >>> check_threshold(0.25); check_threshold(None); check_threshold(math.inf)
        >>> check_threshold(-1)
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: slow_query_threshold must be None or seconds >= 0 (math.inf: off), not -1
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise InvalidValueError(f"{where} must be None or seconds >= 0 (math.inf: off), not {value!r}")


def log_slow_query(op: OperationInfo, threshold: float) -> None:
    """Log ``op`` (a request that ended) as slow, if the logger is enabled for WARNING.

    Example:
        >>> op = OperationInfo("QUERY", "SELECT * FROM t WHERE k = 1", attempts=1, latency=0.75)
        >>> log_slow_query(op, 0.5)  # logs: slow query 750.0 ms ... SELECT * FROM t WHERE k = ?
    """
    if not _log.isEnabledFor(logging.WARNING):
        return
    host = op.coordinator or op.last_host
    coordinator = node_label(host) if host is not None else None
    cql = op.safe_query() or f"<{op.kind}>"
    latency = op.latency or 0.0
    consistency = op.consistency_level.name if op.consistency_level is not None else None
    error = type(op.error).__name__ if op.error is not None else None
    where = coordinator or "no host"
    if host is not None and host.datacenter:
        where += f" ({host.datacenter})"
    details = [f"{op.attempts} attempt{'s' if op.attempts != 1 else ''}"]
    if op.speculative_executions:
        details.append(f"{op.speculative_executions} speculative")
    if consistency:
        details.append(f"consistency {consistency}")
    if op.keyspace:
        details.append(f"keyspace {op.keyspace}")
    if error:
        details.append(f"failed with {error}")
    _log.warning(
        "slow query: %.1f ms (threshold %.1f ms) on %s, %s: %s",
        latency * 1000, threshold * 1000, where, ", ".join(details), cql,
        extra={
            "cql": cql, "coordinator": coordinator, "latency": latency, "attempts": op.attempts,
            "speculative_executions": op.speculative_executions, "consistency": consistency,
            "keyspace": op.keyspace, "error": error, "threshold": threshold,
        },
    )  # fmt: skip
