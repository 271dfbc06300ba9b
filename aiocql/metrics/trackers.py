"""Request trackers: the hook the executor calls around every attempt.

* :class:`RequestTracker` (and :class:`OperationTracker`, which also hears of each logical request): the
  protocols a tracker follows (enough to open and close an OpenTelemetry span per attempt).
* :class:`MetricsTracker` fills :class:`~aiocql.metrics.nodes.Metrics` from them and
  :class:`CompositeTracker` fans out to several trackers.

Everything here runs on the event loop's thread: no locks.

Example:
    >>> import uuid
    >>> from aiocql.model.host import Host
    >>> from aiocql.policies.request import RequestInfo
    >>> metrics = Metrics()
    >>> tracker = MetricsTracker(metrics)
    >>> attempt = AttemptInfo(RequestInfo(), Host(uuid.UUID(int=1), "10.0.0.1"), request_id=1)
    >>> tracker.on_start(attempt); tracker.on_success(attempt, 0.0015)
    >>> node = metrics.node("10.0.0.1:9042")
    >>> node.requests, node.latency.count, round(node.latency.percentile(0.5))
    (1, 1, 1500)
"""

from __future__ import annotations

import logging
from typing import Protocol, TypeGuard

from aiocql.metrics.nodes import Metrics, NodeMetrics
from aiocql.metrics.operations import AttemptInfo, OperationInfo
from aiocql.model.host import Host

__all__ = [
    "CompositeTracker",
    "MetricsTracker",
    "OperationTracker",
    "RequestTracker",
    "has_request_hooks",
    "wants_operation_info",
]

_log = logging.getLogger("aiocql.metrics")  # the layer's logger (docs/logging.md)


class RequestTracker(Protocol):
    """Observes every attempt: called by the executor on the event loop; must be quick and not raise.

    Optional, looked up once when the session is made:

    * ``on_request_start(op: OperationInfo)`` and ``on_request_end(op: OperationInfo)``: once per logical
      request (one page, a batch, a prepare) around all its attempts, in the caller's task (so a
      contextvar set in the first is visible to the attempts and is reset in the second). See
      :class:`OperationTracker`.
    * ``wants_operation_info`` (default true): false says the tracker never reads
      :attr:`AttemptInfo.operation`, so none is built for it (the built-in :class:`MetricsTracker`).

    Example:
        >>> class Printer:
        ...     def on_start(self, info): print("to", node_label(info.host), "attempt", info.attempt)
        ...     def on_success(self, info, latency): pass
        ...     def on_error(self, info, error, latency): print("failed:", type(error).__name__)
    """

    def on_start(self, info: AttemptInfo) -> None:
        """An attempt is about to be sent to ``info.host``."""
        ...

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        """The attempt got its reply after ``latency`` seconds."""
        ...

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        """The attempt failed (or was cancelled: ``error`` is then a :class:`asyncio.CancelledError`)."""
        ...


class OperationTracker(RequestTracker, Protocol):
    """A :class:`RequestTracker` that also hears of each logical request as a whole (its span, its duration).

    ``on_request_start`` runs before the first attempt (before the throttle queue too);
    ``on_request_end`` runs once after the last, with ``op.latency`` and ``op.error`` set, whether the
    request succeeded, failed or was cancelled.

    Example:
        >>> class Slow:
        ...     def on_request_start(self, op): pass
        ...     def on_request_end(self, op):
        ...         if op.latency > 1.0: print(op.safe_query(), op.attempts)
        ...     def on_start(self, info): pass
        ...     def on_success(self, info, latency): pass
        ...     def on_error(self, info, error, latency): pass
    """

    def on_request_start(self, op: OperationInfo) -> None:
        """A logical request starts (nothing sent yet)."""
        ...

    def on_request_end(self, op: OperationInfo) -> None:
        """The logical request ended: ``op.latency`` and ``op.error`` are set."""
        ...


def wants_operation_info(tracker: object) -> bool:
    """Whether ``tracker`` reads :class:`OperationInfo` (its ``wants_operation_info``, true if it says nothing).

    Example:
        >>> wants_operation_info(MetricsTracker(Metrics())), wants_operation_info(object())
        (False, True)
    """
    return bool(getattr(tracker, "wants_operation_info", True))


def has_request_hooks(tracker: object) -> TypeGuard[OperationTracker]:
    """Whether ``tracker`` has ``on_request_start`` and ``on_request_end``.

    Example:
        >>> has_request_hooks(MetricsTracker(Metrics())), has_request_hooks(CompositeTracker())
        (False, False)
    """
    if isinstance(tracker, CompositeTracker):
        return any(has_request_hooks(t) for t in tracker.trackers)
    return callable(getattr(tracker, "on_request_start", None)) and callable(getattr(tracker, "on_request_end", None))


class MetricsTracker:
    """Fills :class:`Metrics` from tracker calls, per node (:func:`node_label` of the attempt's host).

    Each start counts a request (and a retry or speculative execution); a success records the
    latency; an error counts its class name in ``errors`` (and ``timeouts`` if it is a
    :class:`TimeoutError`, such as :class:`aiocql.errors.OperationTimedOut`); a cancellation
    (any :class:`BaseException` that is not an :class:`Exception`) counts only in ``cancelled``.
    Server-side timeouts (ReadTimeout, WriteTimeout) are errors by kind, not ``timeouts``.

    Example:
        >>> import uuid
        >>> from aiocql.model.host import Host
        >>> from aiocql.policies.request import RequestInfo
        >>> m = Metrics(); t = MetricsTracker(m)
        >>> a = AttemptInfo(RequestInfo(), Host(uuid.UUID(int=1), "h"), request_id=1, attempt=1, speculative=True)
        >>> t.on_start(a); t.on_error(a, TimeoutError(), 0.5)
        >>> n = m.node("h:9042"); (n.requests, n.speculative_executions, n.timeouts, n.errors)
        (1, 1, 1, {'TimeoutError': 1})
    """

    __slots__ = ("metrics",)
    wants_operation_info = False  # it counts attempts: no OperationInfo is built for it

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_start(self, info: AttemptInfo) -> None:
        self.start(info.host, info.attempt, info.speculative)

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        self.end(self.metrics.node_of(info.host), None, latency)

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        self.end(self.metrics.node_of(info.host), error, latency)

    # The executor calls these two directly (it builds no AttemptInfo for this tracker: it reads only the host).
    def start(self, host: Host, attempt: int, speculative: bool) -> NodeMetrics:
        """Count an attempt on ``host`` (the ``attempt``-th of its request); return its node's metrics, for
        :meth:`end`."""
        node = self.metrics.node_of(host)
        node.requests += 1
        if speculative:
            node.speculative_executions += 1
        elif attempt:
            node.retries += 1
        return node

    @staticmethod
    def end(node: NodeMetrics, error: BaseException | None, latency: float) -> None:
        """The attempt counted on ``node`` ended: its latency (a success, ``error`` None), or its error."""
        if error is None:
            node.latency.record_us(int(latency * 1_000_000))  # record(latency), one call less
        elif not isinstance(error, Exception):
            node.cancelled += 1
        else:
            node.count_error(type(error).__name__)
            if isinstance(error, TimeoutError):
                node.timeouts += 1


class CompositeTracker:
    """Calls several trackers in order; one that raises is logged and does not stop the others.

    Request-level hooks (``on_request_start`` / ``on_request_end``) go to the trackers that have them.

    Example:
        >>> import uuid
        >>> from aiocql.model.host import Host
        >>> from aiocql.policies.request import RequestInfo
        >>> m1, m2 = Metrics(), Metrics()
        >>> t = CompositeTracker(MetricsTracker(m1), MetricsTracker(m2))
        >>> t.on_start(AttemptInfo(RequestInfo(), Host(uuid.UUID(int=1), "h"), request_id=1))
        >>> m1.node("h:9042").requests, m2.node("h:9042").requests
        (1, 1)
    """

    __slots__ = ("_request_trackers", "trackers", "wants_operation_info")

    def __init__(self, *trackers: RequestTracker) -> None:
        self.trackers = trackers
        self.wants_operation_info = any(wants_operation_info(t) for t in trackers)
        self._request_trackers: tuple[OperationTracker, ...] = tuple(t for t in trackers if has_request_hooks(t))

    def on_request_start(self, op: OperationInfo) -> None:
        for tracker in self._request_trackers:
            try:
                tracker.on_request_start(op)
            except Exception:
                _log.exception("request tracker %r failed in on_request_start", tracker)

    def on_request_end(self, op: OperationInfo) -> None:
        for tracker in reversed(self._request_trackers):  # ends in reverse: nested contexts unwind in order
            try:
                tracker.on_request_end(op)
            except Exception:
                _log.exception("request tracker %r failed in on_request_end", tracker)

    def on_start(self, info: AttemptInfo) -> None:
        for tracker in self.trackers:
            try:
                tracker.on_start(info)
            except Exception:
                _log.exception("request tracker %r failed in on_start", tracker)

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        for tracker in self.trackers:
            try:
                tracker.on_success(info, latency)
            except Exception:
                _log.exception("request tracker %r failed in on_success", tracker)

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        for tracker in self.trackers:
            try:
                tracker.on_error(info, error, latency)
            except Exception:
                _log.exception("request tracker %r failed in on_error", tracker)
