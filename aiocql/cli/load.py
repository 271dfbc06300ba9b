"""``aiocql load``: records parsed with their column's type, grouped by partition into unlogged batches,
sent with a bounded number in flight; failed records go to a re-loadable bad-records file, and a
``--checkpoint`` journal lets an interrupted load resume without losing or duplicating a record.

Example:
    $ aiocql load ks.events_copy -i events.csv.gz --checkpoint load.ckpt
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from aiocql.cli.common import (
    CliError,
    make_cluster,
    table_metadata,
)
from aiocql.cli.files import Input, open_output
from aiocql.cli.formats import json_parser, parser
from aiocql.cli.progress import Progress
from aiocql.cli.ratelimit import RateLimiter
from aiocql.cli.records import Record, csv_records, json_records, record_text
from aiocql.errors import ConnectionError_, CqlError, InvalidValueError, NoHostAvailable, OperationTimedOut
from aiocql.errors.server import Overloaded, Unavailable, WriteTimeout
from aiocql.model.schema import TableMetadata
from aiocql.protocol.constants import BatchType
from aiocql.protocol.cqltypes import quote_identifier
from aiocql.session.session import Session
from aiocql.statements import BatchStatement, PreparedStatement

__all__ = ["load"]


RETRYABLE = (WriteTimeout, Unavailable, Overloaded, OperationTimedOut, NoHostAvailable, ConnectionError_)


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
        self.limiter = RateLimiter(args.rate) if args.rate else None
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

    def values(self, rec: Record, base: int) -> tuple[Any, list[Any]]:
        """(partition key, bind values) of a record; raises InvalidValueError (a ValueError) naming the column."""
        raw = rec.raw
        if rec.error is not None:
            raise InvalidValueError(rec.error)
        if len(raw) != len(self.file_columns):
            raise InvalidValueError(f"{len(raw)} fields where {len(self.file_columns)} were expected")
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
            raise InvalidValueError(f"column {name!r} ({kind}): {exc} (value {raw[i]!r})") from None
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
    def fail(self, records: list[Record], reason: str) -> None:
        self.failed_records += len(records)
        self.progress.errors += len(records)
        if self.log is None:
            self.log = open_output(self.log_file, append=True) if self.log_file else sys.stderr
        if self.bad_out is None:
            f = open_output(self.bad_file, append=os.path.exists(self.bad_file) and self.resume)
            self.bad_out = (f, csv.writer(f, delimiter=self.args.delimiter, lineterminator="\n"))
            if self.args.format == "csv" and self.args.header and f.tell() == 0:
                self.bad_out[1].writerow(self.file_columns)
        f, w = self.bad_out
        for rec in records:
            line = f"line {rec.line}: {reason}; record: {record_text(rec.raw, self.args.delimiter)}"
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
    async def send(self, ps: PreparedStatement, chunk: _Chunk, group: list[tuple[Record, list[Any]]],
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

    async def flush(self, ps: PreparedStatement, chunk: _Chunk, items: list[tuple[Any, Record, list[Any]]],
                    ckpt: _Checkpoint) -> None:  # fmt: skip
        groups: dict[Any, list[tuple[Record, list[Any]]]] = {}
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

    async def run(self, records: Iterator[Record], ckpt: _Checkpoint) -> None:
        ps = await self.session.prepare(self.query)
        self.resume = ckpt.resumed
        chunk_size = self.args.chunk_size
        worker = self.args.worker
        current: _Chunk | None = None
        items: list[tuple[Any, Record, list[Any]]] = []
        uncertain: list[Record] = []
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


async def load(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    if args.worker is None and args.workers > 1:
        raise AssertionError("unreachable")  # the parent runs workers as processes
    inp = Input(args.input)
    progress.fraction = inp.fraction
    try:
        async with make_cluster(args, connections_per_host=args.connections) as cluster:
            session = await cluster.connect()
            table = await table_metadata(session, args)
            if args.format == "json":
                header, records, _ = json_records(inp, args)
            else:
                header, records = csv_records(inp, args)
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
