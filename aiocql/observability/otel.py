"""OpenTelemetry for aiocql (extra ``aiocql[otel]``, which needs only ``opentelemetry-api``).

:class:`OpenTelemetryTracker` is a request tracker that gives every logical request (a page of a
statement, a batch, a prepare) one ``CLIENT`` span covering its throttle wait, retries and speculative
executions, parented under the caller's current span (contextvars: each asyncio task keeps its own), and
records the stable ``db.client.operation.duration`` histogram (seconds, the conventions' buckets).
With ``attempt_spans=True`` every attempt is also an ``INTERNAL`` child span; without them a failed
attempt is an event on the request's span, so retries stay visible either way.

Attributes follow the database semantic conventions for Cassandra:

* at span start: ``db.system.name`` (``cassandra``), ``db.namespace`` (keyspace), ``db.collection.name``
  (table: from the prepared metadata, else parsed from the CQL), ``db.operation.name``, ``db.query.summary``
  (also the span name), ``db.query.text`` (the prepared CQL as is; text sent unprepared with its literals
  replaced by ``?``; never a bound value; ``query_text=False`` leaves it out), ``db.operation.batch.size``,
  ``cassandra.consistency.level``, ``cassandra.page.size``, ``cassandra.query.idempotent``;
* at span end: ``server.address`` / ``server.port`` / ``cassandra.coordinator.id`` / ``cassandra.coordinator.dc``
  of the coordinator (the node that answered, else the last one tried), ``cassandra.speculative_execution.count``
  and ``aiocql.attempts``;
* on failure: ``error.type`` and the span status ERROR; for a server error ``db.response.status_code`` is its
  protocol error code in hex (``0x1200`` for a read timeout) and ``error.type`` the same code; otherwise
  ``error.type`` is the exception's class (``aiocql.OperationTimedOut``, ``asyncio.CancelledError``...). A
  :class:`aiocql.NoHostAvailable` reports the last host's error, the one it wraps.

Nothing here runs unless you install the tracker: the driver never imports this module itself. Installed
while no SDK is configured (the API's placeholder providers), it returns at once from each request.

Example:
    >>> from aiocql import Cluster
    >>> from aiocql.observability.otel import OpenTelemetryTracker
    >>> cluster = Cluster(["127.0.0.1"], request_tracker=OpenTelemetryTracker())  # the global providers
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextvars import Token
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    TracerProvider,
)
from opentelemetry.util.types import AttributeValue

from aiocql._version import __version__
from aiocql.errors import NoHostAvailable
from aiocql.errors.server import ServerError
from aiocql.metrics.operations import AttemptInfo, OperationInfo
from aiocql.model.host import Host

__all__ = ["DURATION_BUCKETS", "OpenTelemetryTracker", "error_type"]

#: The explicit bucket boundaries (seconds) the conventions give for ``db.client.operation.duration``.
DURATION_BUCKETS: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
_SYSTEM: Final = "cassandra"
# The attributes the duration histogram carries (the conventions' list; no query text: high cardinality).
_METRIC_KEYS: Final = (
    "db.system.name", "db.namespace", "db.collection.name", "db.operation.name", "db.query.summary",
    "server.address", "server.port", "error.type", "db.response.status_code",
)  # fmt: skip


class _Live:
    """A request's span while it runs, and what its end needs."""

    __slots__ = ("attributes", "name", "span", "token")

    def __init__(
        self, name: str, span: Span | None, token: Token[Context] | None, attributes: dict[str, AttributeValue]
    ) -> None:
        self.name = name
        self.span = span
        self.token = token
        self.attributes = attributes


class OpenTelemetryTracker:
    """Spans and the ``db.client.operation.duration`` metric for every request (see the module docs).

    ``tracer_provider`` / ``meter_provider`` default to the global ones (``opentelemetry.trace.set_tracer_provider``);
    ``record_metrics=False`` leaves the histogram out; ``attempt_spans=True`` adds a child span per attempt;
    ``query_text=False`` leaves ``db.query.text`` out. Pass it as ``Cluster(request_tracker=...)`` (compose
    with others in :class:`aiocql.CompositeTracker`).

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> tracker = OpenTelemetryTracker(tracer_provider=TracerProvider(), attempt_spans=True)
        >>> cluster = Cluster(["127.0.0.1"], request_tracker=tracker)  # doctest: +SKIP
    """

    wants_operation_info = True

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        record_metrics: bool = True,
        attempt_spans: bool = False,
        query_text: bool = True,
    ) -> None:
        self._tracer = trace.get_tracer("aiocql", __version__, tracer_provider)
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._duration = (
            otel_metrics.get_meter("aiocql", __version__, meter_provider).create_histogram(
                "db.client.operation.duration",
                unit="s",
                description="Duration of database client operations.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            )
            if record_metrics
            else None
        )
        self._attempt_spans = attempt_spans
        self._query_text = query_text
        self._live: dict[OperationInfo, _Live] = {}
        self._attempts: dict[AttemptInfo, Span] = {}

    @property
    def in_progress(self) -> int:
        """Requests this tracker started recording and has not ended yet (their spans are open).

        Example:
            >>> from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
            >>> OpenTelemetryTracker(tracer_provider=SdkTracerProvider()).in_progress
            0
        """
        return len(self._live)

    # -- the request ----------------------------------------------------------------------------------
    def on_request_start(self, op: OperationInfo) -> None:
        """Open the request's span under the caller's current span and make it current for the attempts."""
        tracing = self._tracing_on()
        metering = self._duration is not None and self._metering_on()
        if not tracing and not metering:
            return  # no SDK configured: nothing would be recorded, so nothing is computed
        attributes = self._start_attributes(op)
        name = str(attributes.get("db.query.summary") or attributes.get("db.operation.name") or _SYSTEM)
        span: Span | None = None
        token: Token[Context] | None = None
        if tracing:
            span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
            token = otel_context.attach(trace.set_span_in_context(span))
        self._live[op] = _Live(name, span, token, attributes)

    def on_request_end(self, op: OperationInfo) -> None:
        """Close the request's span with the coordinator and the outcome; record its duration."""
        live = self._live.pop(op, None)
        if live is None:
            return
        if live.token is not None:
            otel_context.detach(live.token)
        end: dict[str, AttributeValue] = {
            "cassandra.speculative_execution.count": op.speculative_executions,
            "aiocql.attempts": op.attempts,
        }
        host = op.coordinator or op.last_host
        if host is not None:
            end.update(_host_attributes(host))
        error = op.error
        if error is not None:
            end.update(_error_attributes(error))
        span = live.span
        if span is not None:
            span.set_attributes(end)
            if error is not None:
                if isinstance(error, Exception):
                    span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, str(end["error.type"])))
            span.end()
        if self._duration is not None and op.latency is not None:
            merged = {**live.attributes, **end}
            self._duration.record(op.latency, {k: merged[k] for k in _METRIC_KEYS if k in merged})

    def _tracing_on(self) -> bool:
        """False while the provider is the API's placeholder (no SDK configured): spans would be dropped."""
        provider = self._tracer_provider if self._tracer_provider is not None else trace.get_tracer_provider()
        return not isinstance(provider, (ProxyTracerProvider, NoOpTracerProvider))

    def _metering_on(self) -> bool:
        provider = self._meter_provider if self._meter_provider is not None else otel_metrics.get_meter_provider()
        return not isinstance(provider, NoOpMeterProvider) and type(provider).__name__ != "_ProxyMeterProvider"

    def _start_attributes(self, op: OperationInfo) -> dict[str, AttributeValue]:
        described = op.describe()
        attributes: dict[str, AttributeValue] = {"db.system.name": _SYSTEM}
        prepared_table = op.table is not None
        keyspace = op.keyspace if prepared_table else (described.keyspace or op.keyspace)
        table = op.table if prepared_table else described.table
        operation = described.operation
        summary = described.summary
        if op.kind == "PREPARE":
            operation = "PREPARE"
            summary = f"PREPARE {table}" if table else "PREPARE"
        if keyspace:
            attributes["db.namespace"] = keyspace
        if table:
            attributes["db.collection.name"] = table
        if operation:
            attributes["db.operation.name"] = operation
        if summary:
            attributes["db.query.summary"] = summary
        if self._query_text:
            text = op.safe_query()
            if text:
                attributes["db.query.text"] = text
        if op.batch_size is not None and op.batch_size > 1:
            attributes["db.operation.batch.size"] = op.batch_size
        if op.consistency_level is not None:
            attributes["cassandra.consistency.level"] = op.consistency_level.name.lower()
        if op.page_size is not None:
            attributes["cassandra.page.size"] = op.page_size
        attributes["cassandra.query.idempotent"] = op.is_idempotent
        return attributes

    # -- the attempts ---------------------------------------------------------------------------------
    def on_start(self, info: AttemptInfo) -> None:
        """With ``attempt_spans``, open a child span of the request's span for this attempt."""
        if not self._attempt_spans:
            return
        live = self._live.get(info.operation) if info.operation is not None else None
        if live is None or live.span is None:
            return  # tracing is off
        parent = trace.set_span_in_context(live.span)
        name = f"{live.name} attempt"
        attributes: dict[str, AttributeValue] = {
            **_host_attributes(info.host),
            "aiocql.attempt": info.attempt,
            "aiocql.speculative": info.speculative,
            "aiocql.retry": info.is_retry,
        }
        self._attempts[info] = self._tracer.start_span(
            name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes
        )

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        """Close the attempt's span."""
        span = self._attempts.pop(info, None)
        if span is not None:
            span.end()

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        """Close the attempt's span as failed (a lost speculative race is not a failure); note the
        failure on the request's span as an ``aiocql.attempt_failed`` event."""
        cancelled = isinstance(error, asyncio.CancelledError)
        attributes = _error_attributes(error)
        span = self._attempts.pop(info, None)
        if span is not None:
            if cancelled:
                span.set_attribute("aiocql.cancelled", True)
            else:
                span.set_attributes(attributes)
                span.set_status(Status(StatusCode.ERROR, str(attributes["error.type"])))
            span.end()
        if cancelled or info.operation is None:
            return
        live = self._live.get(info.operation)
        if live is not None and live.span is not None:
            live.span.add_event(
                "aiocql.attempt_failed",
                {**attributes, **_host_attributes(info.host), "aiocql.attempt": info.attempt},
            )


def _host_attributes(host: Host) -> Mapping[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {
        "server.address": host.address,
        "server.port": host.port,
        "cassandra.coordinator.id": str(host.host_id),
    }
    if host.datacenter:
        attributes["cassandra.coordinator.dc"] = host.datacenter
    return attributes


def _error_attributes(error: BaseException) -> dict[str, AttributeValue]:
    if isinstance(error, NoHostAvailable) and error.errors:
        error = list(error.errors.values())[-1]  # the error it wraps: the last host's
    kind = error_type(error)
    if isinstance(error, ServerError):
        return {"error.type": kind, "db.response.status_code": kind}
    return {"error.type": kind}


def error_type(error: BaseException) -> str:
    """The ``error.type`` of an error: a server error's code (``0x1200``), else its class's public name.

    Example:
        >>> from aiocql import InvalidRequest, OperationTimedOut
        >>> error_type(InvalidRequest("unknown table")), error_type(OperationTimedOut("late"))
        ('0x2200', 'aiocql.OperationTimedOut')
        >>> error_type(asyncio.CancelledError()), error_type(OSError())
        ('asyncio.CancelledError', 'OSError')
    """
    if isinstance(error, ServerError):
        return f"0x{error.code:04x}" if error.code >= 0 else "_OTHER"
    cls = type(error)
    module = cls.__module__
    if module.startswith("aiocql"):
        return f"aiocql.{cls.__qualname__}"
    if module.startswith("asyncio"):
        return f"asyncio.{cls.__qualname__}"
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
