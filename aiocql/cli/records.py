"""The records ``aiocql load`` reads: CSV rows or JSON lines, each with its number and its line in the file.

Example:
    >>> record_text(["1", "a,b"], ",")
    '1,"a,b"'
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiocql.cli.common import (
    CliError,
)
from aiocql.cli.files import Input
from aiocql.errors import InvalidValueError

__all__ = ["Record", "csv_records", "json_records", "record_text"]


@dataclass(slots=True)
class Record:
    number: int  # 0-based among data records
    line: int  # 1-based line where it starts
    raw: list[Any]
    error: str | None = None  # unreadable (e.g. a line that is not JSON)


def record_text(raw: list[str], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="").writerow(raw)
    return buf.getvalue()


def csv_records(inp: Input, args: argparse.Namespace) -> tuple[list[str] | None, Iterator[Record]]:
    reader = csv.reader(inp.text, delimiter=args.delimiter, strict=True)
    header: list[str] | None = None
    if args.header:
        try:
            header = next(reader)
        except StopIteration:
            return [], iter(())
        except csv.Error as exc:
            raise CliError(f"{args.input}: line 1: {exc}") from None

    def records() -> Iterator[Record]:
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
                yield Record(number, line, raw)
                number += 1
            line = reader.line_num + 1

    return header, records()


def json_records(inp: Input, args: argparse.Namespace) -> tuple[list[str] | None, Iterator[Record], Any]:
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

    def records() -> Iterator[Record]:
        nonlocal number, line_no
        for ln, obj in first:
            yield Record(number, ln, [_jsonish(obj.get(n)) for n in names])
            number += 1
        for text in lines:
            line_no += 1
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise InvalidValueError("not a JSON object")
            except ValueError as exc:
                yield Record(number, line_no, [text.rstrip("\n")], f"not a JSON object: {exc}")
                number += 1
                continue
            yield Record(number, line_no, [_jsonish(obj.get(n)) for n in names])
            number += 1

    return names, records(), None


def _jsonish(v: Any) -> Any:
    if v is None:
        return ""
    return v
