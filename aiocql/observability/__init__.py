"""Observability integrations: OpenTelemetry (:mod:`aiocql.observability.otel`, extra ``aiocql[otel]``),
prometheus_client (:mod:`aiocql.observability.prometheus`, extra ``aiocql[prometheus]``) and the CQL helpers
they share (:mod:`aiocql.observability.cql`: operation, table and summary of a statement, literals removed).

Nothing here is imported by the driver unless you configure it; importing this package imports neither
OpenTelemetry nor prometheus_client.

Example:
    >>> from aiocql.observability.cql import describe
    >>> describe("SELECT v FROM ks.t WHERE k = 1").summary
    'SELECT t'
"""
