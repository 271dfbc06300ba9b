"""What the policies know about a request: :class:`RequestInfo`, built once per request by the executor.

Example:
    >>> info = RequestInfo(keyspace="ks", routing_key=b"\\x00\\x00\\x00\\x01", is_idempotent=True)
    >>> info.keyspace, info.token
    ('ks', None)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestInfo"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request as the load-balancing and speculative-execution policies see it.

    New fields may be added with defaults; policies read the ones they need and ignore the rest.

    * ``keyspace``: the statement's keyspace (its own, else the session's), for replica lookup.
    * ``routing_key``: the serialized partition key (:func:`aiocql.types.token.routing_key`), if known.
    * ``token``: the partition's token, if the caller already has it (wins over ``routing_key``).
    * ``is_idempotent``: whether the request may safely run more than once (retries, speculation).
    * ``statement``: the user's statement object, for custom policies (opaque to the built-in ones).
    * ``is_lwt``: a lightweight transaction (conditional write): token-aware routing sends it to the
      replicas in ring order, never shuffled, so concurrent Paxos rounds on one partition meet the same
      coordinator instead of contending.

    Example:
        >>> RequestInfo(token=42).token
        42
    """

    keyspace: str | None = None
    routing_key: bytes | None = None
    token: int | None = None
    is_idempotent: bool = False
    statement: object | None = None
    is_lwt: bool = False
