"""prometheus_client for aiocql (extra ``aiocql[prometheus]``): a collector that exposes a cluster's per-node
metrics in your registry, read at scrape time.

:class:`AiocqlCollector` yields the families of :meth:`aiocql.Metrics.families`: the counters
``aiocql_requests_total``, ``aiocql_errors_total{kind}``, ``aiocql_retries_total``,
``aiocql_speculative_executions_total``, ``aiocql_timeouts_total``, ``aiocql_cancelled_total``; the gauges
``aiocql_in_flight``, ``aiocql_open_connections``, ``aiocql_pool_size``, ``aiocql_orphaned_streams``; and the
histogram ``aiocql_request_latency_seconds`` (real buckets, exact counts). Every sample has the label
``node`` (``address:port``). Nothing is computed between scrapes beyond what the driver counts anyway.

Example:
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> from aiocql import Metrics
    >>> registry = CollectorRegistry()
    >>> metrics = Metrics(); metrics.node("10.0.0.1:9042").requests = 3
    >>> collector = register(metrics, registry)  # or register(cluster.metrics) for the default registry
    >>> registry.get_sample_value("aiocql_requests_total", {"node": "10.0.0.1:9042"})
    3.0
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from aiocql.metrics.nodes import Metrics

__all__ = ["AiocqlCollector", "register"]

_STATIC = (
    ("requests", "counter"), ("errors", "counter"), ("retries", "counter"), ("speculative_executions", "counter"),
    ("timeouts", "counter"), ("cancelled", "counter"), ("in_flight", "gauge"), ("open_connections", "gauge"),
    ("pool_size", "gauge"), ("orphaned_streams", "gauge"), ("request_latency_seconds", "histogram"),
)  # fmt: skip


class AiocqlCollector(Collector):
    """A prometheus_client collector over one :class:`aiocql.Metrics` (``cluster.metrics``).

    Register it in any :class:`prometheus_client.CollectorRegistry` (:func:`register` does). Two clusters in
    one registry need different ``Metrics`` prefixes (``Metrics(prefix=...)``), or one registry each.

    Example:
        >>> from prometheus_client import CollectorRegistry
        >>> registry = CollectorRegistry(); registry.register(AiocqlCollector(Metrics()))
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        """The families as they are now (called by the registry at each scrape)."""
        for family in self.metrics.families():
            metric = Metric(family.name, family.help, family.type)
            for name, labels, value in family.samples:
                metric.add_sample(name, labels, float(value))
            yield metric

    def describe(self) -> Iterable[Metric]:
        """The family names this collector may yield, so the registry can refuse a clash at registration."""
        prefix = self.metrics.prefix
        return [Metric(f"{prefix}_{name}", "", kind) for name, kind in _STATIC]


def register(metrics: Metrics, registry: CollectorRegistry | None = None) -> AiocqlCollector:
    """Register a collector for ``metrics`` in ``registry`` (default: prometheus_client's global ``REGISTRY``).

    Example:
        >>> from prometheus_client import CollectorRegistry
        >>> collector = register(Metrics(), CollectorRegistry())
    """
    collector = AiocqlCollector(metrics)
    (REGISTRY if registry is None else registry).register(collector)
    return collector
