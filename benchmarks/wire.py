"""What each client actually negotiated, seen from both ends of its connections.

The worker lists its own TCP connections to the CQL port (``/proc/self/fd`` socket inodes matched in
``/proc/net/tcp``: the same for every client, whatever its language), and the harness looks those
connections up in the server's ``system_views.clients`` table, which shows the protocol version and
the STARTUP options (``COMPRESSION``, driver name) of each one. This is recorded per cell beside what
the client says about itself (its ``info()``), so a reviewer can check that every client ran with the
wire settings the table claims, without trusting an adapter's word.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def own_ports(remote_port: int = 9042) -> list[int]:
    """Local ports of this process's established TCP connections to ``remote_port`` (IPv4 and IPv6).

    Each port once: the kernel's tables are read in chunks, and a table that changes between two reads
    can list the same socket twice.
    """
    inodes = _socket_inodes()
    ports = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            if state == "01" and inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                ports.append(int(local.rsplit(":", 1)[1], 16))
    return sorted(set(ports))


def summarize_clients(rows: Iterable[Any], ports: Iterable[int]) -> dict[str, Any]:
    """The server's view of the connections on ``ports``: rows are ``system_views.clients`` rows
    (``port``, ``protocol_version``, ``client_options``, ``driver_name``)."""
    wanted = set(ports)
    mine = [r for r in rows if r.port in wanted]
    options = [dict(r.client_options or {}) for r in mine]
    return {
        "connections": len(mine),
        "protocol": sorted({int(r.protocol_version) for r in mine}),
        "compression": sorted({o.get("COMPRESSION", "none").lower() for o in options}),
        "driver": sorted({str(r.driver_name) for r in mine if r.driver_name}),
        "ports_not_seen": len(wanted) - len(mine),
    }


def server_view(session: Any, ports: Iterable[int]) -> dict[str, Any]:
    """Ask the server (through the harness's cassandra-driver session) about the worker's connections."""
    try:
        rows = session.execute("SELECT port, protocol_version, client_options, driver_name FROM system_views.clients")
        return summarize_clients(rows, ports)
    except Exception as exc:  # an old server without the table: say so, measure anyway
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
