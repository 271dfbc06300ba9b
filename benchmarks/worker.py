"""One client process: ``python -m benchmarks.worker '<json spec>'``.

Connects one client, prepares one workload, then measures one cell per requested concurrency (in
the given order): warm-up, measured window, drain. Prints one ``RESULT {json}`` line per cell on
stdout. The process is the client's alone, so its CPU time, peak RSS and thread count are the
client's own (the server runs in another process on the same machine).
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from benchmarks import wire
from benchmarks import workloads as w
from benchmarks.adapters import CLIENTS, ClientSpec
from benchmarks.adapters.base import AsyncAdapter, SyncAdapter
from benchmarks.metrics import Window

DRAIN_TIMEOUT_S = 60.0
LAG_PROBE_S = 0.010


def emit(record: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(record), flush=True)


def wire_handshake(job: dict[str, Any]) -> dict[str, Any]:
    """Tell the harness which connections to the CQL port this process holds (the client is connected and
    its statement prepared by now); it answers with the server's view of them (``system_views.clients``).
    Without a harness (``"handshake": false``) only the ports are recorded."""
    ports = wire.own_ports(job.get("cql_port", 9042))
    if not job.get("handshake"):
        return {"ports": len(ports)}
    print("WIRE " + json.dumps(ports), flush=True)
    reply = sys.stdin.readline()
    view: dict[str, Any] = json.loads(reply) if reply.strip() else {"error": "no answer from the harness"}
    return {"ports": len(ports), **view}


async def run_async_cell(adapter: AsyncAdapter, concurrency: int, window: Window) -> int:
    """``concurrency`` tasks each awaiting ``run_op`` in a loop; returns the number of requests issued."""
    counter = itertools.count()
    stop = False
    now, record, run_op = time.perf_counter_ns, window.record, adapter.run_op

    async def worker() -> None:
        while not stop:
            i = next(counter)
            t0 = now()
            try:
                await run_op(i)
                record(t0, now())
            except Exception as exc:
                window.error(exc)

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    probe = asyncio.create_task(lag_probe(window))
    try:
        await asyncio.sleep(window.warmup_s)
        window.open()
        await asyncio.sleep(window.measure_s)
        window.close()
        stop = True
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        if pending:
            window.error(TimeoutError(f"{len(pending)} requests still pending {DRAIN_TIMEOUT_S}s after the window"))
            for task in pending:
                task.cancel()
    finally:
        probe.cancel()
    return next(counter)


async def lag_probe(window: Window) -> None:
    """Sleep 10 ms over and over; the overshoot is how long the loop was busy elsewhere (or the process was not
    running: the loop thread's CPU time over each sleep bounds the part its own work explains)."""
    clock, cpu = time.perf_counter, time.thread_time
    for n in itertools.count():
        t0, c0 = clock(), cpu()
        await asyncio.sleep(LAG_PROBE_S)
        window.lag(clock() - t0 - LAG_PROBE_S, cpu() - c0)
        if n % 10 == 0:
            window.sample_threads()


async def run_async(spec: ClientSpec, job: dict[str, Any], conf: w.Conf) -> None:
    adapter: AsyncAdapter = importlib.import_module(spec.module).Adapter()
    await adapter.setup(conf)
    server = wire_handshake(job)
    try:
        for concurrency, cell_json in zip(job["concurrencies"], job["cells"], strict=True):
            cell = w.CellParams(cell_json["key_base"], cell_json["tag"])
            window = Window(job["warmup_s"], job["measure_s"], job.get("server_pid"))
            issued = 1
            if conf.workload == w.SCAN:
                probe = asyncio.create_task(lag_probe(window))
                await asyncio.sleep(0)
                try:
                    await measure_scan(adapter.scan, window, conf, job["scan_timeout_s"])
                finally:
                    probe.cancel()
            else:
                await adapter.begin_cell(cell)
                issued = await run_async_cell(adapter, concurrency, window)
            emit(cell_result(job, conf, concurrency, window, issued, adapter.info(), server))
    finally:
        await adapter.close()


async def measure_scan(
    scan: Callable[[float], Coroutine[Any, Any, tuple[int, int]]], window: Window, conf: w.Conf, timeout_s: float
) -> None:
    window.open()
    t0, stop_at = time.perf_counter_ns(), time.monotonic() + timeout_s
    try:
        rows, total = await scan(stop_at)
        finish_scan(window, conf, t0, rows, total, stop_at)
    except Exception as exc:
        window.error(exc)
    window.close()


def finish_scan(window: Window, conf: w.Conf, t0: int, rows: int, total: int, stop_at: float) -> None:
    """Count the scan; one that hit the time cap is ``partial`` (its rows/s still stands), not an error."""
    window.record(t0, time.perf_counter_ns())
    window.rows_extra = rows
    if rows < conf.scan_rows and time.monotonic() > stop_at:
        window.partial = True
    else:
        w.check_scan(rows, total, conf.scan_rows)


def run_sync(spec: ClientSpec, job: dict[str, Any], conf: w.Conf) -> None:
    adapter: SyncAdapter = importlib.import_module(spec.module).Adapter()
    adapter.setup(conf)
    server = wire_handshake(job)
    try:
        for concurrency, cell_json in zip(job["concurrencies"], job["cells"], strict=True):
            cell = w.CellParams(cell_json["key_base"], cell_json["tag"])
            window = Window(job["warmup_s"], job["measure_s"], job.get("server_pid"))
            issued = 1
            if conf.workload == w.SCAN:
                window.open()
                t0, stop_at = time.perf_counter_ns(), time.monotonic() + job["scan_timeout_s"]
                try:
                    rows, total = adapter.scan(stop_at)
                    finish_scan(window, conf, t0, rows, total, stop_at)
                except Exception as exc:
                    window.error(exc)
                window.close()
            else:
                issued = adapter.run_cell(cell, concurrency, window)
            emit(cell_result(job, conf, concurrency, window, issued, adapter.info(), server))
    finally:
        adapter.close()


def cell_result(
    job: dict[str, Any],
    conf: w.Conf,
    concurrency: int,
    window: Window,
    issued: int,
    info: dict[str, Any],
    server: dict[str, Any],
) -> dict[str, Any]:
    rows_per_op = 0 if conf.workload == w.SCAN else w.ROWS_PER_OP[conf.workload]
    return {
        "client": job["client"],
        "workload": conf.workload,
        "concurrency": concurrency,
        "round": job.get("round", 0),
        "issued": issued,
        "info": info,  # what the client says it negotiated (read from the client object)
        "server_view": server,  # what the server saw on this process's connections
        **window.result(rows_per_op),
    }


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    spec = CLIENTS[job["client"]]
    conf = w.Conf(
        hosts=tuple(job["hosts"]),
        workload=job["workload"],
        scan_rows=job["scan_rows"],
        compression=bool(job.get("compression", False)),
        protocol=job.get("protocol"),
        row_factory=spec.row_factory,
    )
    try:
        if spec.kind == "sync":
            run_sync(spec, job, conf)
        elif spec.loop == "uvloop":
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(run_async(spec, job, conf))
        else:
            asyncio.run(run_async(spec, job, conf))
    except Exception as exc:
        traceback.print_exc()
        emit({"client": job["client"], "workload": conf.workload, "fatal": f"{type(exc).__name__}: {exc}"[:500]})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
