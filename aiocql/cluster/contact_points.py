"""Contact points: where discovery starts. Their names resolve to addresses (each address of a name is a
contact point), and a connect that reaches none of them fails with the error that says why.

Example:
    >>> no_host_error({}).__class__.__name__
    'NoHostAvailable'
"""

from __future__ import annotations

import asyncio

from aiocql.errors import AuthenticationError, CqlError, NoHostAvailable, TLSCertificateError
from aiocql.errors.server import RequestValidationError
from aiocql.net.resolver import NameResolutionError, Resolver, ip_literal

__all__ = ["no_host_error", "resolve_contact_points"]


def no_host_error(errors: dict[str, BaseException]) -> CqlError:
    """The error of a failed connect: NoHostAvailable, or AuthenticationError when every host refused
    the credentials (a configuration problem to fix, not a host problem to wait out).

    Example:
        >>> isinstance(no_host_error({"10.0.0.1": AuthenticationError("bad password")}), AuthenticationError)
        True
    """
    failure = NoHostAvailable("could not connect to any contact point", errors)
    if errors and all(isinstance(e, AuthenticationError) for e in errors.values()):
        auth = AuthenticationError(f"authentication failed: {'; '.join(f'{h}: {e}' for h, e in errors.items())}")
        auth.__cause__ = failure
        return auth
    if errors and all(isinstance(e, TLSCertificateError) for e in errors.values()):
        tls = TLSCertificateError("; ".join(f"{e}" for e in errors.values()))
        tls.__cause__ = failure
        return tls
    # Every host refused the request itself (``connect("no_such_keyspace")``: InvalidRequest): the
    # server's error is the answer, not a host problem.
    if errors and all(isinstance(e, RequestValidationError) for e in errors.values()):
        first = next(iter(errors.values()))
        assert isinstance(first, RequestValidationError)
        first.__cause__ = failure
        return first
    return failure


async def resolve_contact_points(
    resolver: Resolver, points: list[str], errors: dict[str, BaseException], names: dict[str, str]
) -> list[str]:
    """Every address of every contact point (a name with several A/AAAA records gives them all), in the
    order given; a point that does not resolve goes to ``errors``; ``names`` records, for each address a
    name resolved to, that name (TLS certificates are checked against it).

    Example:
        >>> await resolve_contact_points(DnsResolver(), ["127.0.0.1"], {}, {})  # doctest: +SKIP
        ['127.0.0.1']
    """
    addresses: list[str] = []
    results = await asyncio.gather(*(resolver.resolve(p) for p in points), return_exceptions=True)
    for point, result in zip(points, results, strict=True):
        if isinstance(result, (NameResolutionError, OSError)):
            errors[point] = NameResolutionError(f"cannot resolve contact point {point!r}: {result}")
        elif isinstance(result, BaseException):
            raise result
        else:
            addresses.extend(a for a in result if a not in addresses)
            if ip_literal(point) is None:
                names.update((a, point) for a in result)
    return addresses
