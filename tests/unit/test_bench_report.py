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
            cell("cassandra-driver-sync", SCAN, 1, r, rows_per_s=200_000.0, cpu_us_per_op=0.5),
            cell("cassandra-driver-callbacks", SCAN, 1, r, rows_per_s=300_000.0, cpu_us_per_op=0.6),
            # the named-tuple variant is faster here on purpose: it must not be taken as the fair peer
            cell("cassandra-driver-callbacks-named", SCAN, 1, r, rows_per_s=900_000.0, cpu_us_per_op=0.1),
            cell("acsylla", "point_read", 128, r, ops_per_s=3000.0, cpu_us_per_op=20.0),
            cell("acsylla", SCAN, 1, r, rows_per_s=500_000.0, cpu_us_per_op=0.4),
        ]
    return cells


def test_targets_met() -> None:
    summary = report.summarize(_fixture_cells(aiocql_ops=1600.0, aiocql_cpu=60.0, aiocql_scan=480_000.0, threads=1))
    got = {t.name: t for t in report.targets(summary) if t.client == "aiocql"}
    throughput, cpu, cpu_acsylla, scan, scan_cpu, scan_cpu_acsylla, rss, lag, threads = got.values()
    assert throughput.value == pytest.approx(1.6) and throughput.met
    assert cpu.value == pytest.approx(0.6) and cpu.met
    assert scan.value == pytest.approx(1.6) and scan.met  # against the fastest cassandra-driver tuple style
    assert "cassandra-driver-callbacks " in scan.detail and "named" not in scan.detail
    assert threads.value == 1 and threads.met
    # comparisons without a goal: ratios only, never "met"
    assert cpu_acsylla.value == pytest.approx(3.0) and cpu_acsylla.met is None and "acsylla" in cpu_acsylla.detail
    assert scan_cpu.value is None  # aiocql's scan CPU is not in the fixture
    assert scan_cpu_acsylla.met is None
    assert rss.value is None and rss.met is None and lag.value is None and lag.met is None  # not in the fixture


def test_targets_missed_and_not_measured() -> None:
    summary = report.summarize(_fixture_cells(aiocql_ops=1400.0, aiocql_cpu=80.0, aiocql_scan=400_000.0, threads=3))
    mine = [t for t in report.targets(summary) if t.client == "aiocql"]
    assert [t.met for t in mine] == [False, False, None, False, None, None, None, None, False]
    assert mine[1].value == pytest.approx(0.8)
    uvloop = [t for t in report.targets(summary) if t.client == "aiocql-uvloop"]
    assert all(t.met is None and t.value is None for t in uvloop)


def test_scan_cpu_per_row_against_the_cheapest_tuple_style_and_acsylla() -> None:
    cells = _fixture_cells(1600.0, 60.0, 480_000.0, 1)
    cells += [cell("aiocql", SCAN, 1, r, rows_per_s=480_000.0, cpu_us_per_op=1.0) for r in range(3)]
    got = {t.name: t for t in report.targets(report.summarize(cells)) if t.client == "aiocql"}
    vs_driver = got["scan: client CPU per row vs cassandra-driver (its cheapest style, tuple_factory)"]
    assert vs_driver.value == pytest.approx(2.0) and "cassandra-driver-sync" in vs_driver.detail  # 0.5, not 0.1
    assert got["scan: client CPU per row vs acsylla"].value == pytest.approx(2.5)
    assert "2.50x" in report.targets_table(list(got.values()))


def test_wire_table_shows_client_and_server_views() -> None:
    cells = [
        cell("aiocql", "point_read", 128, 0, info={"protocol": 5, "compression": "lz4", "row_factory": "named",
             "connections": 2}, server_view={"protocol": [5], "compression": ["lz4"], "connections": 2}),
        cell("acsylla", "point_read", 128, 0, info={"protocol": None, "row_factory": "Row.as_tuple"},
             server_view={"protocol": [4], "compression": ["none"], "connections": 2}),
        {"client": "scyllapy", "workload": "point_read", "fatal": "boom"},
    ]  # fmt: skip
    table = report.wire_table(cells)
    assert "| aiocql | 5 / 5 | lz4 / lz4 | named | 2 / 2 | 1 |" in table
    assert "| acsylla | - / 4 | - / none | Row.as_tuple | - / 2 | 1 |" in table
    assert "scyllapy" not in table


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


def test_own_ports_finds_this_process_connections() -> None:
    import socket

    from benchmarks import wire

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            with accepted:
                assert wire.own_ports(port) == [client.getsockname()[1]]
        assert wire.own_ports(port) == []


def test_server_view_summary_keeps_only_the_workers_connections() -> None:
    from types import SimpleNamespace

    from benchmarks import wire

    rows = [
        SimpleNamespace(port=1001, protocol_version=5, client_options={"COMPRESSION": "LZ4"}, driver_name="aiocql"),
        SimpleNamespace(port=1002, protocol_version=5, client_options={"COMPRESSION": "lz4"}, driver_name="aiocql"),
        SimpleNamespace(port=2000, protocol_version=4, client_options={}, driver_name="someone else"),
    ]
    view = wire.summarize_clients(rows, [1001, 1002, 1003])
    assert view == {"connections": 2, "protocol": [5], "compression": ["lz4"], "driver": ["aiocql"],
                    "ports_not_seen": 1}  # fmt: skip


def test_floor_asks_for_the_next_page_before_the_current_one_has_arrived() -> None:
    import asyncio
    import struct

    from benchmarks.adapters import raw_floor as rf

    def reply(stream: int, rows: int, paging: bytes | None, payload: int) -> bytes:
        flags = 0x0004 | (rf.ROWS_HAS_MORE_PAGES if paging is not None else 0)  # NO_METADATA (skip_metadata)
        body = struct.pack(">iii", rf.KIND_ROWS, flags, 4)
        if paging is not None:
            body += struct.pack(">i", len(paging)) + paging
        body += struct.pack(">i", rows) + b"\x00" * payload  # the rows themselves are never read
        return struct.pack(">BBhBi", rf.RESPONSE_V4, 0, stream, rf.OP_RESULT, len(body)) + body

    class Transport:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.sent.append(data)

    async def scenario() -> None:
        proto = rf.FloorProtocol()
        transport = Transport()
        proto.transport = transport  # type: ignore[assignment]
        scan = rf.Scan(proto, b"id", 5000, stop_at=float("inf"))
        proto.scan = scan
        assert len(transport.sent) == 1  # the first page
        first = reply(scan.stream, 5000, b"state-1", 100_000)
        proto.data_received(first[:60])  # header, paging state and a little of the rows
        assert len(transport.sent) == 2 and transport.sent[1].endswith(b"state-1")
        proto.data_received(first[60:])
        assert len(transport.sent) == 2 and not scan.done.done()  # asked once, not twice
        last = reply(scan.stream, 1234, None, 10)  # arrives whole: no next page
        proto.data_received(last)
        assert len(transport.sent) == 2
        assert await scan.done == 6234

    asyncio.run(scenario())


def test_scan_peak_rss_and_loop_lag_targets() -> None:
    cells = _fixture_cells(1600.0, 60.0, 480_000.0, 1)
    cells = [
        c for c in cells if not (c["client"] in ("aiocql", "cassandra-driver-callbacks") and c["workload"] == SCAN)
    ]
    for r, (rss, lag, busy) in enumerate([(34.0, 12.0, 3.0), (36.0, 30.0, 4.0), (35.0, 8.0, 2.5)]):
        cells.append(cell("aiocql", SCAN, 1, r, rows_per_s=480_000.0, peak_rss_mb=rss, loop_lag_max_ms=lag,
                          loop_busy_lag_max_ms=busy))  # fmt: skip
        cells.append(cell("cassandra-driver-callbacks", SCAN, 1, r, rows_per_s=300_000.0, peak_rss_mb=53.0))
    got = {t.name: t for t in report.targets(report.summarize(cells)) if t.client == "aiocql"}
    rss = got["scan: peak RSS vs cassandra-driver (execute_async, tuple_factory)"]
    assert rss.value == pytest.approx(35.0 / 53.0) and rss.met  # medians: 35 MB vs 53 MB, under 0.7x
    lag = got["scan: worst loop lag while the rows stream"]
    assert lag.value == 12.0 and lag.met is False and "3.00 ms" in lag.detail  # the median round's lag
