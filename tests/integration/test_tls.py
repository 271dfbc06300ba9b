"""Client TLS: works with hostname checking on; the wrong setup fails cleanly and promptly."""

from __future__ import annotations

import dataclasses
import ssl
import time

import pytest

import aiocql
from aiocql import Cluster
from aiocql.testing.pytest_plugin import ServerInfo, cluster_kwargs

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
        assert conn.proto.transport is not None
        ssl_object = conn.proto.transport.get_extra_info("ssl_object")
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


async def test_untrusted_certificate_fails_cleanly(cassandra: ServerInfo) -> None:
    kwargs = cluster_kwargs(cassandra, ssl_context=ssl.create_default_context(), connect_timeout=CONNECT_TIMEOUT)
    failure = await _connect_fails(kwargs)
    (error,) = failure.errors.values()
    assert isinstance(error, aiocql.ConnectionError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


async def test_hostname_mismatch_fails_cleanly(cassandra: ServerInfo) -> None:
    """The certificate names the node addresses and localhost; any other name is refused."""
    assert cassandra.ca_file is not None
    context = ssl.create_default_context(cafile=cassandra.ca_file)
    kwargs = cluster_kwargs(cassandra, ssl_context=context, connect_timeout=CONNECT_TIMEOUT)
    async with Cluster(**kwargs) as cluster:
        cluster.options = dataclasses.replace(cluster.options, server_hostname="not-the-node.example")
        with pytest.raises(aiocql.NoHostAvailable) as failure:
            await cluster.connect()
    (error,) = failure.value.errors.values()
    assert "mismatch" in str(error).lower() or "CERTIFICATE_VERIFY_FAILED" in str(error)
