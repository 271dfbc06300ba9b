"""``aiocql unload`` / ``load`` / ``count`` as a user runs them (subprocesses) against the real node:
round trips of mixed types (CSV, gzip, JSON lines), a query instead of a table, bad input reported by line
with the bad records re-loadable, exit codes, ``--workers`` processes, and a load killed with SIGKILL
mid-way then resumed from its checkpoint: every record present once, with its value and write time."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import decimal
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl

pytestmark = pytest.mark.server

MIXED = (
    "(k int, c int, t text, b bigint, d double, f boolean, u uuid, ts timestamp, bl blob, l list<int>,"
    " m map<text, int>, s set<text>, dt date, dec decimal, tu frozen<tuple<int, text>>, PRIMARY KEY ((k), c))"
)
ROWS = 1200


def _env(info: ServerInfo) -> dict[str, str]:
    env = dict(os.environ)
    env["AIOCQL_HOST"] = ",".join(info.contact_points)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def aiocql(
    info: ServerInfo, *args: str, input: bytes | None = None, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "aiocql", *args],
        env=_env(info),
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check is not None:
        assert proc.returncode == check, (
            f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}"
        )
    return proc


async def _session_run(info: ServerInfo, keyspace: str, query: str, params: Any = None) -> list[Any]:
    async with Cluster(**cluster_kwargs(info)) as cluster:
        session = await cluster.connect(keyspace)
        return await (await session.execute(query, params, fetch_size=5000)).all()


def query(info: ServerInfo, keyspace: str, q: str) -> list[Any]:
    return asyncio.run(_session_run(info, keyspace, q))


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        f"CREATE TABLE src {MIXED}",
        f"CREATE TABLE dst {MIXED}",
        f"CREATE TABLE dst_json {MIXED}",
        f"CREATE TABLE dst_workers {MIXED}",
        "CREATE TABLE kv (k int PRIMARY KEY, v text, n bigint)",
        "CREATE TABLE kv_resume (k int PRIMARY KEY, v text, n bigint)",
        "CREATE TABLE hits (k int PRIMARY KEY, n counter)",
    )

    async def fill() -> None:
        async with Cluster(**cluster_kwargs(server)) as cluster:
            session = await cluster.connect(keyspace)
            ps = await session.prepare(
                "INSERT INTO src (k, c, t, b, d, f, u, ts, bl, l, m, s, dt, dec, tu)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )
            base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

            def row(i: int) -> tuple[Any, ...]:
                text = f'quote " comma , newline \n é {i}' if i % 7 == 0 else f"text{i}"
                return (
                    i // 4, i % 4, None if i % 11 == 0 else text, i * 1_000_003, i / 3, i % 2 == 0,
                    uuid.UUID(int=i * 7919), base + dt.timedelta(milliseconds=i * 1001), bytes([i % 256, 0xFF]),
                    [i, -i], {"a": i, "b,c": -i}, {f"s{i}"}, dt.date(2020, 1, 1) + dt.timedelta(days=i),
                    decimal.Decimal(i) / 8, (i, f"x{i}"),
                )  # fmt: skip

            sem = asyncio.Semaphore(64)

            async def one(i: int) -> None:
                async with sem:
                    await session.execute(ps, row(i))

            await asyncio.gather(*(one(i) for i in range(ROWS)))

    asyncio.run(fill())


def _sorted_lines(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:  # type: ignore[operator]
        rows = list(csv.reader(f))
    return [rows[0], *sorted(rows[1:])]


def test_csv_round_trip_gzip_and_count(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    out = tmp_path / "src.csv.gz"
    done = aiocql(cassandra, "unload", f"{keyspace}.src", "-o", str(out), "--summary-json")
    summary = json.loads(done.stdout)
    assert summary["rows"] == ROWS and summary["errors"] == 0
    src = _sorted_lines(out)
    assert len(src) == ROWS + 1 and src[0][:2] == ["k", "c"]
    # One row, field by field, in the documented text forms.
    by_key = {(r[0], r[1]): dict(zip(src[0], r, strict=True)) for r in src[1:]}
    r7 = by_key[("1", "3")]  # i = 7
    assert r7["t"] == 'quote " comma , newline \n é 7' and r7["f"] == "false" and r7["bl"] == "0x07ff"
    assert r7["ts"] == "2024-01-01T00:00:07.007Z" and json.loads(r7["m"]) == {"a": 7, "b,c": -7}
    assert json.loads(r7["l"]) == [7, -7] and r7["dt"] == "2020-01-08" and r7["dec"] == "0.875"
    assert by_key[("2", "3")]["t"] == ""  # i = 11: null

    loaded = aiocql(cassandra, "load", f"{keyspace}.dst", "-i", str(out), "--summary-json")
    assert json.loads(loaded.stdout)["rows"] == ROWS
    counted = aiocql(cassandra, "count", f"{keyspace}.dst", "--summary-json")
    assert json.loads(counted.stdout)["count"] == ROWS
    again = tmp_path / "dst.csv"
    aiocql(cassandra, "unload", f"{keyspace}.dst", "-o", str(again))
    assert _sorted_lines(again) == src
    # The server agrees cell by cell for a sample (types really round-tripped, not just their text).
    a = query(cassandra, keyspace, "SELECT * FROM src WHERE k = 1")
    b = query(cassandra, keyspace, "SELECT * FROM dst WHERE k = 1")
    assert a == b and len(a) == 4


def test_json_lines_round_trip_through_stdout_and_stdin(cassandra: ServerInfo, keyspace: str) -> None:
    done = aiocql(cassandra, "unload", f"{keyspace}.src", "--format", "json", "--no-progress")
    lines = done.stdout.splitlines()
    assert len(lines) == ROWS
    first = json.loads(lines[0])
    assert isinstance(first["l"], list) and isinstance(first["f"], bool) and isinstance(first["k"], int)
    aiocql(cassandra, "load", f"{keyspace}.dst_json", "--format", "json", input=done.stdout.encode())
    a = sorted(query(cassandra, keyspace, "SELECT * FROM src"))
    b = sorted(query(cassandra, keyspace, "SELECT * FROM dst_json"))
    assert a == b and len(a) == ROWS


def test_query_instead_of_a_table(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    ranged = aiocql(
        cassandra, "unload", "--query",
        f"SELECT k, c FROM {keyspace}.src WHERE token(k) > :start AND token(k) <= :end", "--no-progress",
    )  # fmt: skip
    rows = list(csv.reader(ranged.stdout.splitlines()))
    assert rows[0] == ["k", "c"] and len(rows) == ROWS + 1 and len({tuple(r) for r in rows[1:]}) == ROWS
    plain = aiocql(cassandra, "unload", "--query", f"SELECT k, b FROM {keyspace}.src WHERE k = 3", "--no-progress")
    assert sorted(plain.stdout.splitlines()[1:]) == [f"3,{i * 1_000_003}" for i in range(12, 16)]


def test_bad_input_reported_by_line_and_reloadable(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    src = tmp_path / "kv.csv"
    src.write_text("k,v,n\n1,one,10\n2,two,notanumber\n3,three,30\nfour,4,40\n5,five,50\n")
    bad, log = tmp_path / "bad.csv", tmp_path / "errors.log"
    done = aiocql(
        cassandra, "load", f"{keyspace}.kv", "-i", str(src), "--bad-file", str(bad), "--error-log", str(log),
        "--summary-json", check=1,
    )  # fmt: skip
    summary = json.loads(done.stdout)
    assert summary["rows"] == 3 and summary["errors"] == 2 and summary["status"] == "partial"
    errors = log.read_text().splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("line 3: column 'n' (bigint):") and "record: 2,two,notanumber" in errors[0]
    assert errors[1].startswith("line 5: column 'k' (int):") and "record: four,4,40" in errors[1]
    assert bad.read_text() == "k,v,n\n2,two,notanumber\nfour,4,40\n"
    assert sorted(query(cassandra, keyspace, "SELECT k, v, n FROM kv")) == [
        (1, "one", 10),
        (3, "three", 30),
        (5, "five", 50),
    ]
    # The bad-records file is input as it stands: fixed by hand, it loads.
    bad.write_text(bad.read_text().replace("notanumber", "20").replace("four", "4"))
    aiocql(cassandra, "load", f"{keyspace}.kv", "-i", str(bad))
    assert len(query(cassandra, keyspace, "SELECT k FROM kv")) == 5


def test_exit_codes_and_clear_errors(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    missing = aiocql(cassandra, "count", f"{keyspace}.nope", check=2)
    assert f"no table {keyspace}.nope" in missing.stderr
    src = tmp_path / "cols.csv"
    src.write_text("k,zzz\n1,2\n")
    wrong = aiocql(cassandra, "load", f"{keyspace}.kv", "-i", str(src), check=2)
    assert "no column 'zzz'" in wrong.stderr
    nokey = tmp_path / "nokey.csv"
    nokey.write_text("v\nx\n")
    assert "primary key column(s) k" in aiocql(cassandra, "load", f"{keyspace}.kv", "-i", str(nokey), check=2).stderr
    garbled = tmp_path / "garbled.csv"
    garbled.write_text('k,v,n\n1,"unterminated\n')
    assert "line 2" in aiocql(cassandra, "load", f"{keyspace}.kv", "-i", str(garbled), check=2).stderr


def test_workers_processes(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    done = aiocql(cassandra, "unload", f"{keyspace}.src", "-o", str(out), "--workers", "2", "--summary-json")
    summary = json.loads(done.stdout)
    assert summary["rows"] == ROWS and summary["workers"] == 2
    parts = [tmp_path / "w-0.csv", tmp_path / "w-1.csv"]
    rows = [r for p in parts for r in _sorted_lines(p)[1:]]
    assert len(rows) == ROWS and len({(r[0], r[1]) for r in rows}) == ROWS
    assert all(len(_sorted_lines(p)) > 100 for p in parts)  # both did a share
    for p in parts:
        aiocql(cassandra, "load", f"{keyspace}.dst_workers", "-i", str(p), "--workers", "2", "--chunk-size", "100")
    assert sorted(query(cassandra, keyspace, "SELECT * FROM dst_workers")) == sorted(
        query(cassandra, keyspace, "SELECT * FROM src")
    )


def test_counter_table_load(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    src = tmp_path / "hits.csv"
    src.write_text("k,n\n" + "".join(f"{i % 10},{i}\n" for i in range(500)))
    done = aiocql(cassandra, "load", f"{keyspace}.hits", "-i", str(src), "--progress")
    # The live line (redrawn in place) and the summary, on stderr.
    assert re.search(r"\x1b\[Kload: [\d,]+ rows \| [\d,]+ rows/s \| .*errors 0", done.stderr), done.stderr
    assert re.search(r"load: 500 rows in [\d.]+ s \([\d,]+ rows/s\), 0 errors", done.stderr)
    assert re.search(r"latency p50 [\d.]+ ms, p99 [\d.]+ ms", done.stderr)
    got = dict(query(cassandra, keyspace, "SELECT k, n FROM hits"))
    assert got == {k: sum(i for i in range(500) if i % 10 == k) for k in range(10)}


def test_load_killed_with_sigkill_resumes_exactly(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    n = 30_000
    src = tmp_path / "big.csv"
    with src.open("w") as f:
        f.write("k,v,n\n")
        for i in range(n):
            f.write(f"{i},v{i * 31 % 1000},{i * 7}\n")
    ckpt = tmp_path / "load.ckpt"
    args = ["load", f"{keyspace}.kv_resume", "-i", str(src), "--checkpoint", str(ckpt), "--chunk-size", "500",
            "--rate", "6000", "--summary-json"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "aiocql", *args], env=_env(cassandra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once some chunks are done, well before the end
        if ckpt.exists() and ckpt.read_text().count("\nD ") >= 8:
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = ckpt.read_text().count("\nD ")
    assert done_before < n // 500, "the load finished before it could be killed: slow it down"
    written = len(query(cassandra, keyspace, "SELECT k FROM kv_resume"))
    assert 0 < written < n

    resumed = aiocql(cassandra, *args[:-3], "--summary-json")
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "complete" and summary["errors"] == 0
    assert summary["skipped_from_checkpoint"] >= done_before * 500
    assert summary["rows"] + summary["skipped_from_checkpoint"] == n
    base = json.loads(ckpt.read_text().splitlines()[0])["base"]
    rows = query(cassandra, keyspace, "SELECT k, v, n, writetime(v) FROM kv_resume")
    assert len(rows) == n
    # Every record once, with its own values, written with its own deterministic timestamp (base + record
    # number): a write replayed after the kill left exactly what its first attempt did.
    assert sorted((r[0], r[1], r[2], r[3]) for r in rows) == [
        (i, f"v{i * 31 % 1000}", i * 7, base + i) for i in range(n)
    ]


def test_unload_killed_with_sigkill_resumes_exactly(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    out, ckpt = tmp_path / "part.csv.gz", tmp_path / "unload.ckpt"
    args = ["unload", f"{keyspace}.src", "-o", str(out), "--checkpoint", str(ckpt), "--splits", "64",
            "--fetch-size", "5", "--concurrency", "2"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "aiocql", *args, "--rate", "250"], env=_env(cassandra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ckpt.exists() and ckpt.read_text().count("\nD ") >= 6:
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = ckpt.read_text().count("\nD ")
    assert 6 <= recorded < 64, "the unload finished before it could be killed: slow it down"
    resumed = aiocql(cassandra, *args, "--summary-json")
    summary = json.loads(resumed.stdout)
    assert summary["ranges_from_checkpoint"] >= recorded and summary["resumed"] is True
    assert summary["rows"] < ROWS  # the ranges done before the kill were not read again
    lines = _sorted_lines(out)
    whole = tmp_path / "whole.csv"
    aiocql(cassandra, "unload", f"{keyspace}.src", "-o", str(whole))
    assert lines == _sorted_lines(whole) and len(lines) == ROWS + 1  # every row once, the header once


def test_writetime_and_ttl_preserved(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    ddl(
        cassandra, keyspace,
        "CREATE TABLE wt_src (k int PRIMARY KEY, v text, n int)",
        "CREATE TABLE wt_dst (k int PRIMARY KEY, v text, n int)",
        "INSERT INTO wt_src (k, v, n) VALUES (1, 'a', 10) USING TIMESTAMP 1111111111 AND TTL 86400",
        "INSERT INTO wt_src (k, v, n) VALUES (2, 'b', 20) USING TIMESTAMP 2222222222",
    )  # fmt: skip
    out = tmp_path / "wt.csv"
    aiocql(cassandra, "unload", f"{keyspace}.wt_src", "-o", str(out), "--writetime", "--ttl")
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["k", "n", "v", "writetime(n)", "writetime(v)", "ttl(n)", "ttl(v)"]
    aiocql(cassandra, "load", f"{keyspace}.wt_dst", "-i", str(out))
    rows = {r[0]: r[1:] for r in query(cassandra, keyspace, "SELECT k, v, writetime(v), ttl(v) FROM wt_dst")}
    assert rows[1][:2] == ("a", 1111111111) and 86000 < rows[1][2] <= 86400
    assert rows[2] == ("b", 2222222222, None)


def test_header_mapping_and_headerless_input(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    ddl(cassandra, keyspace, "CREATE TABLE mapped (k int PRIMARY KEY, v text, n bigint)")
    named = tmp_path / "named.csv"
    named.write_text("id;payload;junk\n1;one;x\n2;two;y\n")
    aiocql(cassandra, "load", f"{keyspace}.mapped", "-i", str(named), "--delimiter", ";",
           "--map", "id=k,payload=v,junk=-")  # fmt: skip
    bare = tmp_path / "bare.csv"
    bare.write_text("30,3\n40,4\n")
    aiocql(cassandra, "load", f"{keyspace}.mapped", "-i", str(bare), "--no-header", "--columns", "n,k")
    assert sorted(query(cassandra, keyspace, "SELECT k, v, n FROM mapped")) == [
        (1, "one", None), (2, "two", None), (3, None, 30), (4, None, 40),
    ]  # fmt: skip
    out = aiocql(cassandra, "unload", f"{keyspace}.mapped", "--columns", "k,n", "--no-header", "--no-progress")
    assert sorted(out.stdout.splitlines()) == ["1,", "2,", "3,30", "4,40"]
