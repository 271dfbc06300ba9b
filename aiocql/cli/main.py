"""The ``aiocql`` console script: parse the command line and run a subcommand.

Example:
    $ aiocql --help
    $ aiocql shell 127.0.0.1 -e "DESCRIBE KEYSPACES"
    $ aiocql unload ks.t -o t.csv.gz && aiocql load ks.t2 -i t.csv.gz && aiocql count ks.t2
"""

from __future__ import annotations

import argparse
import sys

from aiocql._version import __version__
from aiocql.cli import bulk
from aiocql.cli.common import EXIT_FAILED, CliError


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``aiocql {shell,unload,load,count} ...``."""
    p = argparse.ArgumentParser(prog="aiocql", description="aiocql: a CQL shell and bulk unload/load/count.")
    p.add_argument("--version", action="version", version=f"aiocql {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{shell,unload,load,count}")
    sub.required = True
    from aiocql.cli import shell

    shell.add_parser(sub)
    bulk.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 success, 1 partial, 2 failure)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "shell":
            from aiocql.cli import shell

            return shell.run(args)
        bulk.finish_args(args)
        return bulk.run(args, argv)
    except CliError as exc:
        sys.stderr.write(f"aiocql {args.command}: {exc}\n")
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
