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

The commands live in :mod:`aiocql.cli.unload`, :mod:`aiocql.cli.load` and :mod:`aiocql.cli.count`; this
module holds their arguments and runs them, in this process or as ``--workers N`` processes.

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
import json
import subprocess
import sys
from typing import Any

from aiocql.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    CliError,
    add_connection_options,
)
from aiocql.cli.count import count
from aiocql.cli.files import part_path
from aiocql.cli.load import load
from aiocql.cli.progress import Progress
from aiocql.cli.unload import unload
from aiocql.errors import CqlError

__all__ = ["add_parsers", "finish_args", "run"]


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
            extra += ["--output", part_path(args.output, i)]
            if args.checkpoint:
                extra += ["--checkpoint", part_path(args.checkpoint, i)]
        if args.operation == "load":
            extra += ["--bad-file", part_path(args.bad_file, i)]
            if args.checkpoint:
                extra += ["--checkpoint", part_path(args.checkpoint, i)]
            if args.error_log:
                extra += ["--error-log", part_path(args.error_log, i)]
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
    job = {"unload": unload, "load": load, "count": count}[args.operation]

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
