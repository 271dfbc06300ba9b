"""Client TLS: works with hostname checking on; the wrong setup fails cleanly and promptly."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

import aiocql
from aiocql import Cluster
from aiocql.net import DnsResolver
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs
from aiocql.testing.sniproxy import SniProxy

pytestmark = pytest.mark.server(tls=True)

CONNECT_TIMEOUT = 3.0


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("compression", [False, True])
async def test_tls_with_hostname_checking(cassandra: ServerInfo, version: int, compression: bool) -> None:
    assert cassandra.ca_file is not None
    context = ssl.create_default_context(cafile=cassandra.ca_file)
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    kwargs = cluster_kwargs(cassandra, ssl_context=context, protocol_version=version, compression=compression)
    async with Cluster(**kwargs) as cluster:
        session = await cluster.connect()
        conn = session.pools[0].connections[0]
        assert conn.transport is not None
        ssl_object = conn.transport.get_extra_info("ssl_object")
        assert ssl_object is not None and ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert ssl_object.getpeercert()["subjectAltName"]
        row = (await session.execute("SELECT release_version FROM system.local")).one()
        assert row.release_version.startswith("5.0.")
        # A big reply through TLS (many TLS records, v5 frames spanning them).
        rows = await (await session.execute("SELECT * FROM system_schema.columns", fetch_size=100)).all()
        assert len(rows) > 100


async def _connect_fails(kwargs: dict[str, object]) -> aiocql.NoHostAvailable:
    started = time.monotonic()
    async with Cluster(**kwargs) as cluster:  # type: ignore[arg-type]
        with pytest.raises(aiocql.NoHostAvailable) as failure:
            await cluster.connect()
    assert time.monotonic() - started < CONNECT_TIMEOUT + 2  # no hang
    return failure.value


@pytest.mark.parametrize("version", [4, 5])
async def test_plain_tcp_to_a_tls_port_fails_cleanly(cassandra: ServerInfo, version: int) -> None:
    kwargs = cluster_kwargs(cassandra, protocol_version=version, connect_timeout=CONNECT_TIMEOUT)
    del kwargs["ssl_context"]
    failure = await _connect_fails(kwargs)
    (error,) = failure.errors.values()
    assert isinstance(error, aiocql.ConnectionError)  # ConnectionLost or ConnectTimeout
    print(f"plain TCP to the TLS port: {type(error).__name__}: {error}")


async def test_untrusted_certificate_is_a_configuration_error(cassandra: ServerInfo) -> None:
    kwargs = cluster_kwargs(cassandra, ssl_context=ssl.create_default_context(), connect_timeout=CONNECT_TIMEOUT)
    started = time.monotonic()
    async with Cluster(**kwargs) as cluster:
        with pytest.raises(aiocql.TLSCertificateError, match=r"CERTIFICATE_VERIFY_FAILED|certificate") as failure:
            await cluster.connect()
    assert time.monotonic() - started < CONNECT_TIMEOUT + 2  # no hang
    assert isinstance(failure.value, aiocql.ConfigurationError)
    assert not isinstance(failure.value, aiocql.ConnectionError)  # not a transient connection loss
    assert isinstance(failure.value.__cause__, aiocql.NoHostAvailable)  # each host's error stays readable


def _named(cassandra: ServerInfo, tmp_path: Path, name: str) -> DnsResolver:
    """A resolver where ``name`` (and nothing else) stands for the node."""
    hosts = tmp_path / "hosts"
    hosts.write_text(f"{cassandra.host} {name}\n")
    return DnsResolver(resolv_conf=None, hosts=str(hosts), nameservers=[("127.0.0.1", 9)])


async def test_a_contact_point_name_is_what_the_certificate_is_checked_against(
    cassandra: ServerInfo, tmp_path: Path
) -> None:
    """The certificate names the node addresses and localhost: "localhost" passes, though the node is
    reached by IP; another name for the same IP is refused (the name is checked, not the address)."""
    assert cassandra.ca_file is not None
    context = ssl.create_default_context(cafile=cassandra.ca_file)
    kwargs = cluster_kwargs(
        cassandra, ssl_context=context, contact_points=["localhost"], connect_timeout=CONNECT_TIMEOUT
    )
    async with Cluster(**kwargs, resolver=_named(cassandra, tmp_path, "localhost")) as cluster:
        session = await cluster.connect()
        assert (await session.execute("SELECT key FROM system.local")).one().key == "local"
        assert [h.address for h in cluster.contact_hosts] == [cassandra.host]
    kwargs["contact_points"] = ["db.not-in-the-cert.test"]
    async with Cluster(**kwargs, resolver=_named(cassandra, tmp_path, "db.not-in-the-cert.test")) as cluster:
        with pytest.raises(aiocql.TLSCertificateError, match=r"db\.not-in-the-cert\.test"):
            await cluster.connect()


async def test_server_hostname_fixed_or_per_host(cassandra: ServerInfo) -> None:
    assert cassandra.ca_file is not None
    context = ssl.create_default_context(cafile=cassandra.ca_file)
    kwargs = cluster_kwargs(cassandra, ssl_context=context, connect_timeout=CONNECT_TIMEOUT)
    async with Cluster(**kwargs, server_hostname="localhost") as cluster:
        await cluster.connect()
    async with Cluster(**kwargs, server_hostname="not-the-node.example") as cluster:
        with pytest.raises(aiocql.TLSCertificateError, match=r"not-the-node\.example"):
            await cluster.connect()
    # Per host: the contact point is reached by address (nothing is known of it yet), then each pool
    # uses the name the callable gives for its host.
    asked: list[aiocql.Host] = []

    def name_of(host: aiocql.Host) -> str:
        asked.append(host)
        return "localhost"

    async with Cluster(**kwargs, server_hostname=name_of) as cluster:
        session = await cluster.connect()
        await session.execute("SELECT key FROM system.local")
        assert {h.host_id for h in asked} == {h.host_id for h in cluster.hosts}
    async with Cluster(**kwargs, server_hostname=lambda host: f"{host.host_id}.example") as cluster:
        with pytest.raises(aiocql.TLSCertificateError, match=r"\.example"):
            await cluster.connect()


async def test_through_an_sni_routing_proxy_with_a_name_per_host(cassandra: ServerInfo) -> None:
    """One address for every node, the node chosen by the TLS server name: the way Astra and many
    Kubernetes operators expose a cluster. The pools' name is derived from the host id."""
    assert cassandra.ca_file is not None
    context = ssl.create_default_context(cafile=cassandra.ca_file)
    node = cassandra.host
    async with Cluster(**cluster_kwargs(cassandra, ssl_context=context)) as cluster:
        await cluster.connect()
        (host,) = cluster.hosts
    name = f"{host.host_id}.aiocql.test"  # the certificate names *.aiocql.test
    # On the node's own address (the certificate names it) but another port; connections without a name
    # (the first one, to the contact point, before any host id is known) go to the default node.
    async with SniProxy({name: (node, 9042)}, default=(node, 9042), host=node) as proxy:
        kwargs = cluster_kwargs(cassandra, ssl_context=context, port=proxy.port, protocol_version=5)
        async with Cluster(**kwargs, server_hostname=lambda h: f"{h.host_id}.aiocql.test") as cluster:
            session = await cluster.connect()
            assert [(h.address, h.port) for h in cluster.hosts] == [(node, proxy.port)]
            rs = await session.execute("SELECT host_id FROM system.local")
            assert rs.one().host_id == host.host_id
            assert proxy.routed[name] >= 1  # the pool's connection was routed by its name
            assert proxy.routed[None] >= 1  # the control connection's, by the default route
        # No default route and names the proxy does not know: nothing gets through, a clean NoHostAvailable.
        proxy.default = None
        async with Cluster(**kwargs, server_hostname=lambda h: "unknown.aiocql.test") as cluster:
            with pytest.raises(aiocql.NoHostAvailable):
                await cluster.connect()
        assert proxy.refused >= 1
