"""What observability needs from a CQL string, without the values: its operation, keyspace and table, a
low-cardinality summary, and the text with every literal replaced by ``?``.

Pure functions over the query text (no driver state, no I/O), cached per text: a prepared statement's
text is parsed once however often it runs.

* :func:`describe`: operation (``SELECT``, ``INSERT``, ``CREATE TABLE``...), keyspace (when the text
  qualifies the table), table, and ``summary`` (``"{operation} {table}"``, the OpenTelemetry
  ``db.query.summary``). Names stay as written (quoted names keep their quotes), as the conventions ask.
* :func:`sanitize`: the text with string, number, blob, UUID, boolean and duration literals replaced by
  ``?`` (bind markers stay), for query text that was not prepared and so may carry values.

Example:
    >>> d = describe('SELECT v FROM ks."Users" WHERE k = ?')
    >>> d.operation, d.keyspace, d.table, d.summary
    ('SELECT', 'ks', '"Users"', 'SELECT "Users"')
    >>> sanitize("INSERT INTO t (k, v) VALUES (42, 'secret') USING TTL 60")
    'INSERT INTO t (k, v) VALUES (?, ?) USING TTL ?'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = ["Described", "describe", "sanitize"]

_TOKEN: Final = re.compile(
    r"""
    (?P<ws>\s+)
    | (?P<comment>--[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<dollar>\$\$.*?(?:\$\$|\Z))
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z))
    | (?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
    | (?P<blob>0[xX][0-9a-fA-F]*)
    | (?P<duration>(?:\d+(?:y|mo|w|d|h|s|ms|us|µs|ns|m))+(?![\w.]))
    | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w]))
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<marker>\?|:[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_LITERAL_WORDS: Final = frozenset({"true", "false", "nan", "infinity"})
_LITERAL_KINDS: Final = frozenset({"string", "dollar", "uuid", "blob", "duration", "number"})
_SCHEMA_OBJECTS: Final = frozenset(
    {"TABLE", "COLUMNFAMILY", "KEYSPACE", "SCHEMA", "INDEX", "TYPE", "FUNCTION", "AGGREGATE", "ROLE", "USER",
     "TRIGGER", "MATERIALIZED"}
)  # fmt: skip
_TABLE_OBJECTS: Final = frozenset({"TABLE", "COLUMNFAMILY", "MATERIALIZED"})
_MAX_SUMMARY: Final = 255


@dataclass(frozen=True, slots=True)
class Described:
    """What :func:`describe` found; a part it could not tell is ``None``."""

    operation: str | None
    keyspace: str | None
    table: str | None
    summary: str | None


def _tokens(query: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(query) if m.lastgroup not in ("ws", "comment")]


@lru_cache(maxsize=2048)
def sanitize(query: str) -> str:
    """``query`` with every literal value replaced by ``?``; comments dropped, whitespace collapsed.

    Example:
        >>> sanitize("SELECT * FROM t WHERE id = 5b6962dd-3f90-4c93-8f61-eabfa4a803e2 AND b = 0xcafe -- x")
        'SELECT * FROM t WHERE id = ? AND b = ?'
        >>> sanitize("UPDATE t SET ok = true, n = -1.5e3 WHERE k = :k")
        'UPDATE t SET ok = ?, n = -? WHERE k = :k'
    """
    out: list[str] = []
    for m in _TOKEN.finditer(query):
        kind, text = m.lastgroup, m.group()
        if kind in ("ws", "comment"):
            if out and out[-1] != " ":
                out.append(" ")
            continue
        if kind in _LITERAL_KINDS or (kind == "word" and text.lower() in _LITERAL_WORDS):
            text = "?"
        out.append(text)
    return "".join(out).strip()


@lru_cache(maxsize=2048)
def describe(query: str) -> Described:
    """The operation, keyspace, table and summary of one CQL statement (``None`` parts when unknown).

    Example:
        >>> describe("insert into t (k) values (1)")
        Described(operation='insert', keyspace=None, table='t', summary='insert t')
        >>> describe("CREATE TABLE IF NOT EXISTS ks.t (k int PRIMARY KEY)").summary
        'CREATE TABLE t'
        >>> describe("USE ks")
        Described(operation='USE', keyspace='ks', table=None, summary='USE ks')
    """
    tokens = _tokens(query)
    words = [text for _, text in tokens]
    if not words or tokens[0][0] != "word":
        return Described(None, None, None, None)
    upper = [w.upper() for w in words]
    first = upper[0]
    operation = words[0]
    name_at: int | None = None
    is_table = True
    if first == "SELECT":
        name_at = _after(upper, "FROM", 1)
    elif first == "INSERT":
        name_at = _after(upper, "INTO", 1)
    elif first == "UPDATE":
        name_at = 1
    elif first == "DELETE":
        name_at = _after(upper, "FROM", 1)
    elif first == "TRUNCATE":
        name_at = 2 if len(upper) > 1 and upper[1] in ("TABLE", "COLUMNFAMILY") else 1
    elif first == "USE":
        name = _name(tokens, 1)
        keyspace = name[1] if name else None
        return Described(operation, keyspace, None, _summary(operation, keyspace))
    elif first == "BEGIN":
        return _batch(query, words)
    elif first in ("CREATE", "ALTER", "DROP") and len(upper) > 1:
        at = 2 if upper[1] != "OR" else 4  # CREATE OR REPLACE FUNCTION
        if at - 1 < len(upper) and upper[at - 1] in _SCHEMA_OBJECTS:
            kind = upper[at - 1]
            if kind == "MATERIALIZED":  # MATERIALIZED VIEW
                at += 1
            operation = " ".join(words[:at])
            if upper[at : at + 2] == ["IF", "EXISTS"]:
                at += 2
            elif upper[at : at + 3] == ["IF", "NOT", "EXISTS"]:
                at += 3
            if kind == "INDEX" and first == "CREATE":
                at = _after(upper, "ON", at) or at  # the indexed table
            else:
                is_table = kind in _TABLE_OBJECTS
            name_at = at
        else:
            operation = words[0]
    if name_at is None:
        return Described(operation, None, None, _summary(operation, None))
    name = _name(tokens, name_at)
    if name is None:
        return Described(operation, None, None, _summary(operation, None))
    keyspace, table = name
    if not is_table:  # a keyspace, type, role...: its name is the target, but not a table
        target = table
        if first in ("CREATE", "ALTER", "DROP") and upper[1] in ("KEYSPACE", "SCHEMA"):
            return Described(operation, table, None, _summary(operation, target))
        return Described(operation, keyspace, None, _summary(operation, target))
    return Described(operation, keyspace, table, _summary(operation, table))


def _after(upper: list[str], keyword: str, start: int) -> int | None:
    """The index after the first ``keyword`` at or after ``start``."""
    try:
        return upper.index(keyword, start) + 1
    except ValueError:
        return None


def _name(tokens: list[tuple[str, str]], at: int) -> tuple[str | None, str] | None:
    """``(keyspace, name)`` of a possibly qualified name at ``tokens[at]``."""
    if at >= len(tokens) or tokens[at][0] not in ("word", "quoted"):
        return None
    first = tokens[at][1]
    if at + 2 < len(tokens) and tokens[at + 1][1] == "." and tokens[at + 2][0] in ("word", "quoted"):
        return first, tokens[at + 2][1]
    return None, first


def _summary(operation: str, target: str | None) -> str:
    summary = operation if target is None else f"{operation} {target}"
    return summary if len(summary) <= _MAX_SUMMARY else operation[:_MAX_SUMMARY]


def _batch(query: str, words: list[str]) -> Described:
    """A textual ``BEGIN BATCH ... APPLY BATCH``: ``BATCH INSERT`` when every statement is an INSERT."""
    body = re.split(r"(?i)\bAPPLY\s+BATCH\b", query, maxsplit=1)[0]
    body = re.sub(r"(?is)^\s*BEGIN\s+(?:UNLOGGED\s+|COUNTER\s+|LOGGED\s+)?BATCH\b(?:\s+USING\s+\S+\s+\S+)?", "", body)
    parts = [describe(p) for p in _split_statements(body)]
    return _combine(parts)


def _split_statements(body: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    for m in _TOKEN.finditer(body):
        if m.group() == ";" and m.lastgroup == "other":
            parts.append("".join(current))
            current = []
        else:
            current.append(m.group())
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _combine(parts: list[Described]) -> Described:
    """A batch's description from its statements': shared operation and table when they agree."""
    operations = {p.operation.upper() for p in parts if p.operation}
    tables = {(p.keyspace, p.table) for p in parts}
    same_op = len(operations) == 1 and all(p.operation for p in parts)
    operation = f"BATCH {parts[0].operation}" if parts and same_op else "BATCH"
    keyspace, table = next(iter(tables)) if len(tables) == 1 else (None, None)
    if table is not None:
        return Described(operation, keyspace, table, _summary(operation, table))
    return Described(operation, keyspace, None, _summary(operation, None))


def describe_batch(queries: list[str | None]) -> Described:
    """The description of a BATCH message from its statements' texts (``None`` for unknown ones).

    Example:
        >>> describe_batch(["INSERT INTO t (k) VALUES (?)", "INSERT INTO t (k) VALUES (?)"]).summary
        'BATCH INSERT t'
        >>> describe_batch(["INSERT INTO t (k) VALUES (?)", "DELETE FROM u WHERE k = ?"]).operation
        'BATCH'
    """
    return _combine([describe(q) if q else Described(None, None, None, None) for q in queries])
