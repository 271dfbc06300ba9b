"""Host-name contact points against the real node: resolved without a thread, every address used."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aiocql import Cluster
from aiocql.net import DnsResolver
from aiocql.testing.dnsserver import DnsServer
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

pytestmark = pytest.mark.server


async def test_host_name_contact_points_start_no_thread(cassandra: ServerInfo, tmp_path: Path) -> None:
    node = cassandra.host
    # "localhost" through a hosts file (the node may not listen on 127.0.0.1), a DNS name through a
    # nameserver on loopback whose UDP replies are truncated (so TCP is used too).
    hosts = tmp_path / "hosts"
    hosts.write_text(f"{node} localhost\n")
    async with DnsServer({"cassandra.test": [node]}, truncate_udp=True) as dns:
        resolver = DnsResolver(nameservers=[dns.address], resolv_conf=None, hosts=str(hosts), ipv6=False)
        before = threading.active_count()
        for point in ("localhost", "cassandra.test"):
            kwargs = cluster_kwargs(cassandra, contact_points=[point], resolver=resolver)
            async with Cluster(**kwargs) as cluster:
                session = await cluster.connect()
                row = (await session.execute("SELECT release_version FROM system.local")).one()
                assert row.release_version.startswith("5.0.")
                assert [h.address for h in cluster.contact_hosts] == [node]
                assert threading.active_count() == before, [t.name for t in threading.enumerate()]
        assert dns.questions[("tcp", "cassandra.test", 1)] >= 1


async def test_a_name_with_several_addresses_gives_several_contact_points(cassandra: ServerInfo) -> None:
    node = cassandra.host
    unreachable = "127.0.0.69"  # in this test's own range, nothing listens there
    async with DnsServer({"db.test": [unreachable, node]}) as dns:
        resolver = DnsResolver(nameservers=[dns.address], resolv_conf=None, hosts=None, ipv6=False)
        kwargs = cluster_kwargs(cassandra, contact_points=["db.test"], resolver=resolver, connect_timeout=2.0)
        async with Cluster(**kwargs) as cluster:
            session = await cluster.connect()
            await session.execute("SELECT key FROM system.local")
            # Both addresses became contact points (in the name's order): the control connection got past
            # the dead first one to the node, which only the second address reaches.
            assert cluster.control is not None and cluster.control.address == node
            assert cluster.control.contact_addresses == (unreachable, node)
            assert [h.address for h in cluster.contact_hosts] == [node]  # the ring does not list the dead one
