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
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks import py312, report, schema, wire
from benchmarks import workloads as w
from benchmarks.adapters import CLIENTS, runs, unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
# Concurrency levels per workload: point reads at 1 (latency) and 128 (the targets' level), the other
# workloads at 128; --concurrency asks for more. 5 rounds of 3 s windows stay under 25 min on 2 cores.
FULL: dict[str, Any] = {
    "workloads": list(w.WORKLOADS),
    "concurrency": {w.POINT_READ: [1, 128], w.INSERT: [128], w.WIDE_READ: [128], w.BATCH: [128]},
    "rounds": 5, "warmup_s": 0.5, "measure_s": 3.0, "scan_rows": 1_000_000, "scan_timeout_s": 5.0,
}  # fmt: skip
QUICK: dict[str, Any] = {"workloads": [w.POINT_READ, w.SCAN], "concurrency": {w.POINT_READ: [1, 128]}, "rounds": 2,
         "warmup_s": 0.2, "measure_s": 0.8, "scan_rows": 100_000, "scan_timeout_s": 3.0}  # fmt: skip
QUICK_NOTE = "point read and scan only, concurrency 1 and 128, 2 rounds of 0.8 s cells, scan of 100,000 rows"
PORT_WAIT_S = 300.0


def log(message: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"under 3 minutes: {QUICK_NOTE}")
    parser.add_argument("--clients", nargs="+", choices=list(CLIENTS), default=list(CLIENTS))
    parser.add_argument("--workloads", nargs="+", choices=list(w.WORKLOADS))
    parser.add_argument("--concurrency", nargs="+", type=int, help="levels for every request/response workload")
    parser.add_argument("--compression", choices=["none", "lz4"], default="none",
                        help="LZ4 for every client that can compress (default: off for all)")  # fmt: skip
    parser.add_argument("--protocol", type=int, choices=[4], help="pin every client to protocol v4 (default: each "
                        "client's own default, negotiated)")  # fmt: skip
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
    for name in ("aiocql", "cassandra-driver", "acsylla", "scyllapy", "uvloop", "lz4"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    out["python3.12 + async-cassandra"] = py312.version()
    return out


def measured_commit() -> dict[str, Any]:
    """The commit of the aiocql being measured (the benchmarks import it from this checkout)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    import aiocql

    here = Path(aiocql.__file__).resolve().parent.parent == ROOT
    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "subject": git("log", "-1", "--format=%s"),
        "aiocql_modified": bool(git("status", "--porcelain", "--", "aiocql")),
        "aiocql_from_this_checkout": here,
    }


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
        host = self.cluster.contact_points[0]
        while port_open(host):
            if waited >= PORT_WAIT_S:
                raise SystemExit(f"port 9042 on {host} is still taken by another Cassandra; giving up")
            if waited == 0:
                log(f"port 9042 on {host} is taken (someone else's test Cassandra?): waiting up to 5 min")
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


def _python(client: str) -> str | None:
    return sys.executable if CLIENTS[client].python == "main" else py312.interpreter()


def run_worker(job: dict[str, Any], timeout: float, session: Any) -> list[dict[str, Any]]:
    """One worker process; answers its ``WIRE`` line with the server's view of its connections."""
    python = _python(job["client"])
    if python is None:
        return [{"client": job["client"], "workload": job["workload"], "fatal": "no interpreter for this client"}]
    cmd = [python, "-m", "benchmarks.worker", json.dumps(job | {"handshake": True})]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        assert proc.stdout is not None and proc.stdin is not None
        deadline, pending, fatal = time.monotonic() + timeout, b"", None
        fd = proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fatal = f"worker timed out after {timeout:.0f}s"
                proc.kill()
                break
            if not select.select([fd], [], [], min(left, 5.0))[0]:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                if line.startswith("WIRE "):
                    view = wire.server_view(session, json.loads(line[5:]))
                    try:
                        proc.stdin.write((json.dumps(view) + "\n").encode())
                        proc.stdin.flush()
                    except OSError:
                        pass
                elif line.startswith("RESULT "):
                    results.append(json.loads(line[7:]))
        proc.wait()
        if fatal is not None:
            results.append({"client": job["client"], "workload": job["workload"], "fatal": fatal})
        if not results:
            err.seek(0)
            tail = err.read().strip().splitlines()[-5:]
            results = [{"client": job["client"], "workload": job["workload"], "fatal": " | ".join(tail)[:500]}]
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    base = dict(QUICK if args.quick else FULL)
    workloads = args.workloads or base["workloads"]
    levels = base["concurrency"]
    if args.concurrency:
        levels = {wl: sorted(args.concurrency) for wl in w.OP_WORKLOADS}
    elif args.workloads:  # a workload asked for by name runs at the levels of the full run if quick has none
        levels = {wl: levels.get(wl) or FULL["concurrency"][wl] for wl in w.OP_WORKLOADS}
    settings: dict[str, Any] = {
        "workloads": workloads,
        "concurrency": {wl: v for wl, v in levels.items() if wl in workloads},
        "compression": args.compression,
        "protocol": args.protocol,
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
            loadavg_end = loadavg()
        finally:
            cluster.shutdown()
    finally:
        server.stop()
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "mode": mode, "quick_note": QUICK_NOTE if args.quick else None,
        "machine": machine_info(), "packages": packages(), "server_version": server_version,
        "measured": measured_commit(),
        "server": f"external {args.external}" if args.external else "local: aiocql.testing launcher, benchmark mode",
        **settings, "page_size": w.PAGE_SIZE, "clients": clients, "unavailable": unavailable,
        "descriptions": {name: CLIENTS[name].description for name in args.clients},
        "elapsed_s": round(time.monotonic() - began, 1), "loadavg_start": loadavg_start,
        "loadavg_end": loadavg_end, "notes": server.notes,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    suffix = ("-quick" if args.quick else "") + ("-lz4" if args.compression == "lz4" else "")
    suffix += f"-v{args.protocol}" if args.protocol else ""
    path = RESULTS / f"{stamp}{suffix}.json"
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
                if not runs(spec, workload):
                    continue
                levels = [1] if workload == w.SCAN else list(settings["concurrency"].get(workload, []))
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
                    "compression": settings["compression"] == "lz4", "protocol": settings["protocol"],
                }  # fmt: skip
                budget = 60 + len(levels) * (settings["warmup_s"] + settings["measure_s"] + 70)
                if workload == w.SCAN:
                    budget += settings["scan_timeout_s"] + 60
                results = run_worker(job, budget, session)
                load = loadavg()
                for result, cell in zip(results, params, strict=False):
                    result["round"] = round_no
                    result["loadavg"] = load
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
    view = r.get("server_view") or {}
    wire_text = f"v{','.join(map(str, view.get('protocol', [])))} {'/'.join(view.get('compression', []))} "
    wire_text += f"{view.get('connections', '?')} conn"
    return (
        f"  {r['client']:<32} {r['workload']:<10} c={r['concurrency']:<5} {rate:>10,.0f}/s "
        f"cpu {report.fmt(r['cpu_us_per_op']):>6} us  p99 {report.fmt(r['p99_ms']):>6} ms  "
        f"threads {r['threads_max']}  [{wire_text}]  {r['check']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
