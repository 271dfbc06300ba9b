"""DNS messages and resolver configuration, sans-I/O: bytes and text in, values out.

The wire format of RFC 1035 (queries for A, AAAA and SRV records, replies with name compression), and
the two files a stub resolver reads: ``/etc/hosts`` and ``/etc/resolv.conf`` (resolv.conf(5):
``nameserver``, ``search`` / ``domain``, ``options ndots: timeout: attempts:``). No socket, no asyncio:
:mod:`aiocql.net.resolver` does the I/O.

Example:
    >>> query = encode_query(0x1234, "node1.example", TYPE_A)
    >>> query[:2]
    b'\\x124'
    >>> parse_resolv_conf("nameserver 10.0.0.2\\nsearch svc.local\\noptions ndots:5").ndots
    5
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from aiocql.errors.base import DnsFormatError as DnsFormatError  # defined with the other errors

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28
TYPE_SRV = 33
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_FLAG_QR = 0x8000
_FLAG_TC = 0x0200
_FLAG_RD = 0x0100


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV answer: where a service runs (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class DnsReply:
    """What a reply says: its id, rcode, truncation, and the answers by type."""

    ident: int
    rcode: int
    truncated: bool
    addresses: tuple[str, ...] = ()  # A / AAAA answers, in reply order
    srv: tuple[SrvRecord, ...] = ()


def encode_name(name: str) -> bytes:
    """A domain name as length-prefixed labels (IDNA for non-ASCII labels)."""
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if not label:
            raise DnsFormatError(f"empty label in host name {name!r}")
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if len(raw) > 63:
            raise DnsFormatError(f"label longer than 63 bytes in host name {name!r}")
        out += bytes([len(raw)]) + raw
    out += b"\x00"
    if len(out) > 255:
        raise DnsFormatError(f"host name longer than 255 bytes: {name!r}")
    return bytes(out)


def encode_query(ident: int, name: str, qtype: int) -> bytes:
    """A recursive query (RD set) for one name and type."""
    return _HEADER.pack(ident, _FLAG_RD, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise DnsFormatError("name runs past the end of the reply")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data):
                raise DnsFormatError("truncated compression pointer")
            if end is None:
                end = offset + 2
            jumps += 1
            if jumps > 64:
                raise DnsFormatError("compression pointer loop")
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            continue
        if length & 0xC0:
            raise DnsFormatError(f"unknown label type {length:#x}")
        offset += 1
        if length == 0:
            break
        if offset + length > len(data):
            raise DnsFormatError("label runs past the end of the reply")
        labels.append(data[offset : offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), end if end is not None else offset


def decode_reply(data: bytes, ident: int, name: str, qtype: int) -> DnsReply:
    """Parse a reply to the query ``(ident, name, qtype)``; raises :class:`DnsFormatError` if it is not one."""
    if len(data) < _HEADER.size:
        raise DnsFormatError("reply shorter than a DNS header")
    rid, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(data)
    if rid != ident or not flags & _FLAG_QR:
        raise DnsFormatError("reply id does not match the query")
    truncated = bool(flags & _FLAG_TC)
    rcode = flags & 0x000F
    offset = _HEADER.size
    for _ in range(qdcount):
        qname, offset = _read_name(data, offset)
        if offset + 4 > len(data):
            if truncated:
                return DnsReply(rid, rcode, True)
            raise DnsFormatError("question runs past the end of the reply")
        rtype, _rclass = struct.unpack_from("!HH", data, offset)
        offset += 4
        if qname.lower().rstrip(".") != name.lower().rstrip(".") or rtype != qtype:
            raise DnsFormatError(f"reply answers {qname!r} type {rtype}, not the query sent")
    addresses: list[str] = []
    srv: list[SrvRecord] = []
    for _ in range(ancount):
        try:
            _owner, offset = _read_name(data, offset)
        except DnsFormatError:
            if truncated:
                break
            raise
        if offset + _RR.size > len(data):
            if truncated:
                break
            raise DnsFormatError("record runs past the end of the reply")
        rtype, rclass, _ttl, rdlength = _RR.unpack_from(data, offset)
        offset += _RR.size
        rdata_at, offset = offset, offset + rdlength
        if offset > len(data):
            if truncated:
                break
            raise DnsFormatError("record data runs past the end of the reply")
        if rclass != CLASS_IN:
            continue
        if rtype == TYPE_A and rdlength == 4:
            addresses.append(str(ipaddress.IPv4Address(data[rdata_at:offset])))
        elif rtype == TYPE_AAAA and rdlength == 16:
            addresses.append(str(ipaddress.IPv6Address(data[rdata_at:offset])))
        elif rtype == TYPE_SRV and rdlength >= 7:
            priority, weight, port = struct.unpack_from("!HHH", data, rdata_at)
            target, _ = _read_name(data, rdata_at + 6)
            srv.append(SrvRecord(priority, weight, port, target))
    wanted = [a for a in addresses if (":" in a) == (qtype == TYPE_AAAA)] if qtype != TYPE_SRV else []
    return DnsReply(rid, rcode, truncated, tuple(dict.fromkeys(wanted)), tuple(srv))


@dataclass(frozen=True, slots=True)
class ResolvConf:
    """The parts of resolv.conf(5) a stub resolver uses (glibc's defaults when absent)."""

    nameservers: tuple[str, ...] = ("127.0.0.1",)
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2
    use_vc: bool = False  # ``options use-vc``: TCP from the start

    def candidates(self, name: str) -> list[str]:
        """The names to try for ``name``, in order: as is first when it has ``ndots`` dots or more,
        after the search domains otherwise; a name ending in a dot is tried as is only."""
        if name.endswith("."):
            return [name.rstrip(".")]
        searched = [f"{name}.{domain}" for domain in self.search]
        if name.count(".") >= self.ndots:
            return [name, *searched]
        return [*searched, name]


def _option_number(value: str, low: int, high: int) -> int | None:
    try:
        return max(low, min(high, int(value)))
    except ValueError:
        return None


def parse_resolv_conf(text: str) -> ResolvConf:
    """Parse resolv.conf text: up to three nameservers, the last ``search``/``domain`` line, options."""
    nameservers: list[str] = []
    search: list[str] = []
    ndots, timeout, attempts, use_vc = 1, 5.0, 2, False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        key, *values = line.split()
        if key == "nameserver" and values and len(nameservers) < 3:
            try:
                nameservers.append(str(ipaddress.ip_address(values[0].split("%", 1)[0])))
            except ValueError:
                continue
        elif key == "search":
            search = [v.rstrip(".") for v in values if v != "."]
        elif key == "domain" and values:
            search = [values[0].rstrip(".")]
        elif key == "options":
            for option in values:
                opt, _, value = option.partition(":")
                if opt == "ndots" and (n := _option_number(value, 0, 15)) is not None:
                    ndots = n
                elif opt == "timeout" and (n := _option_number(value, 1, 30)) is not None:
                    timeout = float(n)
                elif opt == "attempts" and (n := _option_number(value, 1, 5)) is not None:
                    attempts = n
                elif opt in ("use-vc", "usevc"):
                    use_vc = True
    return ResolvConf(
        nameservers=tuple(nameservers) or ("127.0.0.1",),
        search=tuple(search),
        ndots=ndots,
        timeout=timeout,
        attempts=attempts,
        use_vc=use_vc,
    )


@dataclass(frozen=True, slots=True)
class HostsFile:
    """Names to addresses from an ``/etc/hosts``-style text (case-insensitive names, file order kept)."""

    entries: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def lookup(self, name: str) -> list[str]:
        """The addresses listed for ``name`` (empty when the file does not name it)."""
        return list(self.entries.get(name.lower().rstrip("."), ()))


def parse_hosts(text: str) -> HostsFile:
    """Parse hosts(5) text: an address, then its names; ``#`` starts a comment."""
    entries: dict[str, list[str]] = {}
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0].split("%", 1)[0]))
        except ValueError:
            continue
        for name in fields[1:]:
            listed = entries.setdefault(name.lower().rstrip("."), [])
            if address not in listed:
                listed.append(address)
    return HostsFile({k: tuple(v) for k, v in entries.items()})
