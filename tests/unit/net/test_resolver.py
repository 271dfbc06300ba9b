"""The thread-free resolver: wire format, resolv.conf/hosts parsing, and a real exchange with a tiny
in-process DNS server on loopback (UDP, TCP fallback on truncation, search domains, ndots)."""

from __future__ import annotations

import ast
import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiocql import Cluster
from aiocql.net import DnsResolver, GetaddrinfoResolver, NameResolutionError
from aiocql.net.dnsmsg import (
    TYPE_A,
    TYPE_AAAA,
    DnsFormatError,
    SrvRecord,
    decode_reply,
    encode_query,
    parse_hosts,
    parse_resolv_conf,
)
from aiocql.testing.dnsserver import DnsServer

NET = Path(__file__).resolve().parents[3] / "aiocql" / "net" / "dnsmsg.py"


def test_wire_format_module_is_sans_io() -> None:
    tree = ast.parse(NET.read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported & {"asyncio", "socket", "ssl", "threading", "selectors"} == set()


def test_resolv_conf_parsing() -> None:
    conf = parse_resolv_conf(
        "# comment\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\nnameserver bogus\n"
        "domain old.example\nsearch ns1.svc.cluster.local svc.cluster.local\n"
        "options ndots:5 timeout:2 attempts:3 rotate\n"
    )
    assert conf.nameservers == ("10.0.0.2", "fe80::1")
    assert conf.search == ("ns1.svc.cluster.local", "svc.cluster.local")
    assert (conf.ndots, conf.timeout, conf.attempts) == (5, 2.0, 3)
    empty = parse_resolv_conf("")
    assert (empty.nameservers, empty.ndots, empty.timeout, empty.attempts) == (("127.0.0.1",), 1, 5.0, 2)
    assert parse_resolv_conf("options ndots:99 attempts:0").ndots == 15


def test_search_order_follows_ndots() -> None:
    conf = parse_resolv_conf("search a.example b.example\noptions ndots:2")
    assert conf.candidates("db") == ["db.a.example", "db.b.example", "db"]
    assert conf.candidates("db.x.y") == ["db.x.y", "db.x.y.a.example", "db.x.y.b.example"]
    assert conf.candidates("db.") == ["db"]


def test_hosts_parsing() -> None:
    hosts = parse_hosts("127.0.0.1 localhost\n::1 localhost ip6-localhost # c\n10.1.1.1 Node1 n1\nbad line\n")
    assert hosts.lookup("LOCALHOST") == ["127.0.0.1", "::1"]
    assert hosts.lookup("n1.") == ["10.1.1.1"]
    assert hosts.lookup("other") == []


def test_reply_must_answer_the_query() -> None:
    query = encode_query(7, "db.test", TYPE_A)
    with pytest.raises(DnsFormatError):
        decode_reply(query, 7, "db.test", TYPE_A)  # not a reply (QR clear)
    server = DnsServer({"db.test": ["10.0.0.1", "::2"]})
    reply = server.reply(query, "udp")
    assert decode_reply(reply, 7, "db.test", TYPE_A).addresses == ("10.0.0.1",)
    with pytest.raises(DnsFormatError):
        decode_reply(reply, 8, "db.test", TYPE_A)  # another id: a stray datagram
    with pytest.raises(DnsFormatError):
        decode_reply(reply, 7, "other.test", TYPE_A)
    with pytest.raises(DnsFormatError):
        decode_reply(reply[:-3], 7, "db.test", TYPE_A)


def _resolver(dns: DnsServer, **kw: object) -> DnsResolver:
    return DnsResolver(nameservers=[dns.address], resolv_conf=None, hosts=None, timeout=2.0, **kw)  # type: ignore[arg-type]


async def test_a_and_aaaa_over_udp() -> None:
    async with DnsServer({"db.test": ["127.0.0.60", "127.0.0.61", "::1"]}) as dns:
        assert await _resolver(dns).resolve("db.test") == ["127.0.0.60", "127.0.0.61", "::1"]
        assert await _resolver(dns, ipv6=False).resolve("db.test") == ["127.0.0.60", "127.0.0.61"]
        assert dns.questions[("udp", "db.test", TYPE_A)] == 2
        assert dns.questions[("udp", "db.test", TYPE_AAAA)] == 1
        assert not any(t == "tcp" for t, _, _ in dns.questions)


async def test_truncated_reply_is_asked_again_over_tcp() -> None:
    async with DnsServer({"db.test": ["127.0.0.62"]}, truncate_udp=True) as dns:
        assert await _resolver(dns, ipv6=False).resolve("db.test") == ["127.0.0.62"]
        assert dns.questions[("udp", "db.test", TYPE_A)] == 1
        assert dns.questions[("tcp", "db.test", TYPE_A)] == 1


async def test_search_domains_and_ndots() -> None:
    async with DnsServer({"cassandra.prod.svc": ["127.0.0.63"], "x.y.z": ["127.0.0.64"]}) as dns:
        resolver = _resolver(dns, search=["dev.svc", "prod.svc"], ndots=5, ipv6=False)
        assert await resolver.resolve("cassandra") == ["127.0.0.63"]
        assert dns.questions[("udp", "cassandra.dev.svc", TYPE_A)] == 1  # tried first, NXDOMAIN
        assert dns.questions[("udp", "cassandra", TYPE_A)] == 0  # found before the bare name
        # Fewer dots than ndots: the search list first, the bare name last.
        assert await resolver.resolve("x.y.z") == ["127.0.0.64"]
        assert dns.questions[("udp", "x.y.z.prod.svc", TYPE_A)] == 1
        with pytest.raises(NameResolutionError, match="nothere"):
            await resolver.resolve("nothere")


async def test_servfail_then_next_nameserver_and_timeouts() -> None:
    async with DnsServer({}, servfail=["db.test"]) as bad, DnsServer({"db.test": ["127.0.0.65"]}) as good:
        resolver = DnsResolver(
            nameservers=[bad.address, good.address], resolv_conf=None, hosts=None, ipv6=False, timeout=2.0
        )
        assert await resolver.resolve("db.test") == ["127.0.0.65"]
        assert bad.questions[("udp", "db.test", TYPE_A)] == 1
    # A nameserver that never answers: `attempts` tries of `timeout` each, then a clear error.
    loop = asyncio.get_running_loop()
    silent = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    try:
        address = silent[0].get_extra_info("sockname")
        resolver = DnsResolver(nameservers=[address], resolv_conf=None, hosts=None, timeout=0.2, attempts=2)
        began = loop.time()
        with pytest.raises(NameResolutionError, match="no nameserver answered"):
            await resolver.resolve("db.test")
        assert loop.time() - began >= 0.35
    finally:
        silent[0].close()


async def test_srv_records_sorted_by_priority_and_weight() -> None:
    records = {
        "_cql._tcp.db.test": [
            SrvRecord(20, 0, 9042, "c.db.test"),
            SrvRecord(10, 5, 9042, "a.db.test"),
            SrvRecord(10, 50, 9043, "b.db.test"),
        ]
    }
    async with DnsServer(records) as dns:
        found = await _resolver(dns).resolve_srv("_cql._tcp.db.test")
        assert [(r.target, r.port) for r in found] == [("b.db.test", 9043), ("a.db.test", 9042), ("c.db.test", 9042)]


async def test_hosts_file_first_and_reread_when_changed(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.66 db.test\n")
    async with DnsServer({"db.test": ["127.0.0.67"]}) as dns:
        resolver = DnsResolver(nameservers=[dns.address], resolv_conf=None, hosts=str(hosts), ipv6=False)
        assert await resolver.resolve("db.test") == ["127.0.0.66"]
        assert not dns.questions
        hosts.write_text("# nothing\n")
        import os

        os.utime(hosts, (1, 1))  # a different mtime even within the file system's time resolution
        assert await resolver.resolve("db.test") == ["127.0.0.67"]


async def test_ip_literals_need_no_lookup() -> None:
    resolver = DnsResolver(nameservers=[("127.0.0.1", 9)], resolv_conf=None, hosts=None)
    assert await resolver.resolve("127.0.0.1") == ["127.0.0.1"]
    assert await resolver.resolve("[::1]") == ["::1"]
    assert await GetaddrinfoResolver().resolve("10.0.0.1") == ["10.0.0.1"]


async def test_resolving_starts_no_thread() -> None:
    async with DnsServer({"db.test": ["127.0.0.68"]}, truncate_udp=True) as dns:
        before = threading.active_count()
        assert await _resolver(dns).resolve("db.test") == ["127.0.0.68"]
        assert await DnsResolver().resolve("localhost")  # the system's hosts file
        assert threading.active_count() == before


async def test_cluster_reports_unresolvable_contact_points() -> None:
    async with DnsServer({}) as dns:
        cluster = Cluster(["nothere.test"], resolver=_resolver(dns), connect_timeout=1.0)
        with pytest.raises(Exception, match=r"cannot resolve contact point 'nothere\.test'") as info:
            await cluster.connect()
        from aiocql import NoHostAvailable

        assert isinstance(info.value, NoHostAvailable)
        assert isinstance(info.value.errors["nothere.test"], NameResolutionError)
        await cluster.close()


async def test_the_thread_count_does_see_getaddrinfo() -> None:
    """The measurement above can fail: the opt-in getaddrinfo resolver starts the default loop's executor
    thread (on uvloop it uses libuv's pool instead, which Python does not count)."""
    loop = asyncio.get_running_loop()
    if type(loop).__module__.startswith("uvloop"):
        pytest.skip("uvloop resolves in libuv's thread pool, invisible to threading.active_count()")
    with ThreadPoolExecutor(max_workers=1) as fresh:  # a fresh executor: no thread started yet
        loop.set_default_executor(fresh)
        before = threading.active_count()
        assert await GetaddrinfoResolver().resolve("localhost")
        assert threading.active_count() == before + 1
