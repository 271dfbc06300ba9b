"""Pluggable SASL-style authentication, asynchronous all the way.

A server that requires authentication answers STARTUP with AUTHENTICATE naming its authenticator
class; the connection asks the cluster's :class:`AuthProvider` for an :class:`Authenticator` and
exchanges AUTH_RESPONSE / AUTH_CHALLENGE messages until AUTH_SUCCESS (or an error).

Example:
    >>> provider = PlainTextAuthProvider("cassandra", "cassandra")
    >>> auth = provider.new_authenticator("127.0.0.1", "org.apache.cassandra.auth.PasswordAuthenticator")
    >>> import asyncio
    >>> asyncio.run(auth.initial_response())
    b'\\x00cassandra\\x00cassandra'
"""

from __future__ import annotations

from typing import Protocol


class Authenticator(Protocol):
    """One authentication exchange on one connection. Every step may await (e.g. to fetch a token)."""

    async def initial_response(self) -> bytes | None:
        """The first token sent in AUTH_RESPONSE."""
        ...

    async def evaluate_challenge(self, challenge: bytes | None) -> bytes | None:
        """The answer to an AUTH_CHALLENGE."""
        ...

    async def on_authentication_success(self, token: bytes | None) -> None:
        """Called with AUTH_SUCCESS's final token."""
        ...


class AuthProvider(Protocol):
    """Makes an :class:`Authenticator` for each new connection."""

    def new_authenticator(self, host: str, authenticator_class: str) -> Authenticator:
        """An authenticator for a connection to ``host`` whose server asked for ``authenticator_class``."""
        ...


class PlainTextAuthenticator:
    """SASL PLAIN: ``\\x00username\\x00password``; works with PasswordAuthenticator and DSE/Scylla equivalents."""

    def __init__(self, username: str, password: str) -> None:
        self._token = b"\x00" + username.encode() + b"\x00" + password.encode()

    async def initial_response(self) -> bytes | None:
        return self._token

    async def evaluate_challenge(self, challenge: bytes | None) -> bytes | None:
        return self._token

    async def on_authentication_success(self, token: bytes | None) -> None:
        return None


class PlainTextAuthProvider:
    """Username and password authentication (Cassandra's PasswordAuthenticator).

    Example:
        >>> from aiocql import Cluster, PlainTextAuthProvider
        >>> cluster = Cluster(["127.0.0.1"], auth_provider=PlainTextAuthProvider("cassandra", "cassandra"))
    """

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def new_authenticator(self, host: str, authenticator_class: str) -> Authenticator:
        return PlainTextAuthenticator(self.username, self.password)

    def __repr__(self) -> str:
        return f"PlainTextAuthProvider(username={self.username!r}, password=***)"
