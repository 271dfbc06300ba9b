"""The bulk commands' files: an input that reports how much of it was read, outputs (``-`` is stdin/stdout,
a ``.gz`` name is gzip-compressed) and the per-worker part names.

Example:
    >>> part_path("out.csv.gz", 3)
    'out-3.csv.gz'
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from pathlib import Path
from typing import IO, Any, TextIO

from aiocql.cli.common import (
    CliError,
)

__all__ = ["Input", "open_output", "part_path"]


class Input:
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


def open_output(path: str, append: bool = False) -> TextIO:
    if path == "-":
        return sys.stdout
    mode = "at" if append else "wt"
    try:
        if path.endswith(".gz"):
            return gzip.open(path, mode, encoding="utf-8", newline="", compresslevel=1)  # type: ignore[return-value]
        return open(path, mode, encoding="utf-8", newline="")  # type: ignore[return-value]
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def part_path(path: str, index: int) -> str:
    """``out.csv.gz`` -> ``out-3.csv.gz``: worker ``index``'s part of an output (or bad-records) file."""
    p = Path(path)
    suffixes = "".join(p.suffixes)
    stem = p.name[: -len(suffixes)] if suffixes else p.name
    return str(p.with_name(f"{stem}-{index}{suffixes}"))
