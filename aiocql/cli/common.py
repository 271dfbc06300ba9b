"""What every ``aiocql`` subcommand shares: connection options (as cqlsh names them) and exit codes.

Example:
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_connection_options(p)
    >>> args = p.parse_args(["--host", "10.0.0.1,10.0.0.2", "-u", "me", "-p", "pw"])
    >>> contact_points(args), args.username
    (['10.0.0.1', '10.0.0.2'], 'me')
"""

from __future__ import annotations

import argparse
import os
import ssl
from typing import Any

from aiocql.cluster.cluster import Cluster
from aiocql.connection.auth import PlainTextAuthProvider
from aiocql.errors.base import CliError as CliError  # defined with the other errors; exported here too
from aiocql.model.schema import TableMetadata
from aiocql.protocol.constants import Consistency
from aiocql.session.session import Session

#: Exit codes: every record / row done; some failed (the rest done, see the error log); nothing usable.
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


def add_connection_options(p: argparse.ArgumentParser) -> None:
    """Host, port, auth, TLS and protocol options (cqlsh's names where it has them)."""
    g = p.add_argument_group("connection")
    g.add_argument("--host", "-H", default=os.environ.get("AIOCQL_HOST", "127.0.0.1"),
                   help="contact points, comma-separated (default $AIOCQL_HOST or 127.0.0.1)")  # fmt: skip
    g.add_argument("--port", "-P", type=int, default=int(os.environ.get("AIOCQL_PORT", "9042")))
    g.add_argument("--username", "-u", default=os.environ.get("AIOCQL_USERNAME"))
    g.add_argument("--password", "-p", default=os.environ.get("AIOCQL_PASSWORD"))
    g.add_argument("--ssl", action="store_true", help="connect with TLS")
    g.add_argument("--ssl-ca", help="CA file (PEM) to trust; implies --ssl")
    g.add_argument("--ssl-cert", help="client certificate (PEM) for mutual TLS; implies --ssl")
    g.add_argument("--ssl-key", help="client key (PEM) for --ssl-cert")
    g.add_argument("--no-verify", action="store_true", help="TLS without checking the server's certificate")
    g.add_argument("--protocol-version", type=int, choices=[4, 5], default=None)
    g.add_argument("--local-dc", default=None, help="the local datacenter (default: the contact point's)")
    g.add_argument("--connect-timeout", type=float, default=10.0)
    g.add_argument("--request-timeout", type=float, default=60.0)
    g.add_argument("--consistency", "-c", default=None, help="consistency level, e.g. LOCAL_QUORUM")


def contact_points(args: argparse.Namespace) -> list[str]:
    """The ``--host`` list."""
    return [h.strip() for h in str(args.host).split(",") if h.strip()]


def consistency(name: str | None) -> Consistency | None:
    """A consistency level by name (``quorum``, ``LOCAL_ONE``), ``None`` for the default.

    Example:
        >>> consistency("local_quorum").name
        'LOCAL_QUORUM'
    """
    if name is None:
        return None
    try:
        return Consistency[name.strip().upper()]
    except KeyError:
        known = ", ".join(c.name for c in Consistency)
        raise CliError(f"unknown consistency level {name!r} (known: {known})") from None


def ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context the options ask for, ``None`` without TLS."""
    if not (args.ssl or args.ssl_ca or args.ssl_cert):
        return None
    ctx = ssl.create_default_context(cafile=args.ssl_ca) if args.ssl_ca else ssl.create_default_context()
    if args.no_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if args.ssl_cert:
        ctx.load_cert_chain(args.ssl_cert, args.ssl_key)
    return ctx


def make_cluster(args: argparse.Namespace, **extra: Any) -> Cluster:
    """A :class:`Cluster` for the connection options."""
    auth = None
    if args.username is not None:
        auth = PlainTextAuthProvider(args.username, args.password or "")
    level = consistency(args.consistency)
    kwargs: dict[str, Any] = {
        "port": args.port,
        "protocol_version": args.protocol_version,
        "auth_provider": auth,
        "ssl_context": ssl_context(args),
        "connect_timeout": args.connect_timeout,
        "request_timeout": args.request_timeout,
        "local_dc": args.local_dc,
    }
    if level is not None:
        kwargs["consistency_level"] = level
    kwargs.update(extra)
    return Cluster(contact_points(args), **kwargs)


def split_table(name: str, keyspace: str | None) -> tuple[str, str]:
    """``ks.table`` (or ``table`` with ``keyspace``) as ``(keyspace, table)``; quotes removed.

    Example:
        >>> split_table('ks."MyTable"', None), split_table("t", "ks")
        (('ks', 'MyTable'), ('ks', 't'))
    """
    if "." in name:
        ks, _, table = name.partition(".")
    elif keyspace:
        ks, table = keyspace, name
    else:
        raise CliError(f"table {name!r} needs a keyspace: write ks.{name} or give -k KEYSPACE")

    def unquote(s: str) -> str:
        s = s.strip()
        return s[1:-1].replace('""', '"') if len(s) >= 2 and s[0] == s[-1] == '"' else s.lower()

    return unquote(ks), unquote(table)


async def table_metadata(session: Session, args: argparse.Namespace) -> TableMetadata:
    """The metadata of the table ``args.table`` names (``args.keyspace`` when it has no keyspace part)."""
    ks, name = split_table(args.table, args.keyspace)
    meta = session.state.keyspaces.get(ks)
    table = meta.tables.get(name) if meta is not None else None
    if table is None:
        raise CliError(f"no table {ks}.{name}")
    return table
