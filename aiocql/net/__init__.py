"""Networking helpers outside the CQL protocol: host-name resolution without threads.

Example:
    >>> from aiocql.net import DnsResolver
    >>> DnsResolver(ndots=2).config.ndots
    2
"""

from aiocql.net.resolver import DnsResolver, GetaddrinfoResolver, NameResolutionError, Resolver, ip_literal

__all__ = ["DnsResolver", "GetaddrinfoResolver", "NameResolutionError", "Resolver", "ip_literal"]
