"""Metrics: histogram accuracy, counters from the tracker, as_dict, Prometheus exposition format."""

from __future__ import annotations

import logging
import math
import random
import re
import uuid

import pytest

from aiocql.errors import OperationTimedOut
from aiocql.errors.server import ReadTimeout
from aiocql.metrics.histogram import DEFAULT_LATENCY_BUCKETS, LatencyHistogram, _bucket_bounds, _bucket_of
from aiocql.metrics.nodes import Metrics, NodeMetrics
from aiocql.metrics.operations import AttemptInfo, node_label
from aiocql.metrics.trackers import CompositeTracker, MetricsTracker, RequestTracker
from aiocql.model.host import Host
from aiocql.policies.request import RequestInfo

H1 = Host(uuid.UUID(int=1), "10.0.0.1")
H2 = Host(uuid.UUID(int=2), "10.0.0.2", 9043)


def _read_timeout() -> ReadTimeout:
    return ReadTimeout("rt", consistency=1, received=0, block_for=1, data_present=False)


def attempt(h: Host = H1, n: int = 0, speculative: bool = False) -> AttemptInfo:
    return AttemptInfo(RequestInfo(keyspace="ks"), h, request_id=1, attempt=n, speculative=speculative)


# ---------------------------------------------------------------------------------------------
# Histogram
# ---------------------------------------------------------------------------------------------


def test_buckets_are_contiguous_and_contain_their_values() -> None:
    previous_high = 0
    for index in range(600):
        low, high = _bucket_bounds(index)
        if low > 2**38:
            break
        assert low == previous_high and high > low
        assert (high - low) <= max(1, low // 16)
        assert _bucket_of(low) == index and _bucket_of(high - 1) == index
        previous_high = high
    rng = random.Random(1)
    for _ in range(2000):
        value = rng.randrange(2 ** rng.randrange(1, 38))
        low, high = _bucket_bounds(_bucket_of(value))
        assert low <= value < high


def test_percentiles_within_a_few_percent_of_exact() -> None:
    rng = random.Random(5)
    values = [int(rng.lognormvariate(7, 1.2)) for _ in range(20_000)]  # ~1 ms median, long tail
    h = LatencyHistogram()
    for v in values:
        h.record_us(v)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = ordered[max(0, math.ceil(q * len(values)) - 1)]
        assert abs(h.percentile(q) - exact) <= 0.035 * exact + 1, q
    assert h.percentile(0.0) == min(values) and h.percentile(1.0) == max(values)
    assert (h.count, h.min_us, h.max_us, h.sum_us) == (len(values), min(values), max(values), sum(values))
    assert h.mean_us == pytest.approx(sum(values) / len(values))


def test_small_values_are_exact_and_huge_values_are_clamped() -> None:
    h = LatencyHistogram()
    for v in (0, 1, 5, 31):
        h.record_us(v)
    assert [h.percentile(q) for q in (0.25, 0.5, 0.75, 1.0)] == [0, 1, 5, 31]
    big = LatencyHistogram()
    big.record_us(10**15)
    big.record(-1.0)
    assert big.max_us == 10**15 and big.min_us == 0 and big.percentile(1.0) == 10**15
    assert sum(n for _, _, n in big.buckets()) == 2


def test_histogram_records_seconds_and_rejects_bad_quantiles() -> None:
    h = LatencyHistogram()
    h.record(0.0125)
    assert h.max_us == 12500 and h.as_dict()["p99_us"] == 12500
    with pytest.raises(ValueError):
        h.percentile(1.5)
    assert LatencyHistogram().as_dict() == {
        "count": 0, "min_us": 0, "max_us": 0, "mean_us": 0.0, "p50_us": 0.0, "p99_us": 0.0, "p999_us": 0.0,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Tracker -> counters
# ---------------------------------------------------------------------------------------------


def test_metrics_tracker_counts_per_node() -> None:
    m = Metrics()
    t: RequestTracker = MetricsTracker(m)
    first, retry, spec = attempt(), attempt(n=1), attempt(H2, n=2, speculative=True)
    for a in (first, retry, spec):
        t.on_start(a)
    t.on_error(first, _read_timeout(), 0.01)
    t.on_error(retry, OperationTimedOut("client"), 0.02)
    t.on_success(spec, 0.003)
    t.on_error(attempt(), OperationTimedOut("again"), 0.02)
    n1, n2 = m.node("10.0.0.1:9042"), m.node("10.0.0.2:9043")
    assert (n1.requests, n1.retries, n1.speculative_executions, n1.timeouts) == (2, 1, 0, 2)
    assert n1.errors == {"ReadTimeout": 1, "OperationTimedOut": 2} and n1.latency.count == 0
    assert (n2.requests, n2.retries, n2.speculative_executions, n2.latency.count) == (1, 0, 1, 1)


def test_node_of_follows_the_label_and_a_removed_node() -> None:
    m = Metrics()
    same_address = Host(uuid.UUID(int=9), "10.0.0.1")  # another Host object, same node label as H1
    node = m.node_of(H1)
    assert node is m.node("10.0.0.1:9042") and m.node_of(same_address) is node and m.node_of(H1) is node
    node.requests = 5
    m.remove_node("10.0.0.1:9042")  # the node left: a later attempt starts a fresh node, not the removed one
    fresh = m.node_of(H1)
    assert fresh is not node and fresh.requests == 0 and m.nodes["10.0.0.1:9042"] is fresh
    assert m.node_of(same_address) is fresh


def test_metrics_tracker_start_and_end_count_as_its_tracker_methods() -> None:
    # The executor calls start/end directly (no AttemptInfo): they count what on_start/on_error/on_success count.
    via_info, direct = Metrics(), Metrics()
    t1, t2 = MetricsTracker(via_info), MetricsTracker(direct)
    cases = [(0, False, None), (1, False, _read_timeout()), (2, True, OperationTimedOut("x")), (0, False, None)]
    for n, speculative, error in cases:
        a = attempt(n=n, speculative=speculative)
        t1.on_start(a)
        if error is None:
            t1.on_success(a, 0.002)
        else:
            t1.on_error(a, error, 0.002)
        t2.end(t2.start(H1, n, speculative), error, 0.002)
    assert via_info.as_dict() == direct.as_dict()
    assert direct.node("10.0.0.1:9042").requests == 4 and direct.node("10.0.0.1:9042").latency.count == 2


def test_cancellation_is_not_an_error() -> None:
    import asyncio  # only to get the real CancelledError class

    m = Metrics()
    t = MetricsTracker(m)
    t.on_error(attempt(), asyncio.CancelledError(), 0.001)
    node = m.node("10.0.0.1:9042")
    assert node.cancelled == 1 and node.errors == {} and node.timeouts == 0


def test_attempt_info_hashes_by_identity_for_span_maps() -> None:
    a, b = attempt(), attempt()
    spans = {a: "span-a", b: "span-b"}
    assert spans[a] == "span-a" and a != b
    assert attempt(n=1).is_retry and not attempt(n=1, speculative=True).is_retry and not attempt().is_retry


def test_node_label() -> None:
    assert node_label(H2) == "10.0.0.2:9043"
    assert node_label(Host(uuid.UUID(int=3), "fe80::1")) == "[fe80::1]:9042"


def test_composite_tracker_isolates_failures(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def on_start(self, info: AttemptInfo) -> None:
            raise RuntimeError("boom")

        def on_success(self, info: AttemptInfo, latency: float) -> None:
            raise RuntimeError("boom")

        def on_error(self, info: AttemptInfo, error: BaseException, latency: float) -> None:
            raise RuntimeError("boom")

    m = Metrics()
    t = CompositeTracker(Broken(), MetricsTracker(m))
    a = attempt()
    with caplog.at_level(logging.ERROR, logger="aiocql.metrics"):
        t.on_start(a)
        t.on_success(a, 0.001)
        t.on_error(a, ValueError("x"), 0.001)
    node = m.node("10.0.0.1:9042")
    assert (node.requests, node.latency.count, node.errors) == (1, 1, {"ValueError": 1})
    assert [r.message.rsplit(" ", 1)[1] for r in caplog.records] == ["on_start", "on_success", "on_error"]


# ---------------------------------------------------------------------------------------------
# Gauges and exports
# ---------------------------------------------------------------------------------------------


def test_gauges_are_read_at_export_and_failures_skipped() -> None:
    node = NodeMetrics("n")
    in_flight = [3]
    node.add_gauge("in_flight", lambda: in_flight[0])
    node.add_gauge("open_connections", lambda: 1 / 0)
    assert node.gauges() == {"in_flight": 3.0}
    in_flight[0] = 7
    assert node.as_dict()["gauges"] == {"in_flight": 7.0}
    node.remove_gauge("in_flight")
    node.remove_gauge("absent")
    assert node.gauges() == {}
    with pytest.raises(ValueError):
        node.add_gauge("in-flight", lambda: 0)


def test_as_dict() -> None:
    m = Metrics()
    m.node("b").requests = 2
    m.node("a").count_error("Overloaded")
    assert list(m.as_dict()) == ["a", "b"]
    assert m.as_dict()["a"]["errors"] == {"Overloaded": 1}
    assert set(m.as_dict()["b"]) == {
        "requests", "errors", "retries", "speculative_executions", "timeouts", "cancelled", "gauges", "latency",
    }  # fmt: skip
    assert m.node("a") is m.nodes["a"]
    m.remove_node("a")
    assert list(m.nodes) == ["b"]


def _busy_metrics() -> Metrics:
    m = Metrics()
    t = MetricsTracker(m)
    for i in range(100):
        a = attempt(H1 if i % 2 else H2, n=i % 3)
        t.on_start(a)
        t.on_success(a, 0.0001 * (i + 1))
    t.on_error(attempt(), _read_timeout(), 0.5)
    m.node("10.0.0.1:9042").add_gauge("in_flight", lambda: 4)
    m.node('we"ird\\node\n').requests = 1
    return m


_SAMPLE = re.compile(
    r'(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\} '
    r"(?P<value>NaN|[+-]Inf|-?[0-9.]+(?:e[+-]?[0-9]+)?)"
)


def test_prometheus_text_follows_the_exposition_format() -> None:
    text = _busy_metrics().prometheus_text()
    assert text.endswith("\n") and not text.endswith("\n\n")
    families: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            current = line.split()[2]
            assert current not in families, f"family {current} repeated"
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name == current and kind in ("counter", "gauge", "histogram")
            families[name] = kind
        else:
            match = _SAMPLE.fullmatch(line)
            assert match, line
            assert current is not None
            assert match["name"] in (current, f"{current}_sum", f"{current}_count", f"{current}_bucket")
            assert match["labels"].startswith('node="')
    assert families["aiocql_requests_total"] == "counter"
    assert families["aiocql_in_flight"] == "gauge"
    assert families["aiocql_request_latency_seconds"] == "histogram"
    assert 'aiocql_errors_total{node="10.0.0.1:9042",kind="ReadTimeout"} 1' in text
    assert 'aiocql_requests_total{node="we\\"ird\\\\node\\n"} 1' in text
    assert 'aiocql_request_latency_seconds_bucket{node="we\\"ird\\\\node\\n",le="+Inf"} 0' in text
    assert 'aiocql_request_latency_seconds_bucket{node="10.0.0.2:9043",le="0.005"} 25' in text
    assert 'aiocql_request_latency_seconds_count{node="10.0.0.2:9043"} 50' in text
    assert 'aiocql_in_flight{node="10.0.0.1:9042"} 4.0' in text


def test_prometheus_text_parses_with_prometheus_client() -> None:
    parser = pytest.importorskip("prometheus_client.parser")
    families = {f.name: f for f in parser.text_string_to_metric_families(_busy_metrics().prometheus_text())}
    assert families["aiocql_requests"].type == "counter"
    requests = {s.labels["node"]: s.value for s in families["aiocql_requests"].samples if s.name.endswith("_total")}
    assert requests["10.0.0.1:9042"] == 50 and requests['we"ird\\node\n'] == 1
    latency = families["aiocql_request_latency_seconds"]
    assert latency.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")
               and s.labels["node"] == "10.0.0.2:9043"}  # fmt: skip
    # 50 values 0.1 ms, 0.3 ms .. 9.9 ms: 5 of them <= 1 ms, 25 <= 5 ms, all <= 10 ms
    assert (buckets["0.001"], buckets["0.005"], buckets["0.01"], buckets["+Inf"]) == (5, 25, 50, 50)
    assert list(buckets) == [repr(b) for b in DEFAULT_LATENCY_BUCKETS] + ["+Inf"]


def test_empty_and_prefixed_exports() -> None:
    assert Metrics().prometheus_text() == ""
    m = Metrics(prefix="myapp_cassandra")
    m.node("n").requests = 1
    assert 'myapp_cassandra_requests_total{node="n"} 1' in m.prometheus_text()
    with pytest.raises(ValueError):
        Metrics(prefix="1bad")
