"""What observability costs per request: client CPU time (``time.process_time``) of prepared point reads.

``python -m benchmarks.observability_overhead [--contact-points 127.0.0.1] [--requests 20000] [--concurrency 64]``

Each configuration runs in its own subprocess (fresh interpreter, no provider left over from another),
configurations interleaved round after round; each round is ``--requests`` reads of ``SELECT v FROM kv
WHERE k = ?`` at ``--concurrency`` in flight, after a warm-up. Reported: the median CPU microseconds per
request over the rounds, and the difference to ``none``.

Configurations (``--modes``):

* ``none``: a plain ``Cluster`` (its built-in per-node metrics only): no instrumentation installed.
* ``off``: ``OpenTelemetryTracker()`` installed while no SDK is configured (the API's no-op providers):
  tracing off.
* ``otel``: OpenTelemetry SDK tracer provider (spans exported synchronously to a discarding exporter) and
  meter provider (in-memory reader): one span and one histogram record per request.
* ``otel-attempts``: as ``otel`` with a child span per attempt.
* ``slowlog``: a 10 s ``slow_query_threshold`` that never fires (the cost of timing each request).

``--tree NAME=DIR`` adds a run of ``none`` on another source tree (e.g. the driver before the
observability hooks, from ``git archive``), to show that nothing configured costs nothing.

``--micro`` measures instead, without a server, the instrumentation's own work per request (what the
session and the tracker do around one request with one attempt): the minimum over repeats of ``timeit`` of
CPU time (``time.process_time``), the figure least disturbed by other work on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEYSPACE = "bench_observability"
ROWS = 1000
MODES = ("none", "off", "otel", "otel-attempts", "slowlog")


def _cluster(args: argparse.Namespace, mode: str) -> Any:
    from aiocql import Cluster

    kwargs: dict[str, Any] = {"port": args.port, "protocol_version": 5}
    if mode == "off":
        from aiocql.observability.otel import OpenTelemetryTracker

        kwargs["request_tracker"] = OpenTelemetryTracker()
    elif mode in ("otel", "otel-attempts"):
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

        class Discard(SpanExporter):
            def export(self, spans: Sequence[Any]) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        from aiocql.observability.otel import OpenTelemetryTracker

        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        kwargs["request_tracker"] = OpenTelemetryTracker(
            tracer_provider=tracer_provider, meter_provider=meter_provider, attempt_spans=mode == "otel-attempts"
        )
    elif mode == "slowlog":
        kwargs["slow_query_threshold"] = 10.0
    elif mode != "none":
        raise SystemExit(f"unknown mode {mode!r}")
    return Cluster(args.contact_points.split(","), **kwargs)


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    async with _cluster(args, args.child) as cluster:
        session = await cluster.connect(KEYSPACE)
        select = await session.prepare("SELECT v FROM kv WHERE k = ?")

        async def run(count: int) -> None:
            keys = iter(range(count))

            async def worker() -> None:
                for k in keys:  # next() runs to completion between awaits: the workers share it
                    await session.execute(select, (k % ROWS,))

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))

        await run(args.warmup)
        rounds = []
        for _ in range(args.rounds_per_child):
            cpu, wall = time.process_time(), time.perf_counter()
            await run(args.requests)
            rounds.append(
                {
                    "cpu_us": (time.process_time() - cpu) / args.requests * 1e6,
                    "wall_us": (time.perf_counter() - wall) / args.requests * 1e6,
                }
            )
        return {"mode": args.child, "rounds": rounds}


async def _prepare(args: argparse.Namespace) -> None:
    from aiocql import Cluster

    async with Cluster(args.contact_points.split(","), port=args.port) as cluster:
        session = await cluster.connect()
        await session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}",
            timeout=60,
        )
        await session.execute(f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.kv (k int PRIMARY KEY, v text)", timeout=60)
        insert = await session.prepare(f"INSERT INTO {KEYSPACE}.kv (k, v) VALUES (?, ?)")
        await asyncio.gather(*(session.execute(insert, (k, f"value-{k:04d}")) for k in range(ROWS)))


def _run_child(args: argparse.Namespace, mode: str, tree: Path) -> dict[str, Any]:
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", mode,
        "--contact-points", args.contact_points, "--port", str(args.port), "--requests", str(args.requests),
        "--concurrency", str(args.concurrency), "--warmup", str(args.warmup),
        "--rounds-per-child", str(args.rounds_per_child),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the script runs by path: aiocql comes from ``tree``
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{mode} on {tree} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def micro(repeat: int = 7, number: int = 5000) -> dict[str, float]:
    """Microseconds per request of the instrumentation alone (min over ``repeat`` runs of ``number``)."""
    import timeit
    import uuid

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from aiocql import ConsistencyLevel, Host
    from aiocql.metrics.nodes import Metrics
    from aiocql.metrics.operations import AttemptInfo, OperationInfo
    from aiocql.metrics.trackers import CompositeTracker, MetricsTracker
    from aiocql.observability.otel import OpenTelemetryTracker
    from aiocql.policies.request import RequestInfo

    class Discard(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    host = Host(uuid.UUID(int=1), "10.0.0.1", datacenter="dc1")
    request = RequestInfo(keyspace="ks", routing_key=b"\x00\x00\x00\x01")
    query = "SELECT v FROM kv WHERE k = ?"

    def operation() -> OperationInfo:
        return OperationInfo(
            "EXECUTE", query, keyspace="ks", table="kv", consistency_level=ConsistencyLevel.LOCAL_ONE,
            page_size=5000, parameterized=True,
        )  # fmt: skip

    def one_request(tracker: Any, with_op: bool) -> None:
        op = operation() if with_op else None
        if op is not None and hasattr(tracker, "on_request_start"):
            tracker.on_request_start(op)
        attempt = AttemptInfo(request, host, 1, 0, False, query, op)
        tracker.on_start(attempt)
        tracker.on_success(attempt, 0.0005)
        if op is not None:
            op.attempts, op.coordinator, op.latency = 1, host, 0.0006
            if hasattr(tracker, "on_request_end"):
                tracker.on_request_end(op)

    def sdk(attempt_spans: bool) -> OpenTelemetryTracker:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        return OpenTelemetryTracker(
            tracer_provider=tracer_provider, meter_provider=meter_provider, attempt_spans=attempt_spans
        )

    metrics = MetricsTracker(Metrics())
    cases: dict[str, tuple[Any, bool]] = {
        "none (built-in metrics)": (metrics, False),
        "off (OTel, no SDK)": (CompositeTracker(metrics, OpenTelemetryTracker()), True),
        "otel": (CompositeTracker(metrics, sdk(False)), True),
        "otel-attempts": (CompositeTracker(metrics, sdk(True)), True),
    }
    out = {}
    out["slowlog (session, not logged)"] = _micro_slowlog(operation, repeat, number)
    for name, (tracker, with_op) in cases.items():
        times = timeit.repeat(
            lambda t=tracker, w=with_op: one_request(t, w), repeat=repeat, number=number, timer=time.process_time
        )
        out[name] = min(times) / number * 1e6
    return out


def _micro_slowlog(operation: Any, repeat: int, number: int) -> float:
    """What a profile's slow_query_threshold adds per request: the OperationInfo and the session's timed wrapper."""
    import types

    from aiocql.session.session import Session

    stub = types.SimpleNamespace(_request_hooks=None)

    async def reply() -> None:
        return None

    async def direct() -> None:
        for _ in range(number):
            await reply()

    async def observed() -> None:
        for _ in range(number):
            await Session._observed(stub, operation(), 10.0, reply)  # type: ignore[arg-type]

    def best(body: Any) -> float:
        loop = asyncio.new_event_loop()
        try:
            runs = []
            for _ in range(repeat):
                started = time.process_time()
                loop.run_until_complete(body())
                runs.append(time.process_time() - started)
            return min(runs) / number * 1e6
        finally:
            loop.close()

    return best(observed) - best(direct)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the configurations, print a table (and JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact-points", default=os.environ.get("AIOCQL_CONTACT_POINTS", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="subprocesses per configuration")
    parser.add_argument("--rounds-per-child", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--tree", action="append", default=[], help="NAME=DIR: also run 'none' on that tree")
    parser.add_argument("--json", type=Path, help="write the raw rounds here")
    parser.add_argument("--micro", action="store_true", help="the instrumentation's own work, no server")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.micro:
        figures = micro()
        base = figures["none (built-in metrics)"]
        print("instrumentation work per request with one attempt, us (min of 7 x 5000):")
        for name, us in figures.items():
            extra = " (added)" if name.startswith("slowlog") else f"  ({us - base:+.2f} vs none)"
            print(f"  {name:<30} {us:6.2f}{extra}")
        return 0
    if args.child:
        print(json.dumps(asyncio.run(_child(args))))
        return 0
    asyncio.run(_prepare(args))
    runs: list[tuple[str, str, Path]] = [(m, m, ROOT) for m in args.modes.split(",")]
    for spec in args.tree:
        name, _, directory = spec.partition("=")
        runs.append((f"none@{name}", "none", Path(directory).resolve()))
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    wall: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    for round_no in range(args.rounds):
        order = runs if round_no % 2 == 0 else list(reversed(runs))  # alternate, so drift favours nobody
        for label, mode, tree in order:
            result = _run_child(args, mode, tree)
            cpu[label] += [r["cpu_us"] for r in result["rounds"]]
            wall[label] += [r["wall_us"] for r in result["rounds"]]
            print(f"round {round_no + 1}: {label}: {[round(r['cpu_us'], 1) for r in result['rounds']]}", flush=True)
    base = statistics.median(cpu["none"]) if cpu.get("none") else None
    print(f"\n{args.requests} prepared point reads per round at c={args.concurrency}, "
          f"{len(next(iter(cpu.values())))} rounds per configuration; CPU us/request (median, min..max):")  # fmt: skip
    for label, values in cpu.items():
        median = statistics.median(values)
        delta = "" if base is None or label == "none" else f"  ({median - base:+.1f} us vs none)"
        print(f"  {label:<16} {median:7.1f}  ({min(values):.1f}..{max(values):.1f}){delta}"
              f"   wall {statistics.median(wall[label]):.1f} us/request")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"cpu_us": cpu, "wall_us": wall, "args": vars(args)}, default=str, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
