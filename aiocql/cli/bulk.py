"""``aiocql unload`` / ``load`` / ``count``: move a table to and from CSV or JSON lines, and count it.

* **unload** reads the table by token range in parallel (:func:`aiocql.scan_table`) and writes CSV
  (header first) or JSON lines to a file or stdout, gzip-compressed for a ``.gz`` name; a query
  instead of a table (``--query``; one with ``:start`` and ``:end`` markers runs per token range);
  ``--writetime`` / ``--ttl`` add ``writetime(c)`` / ``ttl(c)`` columns that ``load`` re-applies.
* **load** parses records with their column's type, groups them by partition into unlogged batches,
  keeps ``--concurrency`` requests in flight (``--rate`` rows/s at most), retries transient errors,
  writes each record that still fails to a bad-records file (the same format, re-loadable) and its
  reason with the line number to an error log. Writes carry a deterministic timestamp (the run's
  start + the record's number, or the ``writetime(c)`` read from the file), so a retried or replayed
  write leaves exactly what one write would: with ``--checkpoint FILE`` an interrupted run (even by
  SIGKILL) resumes without losing or duplicating a record.
* **count** counts a table's rows, ``count(*)`` per token range in parallel.

Exit codes: 0 success, 1 partial (some records or ranges failed: see the error log), 2 failure.

Example:
    $ aiocql unload ks.events -o events.csv.gz
    $ aiocql load ks.events_copy -i events.csv.gz --checkpoint load.ckpt
    $ aiocql count ks.events_copy
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from aiocql.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    CliError,
    add_connection_options,
    consistency,
    make_cluster,
    split_table,
)
from aiocql.cli.formats import formatter, json_formatter, json_parser, parser
from aiocql.cli.progress import Progress
from aiocql.errors import ConnectionError_, CqlError, NoHostAvailable, OperationTimedOut
from aiocql.errors.server import Overloaded, Unavailable, WriteTimeout
from aiocql.model.schema import ColumnKind, TableMetadata
from aiocql.protocol.constants import BatchType
from aiocql.results import tuple_factory
from aiocql.scan import TableScan, TokenRange, token_ranges
from aiocql.session.session import Session
from aiocql.statements import BatchStatement, PreparedStatement
from aiocql.types.cqltypes import CqlType, NativeType, quote_identifier

RETRYABLE = (WriteTimeout, Unavailable, Overloaded, OperationTimedOut, NoHostAvailable, ConnectionError_)


# -- files ------------------------------------------------------------------------------------------


class _Input:
    """A text input (file, ``.gz`` file or stdin) that knows how much of the raw file was read."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path == "-":
            self.raw: IO[bytes] = sys.stdin.buffer
            self.size = 0
        else:
            try:
                self.raw = open(path, "rb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise CliError(f"cannot read {path}: {exc.strerror}") from None
            self.size = os.fstat(self.raw.fileno()).st_size
        stream: Any = gzip.GzipFile(fileobj=self.raw) if path.endswith(".gz") else self.raw
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="")

    def fraction(self) -> float | None:
        if not self.size:
            return None
        try:
            return min(1.0, self.raw.tell() / self.size)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self.path != "-":
            self.text.close()


def _open_output(path: str, append: bool = False) -> TextIO:
    if path == "-":
        return sys.stdout
    mode = "at" if append else "wt"
    try:
        if path.endswith(".gz"):
            return gzip.open(path, mode, encoding="utf-8", newline="", compresslevel=1)  # type: ignore[return-value]
        return open(path, mode, encoding="utf-8", newline="")  # type: ignore[return-value]
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def _part_path(path: str, index: int) -> str:
    """``out.csv.gz`` -> ``out-3.csv.gz``: worker ``index``'s part of an output (or bad-records) file."""
    p = Path(path)
    suffixes = "".join(p.suffixes)
    stem = p.name[: -len(suffixes)] if suffixes else p.name
    return str(p.with_name(f"{stem}-{index}{suffixes}"))


# -- metadata ---------------------------------------------------------------------------------------


async def _table(session: Session, args: argparse.Namespace) -> TableMetadata:
    ks, name = split_table(args.table, args.keyspace)
    meta = session.state.keyspaces.get(ks)
    table = meta.tables.get(name) if meta is not None else None
    if table is None:
        raise CliError(f"no table {ks}.{name}")
    return table


def _simple_regular(table: TableMetadata) -> list[str]:
    """Regular, non-collection columns (those writetime() / ttl() apply to)."""
    return [
        c.name for c in table.columns.values()
        if c.kind is ColumnKind.REGULAR and isinstance(c.cql_type, NativeType) and c.cql_type.name != "counter"
    ]  # fmt: skip


# -- unload -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Writer:
    """Rows to CSV or JSON lines; a formatter per column that needs one."""

    out: TextIO
    names: list[str]
    types: list[CqlType]
    fmt: str
    delimiter: str = ","
    header: bool = True
    _csv: Any = None
    _convert: list[tuple[int, Callable[[Any], Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        pick = formatter if self.fmt == "csv" else json_formatter
        for i, t in enumerate(self.types):
            f = pick(t)
            if f is not None:
                self._convert.append((i, f))
        if self.fmt == "csv":
            self._csv = csv.writer(self.out, delimiter=self.delimiter, lineterminator="\n")
            if self.header:
                self._csv.writerow(self.names)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        convert = self._convert
        if convert:
            out = []
            for row in rows:
                values = list(row)
                for i, f in convert:
                    v = values[i]
                    if v is not None:
                        values[i] = f(v)
                out.append(values)
            rows = out  # type: ignore[assignment]
        if self.fmt == "csv":
            self._csv.writerows(rows)
        else:
            names = self.names
            dumps = json.dumps
            self.out.write("".join(dumps(dict(zip(names, r, strict=True)), ensure_ascii=False) + "\n" for r in rows))


def _selectors(table: TableMetadata, args: argparse.Namespace) -> tuple[str, list[str]]:
    names = [c.strip() for c in args.columns.split(",")] if args.columns else list(table.columns)
    unknown = [n for n in names if n not in table.columns]
    if unknown:
        raise CliError(f"no column {', '.join(unknown)} in {table.keyspace}.{table.name}")
    selectors = [quote_identifier(n) for n in names]
    labels = list(names)
    regular = set(_simple_regular(table))
    for extra in ("writetime", "ttl"):
        if getattr(args, extra):
            for n in names:
                if n in regular:
                    selectors.append(f"{extra}({quote_identifier(n)})")
                    labels.append(f"{extra}({n})")
    return ", ".join(selectors), labels


async def _unload(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    async with make_cluster(args, row_factory=tuple_factory) as cluster:
        session = await cluster.connect()
        level = consistency(args.consistency)
        if args.checkpoint and (args.query or args.output == "-"):
            raise CliError("an unload --checkpoint needs a table (not --query) and an output file (not stdout)")
        out = _open_output(args.output) if not args.checkpoint else io.StringIO()
        try:
            if args.query:
                return await _unload_query(session, args, out, progress, level)
            table = await _table(session, args)
            selectors, labels = _selectors(table, args)
            ranges = token_ranges(session.state, table.keyspace, splits=args.splits or max(64, 4 * args.concurrency))
            ranges = _my_share(ranges, args)
            scan = TableScan(
                session, table, ranges, selectors=selectors, concurrency=args.concurrency, fetch_size=args.fetch_size,
                consistency_level=level, timeout=args.request_timeout, row_factory=tuple_factory,
            )  # fmt: skip
            if args.checkpoint:
                return await _unload_checkpointed(session, args, table, selectors, labels, ranges, progress, level)
            covered = sum(r.width for r in ranges) or 1
            progress.fraction = lambda: sum(p.range.width for p in scan.progress.ranges if p.done) / covered
            ps = await scan._prepare()
            assert ps.result_metadata is not None
            writer = _Writer(out, labels, [c.type for c in ps.result_metadata.columns], args.format, args.delimiter,
                             args.header)  # fmt: skip
            limiter = _RateLimiter(args.rate) if args.rate else None
            progress.start()
            async for page in scan.pages():
                writer.write(page.rows)
                progress.add(len(page.rows), page.latency)
                if limiter is not None:
                    await limiter.take(len(page.rows))
            return {"ranges": len(scan.ranges), "output": args.output}
        finally:
            if out is not sys.stdout:
                out.close()
            else:
                out.flush()


async def _unload_checkpointed(
    session: Session, args: argparse.Namespace, table: TableMetadata, selectors: str, labels: list[str],
    ranges: list[TokenRange], progress: Progress, level: Any,
) -> dict[str, Any]:  # fmt: skip
    """An unload that can resume: each range's rows are written at once when the range is read to its end
    (a gzip member of their own for ``.gz``), then ``D <range> <file size>`` is appended to the checkpoint.
    A resumed run cuts the output back to the size of the last range recorded (dropping a range written in
    part) and reads only the ranges not recorded. The ranges are kept in the checkpoint's header, so a
    topology change in between does not move their bounds."""
    identity = {
        "operation": "unload", "table": f"{table.keyspace}.{table.name}", "selectors": selectors,
        "output": os.path.abspath(args.output), "format": args.format,
        "worker": list(args.worker) if args.worker else None,
    }  # fmt: skip
    path: str = args.checkpoint
    done: dict[int, int] = {}
    header_size: int | None = None
    if os.path.exists(path) and os.path.getsize(path):
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        try:
            header = json.loads(lines[0])
        except ValueError:
            raise CliError(f"{path} is not an aiocql unload checkpoint") from None
        for key, value in identity.items():
            if header.get(key) != value:
                raise CliError(f"checkpoint {path} is for {key}={header.get(key)!r}, not {value!r}")
        ranges = [TokenRange(a, b) for a, b in header["ranges"]]
        for line in lines[1:]:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "D" and parts[1].isdigit() and parts[2].isdigit():
                done[int(parts[1])] = int(parts[2])
            elif len(parts) == 2 and parts[0] == "H" and parts[1].isdigit():
                header_size = int(parts[1])
        resumed = True
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps({**identity, "ranges": [[r.start, r.end] for r in ranges]}) + "\n")
        resumed = False
    keep = max(done.values(), default=header_size or 0)
    gz = args.output.endswith(".gz")
    mode = "r+b" if os.path.exists(args.output) else "w+b"
    with open(args.output, mode) as out, open(path, "a", encoding="utf-8") as journal:
        out.truncate(keep)
        out.seek(keep)

        def append(text: str) -> int:
            data = text.encode("utf-8")
            out.write(gzip.compress(data, compresslevel=1) if gz else data)
            out.flush()
            return out.tell()

        index = {(r.start, r.end): i for i, r in enumerate(ranges)}
        todo = [r for i, r in enumerate(ranges) if i not in done]
        progress.skipped = len(done)
        scan = TableScan(
            session, table, todo, selectors=selectors, concurrency=args.concurrency, fetch_size=args.fetch_size,
            consistency_level=level, timeout=args.request_timeout, row_factory=tuple_factory,
        )  # fmt: skip
        ps = await scan._prepare()
        assert ps.result_metadata is not None
        types = [c.type for c in ps.result_metadata.columns]
        if header_size is None and not done:
            head = io.StringIO()
            _Writer(head, labels, types, args.format, args.delimiter, args.header)
            journal.write(f"H {append(head.getvalue())}\n")
            journal.flush()
        buffers: dict[tuple[int, int], tuple[io.StringIO, _Writer]] = {}
        limiter = _RateLimiter(args.rate) if args.rate else None
        progress.start()
        async for page in scan.pages():
            rkey = (page.range.start, page.range.end)
            entry = buffers.get(rkey)
            if entry is None:
                buf = io.StringIO()
                entry = buffers[rkey] = (buf, _Writer(buf, labels, types, args.format, args.delimiter, False))
            entry[1].write(page.rows)
            progress.add(len(page.rows), page.latency)
            if page.last:
                del buffers[rkey]
                size = append(entry[0].getvalue())
                journal.write(f"D {index[rkey]} {size}\n")
                journal.flush()
            if limiter is not None:
                await limiter.take(len(page.rows))
    return {"ranges": len(ranges), "ranges_from_checkpoint": len(done), "resumed": resumed, "output": args.output,
            "checkpoint": path}  # fmt: skip


def _my_share(ranges: list[TokenRange], args: argparse.Namespace) -> list[TokenRange]:
    if args.worker is None:
        return ranges
    index, count = args.worker
    return ranges[index::count]


async def _unload_query(
    session: Session, args: argparse.Namespace, out: TextIO, progress: Progress, level: Any
) -> dict[str, Any]:
    query: str = args.query
    progress.start()
    if ":start" in query and ":end" in query:
        ps = await session.prepare(query)
        ranges = _my_share(token_ranges(session.state, None, splits=args.splits or 64), args)
        sem = asyncio.Semaphore(args.concurrency)
        names = [c.name for c in ps.result_metadata.columns] if ps.result_metadata else []
        types = [c.type for c in ps.result_metadata.columns] if ps.result_metadata else []
        writer = _Writer(out, names, types, args.format, args.delimiter, args.header)

        async def one(r: TokenRange) -> None:
            async with sem:
                started = time.monotonic()
                rs = await session.execute(ps, {"start": r.start, "end": r.end}, consistency_level=level,
                                           fetch_size=args.fetch_size, row_factory=tuple_factory)  # fmt: skip
                async for rows in rs.pages():
                    writer.write(rows)
                    progress.add(len(rows), time.monotonic() - started)
                    started = time.monotonic()

        async with asyncio.TaskGroup() as group:
            for r in ranges:
                group.create_task(one(r))
        return {"ranges": len(ranges), "output": args.output}
    rs = await session.execute(query, consistency_level=level, fetch_size=args.fetch_size, row_factory=tuple_factory)
    writer = _Writer(out, list(rs.column_names), list(rs.column_types), args.format, args.delimiter, args.header)
    started = time.monotonic()
    async for rows in rs.pages():
        writer.write(rows)
        progress.add(len(rows), time.monotonic() - started)
        started = time.monotonic()
    return {"output": args.output}


# -- count ------------------------------------------------------------------------------------------


async def _count(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    async with make_cluster(args, row_factory=tuple_factory) as cluster:
        session = await cluster.connect()
        table = await _table(session, args)
        ranges = token_ranges(session.state, table.keyspace, splits=args.splits or max(64, 4 * args.concurrency))
        scan = TableScan(session, table, ranges, selectors="count(*)", concurrency=args.concurrency,
                         consistency_level=consistency(args.consistency), timeout=args.request_timeout,
                         row_factory=tuple_factory)  # fmt: skip
        progress.start()
        total = 0
        async for page in scan.pages():
            n = sum(r[0] for r in page.rows)
            total += n
            progress.add(n, page.latency)
        return {"count": total, "ranges": len(scan.ranges)}


# -- load -------------------------------------------------------------------------------------------


class _RateLimiter:
    """At most ``rate`` rows per second (a token bucket one second deep)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()

    async def take(self, n: int) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= n or self.tokens >= self.rate:
                self.tokens -= n
                return
            await asyncio.sleep((n - self.tokens) / self.rate)


class _Checkpoint:
    """A load's journal: a header (input, table, the run's timestamp base), then ``D <chunk>`` per chunk
    done and, for counter tables, ``S <chunk>`` before a chunk is sent. Appended and flushed line by
    line, so the lines written before a SIGKILL are on disk."""

    def __init__(self, path: str | None, identity: dict[str, Any]) -> None:
        self.path = path
        self.done: set[int] = set()
        self.started: set[int] = set()
        self.base = time.time_ns() // 1000
        self.resumed = False
        self._f: TextIO | None = None
        if path is None:
            return
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
            if lines:
                try:
                    header = json.loads(lines[0])
                except ValueError:
                    raise CliError(f"{path} is not an aiocql load checkpoint") from None
                for key, value in identity.items():
                    if header.get(key) != value:
                        raise CliError(
                            f"checkpoint {path} is for {key}={header.get(key)!r}, not {value!r}: "
                            "use another --checkpoint file (or delete this one to start over)"
                        )
                self.base = int(header["base"])
                for line in lines[1:]:
                    kind, _, chunk = line.partition(" ")
                    if not chunk.isdigit():
                        continue  # a line cut short by the kill
                    (self.done if kind == "D" else self.started).add(int(chunk))
                self.resumed = True
                self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115
                return
        self._f = open(path, "w", encoding="utf-8")  # noqa: SIM115
        self._f.write(json.dumps({**identity, "base": self.base}) + "\n")
        self._f.flush()

    def mark(self, kind: str, chunk: int) -> None:
        (self.done if kind == "D" else self.started).add(chunk)
        if self._f is not None:
            self._f.write(f"{kind} {chunk}\n")
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


@dataclass(slots=True)
class _Record:
    number: int  # 0-based among data records
    line: int  # 1-based line where it starts
    raw: list[Any]
    error: str | None = None  # unreadable (e.g. a line that is not JSON)


@dataclass(slots=True)
class _Chunk:
    index: int
    pending: int = 0
    read_all: bool = False
    failed: int = 0


class _Loader:
    def __init__(self, args: argparse.Namespace, session: Session, table: TableMetadata, progress: Progress) -> None:
        self.args = args
        self.session = session
        self.table = table
        self.progress = progress
        self.counter = table.is_counter
        self.sem = asyncio.Semaphore(args.concurrency)
        self.limiter = _RateLimiter(args.rate) if args.rate else None
        self.failed_records = 0
        self.replayed = 0
        self.bad_out: Any = None
        self.bad_file = args.bad_file
        self.log_file = args.error_log
        self.log: TextIO | None = None
        self.errors_shown = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.fatal: BaseException | None = None

    # - mapping -
    def plan(self, file_columns: list[str]) -> None:
        """Decide which file column goes to which table column (and which carry writetime/ttl)."""
        mapping = dict(pair.split("=", 1) for pair in self.args.map.split(",")) if self.args.map else {}
        self.file_columns = file_columns
        self.targets: list[tuple[int, str]] = []
        self.writetime_cols: list[int] = []
        self.ttl_cols: list[int] = []
        for i, name in enumerate(file_columns):
            name = mapping.get(name.strip(), name.strip())
            if not name or name == "-":
                continue
            low = name.lower()
            if low.startswith("writetime(") and low.endswith(")"):
                self.writetime_cols.append(i)
                continue
            if low.startswith("ttl(") and low.endswith(")"):
                self.ttl_cols.append(i)
                continue
            if name not in self.table.columns:
                raise CliError(f"no column {name!r} in {self.table.keyspace}.{self.table.name} (input column {i + 1})")
            self.targets.append((i, name))
        names = [n for _, n in self.targets]
        missing = [c.name for c in self.table.primary_key if c.name not in names]
        if missing:
            raise CliError(f"the input has no value for primary key column(s) {', '.join(missing)}")
        is_json = self.args.format == "json"
        make = json_parser if is_json else parser
        self.target_of = dict(self.targets)
        pk = {c.name for c in self.table.partition_key}
        self.pk_slots = [i for i, n in self.targets if n in pk]
        ks, tb = quote_identifier(self.table.keyspace), quote_identifier(self.table.name)
        if self.counter:
            keys = {c.name for c in self.table.primary_key}
            sets = [n for n in names if n not in keys]
            where = [n for n in names if n in keys]
            self.order = [i for i, n in self.targets if n in sets] + [i for i, n in self.targets if n in keys]
            self.bind_parsers = [(i, make(self.table.columns[self.target_of[i]].cql_type)) for i in self.order]
            self.query = (
                f"UPDATE {ks}.{tb} SET " + ", ".join(f"{quote_identifier(n)} = {quote_identifier(n)} + ?" for n in sets)
                + " WHERE " + " AND ".join(f"{quote_identifier(n)} = ?" for n in where)
            )  # fmt: skip
        else:
            self.order = [i for i, _ in self.targets]
            self.bind_parsers = [(i, make(self.table.columns[self.target_of[i]].cql_type)) for i in self.order]
            using = " USING TIMESTAMP ?"
            if self.ttl_cols:
                using += " AND TTL ?"
            elif self.args.ttl:
                using += f" AND TTL {int(self.args.ttl)}"
            self.query = (
                f"INSERT INTO {ks}.{tb} ({', '.join(quote_identifier(n) for n in names)}) "
                f"VALUES ({', '.join('?' * len(names))}){using}"
            )

    def values(self, rec: _Record, base: int) -> tuple[Any, list[Any]]:
        """(partition key, bind values) of a record; raises ValueError naming the column."""
        raw = rec.raw
        if rec.error is not None:
            raise ValueError(rec.error)
        if len(raw) != len(self.file_columns):
            raise ValueError(f"{len(raw)} fields where {len(self.file_columns)} were expected")
        values: list[Any] = []
        append = values.append
        try:
            for i, parse in self.bind_parsers:
                text = raw[i]
                append(None if text == "" or text is None else parse(text))
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            i = self.bind_parsers[len(values)][0]
            name = self.file_columns[i]
            kind = self.table.columns[self.target_of[i]].cql_type.cql_name
            raise ValueError(f"column {name!r} ({kind}): {exc} (value {raw[i]!r})") from None
        if not self.counter:
            if self.writetime_cols:
                stamps = [int(raw[i]) for i in self.writetime_cols if raw[i] not in ("", None)]
                append(max(stamps) if stamps else base + rec.number)
            else:
                append(base + rec.number)
            if self.ttl_cols:
                ttls = [int(raw[i]) for i in self.ttl_cols if raw[i] not in ("", None)]
                append(min(ttls) if ttls else 0)
        try:
            key = tuple([raw[i] for i in self.pk_slots])
            hash(key)
        except TypeError:  # JSON lines: a frozen collection in the partition key
            key = tuple(json.dumps(raw[i], sort_keys=True) for i in self.pk_slots)
        return key, values

    # - errors -
    def fail(self, records: list[_Record], reason: str) -> None:
        self.failed_records += len(records)
        self.progress.errors += len(records)
        if self.log is None:
            self.log = _open_output(self.log_file, append=True) if self.log_file else sys.stderr
        if self.bad_out is None:
            f = _open_output(self.bad_file, append=os.path.exists(self.bad_file) and self.resume)
            self.bad_out = (f, csv.writer(f, delimiter=self.args.delimiter, lineterminator="\n"))
            if self.args.format == "csv" and self.args.header and f.tell() == 0:
                self.bad_out[1].writerow(self.file_columns)
        f, w = self.bad_out
        for rec in records:
            line = f"line {rec.line}: {reason}; record: {_record_text(rec.raw, self.args.delimiter)}"
            if self.log is not sys.stderr or self.errors_shown < 20:
                self.log.write(line + "\n")
                self.errors_shown += 1
            if self.args.format == "csv":
                w.writerow(rec.raw)
            elif rec.error is not None:
                f.write(str(rec.raw[0]) + "\n")
            else:
                f.write(json.dumps(dict(zip(self.file_columns, rec.raw, strict=False)), ensure_ascii=False) + "\n")
        f.flush()
        if self.log is not sys.stderr:
            self.log.flush()
        if self.args.max_errors >= 0 and self.failed_records > self.args.max_errors:
            self.fatal = CliError(f"more than {self.args.max_errors} records failed (--max-errors): stopped")

    # - sending -
    async def send(self, ps: PreparedStatement, chunk: _Chunk, group: list[tuple[_Record, list[Any]]],
                   ckpt: _Checkpoint) -> None:  # fmt: skip
        try:
            if len(group) == 1:
                stmt: Any = ps.bind(group[0][1])
            else:
                stmt = BatchStatement(BatchType.COUNTER if self.counter else BatchType.UNLOGGED)
                for _, values in group:
                    stmt.add(ps.bind(values))
            stmt.is_idempotent = not self.counter
            attempt = 0
            while True:
                started = time.monotonic()
                try:
                    await self.session.execute(stmt, timeout=self.args.request_timeout)
                    self.progress.add(len(group), time.monotonic() - started)
                    break
                except RETRYABLE as exc:
                    attempt += 1
                    if self.counter or attempt > self.args.max_retries:
                        self.fail([r for r, _ in group], f"{type(exc).__name__}: {exc}")
                        chunk.failed += len(group)
                        break
                    await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
                except CqlError as exc:
                    self.fail([r for r, _ in group], f"{type(exc).__name__}: {exc}")
                    chunk.failed += len(group)
                    break
        finally:
            self.sem.release()
            chunk.pending -= 1
            if chunk.read_all and chunk.pending == 0:
                ckpt.mark("D", chunk.index)

    async def flush(self, ps: PreparedStatement, chunk: _Chunk, items: list[tuple[Any, _Record, list[Any]]],
                    ckpt: _Checkpoint) -> None:  # fmt: skip
        groups: dict[Any, list[tuple[_Record, list[Any]]]] = {}
        for key, rec, values in items:
            groups.setdefault(key, []).append((rec, values))
        if self.counter and groups:
            ckpt.mark("S", chunk.index)
        size = self.args.batch_size
        for rows in groups.values():
            for start in range(0, len(rows), size):
                part = rows[start : start + size]
                if self.limiter is not None:
                    await self.limiter.take(len(part))
                await self.sem.acquire()
                if self.fatal is not None:
                    self.sem.release()
                    raise self.fatal
                chunk.pending += 1
                task = asyncio.get_running_loop().create_task(self.send(ps, chunk, part, ckpt))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    async def run(self, records: Iterator[_Record], ckpt: _Checkpoint) -> None:
        ps = await self.session.prepare(self.query)
        self.resume = ckpt.resumed
        chunk_size = self.args.chunk_size
        worker = self.args.worker
        current: _Chunk | None = None
        items: list[tuple[Any, _Record, list[Any]]] = []
        uncertain: list[_Record] = []
        loop_yield = 0

        async def close_chunk(chunk: _Chunk) -> None:
            await self.flush(ps, chunk, items, ckpt)
            items.clear()
            chunk.read_all = True
            if chunk.pending == 0:
                ckpt.mark("D", chunk.index)

        for rec in records:
            index = rec.number // chunk_size
            if current is None or current.index != index:
                if current is not None:
                    await close_chunk(current)
                current = _Chunk(index)
            if worker is not None and index % worker[1] != worker[0]:
                continue
            if index in ckpt.done:
                self.progress.skipped += 1
                continue
            if index in ckpt.started:  # a counter chunk sent before the interruption, not known to be done
                uncertain.append(rec)
                continue
            if ckpt.resumed:
                self.replayed += 1
            try:
                key, values = self.values(rec, ckpt.base)
            except ValueError as exc:
                self.fail([rec], str(exc))
                if self.fatal is not None:
                    raise self.fatal from None
                continue
            items.append((key, rec, values))
            if len(items) >= self.args.batch_size * 64:
                await self.flush(ps, current, items, ckpt)
                items.clear()
            loop_yield += 1
            if loop_yield % 512 == 0:
                await asyncio.sleep(0)
        if current is not None:
            await close_chunk(current)
        while self.tasks:
            await asyncio.gather(*list(self.tasks))
        if self.fatal is not None:
            raise self.fatal
        if uncertain:
            self.fail(uncertain, "counter update sent by the interrupted run, not known to be applied: check by hand")

    def close(self) -> None:
        if self.bad_out is not None:
            self.bad_out[0].close()
        if self.log is not None and self.log is not sys.stderr:
            self.log.close()


def _record_text(raw: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(raw)
    return buf.getvalue()


def _csv_records(inp: _Input, args: argparse.Namespace) -> tuple[list[str] | None, Iterator[_Record]]:
    reader = csv.reader(inp.text, delimiter=args.delimiter, strict=True)
    header: list[str] | None = None
    if args.header:
        try:
            header = next(reader)
        except StopIteration:
            return [], iter(())
        except csv.Error as exc:
            raise CliError(f"{args.input}: line 1: {exc}") from None

    def records() -> Iterator[_Record]:
        number = 0
        line = reader.line_num + 1
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CliError(f"{args.input}: line {line}: malformed CSV: {exc}") from None
            if raw:
                yield _Record(number, line, raw)
                number += 1
            line = reader.line_num + 1

    return header, records()


def _json_records(inp: _Input, args: argparse.Namespace) -> tuple[list[str] | None, Iterator[_Record], Any]:
    """JSON lines: the columns are the first object's keys (``--columns`` fixes them instead)."""
    lines = iter(inp.text)
    first: list[Any] = []
    number = 0
    names: list[str] = [c.strip() for c in args.columns.split(",")] if args.columns else []
    line_no = 0
    for text in lines:
        line_no += 1
        if text.strip():
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise CliError(f"{args.input}: line {line_no}: not JSON: {exc}; record: {text.strip()[:200]}") from None
            if not isinstance(obj, dict):
                raise CliError(f"{args.input}: line {line_no}: not a JSON object; record: {text.strip()[:200]}")
            names = names or list(obj)
            first.append((line_no, obj))
            break

    def records() -> Iterator[_Record]:
        nonlocal number, line_no
        for ln, obj in first:
            yield _Record(number, ln, [_jsonish(obj.get(n)) for n in names])
            number += 1
        for text in lines:
            line_no += 1
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                yield _Record(number, line_no, [text.rstrip("\n")], f"not a JSON object: {exc}")
                number += 1
                continue
            yield _Record(number, line_no, [_jsonish(obj.get(n)) for n in names])
            number += 1

    return names, records(), None


def _jsonish(v: Any) -> Any:
    if v is None:
        return ""
    return v


async def _load(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    if args.worker is None and args.workers > 1:
        raise AssertionError("unreachable")  # the parent runs workers as processes
    inp = _Input(args.input)
    progress.fraction = inp.fraction
    try:
        async with make_cluster(args, connections_per_host=args.connections) as cluster:
            session = await cluster.connect()
            table = await _table(session, args)
            if args.format == "json":
                header, records, _ = _json_records(inp, args)
            else:
                header, records = _csv_records(inp, args)
            if header is None:
                header = [c.strip() for c in args.columns.split(",")] if args.columns else list(table.columns)
            elif args.columns and args.format == "csv":
                raise CliError("--columns is for input without a header: use --map file=table to rename")
            loader = _Loader(args, session, table, progress)
            loader.plan(header)
            identity = {
                "table": f"{table.keyspace}.{table.name}",
                "input": os.path.abspath(args.input) if args.input != "-" else "-",
                "size": inp.size,
                "chunk_size": args.chunk_size,
                "worker": list(args.worker) if args.worker else None,
            }
            ckpt = _Checkpoint(args.checkpoint, identity)
            progress.start()
            try:
                await loader.run(records, ckpt)
            finally:
                ckpt.close()
                loader.close()
            status = "complete" if loader.failed_records == 0 else "partial"
            return {
                "failed_records": loader.failed_records,
                "replayed": loader.replayed if ckpt.resumed else 0,
                "bad_file": args.bad_file if loader.failed_records else None,
                "error_log": args.error_log if loader.failed_records and args.error_log else None,
                "checkpoint": args.checkpoint,
                "status": status,
            }
    finally:
        inp.close()


# -- running, workers ---------------------------------------------------------------------------------


def _run_workers(args: argparse.Namespace, argv: list[str], progress: Progress) -> int:
    """Run ``--workers N`` copies of this command as processes (each its own event loop) and add up their
    figures; each prints its progress as JSON lines on its stdout."""
    if args.operation == "load" and args.input == "-":
        raise CliError("--workers needs an input file (stdin cannot be shared)")
    if args.operation == "unload" and args.output == "-":
        raise CliError("--workers needs an output file (each worker writes its part: out-0.csv, ...)")
    procs: list[subprocess.Popen[bytes]] = []
    base = [a for a in argv if a not in ("--progress", "--no-progress")]
    for i in range(args.workers):
        extra = ["--worker", f"{i}/{args.workers}", "--summary-json", "--no-progress", "--workers", "1"]
        if args.operation == "unload":
            extra += ["--output", _part_path(args.output, i)]
            if args.checkpoint:
                extra += ["--checkpoint", _part_path(args.checkpoint, i)]
        if args.operation == "load":
            extra += ["--bad-file", _part_path(args.bad_file, i)]
            if args.checkpoint:
                extra += ["--checkpoint", _part_path(args.checkpoint, i)]
            if args.error_log:
                extra += ["--error-log", _part_path(args.error_log, i)]
        procs.append(subprocess.Popen([sys.executable, "-m", "aiocql", *base, *extra], stdout=subprocess.PIPE))
    summaries = []
    for p in procs:
        out, _ = p.communicate()
        for line in out.decode().splitlines():
            with contextlib.suppress(ValueError):
                summaries.append(json.loads(line))
    rows = sum(s.get("rows", 0) for s in summaries)
    progress.rows = rows
    progress.errors = sum(s.get("errors", 0) for s in summaries)
    progress.skipped = sum(s.get("skipped_from_checkpoint", 0) for s in summaries)
    summary = progress.summary(workers=args.workers, worker_summaries=summaries)
    codes = [p.returncode for p in procs]
    if args.operation == "count":
        summary["count"] = sum(s.get("count", 0) for s in summaries)
    if args.summary_json:
        print(json.dumps(summary))
    else:
        progress.print_summary(summary)
        if args.operation == "count":
            print(summary["count"])
    if all(c == EXIT_OK for c in codes):
        return EXIT_OK
    return EXIT_PARTIAL if any(c in (EXIT_OK, EXIT_PARTIAL) for c in codes) else EXIT_FAILED


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Run ``unload``, ``load`` or ``count`` and return the exit code."""
    progress = Progress(args.operation, enabled=args.progress)
    if args.workers > 1 and args.worker is None:
        return _run_workers(args, argv, progress)
    job = {"unload": _unload, "load": _load, "count": _count}[args.operation]

    async def main() -> dict[str, Any]:
        try:
            return await job(args, progress)
        finally:
            progress.stop()

    status = EXIT_OK
    try:
        extra = _run_loop(main(), args)
    except KeyboardInterrupt:
        sys.stderr.write(f"{args.operation}: interrupted\n")
        return 130
    except CliError as exc:
        sys.stderr.write(f"aiocql {args.operation}: {exc}\n")
        extra = {"status": "failed", "error": str(exc)}
        status = EXIT_FAILED
    except (CqlError, OSError) as exc:
        sys.stderr.write(f"aiocql {args.operation}: {type(exc).__name__}: {exc}\n")
        extra = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        status = EXIT_FAILED
    if status == EXIT_OK and extra.get("status") == "partial":
        status = EXIT_PARTIAL
    summary = progress.summary(**extra)
    if args.summary_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        sys.stdout.flush()
    elif status != EXIT_FAILED or summary["rows"]:
        if args.operation != "unload" or args.output != "-" or args.progress:
            progress.print_summary(summary)
        if args.operation == "count" and "count" in summary:
            print(summary["count"])
    return status


def _run_loop(coro: Any, args: argparse.Namespace) -> dict[str, Any]:
    if getattr(args, "uvloop", False):
        try:
            import uvloop
        except ImportError:
            raise CliError("--uvloop needs the uvloop package: pip install 'aiocql[uvloop]'") from None
        result: dict[str, Any] = uvloop.run(coro)
        return result
    return asyncio.run(coro)


def _worker_spec(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    i, n = int(index), int(count)
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"worker must be I/N with 0 <= I < N, not {text}")
    return i, n


def add_parsers(sub: Any) -> None:
    """The ``unload``, ``load`` and ``count`` subcommands."""

    def common(p: argparse.ArgumentParser) -> None:
        add_connection_options(p)
        g = p.add_argument_group("run")
        g.add_argument("-k", "--keyspace", default=None)
        g.add_argument("--concurrency", type=int, default=None, help="requests (ranges, batches) in flight")
        g.add_argument("--splits", type=int, default=None, help="token ranges to cut the ring into")
        g.add_argument("--workers", type=int, default=1, help="processes, each with its own event loop")
        g.add_argument("--worker", type=_worker_spec, default=None, help=argparse.SUPPRESS)
        g.add_argument("--summary-json", action="store_true", help="print the summary as one JSON line on stdout")
        g.add_argument("--progress", dest="progress", action="store_true", default=None,
                       help="show live progress even when stderr is not a terminal")  # fmt: skip
        g.add_argument("--no-progress", dest="progress", action="store_false")
        g.add_argument("--uvloop", action="store_true", help="run on uvloop")
        g.add_argument("--fetch-size", type=int, default=5000)

    def fmt(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("format")
        g.add_argument("--format", choices=["csv", "json"], default=None, help="csv (default) or json (lines)")
        g.add_argument("--delimiter", default=",")
        g.add_argument("--header", dest="header", action="store_true", default=True)
        g.add_argument("--no-header", dest="header", action="store_false")
        g.add_argument("--columns", default=None, help="columns, comma-separated (load: for input with no header)")

    p = sub.add_parser("unload", help="write a table (or a query's rows) to CSV / JSON lines")
    p.add_argument("table", nargs="?", help="ks.table")
    p.add_argument("-o", "--output", default="-", help="file (.gz: gzip) or - for stdout")
    p.add_argument("--query", "-q", default=None, help="a SELECT instead of a table (with :start/:end per range)")
    p.add_argument("--writetime", action="store_true", help="add writetime(c) of each regular column")
    p.add_argument("--ttl", action="store_true", help="add ttl(c) of each regular column")
    p.add_argument("--checkpoint", default=None, help="journal file: resume an interrupted unload from it")
    p.add_argument("--rate", type=float, default=None, help="at most this many rows per second")
    common(p)
    fmt(p)
    p.set_defaults(operation="unload")

    p = sub.add_parser("load", help="load CSV / JSON lines into a table")
    p.add_argument("table", help="ks.table")
    p.add_argument("-i", "--input", default="-", help="file (.gz: gzip) or - for stdin")
    p.add_argument("--map", default=None, help="file_column=table_column,... (- drops a column)")
    p.add_argument("--batch-size", type=int, default=32, help="rows of one partition per unlogged batch")
    p.add_argument("--chunk-size", type=int, default=1000, help="records per checkpoint unit")
    p.add_argument("--rate", type=float, default=None, help="at most this many rows per second")
    p.add_argument("--ttl", type=int, default=None, help="TTL in seconds for every row")
    p.add_argument("--checkpoint", default=None, help="journal file: resume an interrupted load from it")
    p.add_argument("--bad-file", default="aiocql-bad-records.csv", help="failed records, re-loadable")
    p.add_argument("--error-log", default=None, help="why each record failed, with its line (default stderr)")
    p.add_argument("--max-errors", type=int, default=1000, help="stop after this many failed records (-1: never)")
    p.add_argument("--max-retries", type=int, default=5)
    p.add_argument("--connections", type=int, default=2, help="connections per host")
    common(p)
    fmt(p)
    p.set_defaults(operation="load")

    p = sub.add_parser("count", help="count a table's rows (count(*) per token range, in parallel)")
    p.add_argument("table", help="ks.table")
    common(p)
    p.set_defaults(operation="count")


def finish_args(args: argparse.Namespace) -> None:
    """Defaults that depend on other options, and checks argparse cannot do."""
    if getattr(args, "format", None) is None:
        path = getattr(args, "output", None) or getattr(args, "input", None) or ""
        args.format = "json" if ".json" in path or ".jsonl" in path else "csv"
    if args.concurrency is None:
        args.concurrency = {"unload": 8, "count": 16, "load": 64}[args.operation]
    if args.concurrency < 1:
        raise CliError("--concurrency must be at least 1")
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    if args.operation == "unload" and not args.table and not args.query:
        raise CliError("unload needs a table (ks.table) or --query")
    if args.operation == "load" and args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")


__all__ = ["add_parsers", "finish_args", "run"]
