"""Per-node metrics and their export.

* :class:`NodeMetrics`: counters (requests, errors by kind, retries, speculative executions,
  timeouts, cancelled attempts), gauges read from callables at export time (in-flight requests,
  open connections, orphaned streams...), and a latency histogram of successful attempts.
* :class:`Metrics`: the nodes' metrics, exported by :meth:`Metrics.as_dict`, :meth:`Metrics.families` and
  :meth:`Metrics.prometheus_text` (Prometheus text exposition format 0.0.4, label ``node``).

Everything here runs on the event loop's thread: no locks.

Example:
    >>> metrics = Metrics()
    >>> metrics.node("10.0.0.1:9042").requests += 1
    >>> metrics.as_dict()["10.0.0.1:9042"]["requests"]
    1
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiocql.errors import InvalidValueError
from aiocql.metrics.histogram import DEFAULT_LATENCY_BUCKETS, LatencyHistogram, bounds_us
from aiocql.metrics.operations import node_label
from aiocql.model.host import Host

__all__ = ["MetricFamily", "Metrics", "NodeMetrics"]

_log = logging.getLogger("aiocql.metrics")  # the layer's logger (docs/logging.md)
_METRIC_NAME: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


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

    __slots__ = ("_by_host", "_nodes", "latency_buckets", "prefix")

    def __init__(self, prefix: str = "aiocql", latency_buckets: Sequence[float] = DEFAULT_LATENCY_BUCKETS) -> None:
        if not _METRIC_NAME.match(prefix):
            raise InvalidValueError(f"invalid metric name prefix {prefix!r}")
        bounds_us(latency_buckets)
        self.prefix = prefix
        self.latency_buckets = tuple(latency_buckets)
        self._nodes: dict[str, NodeMetrics] = {}
        # id(host) -> (host, its node's metrics): the label of a Host object is made once, not per attempt.
        self._by_host: dict[int, tuple[Host, NodeMetrics]] = {}

    def node_of(self, host: Host) -> NodeMetrics:
        """The metrics of ``host``'s node (:meth:`node` of its :func:`~aiocql.metrics.operations.node_label`).

        Example:
            >>> import uuid
            >>> m = Metrics(); h = Host(uuid.UUID(int=1), "10.0.0.1")
            >>> m.node_of(h) is m.node("10.0.0.1:9042")
            True
        """
        entry = self._by_host.get(id(host))
        if entry is not None and entry[0] is host:
            return entry[1]
        if len(self._by_host) >= 4096:  # Host objects replaced by topology changes: start again
            self._by_host.clear()
        found = self.node(node_label(host))
        self._by_host[id(host)] = (host, found)  # the entry keeps the host, so its id is not reused meanwhile
        return found

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
        self._by_host = {key: entry for key, entry in self._by_host.items() if entry[1].node != label}

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
