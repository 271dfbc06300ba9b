"""``aiocql unload``: a table (by token range, :class:`aiocql.scan.TableScan`) or a query's rows to CSV or
JSON lines; ``--checkpoint`` resumes an interrupted unload, range by range.

Example:
    $ aiocql unload ks.events -o events.csv.gz --writetime
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import io
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from aiocql.cli.common import (
    CliError,
    consistency,
    make_cluster,
    table_metadata,
)
from aiocql.cli.files import open_output
from aiocql.cli.formats import formatter, json_formatter
from aiocql.cli.progress import Progress
from aiocql.cli.ratelimit import RateLimiter
from aiocql.model.schema import ColumnKind, TableMetadata
from aiocql.protocol.cqltypes import CqlType, NativeType, quote_identifier
from aiocql.results import tuple_factory
from aiocql.scan import TableScan, TokenRange, token_ranges
from aiocql.session.session import Session

__all__ = ["unload"]


def _simple_regular(table: TableMetadata) -> list[str]:
    """Regular, non-collection columns (those writetime() / ttl() apply to)."""
    return [
        c.name for c in table.columns.values()
        if c.kind is ColumnKind.REGULAR and isinstance(c.cql_type, NativeType) and c.cql_type.name != "counter"
    ]  # fmt: skip


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


async def unload(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    async with make_cluster(args, row_factory=tuple_factory) as cluster:
        session = await cluster.connect()
        level = consistency(args.consistency)
        if args.checkpoint and (args.query or args.output == "-"):
            raise CliError("an unload --checkpoint needs a table (not --query) and an output file (not stdout)")
        out = open_output(args.output) if not args.checkpoint else io.StringIO()
        try:
            if args.query:
                return await _unload_query(session, args, out, progress, level)
            table = await table_metadata(session, args)
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
            limiter = RateLimiter(args.rate) if args.rate else None
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
        limiter = RateLimiter(args.rate) if args.rate else None
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
