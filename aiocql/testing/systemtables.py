"""The fake server's system tables: ``system.local`` and the peers tables, as a node answers them.

Example:
    >>> rows = system_rows("system.peers", ["peer", "native_address"], {}, [{"peer": "127.0.0.2",
    ...                    "native_address": "127.0.0.2", "native_port": 9042}])
    >>> [name for name, _ in rows.columns], rows.rows
    (['peer', 'rpc_address'], [['127.0.0.2', '127.0.0.2']])
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from aiocql.protocol.cqltypes import INET, INT, TEXT, UUID, CqlType, SetType
from aiocql.testing.replies import Rows

__all__ = ["SYSTEM_TYPES", "system_rows", "token_of"]

SYSTEM_TYPES: dict[str, CqlType] = {
    "broadcast_address": INET,
    "host_id": UUID,
    "listen_address": INET,
    "peer": INET,
    "preferred_ip": INET,
    "rpc_address": INET,
    "native_address": INET,
    "rpc_port": INT,
    "native_port": INT,
    "peer_port": INT,
    "schema_version": UUID,
    "tokens": SetType(TEXT),
}
"""The CQL type of each system column that is not text."""

_V2_ONLY = frozenset(("native_port", "peer_port"))


def token_of(host: str) -> int:
    """A Murmur3 token derived from the address, so that fake nodes on 127.0.0.1..n own different ones.

    Example:
        >>> token_of("127.0.0.2") - token_of("127.0.0.1"), token_of("not-an-ip")
        (1, 0)
    """
    try:
        return int(ipaddress.ip_address(host)) % (1 << 63)
    except ValueError:
        return 0


def system_rows(
    table: str, wanted: Sequence[str], local: Mapping[str, object], peers: Sequence[Mapping[str, object]]
) -> Rows:
    """The rows of ``SELECT <wanted> FROM <table>`` (``["*"]``: every column): ``system.local`` from
    ``local``, ``system.peers_v2`` and ``system.peers`` from ``peers`` (rows of ``peers_v2``), any other
    table empty."""
    if table == "system.local":
        names = list(local) if list(wanted) == ["*"] else list(wanted)
        columns = [(n, SYSTEM_TYPES.get(n, TEXT)) for n in names]
        return Rows(columns, [[local.get(n) for n in names]], keyspace="system", table="local")
    keyspace, _, table_name = table.rpartition(".")
    rows = list(peers) if table in ("system.peers_v2", "system.peers") else []
    names = list(dict.fromkeys(n for r in rows for n in r)) if list(wanted) == ["*"] else list(wanted)
    if table == "system.peers":  # the old table calls the address rpc_address and has no ports
        rows = [{**r, "rpc_address": r.get("native_address")} for r in rows]
        names = ["rpc_address" if n == "native_address" else n for n in names if n not in _V2_ONLY]
    columns = [(n, SYSTEM_TYPES.get(n, TEXT)) for n in names]
    return Rows(columns, [[r.get(n) for n in names] for r in rows], keyspace=keyspace or "ks", table=table_name)
