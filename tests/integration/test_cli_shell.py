"""``aiocql shell`` against the real node: ``-e``, ``-f`` and stdin as subprocesses (tables, expanded output,
DESCRIBE from the schema metadata, CONSISTENCY, TRACING, errors and exit codes), and the interactive shell
under a pseudo-terminal: multi-line statements, completion of schema names, paging, history."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

from .conftest import ddl

pytestmark = pytest.mark.server

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[>=()][0-9A-Za-z]?|\x1b\][^\x07]*\x07|\r")


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        "CREATE TABLE shelltab (k int, c int, v text, l list<int>, PRIMARY KEY ((k), c))",
        "CREATE TYPE addr (street text, zip int)",
        *(f"INSERT INTO shelltab (k, c, v, l) VALUES (1, {c}, 'v{c}', [{c}, 0])" for c in range(5)),
        "INSERT INTO shelltab (k, c, v) VALUES (2, 0, 'line\nbreak')",
    )


def _env(info: ServerInfo, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["AIOCQL_HOST"] = ",".join(info.contact_points)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def shell(info: ServerInfo, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aiocql", "shell", *args], env=_env(info), input=stdin,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_execute_tables_expand_and_errors(cassandra: ServerInfo, keyspace: str) -> None:
    done = shell(cassandra, "-k", keyspace, "-e", "SELECT c, v, l FROM shelltab WHERE k = 1 AND c < 2;")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip("\n").splitlines()
    assert lines == [" c | v  | l", "---+----+--------", " 0 | v0 | [0, 0]", " 1 | v1 | [1, 0]", "", "(2 rows)"]
    escaped = shell(cassandra, "-e", f"SELECT v FROM {keyspace}.shelltab WHERE k = 2")
    assert "line\\nbreak" in escaped.stdout  # a newline in a value does not break the table
    expanded = shell(cassandra, "-e", f"EXPAND ON\nSELECT k, v FROM {keyspace}.shelltab WHERE k = 1 LIMIT 1;")
    assert "@ Row 1" in expanded.stdout and re.search(r"^ v \| v0$", expanded.stdout, re.M)
    bad = shell(cassandra, "-e", f"SELECT nope FROM {keyspace}.shelltab; SELECT k FROM {keyspace}.shelltab LIMIT 1;")
    assert bad.returncode == 2 and "InvalidRequest" in bad.stderr and "Undefined column name nope" in bad.stderr
    assert "(1 rows)" in bad.stdout  # the statement after the failed one still ran
    down = subprocess.run([sys.executable, "-m", "aiocql", "shell", "127.0.0.254", "--connect-timeout", "2", "-e",
                           "SELECT 1"], env=_env(cassandra), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert down.returncode == 2 and "aiocql shell:" in down.stderr


def test_describe_from_schema_metadata(cassandra: ServerInfo, keyspace: str) -> None:
    async def expected() -> tuple[str, str, str]:
        async with Cluster(**cluster_kwargs(cassandra)) as cluster:
            await cluster.connect()
            ks = cluster.metadata[keyspace]
            return ks.tables["shelltab"].export_as_string(), ks.export_as_string(), "  ".join(sorted(cluster.metadata))

    table, whole, names = asyncio.run(expected())
    done = shell(cassandra, "-e", f"DESC TABLE {keyspace}.shelltab\nDESCRIBE KEYSPACE {keyspace}\nDESC KEYSPACES")
    assert done.returncode == 0, done.stderr
    assert table in done.stdout and whole in done.stdout and names in done.stdout
    assert "CREATE TABLE" in table and "PRIMARY KEY (k, c)" in table
    t = shell(cassandra, "-k", keyspace, "-e", "DESC TYPE addr; DESC TABLES; DESC nope")
    assert "CREATE TYPE" in t.stdout and "zip int" in t.stdout and "shelltab" in t.stdout
    assert t.returncode == 2 and "no table 'nope'" in t.stderr


def test_file_with_multiline_statements_consistency_and_tracing(
    cassandra: ServerInfo, keyspace: str, tmp_path: Path
) -> None:
    script = tmp_path / "s.cql"
    script.write_text(
        f"-- a comment\nUSE {keyspace};\nCONSISTENCY\nCONSISTENCY QUORUM\n"
        "INSERT INTO shelltab (k, c, v)\n  VALUES (3, 0, 'semi;colon');\n"
        "TRACING ON\nSELECT v\n  FROM shelltab\n  WHERE k = 3;\nTRACING OFF\nCONSISTENCY bogus\n"
    )
    done = shell(cassandra, "-f", str(script))
    assert "Current consistency level is ONE." in done.stdout and "Consistency level set to QUORUM." in done.stdout
    assert "semi;colon" in done.stdout and "Tracing session:" in done.stdout
    assert re.search(r"Parsing SELECT v\s+FROM shelltab", done.stdout) or "Parsing SELECT" in done.stdout
    assert done.returncode == 2 and "unknown consistency level 'bogus'" in done.stderr
    piped = shell(cassandra, stdin=f"SELECT v FROM {keyspace}.shelltab WHERE k = 3;\n")
    assert piped.returncode == 0 and "semi;colon" in piped.stdout


class Pty:
    """A child process on a pseudo-terminal: type into it, wait for what it prints."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.seen = ""

    def read(self, timeout: float = 0.2) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.seen += data.decode(errors="replace")
            timeout = 0.05

    def expect(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            text = ANSI.sub("", self.seen)
            if re.search(pattern, text):
                return text
            if self.proc.poll() is not None:
                self.read()
                break
        raise AssertionError(f"never saw {pattern!r}; screen so far:\n{ANSI.sub('', self.seen)[-3000:]}")

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def test_interactive_under_a_pty(cassandra: ServerInfo, keyspace: str, tmp_path: Path) -> None:
    history = tmp_path / "history"
    term = Pty(
        [sys.executable, "-m", "aiocql", "shell"],
        _env(cassandra, AIOCQL_HISTORY=str(history), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1"),
    )
    try:
        term.expect(r"aiocql>")
        # A statement over two lines: the continuation prompt, then the result.
        term.send(f"SELECT c, v FROM {keyspace}.shelltab\r")
        term.expect(r"\.\.\.")
        term.send("WHERE k = 1 AND c = 3;\r")
        term.expect(r"v3")
        term.expect(r"\(1 rows\)")
        # Completion of schema names: the keyspace's table after "ks.".
        term.seen = ""
        term.send(f"USE {keyspace};\r")
        term.expect(rf"aiocql:{keyspace}>")
        term.seen = ""
        term.send("SELECT v FROM shell\t")
        term.expect(r"shelltab")
        term.send(" WHERE k = 2;\r")
        term.expect(r"line\\nbreak")
        # Paging: two rows a page, ---MORE--- between pages.
        term.send("PAGING 2\r")
        term.expect(r"Page size: 2")
        term.seen = ""
        term.send("SELECT c FROM shelltab WHERE k = 1;\r")
        term.expect(r"---MORE---")
        assert "(5 rows)" not in ANSI.sub("", term.seen)
        term.seen = ""
        term.send("\r")
        term.expect(r"---MORE---")
        term.seen = ""
        term.send("\r")
        term.expect(r"\(5 rows\)")
        term.send("EXIT\r")
        deadline = time.monotonic() + 30
        while term.proc.poll() is None and time.monotonic() < deadline:
            term.read()
        assert term.proc.returncode == 0
    finally:
        term.close()
    saved = history.read_text()
    assert "WHERE k = 1 AND c = 3;" in saved and "PAGING 2" in saved and "EXIT" in saved
