"""Run the side-by-side benchmarks: ``python -m benchmarks.run [--quick] [--docs]``.

Starts the local benchmark Cassandra (``aiocql.testing`` launcher, benchmark settings) unless one is
running or ``--external HOST`` is given, loads the data once with cassandra-driver, then for each
round, each workload and each client (order rotating and alternating between rounds) runs one
subprocess (:mod:`benchmarks.worker`) that measures that client at each concurrency. Writes
``benchmarks/results/<stamp>.json``, ``.md`` and ``.png``; ``--docs`` also updates docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks import report, schema
from benchmarks import workloads as w
from benchmarks.adapters import CLIENTS, unavailable_reason

RESULTS = Path(__file__).parent / "results"
FULL: dict[str, Any] = {"workloads": list(w.WORKLOADS), "concurrency": [1, 16, 128, 1024], "rounds": 3, "warmup_s": 0.5,
        "measure_s": 1.5, "scan_rows": 1_000_000, "scan_timeout_s": 15.0}  # fmt: skip
QUICK: dict[str, Any] = {"workloads": [w.POINT_READ, w.SCAN], "concurrency": [1, 128], "rounds": 3, "warmup_s": 0.3,
         "measure_s": 1.0, "scan_rows": 100_000, "scan_timeout_s": 4.0}  # fmt: skip
QUICK_NOTE = "point read and scan only, concurrency 1 and 128, 1 s cells, scan of 100,000 rows"
PORT_WAIT_S = 300.0


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"under 3 minutes: {QUICK_NOTE}")
    parser.add_argument("--clients", nargs="+", choices=list(CLIENTS), default=list(CLIENTS))
    parser.add_argument("--workloads", nargs="+", choices=list(w.WORKLOADS))
    parser.add_argument("--concurrency", nargs="+", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--measure", type=float, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per cell")
    parser.add_argument("--scan-rows", type=int, help="rows in the scanned table (multiple of 100)")
    parser.add_argument("--external", metavar="HOST", help="use a running Cassandra at HOST, start nothing")
    parser.add_argument("--keep-server", action="store_true", help="leave the benchmark Cassandra running")
    parser.add_argument("--docs", action="store_true", help="update docs/benchmarks.md and its chart")
    return parser.parse_args(argv)


def _proc_lines(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


def machine_info() -> dict[str, Any]:
    cpuinfo, meminfo = _proc_lines("/proc/cpuinfo"), _proc_lines("/proc/meminfo")
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    mem_kb = next(int(ln.split()[1]) for ln in meminfo if ln.startswith("MemTotal"))
    return {"nproc": os.cpu_count() or 1, "ram_gib": round(mem_kb / 2**20, 1), "cpu_model": cpu,
            "kernel": platform.release(), "python": platform.python_version()}  # fmt: skip


def packages() -> dict[str, str]:
    out = {}
    for name in ("aiocql", "cassandra-driver", "acsylla", "scyllapy", "uvloop"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def port_open(host: str, port: int = 9042) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Server:
    """The benchmark Cassandra: started here (and stopped at the end) unless running or external."""

    def __init__(self, external: str | None, keep: bool) -> None:
        self.external, self.keep = external, keep
        self.cluster: Any = None
        self.started = False
        self.notes: list[str] = []

    def start(self) -> list[str]:
        if self.external:
            return [self.external]
        from aiocql.testing.launcher import LocalCluster

        self.cluster = LocalCluster(1, benchmark=True)
        if self.cluster.running():
            log("benchmark Cassandra already running: using it (and leaving it running)")
            return list(self.cluster.contact_points)
        waited = 0.0
        while port_open("127.0.0.1"):
            if waited >= PORT_WAIT_S:
                raise SystemExit("port 9042 on 127.0.0.1 is still taken by another Cassandra; giving up")
            if waited == 0:
                log("port 9042 on 127.0.0.1 is taken (someone else's test Cassandra?): waiting up to 5 min")
            time.sleep(10)
            waited += 10
        if waited:
            self.notes.append(f"waited {waited:.0f} s for port 9042 to be free before starting")
        log("starting the benchmark Cassandra (1 node, benchmark settings)")
        state = self.cluster.start()
        self.started = True
        log(f"Cassandra {state.version} up in {state.startup_seconds}s")
        return list(self.cluster.contact_points)

    @property
    def pid(self) -> int | None:
        if self.cluster is None or self.cluster.state is None or not self.cluster.state.nodes:
            return None
        pid: int | None = self.cluster.state.nodes[0].pid
        return pid

    def settle(self) -> None:
        """Flush and wait for compactions so loading does not bleed into the first measurements."""
        if self.cluster is None:
            return
        try:
            self.cluster.nodetool(1, "flush", w.KEYSPACE)
            for _ in range(60):
                out = self.cluster.nodetool(1, "compactionstats")
                if re.search(r"pending tasks:?\s+0\b", out):
                    return
                time.sleep(1)
        except Exception as exc:  # nodetool is a nicety: measure anyway
            log(f"could not settle compactions: {exc}")

    def stop(self) -> None:
        if self.started and not self.keep:
            log("stopping the benchmark Cassandra")
            self.cluster.stop()


def plan_orders(clients: list[str], rounds: int) -> list[list[str]]:
    """Forward, then reversed (ABBA), and every second pair rotated by one: no client always goes first."""
    orders = []
    for r in range(rounds):
        shift = (r // 2) % len(clients) if clients else 0
        order = clients[shift:] + clients[:shift]
        orders.append(order[::-1] if r % 2 else order)
    return orders


def run_worker(job: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "benchmarks.worker", json.dumps(job)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).parent.parent)
    except subprocess.TimeoutExpired:
        fatal = f"worker timed out after {timeout:.0f}s"
        return [{"client": job["client"], "workload": job["workload"], "fatal": fatal}]
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not results:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        results = [{"client": job["client"], "workload": job["workload"], "fatal": " | ".join(tail)[:500]}]
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    base = dict(QUICK if args.quick else FULL)
    settings: dict[str, Any] = {
        "workloads": args.workloads or base["workloads"],
        "concurrency": sorted(args.concurrency or base["concurrency"]),
        "rounds": args.rounds or base["rounds"],
        "warmup_s": args.warmup if args.warmup is not None else base["warmup_s"],
        "measure_s": args.measure or base["measure_s"],
        "scan_rows": args.scan_rows or base["scan_rows"],
        "scan_timeout_s": base["scan_timeout_s"],
    }
    began = time.monotonic()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    unavailable = {name: r for name in args.clients if (r := unavailable_reason(CLIENTS[name]))}
    for name, reason in unavailable.items():
        log(f"{name}: unavailable ({reason})")
    clients = [c for c in args.clients if c not in unavailable]
    server = Server(args.external, args.keep_server)
    hosts = server.start()
    cells: list[dict[str, Any]] = []
    try:
        cluster, session = schema.connect(hosts)
        try:
            schema.prepare_data(session, settings["scan_rows"], log=log)
            server_version = schema.server_version(session)
            server.settle()
            loadavg_start = loadavg()
            cells = measure(settings, clients, hosts, server.pid, session)
        finally:
            cluster.shutdown()
    finally:
        server.stop()
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "mode": mode, "quick_note": QUICK_NOTE if args.quick else None,
        "machine": machine_info(), "packages": packages(), "server_version": server_version,
        "server": f"external {args.external}" if args.external else "local: aiocql.testing launcher, benchmark mode",
        **settings, "page_size": w.PAGE_SIZE, "clients": clients, "unavailable": unavailable,
        "descriptions": {name: CLIENTS[name].description for name in args.clients},
        "elapsed_s": round(time.monotonic() - began, 1), "loadavg_start": loadavg_start,
        "loadavg_end": loadavg(), "notes": server.notes,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps({"meta": meta, "cells": cells}, indent=1))
    text = report.write_report(path, docs=args.docs, docs_dir=Path(__file__).parent.parent / "docs")
    print(text)
    log(f"wrote {path} (+ .md, .png) in {meta['elapsed_s'] / 60:.1f} min")
    return 0


def measure(
    settings: dict[str, Any], clients: list[str], hosts: list[str], server_pid: int | None, session: Any
) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = []
    key_base = 0
    orders = plan_orders(clients, settings["rounds"])
    for round_no, order in enumerate(orders):
        log(f"round {round_no + 1}/{settings['rounds']}: {', '.join(order)}")
        for workload in settings["workloads"]:
            for client in order:
                spec = CLIENTS[client]
                levels = [1] if workload == w.SCAN else list(settings["concurrency"])
                if spec.max_concurrency is not None:
                    levels = [c for c in levels if c <= spec.max_concurrency]
                if not levels:
                    continue
                params = []
                for _ in levels:
                    params.append({"key_base": key_base, "tag": uuid.uuid4().hex[:10]})
                    key_base += w.WRITE_KEYS
                job = {
                    "client": client, "workload": workload, "concurrencies": levels, "cells": params,
                    "hosts": hosts, "scan_rows": settings["scan_rows"], "warmup_s": settings["warmup_s"],
                    "measure_s": settings["measure_s"], "scan_timeout_s": settings["scan_timeout_s"],
                    "server_pid": server_pid, "round": round_no,
                }  # fmt: skip
                budget = 60 + len(levels) * (settings["warmup_s"] + settings["measure_s"] + 70)
                if workload == w.SCAN:
                    budget += settings["scan_timeout_s"] + 60
                results = run_worker(job, budget)
                for result, cell in zip(results, params, strict=False):
                    result["round"] = round_no
                    result["check"] = check(session, workload, result, cell)
                    cells.append(result)
                    log(summary_line(result))
    return cells


def check(session: Any, workload: str, result: dict[str, Any], cell: dict[str, Any]) -> str:
    """Returns "ok", "partial" (scan hit its time cap) or what went wrong (errors, writes not read back)."""
    if "fatal" in result:
        return f"fatal: {result['fatal']}"
    if result.get("errors"):
        return f"{result['errors']} errors, first: {result.get('first_error', '')}"
    if workload in (w.INSERT, w.BATCH):
        wrong = schema.verify_writes(session, workload, w.CellParams(cell["key_base"], cell["tag"]), result["issued"])
        if wrong:
            return f"write check failed: {wrong}"
    return "partial" if result.get("partial") else "ok"


def summary_line(r: dict[str, Any]) -> str:
    if "fatal" in r:
        return f"  {r['client']:<27} {r['workload']:<10} FATAL {r['fatal'][:200]}"
    rate = r["rows_per_s"] if r["workload"] == w.SCAN else r["ops_per_s"]
    return (
        f"  {r['client']:<27} {r['workload']:<10} c={r['concurrency']:<5} {rate:>10,.0f}/s "
        f"cpu {report.fmt(r['cpu_us_per_op']):>6} us  p99 {report.fmt(r['p99_ms']):>6} ms  "
        f"threads {r['threads_max']}  {r['check']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
