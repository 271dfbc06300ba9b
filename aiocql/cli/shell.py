"""``aiocql shell``: an interactive CQL shell (work in progress)."""

from __future__ import annotations

import argparse
from typing import Any

from aiocql.cli.common import CliError, add_connection_options


def add_parser(sub: Any) -> None:
    """The ``shell`` subcommand."""
    p = sub.add_parser("shell", help="interactive CQL shell (also -e CQL / -f file)")
    p.add_argument("hostpos", nargs="?", default=None, metavar="host")
    p.add_argument("portpos", nargs="?", type=int, default=None, metavar="port")
    p.add_argument("-e", "--execute", default=None, help="run these statements and exit")
    p.add_argument("-f", "--file", default=None, help="run the statements of this file and exit")
    p.add_argument("-k", "--keyspace", default=None)
    add_connection_options(p)


def run(args: argparse.Namespace) -> int:
    """Run the shell."""
    raise CliError("the shell is not built yet")
