"""Per-node metrics and request trackers.

* :class:`LatencyHistogram`: fixed log-linear buckets over microseconds (16 per power of two, so any
  estimate is within ~3% of the true value), O(1) ``record``, percentile estimates.
* :class:`NodeMetrics`: counters (requests, errors by kind, retries, speculative executions,
  timeouts, cancelled attempts), gauges read from callables at export time (in-flight requests,
  open connections, orphaned streams...), and a latency histogram of successful attempts.
* :class:`Metrics`: the nodes' metrics, exported by :meth:`Metrics.as_dict` and
  :meth:`Metrics.prometheus_text` (Prometheus text exposition format 0.0.4, label ``node``).
* :class:`RequestTracker`: the hook the executor calls around every attempt (enough to open and
  close an OpenTelemetry span per attempt); :class:`MetricsTracker` fills :class:`Metrics` from it
  and :class:`CompositeTracker` fans out to several trackers.

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
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeGuard

from aiocql.errors import InvalidValueError
from aiocql.model.host import Host
from aiocql.policies.request import RequestInfo
from aiocql.protocol.constants import Consistency

if TYPE_CHECKING:
    from aiocql.observability.cql import Described

__all__ = [
    "DEFAULT_LATENCY_BUCKETS",
    "AttemptInfo",
    "CompositeTracker",
    "LatencyHistogram",
    "MetricFamily",
    "Metrics",
    "MetricsTracker",
    "NodeMetrics",
    "OperationInfo",
    "OperationTracker",
    "RequestTracker",
    "node_label",
]

_log = logging.getLogger(__name__)

_SUB_BITS: Final = 4  # 16 linear sub-buckets per power of two
_MAX_BITS: Final = 38  # values up to 2**38 us (~76 hours); larger ones land in the last bucket
_BUCKETS: Final = ((_MAX_BITS - _SUB_BITS) << _SUB_BITS) + (2 << _SUB_BITS)
_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


def _bucket_of(value: int) -> int:
    shift = value.bit_length() - _SUB_BITS - 1
    if shift <= 0:
        return value
    return min((shift << _SUB_BITS) + (value >> shift), _BUCKETS - 1)


def _bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) of a bucket, in microseconds."""
    if index < 2 << _SUB_BITS:
        return index, index + 1
    shift = (index >> _SUB_BITS) - 1
    low = (index - (shift << _SUB_BITS)) << shift
    return low, low + (1 << shift)


#: Upper bounds (seconds) of the exported latency histogram's buckets (``le``), then ``+Inf``.
DEFAULT_LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def _bounds_us(bounds: Sequence[float]) -> tuple[int, ...]:
    us = tuple(round(b * 1_000_000) for b in bounds)
    if not us or any(b <= 0 for b in us) or any(a >= b for a, b in pairwise(us)):
        raise InvalidValueError(
            f"latency buckets must be increasing positive seconds (1 us apart or more), not {bounds!r}"
        )
    return us


class LatencyHistogram:
    """Latencies in fixed log-linear microsecond buckets: exact below 32 us, then 16 buckets per
    power of two (bucket width at most 1/16 of its value), up to 2**38 us; and, for export as a
    Prometheus histogram, exact counts per ``bounds`` (seconds, default :data:`DEFAULT_LATENCY_BUCKETS`).

    ``record`` is O(1) (plus a binary search over the export bounds); ``percentile`` walks the buckets and
    returns the middle of the bucket holding that rank, clamped to the exact min and max seen.

    Example:
        >>> h = LatencyHistogram()
        >>> for us in range(1, 1001):
        ...     h.record_us(us)
        >>> h.count, h.min_us, h.max_us, h.percentile(0.5), h.percentile(0.99), h.percentile(1.0)
        (1000, 1, 1000, 503.5, 975.5, 1000)
    """

    __slots__ = ("_bounds_us", "_counts", "_le_counts", "bounds", "count", "max_us", "min_us", "sum_us")

    def __init__(self, bounds: Sequence[float] = DEFAULT_LATENCY_BUCKETS) -> None:
        self._bounds_us = _bounds_us(bounds)
        self.bounds = tuple(float(b) for b in bounds)
        self._le_counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self._counts = [0] * _BUCKETS
        self.count = 0
        self.sum_us = 0
        self.min_us = 0
        self.max_us = 0

    def record(self, seconds: float) -> None:
        """Record a latency given in seconds (negative values count as 0).

        Example:
            >>> h = LatencyHistogram(); h.record(0.25); h.max_us
            250000
        """
        self.record_us(int(seconds * 1_000_000))

    def record_us(self, us: int) -> None:
        """Record a latency given in whole microseconds.

        Example:
            >>> h = LatencyHistogram(); h.record_us(7); h.percentile(0.5)
            7
        """
        if us < 0:
            us = 0
        self._counts[_bucket_of(us)] += 1
        self._le_counts[bisect_left(self._bounds_us, us)] += 1
        if not self.count or us < self.min_us:
            self.min_us = us
        if us > self.max_us:
            self.max_us = us
        self.count += 1
        self.sum_us += us

    @property
    def mean_us(self) -> float:
        """Mean latency in microseconds (0.0 when empty)."""
        return self.sum_us / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """Estimated latency in microseconds at quantile ``q`` (0..1); 0.0 when empty, exact for the min and max.

        Example:
            >>> LatencyHistogram().percentile(0.99)
            0.0
        """
        if not 0.0 <= q <= 1.0:
            raise InvalidValueError(f"quantile must be in [0, 1], not {q}")
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        if rank == 1:
            return self.min_us  # the extremes are known exactly
        if rank >= self.count:
            return self.max_us
        seen = 0
        for index, n in enumerate(self._counts):
            if n:
                seen += n
                if seen >= rank:
                    low, high = _bucket_bounds(index)
                    middle = low if high - low == 1 else (low + high - 1) / 2
                    return min(max(middle, self.min_us), self.max_us)
        return float(self.max_us)  # unreachable: the counts add up to self.count

    def cumulative(self) -> list[tuple[float, int]]:
        """``(le, count of latencies <= le seconds)`` for every export bound, then ``(inf, count)``: the
        buckets of a Prometheus histogram, exact (values are counted against the bounds as recorded).

        Example:
            >>> h = LatencyHistogram((0.001, 0.01)); h.record(0.001); h.record(0.002); h.record(1.0)
            >>> h.cumulative()
            [(0.001, 1), (0.01, 2), (inf, 3)]
        """
        out: list[tuple[float, int]] = []
        total = 0
        for le, n in zip((*self.bounds, math.inf), self._le_counts, strict=True):
            total += n
            out.append((le, total))
        return out

    def buckets(self) -> Iterator[tuple[int, int, int]]:
        """The non-empty buckets as ``(low_us, high_us, count)``, ``high`` exclusive.

        Example:
            >>> h = LatencyHistogram(); h.record_us(100); list(h.buckets())
            [(100, 104, 1)]
        """
        for index, n in enumerate(self._counts):
            if n:
                low, high = _bucket_bounds(index)
                yield low, high, n

    def as_dict(self) -> dict[str, float]:
        """Count, min, max, mean, p50, p99 and p999, in microseconds.

        Example:
            >>> LatencyHistogram().as_dict()["count"]
            0
        """
        return {
            "count": self.count,
            "min_us": self.min_us,
            "max_us": self.max_us,
            "mean_us": self.mean_us,
            "p50_us": self.percentile(0.5),
            "p99_us": self.percentile(0.99),
            "p999_us": self.percentile(0.999),
        }


class NodeMetrics:
    """The counters, gauges and latency histogram of one node (``node`` is its label, e.g. ``10.0.0.1:9042``).

    Counters are plain attributes, incremented by :class:`MetricsTracker` (or directly).
    Gauges are callables, read at export time; one that raises is left out of that export.

    Example:
        >>> m = NodeMetrics("10.0.0.1:9042")
        >>> m.add_gauge("in_flight", lambda: 3)
        >>> m.requests += 1; m.count_error("ReadTimeout")
        >>> m.as_dict()["errors"], m.as_dict()["gauges"]
        ({'ReadTimeout': 1}, {'in_flight': 3.0})
    """

    __slots__ = (
        "_gauges", "cancelled", "errors", "latency", "node", "requests", "retries", "speculative_executions",
        "timeouts",
    )  # fmt: skip

    def __init__(self, node: str, latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS) -> None:
        self.node = node
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.retries = 0
        self.speculative_executions = 0
        self.timeouts = 0
        self.cancelled = 0
        self.latency = LatencyHistogram(latency_buckets)
        self._gauges: dict[str, Callable[[], float]] = {}

    def count_error(self, kind: str) -> None:
        """Add one error of ``kind`` (an error class name such as ``ReadTimeout``)."""
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def add_gauge(self, name: str, read: Callable[[], float]) -> None:
        """Register (or replace) a gauge. Conventional names: ``in_flight``, ``open_connections``,
        ``orphaned_streams``. ``name`` must be a valid Prometheus metric name part."""
        if not _METRIC_NAME.match(name):
            raise InvalidValueError(f"invalid gauge name {name!r}: use letters, digits and underscores")
        self._gauges[name] = read

    def remove_gauge(self, name: str) -> None:
        """Forget a gauge (no error if absent)."""
        self._gauges.pop(name, None)

    def gauges(self) -> dict[str, float]:
        """Read every gauge now; a gauge that raises is skipped (and logged at debug level)."""
        values: dict[str, float] = {}
        for name, read in self._gauges.items():
            try:
                values[name] = float(read())
            except Exception:  # a gauge must never break an export
                _log.debug("gauge %s of %s failed", name, self.node, exc_info=True)
        return values

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain data (JSON-ready)."""
        return {
            "requests": self.requests,
            "errors": dict(self.errors),
            "retries": self.retries,
            "speculative_executions": self.speculative_executions,
            "timeouts": self.timeouts,
            "cancelled": self.cancelled,
            "gauges": self.gauges(),
            "latency": self.latency.as_dict(),
        }


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


_COUNTERS: Final = (
    ("requests", "Attempts sent to the node."),
    ("retries", "Attempts that were retries of an earlier attempt."),
    ("speculative_executions", "Attempts started speculatively while an earlier one was still running."),
    ("timeouts", "Attempts that failed with a client-side timeout."),
    ("cancelled", "Attempts abandoned before a reply (lost speculative races, cancelled callers)."),
)


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """One exported metric family: ``name`` (counters without ``_total``), ``type`` (``counter``,
    ``gauge`` or ``histogram``), ``help`` and its samples ``(sample name, labels, value)``. Both
    :meth:`Metrics.prometheus_text` and :class:`aiocql.observability.prometheus.AiocqlCollector` render these.

    Example:
        >>> m = Metrics(); m.node("n1").retries = 2
        >>> retries = next(f for f in m.families() if f.name == "aiocql_retries")
        >>> retries.type, retries.samples
        ('counter', (('aiocql_retries_total', {'node': 'n1'}, 2),))
    """

    name: str
    type: str
    help: str
    samples: tuple[tuple[str, dict[str, str], float], ...]


def _le(bound: float) -> str:
    """An ``le`` label as prometheus_client writes it: ``0.005``, ``1.0``, ``+Inf``."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Metrics:
    """The metrics of every node, by node label, and their export.

    Metric names start with ``prefix`` (``aiocql`` by default): ``aiocql_requests_total``,
    ``aiocql_errors_total{kind=...}``, ``aiocql_retries_total``, ``aiocql_speculative_executions_total``,
    ``aiocql_timeouts_total``, ``aiocql_cancelled_total``, one ``aiocql_<gauge>`` per gauge name
    (``in_flight``, ``open_connections``, ``pool_size``, ``orphaned_streams`` from a cluster), and the
    histogram ``aiocql_request_latency_seconds`` (``_bucket{le=...}``, ``_sum``, ``_count``; buckets
    ``latency_buckets``, default :data:`DEFAULT_LATENCY_BUCKETS`) of successful attempts. Every sample
    has the label ``node``. Histograms aggregate across nodes and instances (``histogram_quantile``).

    Example:
        >>> m = Metrics()
        >>> m.node("10.0.0.1:9042").requests = 2
        >>> print(m.prometheus_text().splitlines()[2])
        aiocql_requests_total{node="10.0.0.1:9042"} 2
    """

    __slots__ = ("_nodes", "latency_buckets", "prefix")

    def __init__(self, prefix: str = "aiocql", latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS) -> None:
        if not _METRIC_NAME.match(prefix):
            raise InvalidValueError(f"invalid metric name prefix {prefix!r}")
        _bounds_us(latency_buckets)
        self.prefix = prefix
        self.latency_buckets = tuple(latency_buckets)
        self._nodes: dict[str, NodeMetrics] = {}

    def node(self, label: str) -> NodeMetrics:
        """The metrics of node ``label``, created on first use.

        Example:
            >>> m = Metrics(); m.node("a") is m.node("a")
            True
        """
        found = self._nodes.get(label)
        if found is None:
            found = self._nodes[label] = NodeMetrics(label, self.latency_buckets)
        return found

    def remove_node(self, label: str) -> None:
        """Forget a node (after it left the cluster)."""
        self._nodes.pop(label, None)

    @property
    def nodes(self) -> Mapping[str, NodeMetrics]:
        """Node label -> metrics (a live, read-only view)."""
        return self._nodes

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Every node's :meth:`NodeMetrics.as_dict`, by node label.

        Example:
            >>> m = Metrics(); m.node("a").retries += 1; m.as_dict()["a"]["retries"]
            1
        """
        return {label: node.as_dict() for label, node in sorted(self._nodes.items())}

    def families(self) -> list[MetricFamily]:
        """Every metric family with its samples, read now (gauges are called); none when there is no node.

        Example:
            >>> m = Metrics(); m.node("n1").latency.record(0.002)
            >>> [(f.name, f.type) for f in m.families()][-1]
            ('aiocql_request_latency_seconds', 'histogram')
        """
        nodes = [self._nodes[label] for label in sorted(self._nodes)]
        p = self.prefix
        out: list[MetricFamily] = []

        def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, dict[str, str], float]]) -> None:
            rows = tuple(samples)
            if rows:
                out.append(MetricFamily(name, kind, help_text, rows))

        for attr, help_text in _COUNTERS[:1]:
            name = f"{p}_{attr}"
            family(name, "counter", help_text, ((f"{name}_total", {"node": n.node}, getattr(n, attr)) for n in nodes))
        name = f"{p}_errors"
        family(
            name,
            "counter",
            "Attempts that failed, by error kind.",
            (
                (f"{name}_total", {"node": n.node, "kind": kind}, count)
                for n in nodes
                for kind, count in sorted(n.errors.items())
            ),
        )
        for attr, help_text in _COUNTERS[1:]:
            name = f"{p}_{attr}"
            family(name, "counter", help_text, ((f"{name}_total", {"node": n.node}, getattr(n, attr)) for n in nodes))
        gauges = [(n, n.gauges()) for n in nodes]
        for gauge in sorted({g for _, values in gauges for g in values}):
            name = f"{p}_{gauge}"
            family(
                name,
                "gauge",
                _GAUGE_HELP.get(gauge, f"Gauge {gauge} of the node."),
                ((name, {"node": n.node}, values[gauge]) for n, values in gauges if gauge in values),
            )
        name = f"{p}_request_latency_seconds"
        samples: list[tuple[str, dict[str, str], float]] = []
        for n in nodes:
            h = n.latency
            samples += [(f"{name}_bucket", {"node": n.node, "le": _le(le)}, count) for le, count in h.cumulative()]
            samples.append((f"{name}_count", {"node": n.node}, h.count))
            samples.append((f"{name}_sum", {"node": n.node}, h.sum_us / 1e6))
        family(name, "histogram", "Latency of successful attempts.", samples)
        return out

    def prometheus_text(self) -> str:
        """All metrics in the Prometheus text exposition format (ends with a newline; empty if no node).

        The same families as the prometheus_client collector
        (:class:`aiocql.observability.prometheus.AiocqlCollector`), for serving without that library.

        Example:
            >>> m = Metrics(); m.node("n1").count_error("Overloaded")
            >>> [line for line in m.prometheus_text().splitlines() if line.startswith("aiocql_errors")]
            ['aiocql_errors_total{node="n1",kind="Overloaded"} 1']
        """
        lines: list[str] = []
        for fam in self.families():
            shown = f"{fam.name}_total" if fam.type == "counter" else fam.name
            lines.append(f"# HELP {shown} {_escape_help(fam.help)}")
            lines.append(f"# TYPE {shown} {fam.type}")
            for sample, labels, value in fam.samples:
                text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                lines.append(f"{sample}{{{text}}} {_number(value)}")
        return "\n".join(lines) + "\n" if lines else ""


_GAUGE_HELP: Final = {
    "in_flight": "Requests sent to the node and not answered yet.",
    "open_connections": "Connections open to the node.",
    "pool_size": "Connections the pools keep open to the node (their configured size).",
    "orphaned_streams": "Stream ids held by abandoned requests until their late replies arrive.",
}


# ----------------------------------------------------------------------------------------------
# Request trackers
# ----------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class OperationInfo:
    """One logical request as trackers see it: a page of a statement, a BATCH or a PREPARE, with every
    attempt, retry and speculative execution it took.

    The session builds one per request for trackers that want it (see :class:`RequestTracker`) and passes
    the *same object* to ``on_request_start``, to every attempt (:attr:`AttemptInfo.operation`) and to
    ``on_request_end``. What is known up front: ``kind`` (``QUERY``, ``EXECUTE``, ``BATCH`` or
    ``PREPARE``), ``query`` (the CQL text; for a batch its statements' texts joined by ``"; "``),
    ``parameterized`` (the text holds bind markers only, never values: true for prepared statements; use
    :meth:`safe_query` otherwise), ``keyspace`` and ``table`` (from the prepared metadata when there is
    some, else the statement's or the session's keyspace), the resolved ``consistency_level``,
    ``serial_consistency_level`` and ``page_size``, ``is_idempotent``, ``batch_size`` and
    ``batch_queries`` (a batch's statements' texts). What the executor fills in: ``attempts``,
    ``speculative_executions``, ``coordinator`` (the host that answered) and ``last_host`` (the host the
    last attempt went to; the coordinator of a request no host answered).
    When it ends: ``latency`` (seconds, the whole request) and ``error`` (``None`` on success; what the
    caller got otherwise, e.g. :class:`aiocql.OperationTimedOut`, a server error, or
    :class:`asyncio.CancelledError`). Bound values are never here. New fields may be added with defaults.

    Example:
        >>> op = OperationInfo("QUERY", "SELECT v FROM t WHERE k = 42", keyspace="ks")
        >>> op.safe_query(), op.describe().summary
        ('SELECT v FROM t WHERE k = ?', 'SELECT t')
    """

    kind: str
    query: str | None = None
    keyspace: str | None = None
    table: str | None = None
    consistency_level: Consistency | None = None
    serial_consistency_level: Consistency | None = None
    page_size: int | None = None
    is_idempotent: bool = False
    parameterized: bool = False
    batch_size: int | None = None
    batch_queries: tuple[str | None, ...] = ()
    attempts: int = 0
    speculative_executions: int = 0
    coordinator: Host | None = None
    last_host: Host | None = None
    latency: float | None = None
    error: BaseException | None = None

    def safe_query(self) -> str | None:
        """The CQL text without values: as is when prepared, with literals replaced by ``?`` otherwise.

        Example:
            >>> OperationInfo("EXECUTE", "SELECT v FROM t WHERE k = ? LIMIT 10", parameterized=True).safe_query()
            'SELECT v FROM t WHERE k = ? LIMIT 10'
        """
        if self.query is None or self.parameterized:
            return self.query
        from aiocql.observability.cql import sanitize

        return sanitize(self.query)

    def describe(self) -> Described:
        """Operation, keyspace, table and summary parsed from the text (cached per text); a batch's combined.

        Example:
            >>> OperationInfo("BATCH", batch_queries=("INSERT INTO t (k) VALUES (?)",) * 2).describe().operation
            'BATCH INSERT'
        """
        from aiocql.observability.cql import Described, describe, describe_batch

        if self.kind == "BATCH":
            return describe_batch(list(self.batch_queries))
        if self.query is None:
            return Described(None, None, None, None)
        return describe(self.query)


@dataclass(frozen=True, slots=True, eq=False)
class AttemptInfo:
    """One attempt of a request on one host, as trackers see it.

    The executor passes the *same object* to :meth:`RequestTracker.on_start` and then to exactly one
    of ``on_success`` / ``on_error``: use it as a dict key (it hashes by identity) to find your span.
    ``request_id`` is shared by every attempt of one request; ``attempt`` counts attempts from 0 in
    the order they start; ``speculative`` marks attempts started while an earlier one still ran
    (an attempt with ``attempt > 0`` that is not speculative is a retry). ``query`` is the CQL text
    when known (for a span's ``db.query.text``). ``operation`` is the request's :class:`OperationInfo`
    (``None`` when no tracker asked for it): ``consistency_level``, ``page_size``, ``keyspace`` and
    ``table`` read it. The attempt's coordinator is ``host``. New fields may be added with defaults.

    Example:
        >>> import uuid
        >>> a = AttemptInfo(RequestInfo(keyspace="ks"), Host(uuid.UUID(int=1), "::1"), request_id=7, attempt=1)
        >>> a.is_retry, node_label(a.host), a.keyspace
        (True, '[::1]:9042', 'ks')
    """

    request: RequestInfo
    host: Host
    request_id: int
    attempt: int = 0
    speculative: bool = False
    query: str | None = None
    operation: OperationInfo | None = None

    @property
    def is_retry(self) -> bool:
        """A later, non-speculative attempt."""
        return self.attempt > 0 and not self.speculative

    @property
    def consistency_level(self) -> Consistency | None:
        """The request's resolved consistency level (``None`` without :attr:`operation`)."""
        return None if self.operation is None else self.operation.consistency_level

    @property
    def page_size(self) -> int | None:
        """The request's page size (``None`` without :attr:`operation`, and for batches and PREPARE)."""
        return None if self.operation is None else self.operation.page_size

    @property
    def keyspace(self) -> str | None:
        """The request's keyspace: the operation's, else the routing keyspace."""
        if self.operation is not None and self.operation.keyspace is not None:
            return self.operation.keyspace
        return self.request.keyspace

    @property
    def table(self) -> str | None:
        """The table, from the prepared metadata (``None`` when unknown or without :attr:`operation`)."""
        return None if self.operation is None else self.operation.table


def node_label(host: Host) -> str:
    """The ``node`` label of a host: ``address:port``, IPv6 in brackets.

    Example:
        >>> import uuid
        >>> node_label(Host(uuid.UUID(int=1), "10.0.0.1", 9043))
        '10.0.0.1:9043'
    """
    address = f"[{host.address}]" if ":" in host.address else host.address
    return f"{address}:{host.port}"


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
        node = self.metrics.node(node_label(info.host))
        node.requests += 1
        if info.speculative:
            node.speculative_executions += 1
        elif info.attempt:
            node.retries += 1

    def on_success(self, info: AttemptInfo, latency: float) -> None:
        self.metrics.node(node_label(info.host)).latency.record(latency)

    def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
        node = self.metrics.node(node_label(info.host))
        if not isinstance(error, Exception):
            node.cancelled += 1
            return
        node.count_error(type(error).__name__)
        if isinstance(error, TimeoutError):
            node.timeouts += 1


class CompositeTracker:
    """Calls several trackers in order; one that raises is logged and does not stop the others.

    Request-level hooks (``on_request_start`` / ``on_request_end``) go to the trackers that have them.

    Example:
        >>> import uuid
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
