"""The benchmark report's arithmetic: medians over rounds, targets, percentiles, round order (no server)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.metrics import percentile
from benchmarks.run import plan_orders
from benchmarks.workloads import SCAN, scan_a, scan_expected_sum, scan_partitions


def cell(client: str, workload: str, concurrency: int, round_no: int, **values: Any) -> dict[str, Any]:
    base = {"client": client, "workload": workload, "concurrency": concurrency, "round": round_no,
            "ops_per_s": None, "rows_per_s": None, "cpu_us_per_op": None, "threads_max": 1, "errors": 0,
            "check": "ok", "window_s": 1.0, "others_cpu_s": 0.0}  # fmt: skip
    return base | values


def test_median_skips_missing_values() -> None:
    assert report.median([3, None, 1, 2]) == 2
    assert report.median([1.0, 4.0]) == 2.5
    assert report.median([None, math.nan]) is None
    assert report.median([]) is None


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 1001))
    assert percentile(values, 50) == 500
    assert percentile(values, 99) == 990
    assert percentile(values, 99.9) == 999
    assert percentile([7], 99.9) == 7
    assert math.isnan(percentile([], 50))


def test_summarize_takes_medians_sums_errors_and_max_threads() -> None:
    cells = [
        cell("aiocql", "point_read", 128, 0, ops_per_s=100.0, cpu_us_per_op=10.0, threads_max=1),
        cell("aiocql", "point_read", 128, 1, ops_per_s=300.0, cpu_us_per_op=30.0, errors=2, check="2 errors: x"),
        cell("aiocql", "point_read", 128, 2, ops_per_s=200.0, cpu_us_per_op=20.0, threads_max=2),
        {"client": "aiocql", "workload": "insert", "fatal": "boom"},
    ]
    (s,) = report.summarize(cells)
    assert (s.client, s.workload, s.concurrency, s.rounds) == ("aiocql", "point_read", 128, 3)
    assert s.throughput == 200.0
    assert s.get("cpu_us_per_op") == 20.0
    assert s.errors == 2
    assert s.threads_max == 2
    assert s.problems == ["2 errors: x"]


def test_scan_throughput_is_rows_per_second() -> None:
    (s,) = report.summarize([cell("aiocql", SCAN, 1, 0, ops_per_s=0.5, rows_per_s=500_000.0)])
    assert s.throughput == 500_000.0


def _fixture_cells(aiocql_ops: float, aiocql_cpu: float, aiocql_scan: float, threads: int) -> list[dict[str, Any]]:
    cells = []
    for r in range(3):
        cells += [
            cell("aiocql", "point_read", 128, r, ops_per_s=aiocql_ops, cpu_us_per_op=aiocql_cpu, threads_max=threads),
            cell("aiocql", SCAN, 1, r, rows_per_s=aiocql_scan),
            cell("cassandra-driver-asyncio", "point_read", 128, r, ops_per_s=1000.0, cpu_us_per_op=200.0),
            cell("cassandra-driver-callbacks", "point_read", 128, r, ops_per_s=1200.0, cpu_us_per_op=100.0),
            cell("cassandra-driver-sync", SCAN, 1, r, rows_per_s=200_000.0),
            cell("cassandra-driver-callbacks", SCAN, 1, r, rows_per_s=300_000.0),
        ]
    return cells


def test_targets_met() -> None:
    summary = report.summarize(_fixture_cells(aiocql_ops=1600.0, aiocql_cpu=60.0, aiocql_scan=480_000.0, threads=1))
    got = {t.name: t for t in report.targets(summary) if t.client == "aiocql"}
    throughput, cpu, scan, threads = got.values()
    assert throughput.value == pytest.approx(1.6) and throughput.met
    assert cpu.value == pytest.approx(0.6) and cpu.met
    assert scan.value == pytest.approx(1.6) and scan.met  # against the fastest cassandra-driver style
    assert "cassandra-driver-callbacks" in scan.detail
    assert threads.value == 1 and threads.met


def test_targets_missed_and_not_measured() -> None:
    summary = report.summarize(_fixture_cells(aiocql_ops=1400.0, aiocql_cpu=80.0, aiocql_scan=400_000.0, threads=3))
    mine = [t for t in report.targets(summary) if t.client == "aiocql"]
    assert [t.met for t in mine] == [False, False, False, False]
    assert mine[1].value == pytest.approx(0.8)
    uvloop = [t for t in report.targets(summary) if t.client == "aiocql-uvloop"]
    assert all(t.met is None and t.value is None for t in uvloop)


def test_markdown_and_docs_section(tmp_path: Path) -> None:
    result = {
        "meta": {"date": "2024-01-01", "command": "python -m benchmarks.run --quick", "mode": "quick",
                 "machine": {"nproc": 2, "ram_gib": 24, "cpu_model": "cpu", "kernel": "k", "python": "3.11"},
                 "server_version": "5.0.9", "server": "local", "packages": {"aiocql": "0.1"}, "rounds": 3,
                 "warmup_s": 0.3, "measure_s": 1.0, "scan_rows": 100_000, "page_size": 5000, "scan_timeout_s": 4},
        "cells": _fixture_cells(1600.0, 60.0, 480_000.0, 1),
    }  # fmt: skip
    text = report.markdown(result, "chart.png")
    assert "QUICK MODE" in text and "![side-by-side chart](chart.png)" in text
    assert "| aiocql | 128 | 1,600 | 60.0 |" in text
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Row decoding (sans-I/O)\n\nkept\n")
    report.update_docs(docs, text)
    report.update_docs(docs, text.replace("1,600", "1,700"))
    final = docs.read_text()
    assert "## Row decoding (sans-I/O)\n\nkept" in final
    assert final.count(report.DOCS_BEGIN) == 1 and "1,700" in final and "1,600" not in final


def test_fmt() -> None:
    assert report.fmt(None) == "-"
    assert report.fmt(123456.7) == "123,457"
    assert report.fmt(12.345) == "12.3"
    assert report.fmt(0.012345) == "0.0123"


def test_round_orders_rotate_and_alternate() -> None:
    orders = plan_orders(["a", "b", "c"], 4)
    assert orders == [["a", "b", "c"], ["c", "b", "a"], ["b", "c", "a"], ["a", "c", "b"]]
    assert {o[0] for o in orders} == {"a", "b", "c"}  # nobody is always first


def test_scan_checksum_matches_generated_data() -> None:
    rows = 1_000
    expected = sum(scan_a(p, c) for p in range(scan_partitions(rows)) for c in range(100))
    assert scan_expected_sum(rows) == expected
