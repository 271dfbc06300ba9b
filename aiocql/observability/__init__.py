"""Observability integrations: OpenTelemetry (:mod:`aiocql.observability.otel`, extra ``aiocql[otel]``),
prometheus_client (:mod:`aiocql.observability.prometheus`, extra ``aiocql[prometheus]``) and the slow-query
log (:mod:`aiocql.observability.slow_queries`). They sit above :mod:`aiocql.metrics`, which holds what they
report (and the CQL helpers they share, :mod:`aiocql.metrics.cql`).

The OpenTelemetry and prometheus_client modules are imported only when you configure them; importing this
package imports neither library.

Example:
    >>> from aiocql.metrics.cql import describe
    >>> describe("SELECT v FROM ks.t WHERE k = 1").summary
    'SELECT t'
"""
