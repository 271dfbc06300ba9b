"""``aiocql.metrics``: what the driver measures about requests, with no I/O.

* :mod:`aiocql.metrics.histogram`: :class:`~aiocql.metrics.histogram.LatencyHistogram`, log-linear latency buckets.
* :mod:`aiocql.metrics.nodes`: per-node counters, gauges and latencies
  (:class:`~aiocql.metrics.nodes.Metrics`) and their Prometheus text export.
* :mod:`aiocql.metrics.operations`: what trackers are told about a request
  (:class:`~aiocql.metrics.operations.OperationInfo`, :class:`~aiocql.metrics.operations.AttemptInfo`).
* :mod:`aiocql.metrics.trackers`: the :class:`~aiocql.metrics.trackers.RequestTracker` hook,
  :class:`~aiocql.metrics.trackers.MetricsTracker` and :class:`~aiocql.metrics.trackers.CompositeTracker`.
* :mod:`aiocql.metrics.cql`: operation, table and summary of a statement's text, literals removed.

The public names are re-exported from :mod:`aiocql` (``from aiocql import Metrics, CompositeTracker``).
This package imports only errors, protocol, model and policies; the exporters in
:mod:`aiocql.observability` sit above it.

Example:
    >>> from aiocql.metrics.cql import describe
    >>> describe("SELECT v FROM ks.t WHERE k = 1").summary
    'SELECT t'
"""
