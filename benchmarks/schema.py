"""Schema and data, created and loaded once per run with cassandra-driver; read-back checks of writes.

Tables (keyspace ``aiocql_bench``, SimpleStrategy RF 1):
  kv(k int PK, v text)                      10,000 rows, point reads
  kv_write(k int PK, v text)                prepared inserts land here
  wide(k int PK, 9 columns of mixed types)  10,000 rows, the 10-column read
  batch_write(p int, c int, v text, PK (p, c))   unlogged single-partition batches of 10 inserts
  scan_<N>(p int, c int, a bigint, b text, PK (p, c))   N rows in N/100 partitions of 100 rows
  bench_meta(name text PK, value bigint)    what has been loaded, so a second run does not reload

The scan is a full-table paged ``SELECT`` over many partitions (what an export job does), not one
partition of 1M clustering rows: partitions that large are an anti-pattern real schemas avoid.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from cassandra.cluster import Cluster, Session
from cassandra.concurrent import execute_concurrent, execute_concurrent_with_args
from cassandra.query import BatchStatement, BatchType

from benchmarks import workloads as w

DATA_VERSION = 2  # bump when generated data changes: tables are reloaded

TABLES = [
    "CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v text)",
    "CREATE TABLE IF NOT EXISTS kv_write (k int PRIMARY KEY, v text)",
    "CREATE TABLE IF NOT EXISTS wide (k int PRIMARY KEY, c_text text, c_bigint bigint, c_double double, "
    "c_bool boolean, c_uuid uuid, c_ts timestamp, c_blob blob, c_list list<int>, c_map map<text, int>)",
    "CREATE TABLE IF NOT EXISTS batch_write (p int, c int, v text, PRIMARY KEY (p, c))",
    "CREATE TABLE IF NOT EXISTS bench_meta (name text PRIMARY KEY, value bigint)",
]


def connect(hosts: Iterable[str]) -> tuple[Cluster, Session]:
    cluster = Cluster(list(hosts))
    return cluster, cluster.connect()


def server_version(session: Session) -> str:
    row = session.execute("SELECT release_version FROM system.local").one()
    return str(row.release_version)


def _loaded(session: Session, name: str) -> int:
    row = session.execute("SELECT value FROM bench_meta WHERE name = %s", (name,)).one()
    return int(row.value) if row else -1


def _mark(session: Session, name: str, value: int) -> None:
    session.execute("INSERT INTO bench_meta (name, value) VALUES (%s, %s)", (name, value))


def prepare_data(session: Session, scan_rows: int, log: Callable[[str], None] = print) -> None:
    """Create the keyspace and tables, load what is missing; truncate the write tables."""
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {w.KEYSPACE} "
        "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    session.set_keyspace(w.KEYSPACE)
    for ddl in TABLES:
        session.execute(ddl)
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {w.scan_table(scan_rows)} (p int, c int, a bigint, b text, PRIMARY KEY (p, c))"
    )
    session.cluster.control_connection.wait_for_schema_agreement()
    for table in ("kv_write", "batch_write"):
        session.execute(f"TRUNCATE {table}", timeout=120)
    if _loaded(session, "point_tables") != DATA_VERSION:
        began = time.monotonic()
        kv = session.prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
        wide = session.prepare(f"INSERT INTO wide ({', '.join(w.WIDE_COLUMNS)}) VALUES ({', '.join('?' * 10)})")
        _run(execute_concurrent_with_args(session, kv, [(k, w.kv_value(k)) for k in range(w.KV_ROWS)], 128))
        _run(execute_concurrent_with_args(session, wide, [w.wide_row(k) for k in range(w.KV_ROWS)], 128))
        _mark(session, "point_tables", DATA_VERSION)
        log(f"loaded kv and wide ({w.KV_ROWS:,} rows each) in {time.monotonic() - began:.1f}s")
    name = w.scan_table(scan_rows)
    if _loaded(session, name) != DATA_VERSION:
        began = time.monotonic()
        session.execute(f"TRUNCATE {name}", timeout=120)
        insert = session.prepare(f"INSERT INTO {name} (p, c, a, b) VALUES (?, ?, ?, ?)")

        def batches() -> Iterable[tuple[BatchStatement, None]]:
            for p in range(w.scan_partitions(scan_rows)):
                batch = BatchStatement(BatchType.UNLOGGED)
                for c in range(w.SCAN_ROWS_PER_PARTITION):
                    batch.add(insert, (p, c, w.scan_a(p, c), w.scan_b(p, c)))
                yield batch, None

        _run(execute_concurrent(session, batches(), concurrency=32))
        _mark(session, name, DATA_VERSION)
        log(f"loaded {name} ({scan_rows:,} rows) in {time.monotonic() - began:.1f}s")
    count = session.execute(f"SELECT count(*) FROM {name}", timeout=300).one()[0]
    if count != scan_rows:
        raise RuntimeError(f"{name} holds {count} rows, expected {scan_rows}")


def _run(results: Iterable[Any]) -> None:
    for ok, result in results:
        if not ok:
            raise RuntimeError(f"loading failed: {result!r}")


def verify_writes(session: Session, workload: str, cell: w.CellParams, issued: int, samples: int = 32) -> str:
    """Read back a sample of what a cell wrote; returns "" when all match, else what is wrong."""
    span = min(issued, w.WRITE_KEYS)
    if span <= 0:
        return "no writes to check"
    picks = sorted(set(random.Random(cell.tag).sample(range(span), min(samples, span))) | {0, span - 1})
    for offset in picks:
        key = cell.key_base + offset
        if workload == w.INSERT:
            row = session.execute("SELECT v FROM kv_write WHERE k = %s", (key,)).one()
            if row is None or row.v != w.write_value(cell.tag, key):
                return f"kv_write[{key}] = {row and row.v!r}, expected {w.write_value(cell.tag, key)!r}"
        elif workload == w.BATCH:
            got = {r.c: r.v for r in session.execute("SELECT c, v FROM batch_write WHERE p = %s", (key,))}
            want = {c: w.batch_value(cell.tag, key, c) for c in range(w.BATCH_SIZE)}
            if got != want:
                return f"batch_write[{key}] = {got!r}, expected {want!r}"
    return ""
