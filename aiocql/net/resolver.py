"""Host-name resolution without threads: a small asyncio stub resolver, and ``getaddrinfo`` as an opt-in.

``loop.getaddrinfo`` runs the C library's resolver in an executor thread on the default asyncio loop
(and in libuv's thread pool on uvloop), so aiocql resolves names itself: :class:`DnsResolver` reads
``/etc/hosts`` and ``/etc/resolv.conf`` (nameservers, ``search``/``domain``, ``ndots``, ``timeout``,
``attempts``, ``use-vc``), asks for A and AAAA records over UDP on the event loop's own sockets, and
falls back to TCP when a reply is truncated. Nothing is cached: every call asks again, which is what
re-resolving contact points needs. Both files are read again when they change (checked by mtime).

What it does not do: NSS sources other than ``files`` and ``dns`` (mDNS, LDAP, systemd-resolved's
varlink; on such systems point resolv.conf at the stub 127.0.0.53 or pass
``resolver=GetaddrinfoResolver()``), DNSSEC validation, EDNS0.

Example:
    >>> resolver = DnsResolver()
    >>> await resolver.resolve("localhost")  # doctest: +SKIP
    ['127.0.0.1']
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aiocql.errors.base import NameResolutionError as NameResolutionError  # defined with the other errors
from aiocql.net.dnsmsg import (
    RCODE_NOERROR,
    RCODE_NXDOMAIN,
    TYPE_A,
    TYPE_AAAA,
    TYPE_SRV,
    DnsFormatError,
    DnsReply,
    HostsFile,
    ResolvConf,
    SrvRecord,
    decode_reply,
    encode_query,
    parse_hosts,
    parse_resolv_conf,
)

log = logging.getLogger("aiocql.net")

DNS_PORT = 53


@runtime_checkable
class Resolver(Protocol):
    """Turns a host name into addresses; what ``Cluster(resolver=...)`` takes.

    Example:
        >>> class Static:
        ...     async def resolve(self, name: str) -> list[str]:
        ...         return {"db": ["10.0.0.5", "10.0.0.6"]}[name]
    """

    async def resolve(self, name: str) -> list[str]:
        """Every address ``name`` stands for (IP literals as they are); raises :class:`NameResolutionError`."""
        ...


def ip_literal(name: str) -> str | None:
    """The normalized address when ``name`` is an IP literal (``[v6]`` brackets allowed), else None."""
    text = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class _WatchedFile:
    """A small system file parsed again when its mtime changes (a stat per use, a read per change)."""

    def __init__(self, path: str | None) -> None:
        self.path, self.text, self._mtime = path, "", None if path else -1.0

    def current(self) -> tuple[str, bool]:
        """The file's text, and whether it changed since the last call (first call: changed)."""
        if self.path is None:
            changed, self._mtime = self._mtime == -1.0, 0.0
            return "", changed
        try:
            mtime: float | None = os.stat(self.path).st_mtime
        except OSError:
            mtime = 0.0
        if mtime == self._mtime:
            return self.text, False
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                self.text = f.read()
        except OSError:
            self.text = ""
        self._mtime = mtime
        return self.text, True


class DnsResolver:
    """A stub resolver on the event loop's sockets (see the module docs); the driver's default.

    ``nameservers`` (``"ip"`` or ``("ip", port)``), ``search``, ``ndots``, ``timeout`` (seconds per
    try) and ``attempts`` (rounds over the nameservers) override what resolv.conf says; ``ipv6=False``
    asks for A records only. ``resolv_conf`` and ``hosts`` name other files (``None``: none).

    Example:
        >>> resolver = DnsResolver(search=["cassandra.svc.cluster.local"], ndots=5)
        >>> await resolver.resolve("cassandra-0")  # doctest: +SKIP
        ['10.8.0.12']
    """

    def __init__(
        self,
        *,
        nameservers: Sequence[str | tuple[str, int]] | None = None,
        search: Sequence[str] | None = None,
        ndots: int | None = None,
        timeout: float | None = None,
        attempts: int | None = None,
        ipv6: bool = True,
        resolv_conf: str | None = "/etc/resolv.conf",
        hosts: str | None = "/etc/hosts",
    ) -> None:
        self._servers_override = [_server(s) for s in nameservers] if nameservers is not None else None
        self._search_override = tuple(d.rstrip(".") for d in search) if search is not None else None
        self._ndots, self._timeout, self._attempts = ndots, timeout, attempts
        self.ipv6 = ipv6
        self._resolv = _WatchedFile(resolv_conf)
        self._hosts = _WatchedFile(hosts)
        self._conf = ResolvConf()
        self._hosts_table = HostsFile()

    # -- configuration ----------------------------------------------------------------------------
    @property
    def config(self) -> ResolvConf:
        """The resolv.conf settings in force (the file's, with this resolver's overrides)."""
        text, changed = self._resolv.current()
        if changed:
            self._conf = parse_resolv_conf(text)
        conf = self._conf
        return ResolvConf(
            nameservers=conf.nameservers,
            search=self._search_override if self._search_override is not None else conf.search,
            ndots=self._ndots if self._ndots is not None else conf.ndots,
            timeout=self._timeout if self._timeout is not None else conf.timeout,
            attempts=self._attempts if self._attempts is not None else conf.attempts,
            use_vc=conf.use_vc,
        )

    def _servers(self, conf: ResolvConf) -> list[tuple[str, int]]:
        if self._servers_override is not None:
            return self._servers_override
        return [(s, DNS_PORT) for s in conf.nameservers]

    def hosts_lookup(self, name: str) -> list[str]:
        """The addresses the hosts file lists for ``name``."""
        text, changed = self._hosts.current()
        if changed:
            self._hosts_table = parse_hosts(text)
        found = self._hosts_table.lookup(name)
        return found if self.ipv6 else [a for a in found if ":" not in a]

    # -- resolving --------------------------------------------------------------------------------
    async def resolve(self, name: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``name``: an IP literal as is, the hosts file, then DNS.

        Raises :class:`NameResolutionError` when the name has no address or no nameserver answered.
        """
        literal = ip_literal(name)
        if literal is not None:
            return [literal]
        listed = self.hosts_lookup(name)
        if listed:
            return listed
        conf = self.config
        qtypes = (TYPE_A, TYPE_AAAA) if self.ipv6 else (TYPE_A,)
        failures: list[str] = []
        for candidate in conf.candidates(name):
            replies = await asyncio.gather(*(self._query(candidate, q, conf) for q in qtypes), return_exceptions=True)
            addresses: list[str] = []
            for reply in replies:
                if isinstance(reply, BaseException):
                    if not isinstance(reply, NameResolutionError):
                        raise reply
                    failures.append(str(reply))
                else:
                    addresses += reply.addresses
            if addresses:
                log.debug("resolved %s as %s to %s", name, candidate, addresses)
                return addresses
        detail = "; ".join(dict.fromkeys(failures)) or "no A or AAAA record"
        raise NameResolutionError(f"cannot resolve {name!r}: {detail}")

    async def resolve_srv(self, name: str) -> list[SrvRecord]:
        """The SRV records of ``name`` (e.g. ``_cql._tcp.cassandra.default.svc.cluster.local``),
        lowest priority first, higher weight first within one priority."""
        conf = self.config
        failures: list[str] = []
        for candidate in conf.candidates(name):
            try:
                reply = await self._query(candidate, TYPE_SRV, conf)
            except NameResolutionError as exc:
                failures.append(str(exc))
                continue
            if reply.srv:
                return sorted(reply.srv, key=lambda r: (r.priority, -r.weight))
        raise NameResolutionError(f"no SRV record for {name!r}: {'; '.join(failures) or 'none found'}")

    async def _query(self, name: str, qtype: int, conf: ResolvConf) -> DnsReply:
        """One question to the nameservers, ``attempts`` rounds; NOERROR or NXDOMAIN ends it."""
        errors: list[str] = []
        servers = self._servers(conf)
        for _ in range(conf.attempts):
            for server in servers:
                try:
                    reply = await self._ask(server, name, qtype, conf)
                except (OSError, TimeoutError, DnsFormatError) as exc:
                    errors.append(f"{server[0]}: {type(exc).__name__}: {exc}".rstrip(": "))
                    continue
                if reply.rcode in (RCODE_NOERROR, RCODE_NXDOMAIN):
                    return reply
                errors.append(f"{server[0]}: rcode {reply.rcode}")
        raise NameResolutionError(f"no nameserver answered for {name!r} ({', '.join(dict.fromkeys(errors))})")

    async def _ask(self, server: tuple[str, int], name: str, qtype: int, conf: ResolvConf) -> DnsReply:
        ident = secrets.randbits(16)
        query = encode_query(ident, name, qtype)
        async with asyncio.timeout(conf.timeout):
            if not conf.use_vc:
                reply = await _ask_udp(server, query, ident, name, qtype)
                if not reply.truncated:
                    return reply
                log.debug("truncated UDP reply for %s from %s: asking over TCP", name, server[0])
            return await _ask_tcp(server, query, ident, name, qtype)


def _server(spec: str | tuple[str, int]) -> tuple[str, int]:
    host, port = (spec, DNS_PORT) if isinstance(spec, str) else spec
    literal = ip_literal(host)
    if literal is None:
        raise NameResolutionError(f"a nameserver must be an IP address, not {host!r}")
    return literal, int(port)


def _socket(server: tuple[str, int], kind: socket.SocketKind) -> socket.socket:
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setblocking(False)
    return sock


async def _ask_udp(server: tuple[str, int], query: bytes, ident: int, name: str, qtype: int) -> DnsReply:
    loop = asyncio.get_running_loop()
    with _socket(server, socket.SOCK_DGRAM) as sock:
        sock.connect(server)  # UDP: no handshake, never blocks; the kernel drops others' datagrams
        await loop.sock_sendall(sock, query)
        while True:
            data = await loop.sock_recv(sock, 65535)
            try:
                return decode_reply(data, ident, name, qtype)
            except DnsFormatError as exc:  # a stray or forged datagram: keep waiting for ours
                log.debug("ignoring a DNS datagram from %s: %s", server[0], exc)


async def _ask_tcp(server: tuple[str, int], query: bytes, ident: int, name: str, qtype: int) -> DnsReply:
    loop = asyncio.get_running_loop()
    with _socket(server, socket.SOCK_STREAM) as sock:
        await loop.sock_connect(sock, server)
        await loop.sock_sendall(sock, len(query).to_bytes(2, "big") + query)
        size = int.from_bytes(await _recv_exactly(loop, sock, 2), "big")
        return decode_reply(await _recv_exactly(loop, sock, size), ident, name, qtype)


async def _recv_exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = await loop.sock_recv(sock, size - len(buf))
        if not chunk:
            raise DnsFormatError("the nameserver closed the TCP connection mid-reply")
        buf += chunk
    return bytes(buf)


class GetaddrinfoResolver:
    """The C library's resolver through ``loop.getaddrinfo``: every NSS source, but it runs in a
    thread (the default loop's executor, or libuv's pool on uvloop). Opt in with
    ``Cluster(resolver=GetaddrinfoResolver())``.

    Example:
        >>> await GetaddrinfoResolver().resolve("localhost")  # doctest: +SKIP
        ['127.0.0.1']
    """

    async def resolve(self, name: str) -> list[str]:
        """Addresses from ``getaddrinfo`` (IP literals as they are)."""
        literal = ip_literal(name)
        if literal is not None:
            return [literal]
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise NameResolutionError(f"cannot resolve {name!r}: {exc}") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
