"""The SNI proxy's ClientHello parser, on real ClientHellos made by the ssl module."""

from __future__ import annotations

import ssl

import pytest

from aiocql.testing.sniproxy import server_name


def _client_hello(name: str | None) -> bytes:
    context = ssl.create_default_context()
    if name is None:
        context.check_hostname = False
    tls = context.wrap_bio(ssl.MemoryBIO(), out := ssl.MemoryBIO(), server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return out.read()


def test_the_server_name_is_read_from_a_client_hello() -> None:
    assert server_name(_client_hello("0d4c7f5e-1b2a-4c3d-9e8f-001122334455.aiocql.test")) == (
        "0d4c7f5e-1b2a-4c3d-9e8f-001122334455.aiocql.test"
    )
    assert server_name(_client_hello(None)) is None


def test_other_bytes_are_refused() -> None:
    with pytest.raises(ValueError):
        server_name(b"\x00\x00\x00\x05\x05hello")
