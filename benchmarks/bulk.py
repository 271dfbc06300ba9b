"""Bulk tools side by side: ``aiocql unload/load/count`` vs DSBulk 1.10.0 vs ``cqlsh COPY``.

``python -m benchmarks.bulk [--rows 1000000] [--external HOST] [--keep-server]``

One run on one node: a table of mixed types (``bulkbench.src``: int, int, text, bigint, double, boolean,
uuid, timestamp, blob, decimal, list<int>; 10 rows per partition) is filled with ``--rows`` rows by the
aiocql driver; then each tool, as a user runs it (a subprocess with its default settings unless noted),

* unloads ``src`` to CSV (its own file or directory),
* loads its own CSV into its own empty table ``dst_<tool>``,
* counts ``src`` (cqlsh has no bulk count: ``SELECT count(*)`` of a million rows times out; not measured).

Per step: wall time, rows/s (rows / wall time, start-up included), client CPU (user + system of the
tool's process tree, from ``RUSAGE_CHILDREN``), peak RSS (the tree's summed RSS, sampled every 0.1 s),
the node's CPU seconds, the machine's load average and busy share (other users' work included: the
machine is shared). Checks: each export holds every ``(k, c)`` once with the source's ``b`` and ``t``;
each loaded table equals the source column by column (an order-free digest per column); each count
equals ``--rows``. Results go to ``benchmarks/results/bulk-<stamp>.json`` and a markdown table on stdout.

DSBulk comes from Maven Central (``com.datastax.oss:dsbulk-runner:1.10.0`` and the workflow, connector,
executor and batcher modules its distribution bundles), fetched with ``mvn dependency:copy-dependencies``
into ``~/.cache/aiocql/dsbulk`` (never into the repository); ``cqlsh`` is PyPI's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as dt
import decimal
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
KS = "bulkbench"
SCHEMA = (
    "(k int, c int, t text, b bigint, d double, f boolean, u uuid, ts timestamp, bl blob, dec decimal, l list<int>,"
    " PRIMARY KEY ((k), c))"
)
COLUMNS = ("k", "c", "t", "b", "d", "f", "u", "ts", "bl", "dec", "l")
TOOLS = ("aiocql", "aiocql2", "dsbulk", "cqlsh")  # aiocql2: aiocql with --workers 2
DSBULK_VERSION = "1.10.0"
DSBULK_MODULES = ("dsbulk-runner", "dsbulk-connectors-csv", "dsbulk-connectors-json", "dsbulk-workflow-load",
                  "dsbulk-workflow-unload", "dsbulk-batcher-reactor", "dsbulk-executor-reactor")  # fmt: skip


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- tools ------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    return Path(os.environ.get("AIOCQL_CACHE", Path.home() / ".cache" / "aiocql"))


def fetch_dsbulk() -> Path:
    """DSBulk's jars from Maven Central (once), with a generated pom in the cache."""
    home = cache_dir() / "dsbulk"
    lib = home / "lib"
    if lib.is_dir() and any(lib.glob("dsbulk-workflow-unload-*.jar")):
        return lib
    home.mkdir(parents=True, exist_ok=True)
    deps = "".join(
        f"<dependency><groupId>com.datastax.oss</groupId><artifactId>{m}</artifactId>"
        f"<version>{DSBULK_VERSION}</version></dependency>"
        for m in DSBULK_MODULES
    )
    deps += "<dependency><groupId>ch.qos.logback</groupId><artifactId>logback-classic</artifactId>"
    deps += "<version>1.2.11</version></dependency>"
    (home / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>local.aiocql</groupId><artifactId>dsbulk-fetch</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )
    log("fetching DSBulk from Maven Central")
    subprocess.run(["mvn", "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={lib}"], cwd=home,
                   check=True)  # fmt: skip
    return lib


def commands(tool: str, op: str, host: str, work: Path, lib: Path | None) -> list[str] | None:
    """The command line of one tool for one step (``None``: the tool has no such operation)."""
    table = {"unload": "src", "count": "src", "load": f"dst_{tool}"}[op]
    if tool in ("aiocql", "aiocql2"):
        base = [sys.executable, "-m", "aiocql", op, f"{KS}.{table}", "--host", host, "--no-progress"]
        if tool == "aiocql2":
            if op == "count":
                return None
            base += ["--workers", "2"]
        if op == "unload":
            return [*base, "-o", str(work / f"{tool}.csv")]
        if op == "load":  # both load the one-process export
            return [*base, "-i", str(work / "aiocql.csv"), "--bad-file", str(work / f"{tool}-bad.csv")]
        return base
    if tool == "dsbulk":
        assert lib is not None
        java = ["java", "-cp", f"{lib}/*", "com.datastax.oss.dsbulk.runner.DataStaxBulkLoader", op, "-h", host,
                "-k", KS, "-t", table, "--log.directory", str(work / "dsbulk-logs")]  # fmt: skip
        if op == "unload":
            return [*java, "-url", str(work / "dsbulk")]
        if op == "load":
            return [*java, "-url", str(work / "dsbulk"), "-header", "true"]
        # DSBulk's count workflow (dsbulk-workflow-count) is not on Maven Central: run the same per-range
        # count(*) that aiocql count runs, through DSBulk's unload workflow, and add up what it writes.
        query = f"SELECT count(*) FROM {KS}.src WHERE token(k) > :start AND token(k) <= :end"
        unload = [a if a != "count" else "unload" for a in java]
        unload = [a for a in unload if a not in ("-t", "src", "-k", KS)]
        return [*unload, "-query", query, "-url", str(work / "dsbulk-count"), "-header", "false"]
    if tool == "cqlsh":
        cqlsh = shutil.which("cqlsh") or "cqlsh"
        if op == "unload":
            return [cqlsh, host, "-e", f"COPY {KS}.src TO '{work / 'cqlsh.csv'}' WITH HEADER = true"]
        if op == "load":
            return [cqlsh, host, "-e", f"COPY {KS}.dst_cqlsh FROM '{work / 'cqlsh.csv'}' WITH HEADER = true"]
        return None
    raise ValueError(tool)


# -- measuring --------------------------------------------------------------------------------------


def _machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def measure(cmd: list[str], node_pid: int | None, env: dict[str, str], logs: Path) -> dict[str, Any]:
    """Run ``cmd`` to its end; wall time, CPU of its process tree, peak RSS of the tree, context."""
    import psutil

    node = psutil.Process(node_pid) if node_pid else None
    node_cpu0 = sum(node.cpu_times()[:2]) if node else 0.0
    busy0, total0 = _machine_busy()
    load0 = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out_path, err_path = logs.with_suffix(".out"), logs.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        rss = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, rss)
        time.sleep(0.1)
    wall = time.perf_counter() - started
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, total1 = _machine_busy()
    return {
        "command": " ".join(cmd),
        "exit_code": proc.returncode,
        "wall_s": round(wall, 2),
        "client_cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2),
        "peak_rss_mb": round(peak / 2**20, 1),
        "node_cpu_s": round(sum(node.cpu_times()[:2]) - node_cpu0, 2) if node else None,
        "machine_busy_pct": round(100 * (busy1 - busy0) / max(1.0, total1 - total0), 1),
        "loadavg_start": round(load0, 2),
        "loadavg_end": round(os.getloadavg()[0], 2),
        "stdout_tail": out_path.read_text(errors="replace")[-1500:],
        "stderr_tail": err_path.read_text(errors="replace")[-1500:],
    }


# -- data and checks --------------------------------------------------------------------------------


def row(i: int) -> tuple[Any, ...]:
    """Row ``i`` of the source table (deterministic)."""
    text = f"row {i}, with a comma" if i % 5 == 0 else f'text "{i}"' if i % 5 == 1 else f"plain{i}"
    return (
        i // 10, i % 10, text if i % 97 else None, i * 1_000_003 - 2**40, i / 7, i % 3 == 0,
        uuid.UUID(int=(i * 2654435761) % 2**128), dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i),
        i.to_bytes(4, "big"), decimal.Decimal(i) / 100, [i % 13, i % 17],
    )  # fmt: skip


async def prepare_tables(host: str, rows: int, reuse: bool) -> None:
    from aiocql import BatchStatement, BatchType, Cluster

    async with Cluster([host], request_timeout=120) as cluster:
        s = await cluster.connect()
        await s.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KS} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        have = 0
        if reuse and KS in cluster.metadata and "src" in cluster.metadata[KS].tables:
            have = (await s.execute(f"SELECT count(*) FROM {KS}.src", timeout=300)).one()[0]
        if have != rows:
            log(f"filling {KS}.src with {rows:,} rows")
            await s.execute(f"DROP TABLE IF EXISTS {KS}.src", timeout=120)
            await s.execute(f"CREATE TABLE {KS}.src {SCHEMA}", timeout=120)
            ps = await s.prepare(
                f"INSERT INTO {KS}.src ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            )
            next_partition = iter(range(0, rows, 10))

            async def worker() -> None:
                for first in next_partition:
                    batch = BatchStatement(BatchType.UNLOGGED)
                    for i in range(first, min(first + 10, rows)):
                        batch.add(ps, row(i))
                    await s.execute(batch, timeout=120)

            await asyncio.gather(*(worker() for _ in range(48)))
        for tool in TOOLS:
            await s.execute(f"DROP TABLE IF EXISTS {KS}.dst_{tool}", timeout=120)
            await s.execute(f"CREATE TABLE {KS}.dst_{tool} {SCHEMA}", timeout=120)


async def digest(host: str, table: str) -> dict[str, Any]:
    """Row count and an order-free digest per column of ``table`` (a sum of hashes of (k, c, value))."""
    from aiocql import Cluster, scan_table, tuple_factory

    sums = [0] * len(COLUMNS)
    count = 0
    async with Cluster([host], request_timeout=120, row_factory=tuple_factory) as cluster:
        s = await cluster.connect()
        async for r in scan_table(s, f"{KS}.{table}", columns=list(COLUMNS), concurrency=4, row_factory=tuple_factory):
            count += 1
            key = (r[0], r[1])
            for i in range(2, len(COLUMNS)):
                v = r[i]
                sums[i] = (sums[i] + hash((key, tuple(v) if isinstance(v, list) else v))) & 0xFFFFFFFFFFFFFFFF
    return {"rows": count, "columns": dict(zip(COLUMNS[2:], sums[2:], strict=True))}


def export_check(paths: list[Path], rows: int, backslash_escapes: bool) -> dict[str, Any]:
    """Every (k, c) once, with the source's b and t, in one tool's CSV file(s) (header first in each).

    DSBulk and cqlsh escape a quote inside a quoted field as ``\\"``; aiocql doubles it (RFC 4180)."""
    seen: set[tuple[int, int]] = set()
    wrong = dupes = total = 0
    dialect: dict[str, Any] = {"escapechar": "\\", "doublequote": False} if backslash_escapes else {}
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, **dialect)
            header = [h.strip() for h in next(reader)]
            ik, ic, ib, it = (header.index(n) for n in ("k", "c", "b", "t"))
            for rec in reader:
                total += 1
                k, c = int(rec[ik]), int(rec[ic])
                if (k, c) in seen:
                    dupes += 1
                seen.add((k, c))
                i = k * 10 + c
                src = row(i) if 0 <= i < rows else None
                if src is None or int(rec[ib]) != src[3] or (rec[it] or None) != src[2]:
                    wrong += 1
    return {"records": total, "distinct_keys": len(seen), "duplicates": dupes, "wrong": wrong,
            "ok": total == rows and len(seen) == rows and dupes == 0 and wrong == 0}  # fmt: skip


def rows_reported(tool: str, op: str, result: dict[str, Any], work: Path) -> int | None:
    """The count a tool printed (count step)."""
    if tool == "aiocql":
        lines = [ln for ln in result["stdout_tail"].splitlines() if ln.strip().isdigit()]
        return int(lines[-1]) if lines else None
    if tool == "dsbulk":
        files = sorted(Path(work).glob("dsbulk-count/*.csv"))
        return sum(int(line) for f in files for line in f.read_text().split()) if files else None
    return None


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    out = ["| step | tool | rows/s | wall s | client CPU s | CPU µs/row | peak RSS MB | node CPU s | machine busy % "
           "| load avg | check |", "|" + "---|" * 11]  # fmt: skip
    for op in ("unload", "load", "count"):
        for tool in TOOLS:
            r = results["steps"].get(op, {}).get(tool)
            if r is None:
                continue
            rate = rows / r["wall_s"] if r["wall_s"] and r["exit_code"] == 0 else 0
            cpu_us = r["client_cpu_s"] / rows * 1e6
            out.append(
                f"| {op} | {tool} | {rate:,.0f} | {r['wall_s']} | {r['client_cpu_s']} | {cpu_us:.1f} | "
                f"{r['peak_rss_mb']} | {r['node_cpu_s']} | {r['machine_busy_pct']} | "
                f"{r['loadavg_start']}→{r['loadavg_end']} | {r.get('check', '')} |"
            )
    return "\n".join(out)


def targets(results: dict[str, Any]) -> list[str]:
    rows = results["rows"]
    steps = results["steps"]

    def rate(op: str, tool: str) -> float | None:
        r = steps.get(op, {}).get(tool)
        return rows / r["wall_s"] if r and r["exit_code"] == 0 and r["wall_s"] else None

    lines = []
    for op, other, factor in (("unload", "dsbulk", 1.5), ("unload", "cqlsh", 5), ("load", "dsbulk", 1.5),
                              ("load", "cqlsh", 5), ("count", "dsbulk", 1.0)):  # fmt: skip
        for mine in ("aiocql", "aiocql2"):
            a, b = rate(op, mine), rate(op, other)
            if op == "count" and mine == "aiocql2":
                continue
            if a is None or b is None:
                lines.append(f"- {op} {mine} vs {other} (target >= {factor}x): not measured (failed or absent)")
                continue
            ratio = a / b
            verdict = "met" if ratio >= factor else "NOT met"
            lines.append(f"- {op} {mine} vs {other}: {ratio:.2f}x (target >= {factor}x): {verdict} "
                         f"({a:,.0f} vs {b:,.0f} rows/s)")  # fmt: skip
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--external", default=None, help="use a running Cassandra at HOST (start nothing)")
    ap.add_argument("--keep-server", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="keep src if it already has --rows rows")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--work", default=None, help="directory for the exported files (default: a temp dir)")
    args = ap.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    lib = fetch_dsbulk() if "dsbulk" in tools else None
    cluster = None
    if args.external:
        host, node_pid = args.external, None
    else:
        from aiocql.testing.launcher import LocalCluster

        cluster = LocalCluster(1, benchmark=True)
        log(f"starting the benchmark node on {cluster.contact_points[0]}")
        state = cluster.start()
        host, node_pid = cluster.contact_points[0], state.nodes[0].pid
    work = Path(args.work) if args.work else Path(__import__("tempfile").mkdtemp(prefix="aiocql-bulk-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    results: dict[str, Any] = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": args.rows, "host": host, "cpus": os.cpu_count(), "steps": {},
        "note": "one run; the machine is shared with other users (see machine busy % and load avg per step); "
                "no tool was niced",
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bulk-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        asyncio.run(prepare_tables(host, args.rows, args.reuse))
        source = asyncio.run(digest(host, "src"))
        results["source"] = source
        assert source["rows"] == args.rows, source
        for op in ("unload", "load", "count"):
            for tool in tools:
                cmd = commands(tool, op, host, work, lib)
                if cmd is None:
                    continue
                log(f"{op}: {tool}")
                # Remove this tool's own output of an earlier run (DSBulk refuses a non-empty directory);
                # never another tool's: the load step reads each tool's export.
                own = {
                    ("unload", "dsbulk"): [work / "dsbulk"],
                    ("unload", "aiocql"): [work / "aiocql.csv"],
                    ("unload", "aiocql2"): [work / "aiocql2-0.csv", work / "aiocql2-1.csv"],
                    ("unload", "cqlsh"): [work / "cqlsh.csv"],
                    ("count", "dsbulk"): [work / "dsbulk-count"],
                }
                for stale in own.get((op, tool), []):
                    if stale.is_dir():
                        shutil.rmtree(stale)
                    elif stale.exists():
                        stale.unlink()
                r = measure(cmd, node_pid, env, work / f"{op}-{tool}")
                if op == "unload":
                    if tool == "dsbulk":
                        paths = sorted((work / "dsbulk").glob("*.csv"))
                    elif tool == "aiocql2":
                        paths = [work / "aiocql2-0.csv", work / "aiocql2-1.csv"]
                    else:
                        paths = [work / f"{tool}.csv"]
                    found = bool(paths) and all(p.exists() for p in paths)
                    r["export"] = export_check(paths, args.rows, tool in ("dsbulk", "cqlsh")) if found else None
                    r["check"] = "same rows" if r["export"] and r["export"]["ok"] else f"MISMATCH {r['export']}"
                elif op == "load":
                    loaded = asyncio.run(digest(host, f"dst_{tool}"))
                    differ = [c for c in loaded["columns"] if loaded["columns"][c] != source["columns"][c]]
                    r["loaded"] = {"rows": loaded["rows"], "columns_differing": differ}
                    r["check"] = (
                        "equals source"
                        if loaded["rows"] == args.rows and not differ
                        else f"rows {loaded['rows']:,}, columns differing: {', '.join(differ) or 'none'}"
                    )
                else:
                    n = rows_reported(tool, op, r, work)
                    r["count"] = n
                    r["check"] = "right count" if n == args.rows else f"count {n}"
                log(f"  {r['wall_s']} s, exit {r['exit_code']}, {r['check']}")
                results["steps"].setdefault(op, {})[tool] = r
                path.write_text(json.dumps(results, indent=2, default=str))  # after each step
    finally:
        if cluster is not None and not args.keep_server:
            cluster.stop()
    path.write_text(json.dumps(results, indent=2, default=str))
    print(markdown(results))
    print()
    print("\n".join(targets(results)))
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
