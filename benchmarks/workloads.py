"""The workloads every client runs: statements, data, which key request ``i`` touches, expected results.

All clients prepare the same CQL text and derive keys and values from the same functions, so a client
that returns the wrong row, drops a write or loses scan rows is caught (see ``check_*`` and
:mod:`benchmarks.schema` for the read-back of writes).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

KEYSPACE = "aiocql_bench"
KV_ROWS = 10_000  # rows of ``kv`` and ``wide`` (point reads cycle over them)
WRITE_KEYS = 8_192  # keys one cell's inserts (and batches) cycle over, from its ``key_base``
BATCH_SIZE = 10
SCAN_ROWS_PER_PARTITION = 100
PAGE_SIZE = 5_000

POINT_READ = "point_read"
INSERT = "insert"
WIDE_READ = "wide_read"
BATCH = "batch"
SCAN = "scan"
WORKLOADS = (POINT_READ, INSERT, WIDE_READ, BATCH, SCAN)
OP_WORKLOADS = (POINT_READ, INSERT, WIDE_READ, BATCH)  # request/response; SCAN is one paged query

# rows one request of each op workload returns (scan rows are counted instead)
ROWS_PER_OP = {POINT_READ: 1, INSERT: 0, WIDE_READ: 1, BATCH: 0}

WIDE_COLUMNS = (
    "k", "c_text", "c_bigint", "c_double", "c_bool", "c_uuid", "c_ts", "c_blob", "c_list", "c_map",
)  # fmt: skip

CQL = {
    POINT_READ: "SELECT k, v FROM kv WHERE k = ?",
    INSERT: "INSERT INTO kv_write (k, v) VALUES (?, ?)",
    WIDE_READ: f"SELECT {', '.join(WIDE_COLUMNS)} FROM wide WHERE k = ?",
    BATCH: "INSERT INTO batch_write (p, c, v) VALUES (?, ?, ?)",  # BATCH_SIZE of these, one partition
}


def scan_table(rows: int) -> str:
    """The scan table holding ``rows`` rows (one table per size, so a quick run does not reload 1M)."""
    return f"scan_{rows}"


def scan_cql(rows: int) -> str:
    """Full-table paged scan: what an export or a batch job does."""
    return f"SELECT p, c, a, b FROM {scan_table(rows)}"


@dataclass(frozen=True, slots=True)
class Conf:
    """What a client adapter needs to know, the same for every client in a run."""

    hosts: tuple[str, ...]
    workload: str
    scan_rows: int
    keyspace: str = KEYSPACE
    page_size: int = PAGE_SIZE
    compression: bool = False  # LZ4 for every client that can (``--compression lz4``)
    protocol: int | None = None  # None: each client's default (negotiated); 4: every client pinned to v4
    row_factory: str = "default"  # the client's default row type, or "tuple" / "named_tuple" for a variant


@dataclass(frozen=True, slots=True)
class CellParams:
    """Per measured cell: where this cell's writes go and the value tag that proves they are its own."""

    key_base: int
    tag: str
    extra: dict[str, Any] = field(default_factory=dict)


# -- keys and values --------------------------------------------------------------------------------
def read_key(i: int) -> int:
    """Key of ``kv``/``wide`` read by request ``i``."""
    return (i * 7_919) % KV_ROWS


def write_key(cell: CellParams, i: int) -> int:
    """Key (or batch partition) written by request ``i`` of a cell."""
    return cell.key_base + i % WRITE_KEYS


def kv_value(k: int) -> str:
    return f"value-{k:08d}"


def write_value(tag: str, k: int) -> str:
    return f"{tag}-{k}"


def batch_value(tag: str, p: int, c: int) -> str:
    return f"{tag}-{p}-{c}"


_EPOCH = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def wide_row(k: int) -> tuple[Any, ...]:
    """The 10 columns of ``wide`` row ``k``: int, text, bigint, double, boolean, uuid, timestamp, blob,
    list<int>, map<text, int>."""
    return (
        k,
        f"text-{k}-" + "x" * 20,
        k * 1_000_003,
        k / 8.0,
        k % 2 == 0,
        uuid.UUID(int=(k * 0x9E3779B97F4A7C15) % (1 << 128)),
        _EPOCH + datetime.timedelta(seconds=k),
        k.to_bytes(4, "big") * 4,
        [k, k + 1, k + 2],
        {"a": k, "b": -k},
    )


def scan_partitions(rows: int) -> int:
    if rows % SCAN_ROWS_PER_PARTITION:
        raise ValueError(f"scan rows must be a multiple of {SCAN_ROWS_PER_PARTITION}")
    return rows // SCAN_ROWS_PER_PARTITION


def scan_a(p: int, c: int) -> int:
    return p * 1_000 + c


def scan_b(p: int, c: int) -> str:
    return f"row-{p}-{c}"


def scan_expected_sum(rows: int) -> int:
    """Sum of column ``a`` over the whole scan table (every client sums it while scanning)."""
    n, per = scan_partitions(rows), SCAN_ROWS_PER_PARTITION
    return 1_000 * per * n * (n - 1) // 2 + n * per * (per - 1) // 2


# -- checks (cheap: run on every request) -----------------------------------------------------------
class CheckFailed(Exception):
    """A client returned something other than the expected result."""


def check_point_row(k: int, got_k: Any, got_v: Any) -> None:
    if got_k != k or got_v != kv_value(k):
        raise CheckFailed(f"point read {k}: got ({got_k!r}, {got_v!r})")


def check_wide_row(k: int, values: tuple[Any, ...] | list[Any]) -> None:
    """Every column was materialized by the adapter; compare the cheap ones."""
    if len(values) != len(WIDE_COLUMNS) or values[0] != k or values[2] != k * 1_000_003 or values[3] != k / 8.0:
        raise CheckFailed(f"wide read {k}: got {values!r}")


def check_scan(rows: int, total: int, expected_rows: int) -> None:
    expected_total = scan_expected_sum(expected_rows)
    if rows != expected_rows or total not in (expected_total, -1):
        raise CheckFailed(f"scan: {rows} rows (expected {expected_rows}), sum(a) {total} (expected {expected_total})")
