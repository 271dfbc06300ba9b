"""A tiny authoritative DNS server on loopback (UDP and TCP) for resolver tests.

It answers A, AAAA and SRV questions from a dict, NXDOMAIN for names it does not hold, and can truncate
UDP replies (TC bit, no answers) so that a client must ask again over TCP. It counts the questions it
got per transport. Test tooling, not part of the driver.

Example:
    >>> async with DnsServer({"db.test": ["127.0.0.60", "127.0.0.61"]}) as dns:  # doctest: +SKIP
    ...     resolver = DnsResolver(nameservers=[dns.address], resolv_conf=None, hosts=None)
    ...     await resolver.resolve("db.test")
    ['127.0.0.60', '127.0.0.61']
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from aiocql.errors import TestingError
from aiocql.net.dnsmsg import (
    CLASS_IN,
    RCODE_NOERROR,
    RCODE_NXDOMAIN,
    TYPE_A,
    TYPE_AAAA,
    TYPE_SRV,
    SrvRecord,
    encode_name,
)

Records = Mapping[str, Sequence[str | SrvRecord]]


def _question(data: bytes) -> tuple[int, int, str, int, int]:
    ident, flags = struct.unpack_from("!HH", data)
    offset, labels = 12, []
    while data[offset]:
        length = data[offset]
        labels.append(data[offset + 1 : offset + 1 + length].decode("ascii"))
        offset += 1 + length
    qtype = struct.unpack_from("!H", data, offset + 1)[0]
    return ident, flags, ".".join(labels), qtype, offset + 5


class DnsServer:
    """Serve ``records`` (name -> addresses and SRV records) on ``host``, a free port, UDP and TCP.

    ``truncate_udp=True`` answers every UDP question with an empty truncated reply; ``servfail``
    names get SERVFAIL. :attr:`questions` counts ``(transport, name, qtype)``.
    """

    def __init__(
        self,
        records: Records,
        *,
        host: str = "127.0.0.1",
        truncate_udp: bool = False,
        servfail: Sequence[str] = (),
    ) -> None:
        self.records: dict[str, list[str | SrvRecord]] = {k.lower().rstrip("."): list(v) for k, v in records.items()}
        self.host = host
        self.truncate_udp = truncate_udp
        self.servfail = {n.lower() for n in servfail}
        self.questions: Counter[tuple[str, str, int]] = Counter()
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to give a resolver as its nameserver."""
        return self.host, self.port

    def reply(self, data: bytes, transport: str) -> bytes:
        """The answer to one query message."""
        ident, flags, name, qtype, end = _question(data)
        self.questions[(transport, name.lower(), qtype)] += 1
        question = data[12:end]
        rd = flags & 0x0100
        if name.lower() in self.servfail:
            return struct.pack("!HHHHHH", ident, 0x8000 | rd | 2, 1, 0, 0, 0) + question
        known = self.records.get(name.lower())
        if transport == "udp" and self.truncate_udp:
            return struct.pack("!HHHHHH", ident, 0x8000 | 0x0400 | 0x0200 | rd, 1, 0, 0, 0) + question
        if known is None:
            return struct.pack("!HHHHHH", ident, 0x8000 | 0x0400 | rd | RCODE_NXDOMAIN, 1, 0, 0, 0) + question
        answers = b""
        count = 0
        for value in known:
            if isinstance(value, SrvRecord):
                if qtype != TYPE_SRV:
                    continue
                rdata = struct.pack("!HHH", value.priority, value.weight, value.port) + encode_name(value.target)
                rtype = TYPE_SRV
            else:
                ip = ipaddress.ip_address(value)
                rtype = TYPE_A if ip.version == 4 else TYPE_AAAA
                if rtype != qtype:
                    continue
                rdata = ip.packed
            # The owner name as a compression pointer to the question (offset 12).
            answers += b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, 30, len(rdata)) + rdata
            count += 1
        flags_out = 0x8000 | 0x0400 | rd | RCODE_NOERROR
        return struct.pack("!HHHHHH", ident, flags_out, 1, count, 0, 0) + question + answers

    async def start(self) -> DnsServer:
        """Listen on UDP and TCP (the same port)."""
        loop = asyncio.get_running_loop()
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: Any) -> None:
                self.transport.sendto(server.reply(data, "udp"), addr)

        for _ in range(20):  # find a port free on both transports
            transport, _ = await loop.create_datagram_endpoint(Udp, local_addr=(self.host, 0))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                transport.close()
                continue
            self._udp, self.port = transport, port
            return self
        raise TestingError(f"no port free on {self.host} for both UDP and TCP after 20 tries")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                answer = self.reply(await reader.readexactly(size), "tcp")
                writer.write(len(answer).to_bytes(2, "big") + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        """Stop listening."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()

    async def __aenter__(self) -> DnsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
