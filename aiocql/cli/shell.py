"""``aiocql shell``: an interactive CQL shell on aiocql, with cqlsh's commands.

Statements end with ``;`` and may span lines. Besides CQL: ``DESCRIBE``/``DESC`` (``KEYSPACES``,
``KEYSPACE [ks]``, ``TABLES``, ``TABLE t``, ``TYPES``, ``TYPE t``, ``SCHEMA``, ``FULL SCHEMA``,
``CLUSTER``, or a bare name), from the driver's schema metadata; ``CONSISTENCY [level]``,
``SERIAL CONSISTENCY [level]``, ``TRACING ON|OFF``, ``PAGING ON|OFF|N``, ``EXPAND ON|OFF``,
``SOURCE 'file'``, ``HELP``, ``EXIT``. Interactive use needs the ``cli`` extra (prompt_toolkit:
history in ``~/.aiocql_history``, completion of keywords, keyspaces, tables and columns; rich: tables
on a terminal); ``-e`` and ``-f`` run without it.

Example:
    $ aiocql shell 127.0.0.1 -e "SELECT cluster_name FROM system.local"
     cluster_name
    --------------
     Test Cluster

    (1 rows)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from aiocql.cli.common import EXIT_FAILED, EXIT_OK, CliError, add_connection_options, make_cluster
from aiocql.cluster.cluster import Cluster
from aiocql.errors import CqlError
from aiocql.model.schema import KeyspaceMetadata, TableMetadata
from aiocql.model.schema_cql import cql_literal, schema_export, split_statements, type_cql
from aiocql.protocol.constants import Consistency
from aiocql.protocol.cqltypes import quote_identifier
from aiocql.results import ResultSet, tuple_factory
from aiocql.session.session import Session
from aiocql.statements import SimpleStatement

KEYWORDS = [
    "ADD",
    "AGGREGATE",
    "ALL",
    "ALLOW",
    "ALTER",
    "AND",
    "APPLY",
    "AS",
    "ASC",
    "AUTHORIZE",
    "BATCH",
    "BEGIN",
    "BY",
    "CALLED",
    "CLUSTERING",
    "COLUMNFAMILY",
    "COMPACT",
    "CONSISTENCY",
    "CONTAINS",
    "COUNT",
    "COUNTER",
    "CREATE",
    "CUSTOM",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DROP",
    "ENTRIES",
    "EXECUTE",
    "EXISTS",
    "EXPAND",
    "FILTERING",
    "FINALFUNC",
    "FROM",
    "FROZEN",
    "FULL",
    "FUNCTION",
    "FUNCTIONS",
    "GRANT",
    "IF",
    "IN",
    "INDEX",
    "INITCOND",
    "INPUT",
    "INSERT",
    "INTO",
    "IS",
    "JSON",
    "KEY",
    "KEYS",
    "KEYSPACE",
    "KEYSPACES",
    "LANGUAGE",
    "LIMIT",
    "LIST",
    "LOGIN",
    "MATERIALIZED",
    "MODIFY",
    "NORECURSIVE",
    "NOSUPERUSER",
    "NOT",
    "NULL",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "PAGING",
    "PARTITION",
    "PASSWORD",
    "PER",
    "PERMISSION",
    "PERMISSIONS",
    "PRIMARY",
    "RENAME",
    "REPLACE",
    "RETURNS",
    "REVOKE",
    "ROLE",
    "ROLES",
    "SCHEMA",
    "SELECT",
    "SERIAL",
    "SET",
    "SFUNC",
    "SOURCE",
    "STATIC",
    "STORAGE",
    "STYPE",
    "SUPERUSER",
    "TABLE",
    "TABLES",
    "TEXT",
    "TIMESTAMP",
    "TO",
    "TOKEN",
    "TRACING",
    "TRIGGER",
    "TRUNCATE",
    "TTL",
    "TUPLE",
    "TYPE",
    "TYPES",
    "UNLOGGED",
    "UPDATE",
    "USE",
    "USER",
    "USERS",
    "USING",
    "VALUES",
    "VIEW",
    "WHERE",
    "WITH",
    "WRITETIME",
    "CLUSTER",
    "EXIT",
    "QUIT",
    "HELP",
    "ON",
    "OFF",
]

HELP = """Commands (besides CQL statements, which end with ';'):
  DESCRIBE KEYSPACES | KEYSPACE [ks] | TABLES | TABLE t | TYPES | TYPE t | SCHEMA | FULL SCHEMA | CLUSTER | name
  CONSISTENCY [level]       SERIAL CONSISTENCY [level]
  TRACING ON|OFF            PAGING ON|OFF|N            EXPAND ON|OFF
  SOURCE 'file'             USE ks;                    HELP      EXIT | QUIT"""


_NEEDS_ESCAPE = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 9: "\\t", 13: "\\r", 127: "\\x7f"}


def _show(value: Any) -> str:
    """A value as the shell prints it (text as is, the rest as CQL literals, null as ``null``)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value.translate(_ESCAPES) if _NEEDS_ESCAPE.search(value) else value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")
    try:
        return cql_literal(value)
    except Exception:
        return str(value)


def table_text(names: Iterable[str], rows: list[tuple[Any, ...]]) -> str:
    """Rows as cqlsh prints them: `` a | b`` over a rule, one line per row.

    Example:
        >>> print(table_text(["k", "v"], [(1, "one"), (22, None)]))
         k  | v
        ----+------
          1 |  one
         22 | null
    """
    names = list(names)
    cells = [[_show(v) for v in r] for r in rows]
    widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
    lines = [" " + " | ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)).rstrip()]
    lines.append("-" + "-+-".join("-" * w for w in widths) + "-")
    for r in cells:
        lines.append(" " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def expanded_text(names: Iterable[str], rows: list[tuple[Any, ...]], start: int = 1) -> str:
    """Rows one field per line (``EXPAND ON``).

    Example:
        >>> print(expanded_text(["k", "v"], [(1, "one")]))
        <BLANKLINE>
        @ Row 1
        ---+-----
         k | 1
         v | one
    """
    names = list(names)
    width = max((len(n) for n in names), default=1)
    out = []
    for i, r in enumerate(rows, start):
        out.append(f"\n@ Row {i}")
        out.append("-" * (width + 2) + "+" + "-" * 5)
        out.extend(f" {n.ljust(width)} | {_show(v)}" for n, v in zip(names, r, strict=True))
    return "\n".join(out)


_SHELL_COMMAND = re.compile(
    r"^\s*(desc|describe|consistency|serial\s+consistency|tracing|paging|expand|source|help|exit|quit|clear|cls)\b",
    re.IGNORECASE,
)


class Shell:
    """The shell's state and commands, independent of how lines are read (terminal, ``-e``, ``-f``)."""

    def __init__(self, cluster: Cluster, session: Session, out: TextIO, err: TextIO, interactive: bool) -> None:
        self.cluster = cluster
        self.session = session
        self.out = out
        self.err = err
        self.interactive = interactive
        self.consistency = Consistency.ONE
        self.serial: Consistency | None = None
        self.tracing = False
        self.expand = False
        self.page_size: int | None = 100 if interactive else None
        self.errors = 0
        self.done = False
        self.more: Any = None  # interactive paging: a coroutine function asking whether to show the next page
        self.console: Any = None  # a rich Console when rows go to a terminal (the cli extra)

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self.errors += 1
        self.err.write(text + "\n")
        self.err.flush()

    @property
    def prompt(self) -> str:
        ks = self.session.keyspace
        return f"aiocql:{ks}> " if ks else "aiocql> "

    async def run_script(self, script: str) -> None:
        """Run every statement and command of ``script``."""
        for stmt in self.split(script):
            if self.done:
                return
            await self.run(stmt)

    @staticmethod
    def split(script: str) -> list[str]:
        """Statements and shell commands of a script, in order. A CQL statement ends with ``;`` (outside
        quotes); a shell command (``DESC``, ``TRACING``, ...) at the start of a statement ends at ``;`` or
        at the end of its line.

        Example:
            >>> Shell.split("tracing on\\nSELECT 'a;b'\\n FROM t; CONSISTENCY\\nDESC TABLE t")
            ['tracing on', "SELECT 'a;b'\\n FROM t;", 'CONSISTENCY', 'DESC TABLE t']
        """
        out: list[str] = []
        buf = ""
        for line in script.splitlines():
            if line.lstrip().startswith(("--", "//")):
                continue
            rest = line
            while True:
                if not buf.strip() and _SHELL_COMMAND.match(rest):
                    command, sep, after = rest.partition(";")
                    out.append(command.strip())
                    if sep and after.strip():
                        rest = after
                        continue
                    break
                buf = f"{buf}\n{rest}" if buf.strip() else rest
                parts = split_statements(buf)
                buf = parts.pop() if parts and not parts[-1].rstrip().endswith(";") else ""
                out.extend(parts)
                if buf and _SHELL_COMMAND.match(buf):  # a command after a statement on the same line
                    rest, buf = buf, ""
                    continue
                break
        if buf.strip():
            out.append(buf.strip())
        return out

    async def run(self, text: str) -> None:
        """One statement or shell command."""
        stripped = text.strip().rstrip(";").strip()
        if not stripped:
            return
        words = stripped.split()
        head = words[0].lower()
        try:
            if head in ("exit", "quit"):
                self.done = True
            elif head in ("help", "?"):
                self.print(HELP)
            elif head in ("desc", "describe"):
                self.print(self.describe(words[1:]))
            elif head == "consistency":
                self.set_consistency(words[1:], serial=False)
            elif head == "serial" and len(words) > 1 and words[1].lower() == "consistency":
                self.set_consistency(words[2:], serial=True)
            elif head == "tracing":
                self.tracing = self.on_off(words, self.tracing, "Tracing")
            elif head == "expand":
                self.expand = self.on_off(words, self.expand, "Expanded output")
            elif head == "paging":
                self.set_paging(words[1:])
            elif head == "source":
                path = stripped[len(words[0]) :].strip().strip("'\"")
                with open(os.path.expanduser(path), encoding="utf-8") as f:
                    await self.run_script(f.read())
            elif head in ("clear", "cls"):
                self.out.write("\x1b[2J\x1b[H")
            else:
                await self.execute(text.strip())
        except CliError as exc:
            self.error(str(exc))
        except CqlError as exc:
            self.error(f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            self.error(f"{exc.strerror or exc}: {getattr(exc, 'filename', '')}")

    # -- settings ----------------------------------------------------------------------------------
    def on_off(self, words: list[str], current: bool, label: str) -> bool:
        if len(words) == 1:
            self.print(f"{label} is currently {'enabled' if current else 'disabled'}.")
            return current
        value = words[1].lower()
        if value not in ("on", "off"):
            raise CliError(f"{words[0].upper()} takes ON or OFF, not {words[1]!r}")
        self.print(f"Now {label} is enabled" if value == "on" else f"Disabled {label}.")
        return value == "on"

    def set_consistency(self, words: list[str], serial: bool) -> None:
        label = "serial consistency" if serial else "consistency"
        if not words:
            level = self.serial if serial else self.consistency
            self.print(f"Current {label} level is {level.name if level is not None else 'SERIAL'}.")
            return
        try:
            level = Consistency[words[0].upper()]
        except KeyError:
            raise CliError(f"unknown {label} level {words[0]!r}") from None
        if serial:
            if level not in (Consistency.SERIAL, Consistency.LOCAL_SERIAL):
                raise CliError("serial consistency is SERIAL or LOCAL_SERIAL")
            self.serial = level
        else:
            self.consistency = level
        self.print(f"{label.capitalize()} level set to {level.name}.")

    def set_paging(self, words: list[str]) -> None:
        if not words:
            self.print(f"Query paging is currently {'enabled' if self.page_size else 'disabled'}."
                       + (f" Page size: {self.page_size}" if self.page_size else ""))  # fmt: skip
            return
        w = words[0].lower()
        if w == "off":
            self.page_size = None
            self.print("Disabled Query paging.")
        elif w == "on" or w.isdigit():
            self.page_size = int(w) if w.isdigit() else 100
            if self.page_size < 1:
                raise CliError("the page size must be at least 1")
            self.print(f"Now Query paging is enabled\nPage size: {self.page_size}")
        else:
            raise CliError(f"PAGING takes ON, OFF or a page size, not {words[0]!r}")

    # -- DESCRIBE ----------------------------------------------------------------------------------
    def describe(self, words: list[str]) -> str:
        meta = self.cluster.metadata
        current = self.session.keyspace
        what = [w.lower() for w in words]
        if not what:
            raise CliError("DESCRIBE what? KEYSPACES, KEYSPACE, TABLES, TABLE, TYPES, TYPE, SCHEMA, CLUSTER or a name")
        if what == ["keyspaces"]:
            return "\n" + "  ".join(sorted(meta)) + "\n"
        if what == ["cluster"]:
            state = self.cluster.state
            name = getattr(self.cluster, "cluster_name", None)
            lines = [f"Cluster: {name}" if name else "Cluster:", f"Partitioner: {state.partitioner}"]
            lines += [f"Host: {h.address} ({h.datacenter}/{h.rack}) {'up' if state.is_up(h) else 'down'}"
                      for h in state.host_list]  # fmt: skip
            return "\n".join(lines)
        if what in (["schema"], ["full", "schema"]):
            return schema_export(meta, include_system=what[0] == "full")
        if what[0] == "keyspace":
            ks = self._keyspace(words[1] if len(words) > 1 else current)
            return ks.export_as_string()
        if what == ["tables"]:
            names = [current] if current else sorted(meta)
            return "\n".join(f"\nKeyspace {n}\n{'-' * (9 + len(n))}\n" + "  ".join(sorted(meta[n].tables))
                             for n in names if n in meta)  # fmt: skip
        if what == ["types"]:
            ks = self._keyspace(current)
            return "  ".join(sorted(ks.user_types)) or "(no types)"
        if what[0] in ("table", "columnfamily") and len(words) > 1:
            return self._table(words[1]).export_as_string()
        if what[0] == "type" and len(words) > 1:
            ks_name, _, name = words[1].rpartition(".")
            ks = self._keyspace(ks_name or current)
            ut = ks.user_types.get(_ident(name))
            if ut is None:
                raise CliError(f"no type {words[1]!r} in keyspace {ks.name}")
            return type_cql(ut)
        if len(words) == 1:  # a bare name: a keyspace or a table
            name = _ident(words[0])
            if "." not in words[0] and name in meta:
                return meta[name].export_as_string()
            return self._table(words[0]).export_as_string()
        raise CliError(f"cannot DESCRIBE {' '.join(words)}")

    def _keyspace(self, name: str | None) -> KeyspaceMetadata:
        if not name:
            raise CliError("no keyspace: name one or USE one first")
        ks = self.cluster.metadata.get(_ident(name))
        if ks is None:
            raise CliError(f"no keyspace {name!r}")
        return ks

    def _table(self, name: str) -> TableMetadata:
        ks_name, _, table = name.rpartition(".")
        ks = self._keyspace(ks_name or self.session.keyspace)
        meta = ks.tables.get(_ident(table))
        if meta is None:
            raise CliError(f"no table {table!r} in keyspace {ks.name}")
        return meta

    # -- CQL ---------------------------------------------------------------------------------------
    async def execute(self, text: str) -> None:
        stmt = SimpleStatement(text.rstrip(";"), consistency_level=self.consistency,
                               serial_consistency_level=self.serial)  # fmt: skip
        fetch = self.page_size or 5000
        rs = await self.session.execute(stmt, trace=self.tracing, fetch_size=fetch, row_factory=tuple_factory)
        for w in rs.warnings:
            self.err.write(f"Warnings :\n{w}\n\n")
        if rs.column_names:
            await self.show_rows(rs)
        if self.tracing and rs.tracing_id is not None:
            await self.show_trace(rs)

    async def show_rows(self, rs: ResultSet[Any]) -> None:
        names = rs.column_names
        total = 0
        page: ResultSet[Any] | None = rs
        first = True
        while page is not None:
            rows = page.current_rows
            if rows or first:
                if self.console is not None and not self.expand:
                    self.rich_table(names, rows)
                else:
                    body = expanded_text(names, rows, total + 1) if self.expand else table_text(names, rows)
                    self.print(("\n" if first else "") + body)
            total += len(rows)
            first = False
            if not page.has_more_pages:
                break
            if self.interactive and self.page_size and self.more is not None and not await self.more():
                break
            page = await page.fetch_next_page()
        self.print(f"\n({total} rows)")

    def rich_table(self, names: Iterable[str], rows: list[tuple[Any, ...]]) -> None:
        """Rows as a rich table (interactive, on a terminal)."""
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, header_style="bold magenta")
        for n in names:
            table.add_column(n, overflow="fold")
        for r in rows:
            table.add_row(*(_show(v) for v in r))
        self.console.print(table)

    async def show_trace(self, rs: ResultSet[Any]) -> None:
        trace = await rs.get_query_trace(max_wait=5.0)
        if trace is None:
            self.error("the server sent no trace id for this request")
            return
        self.print(f"\nTracing session: {trace.trace_id}\n")
        rows = [(e.description, e.source, e.source_elapsed_us) for e in trace.events]
        self.print(table_text(["activity", "source", "source_elapsed"], rows))
        self.print(f"\nRequest complete (coordinator {trace.coordinator}, {trace.duration_us} µs)")


def _ident(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name.lower()


# -- terminal -------------------------------------------------------------------------------------------


def _completer(shell: Shell) -> Any:
    from prompt_toolkit.completion import Completer, Completion

    class CqlCompleter(Completer):
        """Keywords, keyspaces, tables (of the current keyspace, or after ``ks.``) and their columns."""

        def get_completions(self, document: Any, complete_event: Any) -> Iterable[Any]:
            word = document.get_word_before_cursor(WORD=True)
            meta = shell.cluster.metadata
            candidates: list[str] = []
            if "." in word:
                ks_name = word.rpartition(".")[0]
                ks = meta.get(_ident(ks_name))
                if ks is not None:
                    candidates = [f"{ks_name}.{quote_identifier(t)}" for t in ks.tables]
            else:
                candidates = list(KEYWORDS) + [quote_identifier(k) for k in meta]
                current = meta.get(shell.session.keyspace or "")
                if current is not None:
                    candidates += [quote_identifier(t) for t in current.tables]
                text = document.text_before_cursor.lower()
                for ks in meta.values():  # columns of the tables the statement names
                    for t in ks.tables.values():
                        if re.search(rf"\b{re.escape(t.name.lower())}\b", text):
                            candidates += [quote_identifier(c) for c in t.columns]
            low = word.lower()
            for c in dict.fromkeys(candidates):
                if c.lower().startswith(low) and c != word:
                    yield Completion(c if not c.isupper() or word.isupper() or not word else c.lower(),
                                     start_position=-len(word))  # fmt: skip

    return CqlCompleter()


async def interact(shell: Shell) -> None:
    """Read statements from the terminal until EXIT or end of input."""
    try:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
    except ImportError:
        raise CliError("the interactive shell needs prompt_toolkit: pip install 'aiocql[cli]'") from None
    history = FileHistory(os.path.expanduser(os.environ.get("AIOCQL_HISTORY", "~/.aiocql_history")))
    prompt: Any = PromptSession(history=history, completer=_completer(shell), complete_while_typing=False)

    async def more() -> bool:
        answer = await prompt.prompt_async("---MORE--- (Enter: next page, q: stop) ", completer=None)
        return str(answer).strip().lower() != "q"

    shell.more = more
    if sys.stdout.isatty():
        try:
            from rich.console import Console

            shell.console = Console(highlight=False)
        except ImportError:  # the plain table stands in
            shell.console = None
    shell.print("Connected. aiocql shell; HELP for commands, EXIT to leave.")
    buffer: list[str] = []
    while not shell.done:
        try:
            line = await prompt.prompt_async(shell.prompt if not buffer else "   ... ")
        except KeyboardInterrupt:
            buffer = []
            continue
        except EOFError:
            break
        buffer.append(line)
        text = "\n".join(buffer)
        if not text.strip():
            buffer = []
            continue
        statements = Shell.split(text)
        last_done = bool(statements) and (statements[-1].endswith(";") or bool(_SHELL_COMMAND.match(statements[-1])))
        complete = statements if last_done else statements[:-1]
        if complete:
            buffer = [] if len(complete) == len(statements) else [statements[-1]]
            for stmt in complete:
                await shell.run(stmt)


async def _main(args: argparse.Namespace) -> int:
    interactive = args.execute is None and args.file is None
    if interactive and not sys.stdin.isatty():
        script = sys.stdin.read()
        interactive = False
    else:
        script = None
    if args.hostpos:
        args.host = args.hostpos
    if args.portpos:
        args.port = args.portpos
    async with make_cluster(args) as cluster:
        session = await cluster.connect(args.keyspace)
        shell = Shell(cluster, session, sys.stdout, sys.stderr, interactive)
        if args.consistency:
            shell.set_consistency([args.consistency], serial=False)
        if args.execute is not None:
            await shell.run_script(args.execute)
        elif args.file is not None:
            try:
                with open(args.file, encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
            await shell.run_script(text)
        elif script is not None:
            await shell.run_script(script)
        else:
            await interact(shell)
        return EXIT_FAILED if shell.errors and not interactive else EXIT_OK


def add_parser(sub: Any) -> None:
    """The ``shell`` subcommand."""
    p = sub.add_parser("shell", help="interactive CQL shell (also -e CQL / -f file)")
    p.add_argument("hostpos", nargs="?", default=None, metavar="host", help="contact point (like cqlsh)")
    p.add_argument("portpos", nargs="?", type=int, default=None, metavar="port")
    p.add_argument("-e", "--execute", default=None, help="run these statements and exit")
    p.add_argument("-f", "--file", default=None, help="run the statements of this file and exit")
    p.add_argument("-k", "--keyspace", default=None, help="USE this keyspace first")
    add_connection_options(p)


def run(args: argparse.Namespace) -> int:
    """Run the shell; 0, or 2 when a statement of ``-e`` / ``-f`` failed or the connection did."""
    try:
        return asyncio.run(_main(args))
    except CliError as exc:
        sys.stderr.write(f"aiocql shell: {exc}\n")
        return EXIT_FAILED
    except (CqlError, OSError) as exc:
        sys.stderr.write(f"aiocql shell: {type(exc).__name__}: {exc}\n")
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
