"""The one execution loop: hosts from the plan, attempts, retries, re-prepare, one deadline.

Only this module loops over hosts or retries (design convention 5). A request is described by a
:class:`RequestSpec`: how to build its message for a connection, whether it is idempotent, and
(for prepared statements) how to re-prepare it when a node answers UNPREPARED.

Example:
    >>> spec = RequestSpec(build=lambda conn: Query("SELECT 1 FROM system.local"))  # doctest: +SKIP
    >>> response, conn = await execute(session, spec, timeout=10.0)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiocql.connection.connection import Connection
from aiocql.connection.protocol import StreamsExhausted
from aiocql.errors import ConnectionError_, NoHostAvailable, OperationTimedOut
from aiocql.errors.server import ServerError, Unprepared
from aiocql.policies.retry import RetryDecision, RetryInfo, RetryPolicy
from aiocql.protocol.envelope import Envelope
from aiocql.protocol.message import Response
from aiocql.protocol.requests import Request, encode_request
from aiocql.protocol.responses import ErrorResponse, decode_response
from aiocql.protocol.results import VoidResult

if TYPE_CHECKING:
    from aiocql.pool.host_pool import HostPool


@dataclass(slots=True)
class RequestSpec:
    """What the executor needs to run one request."""

    build: Callable[[Connection], Request]
    is_idempotent: bool = False
    flags: int = 0
    custom_payload_prefix: bytes = b""
    reprepare: Callable[[Connection, Unprepared], Awaitable[None]] | None = None


class QueryPlan:
    """Round-robin over the hosts that are up, starting at a rotating offset (one plan per request)."""

    __slots__ = ("_counter",)

    def __init__(self) -> None:
        self._counter = 0

    def hosts(self, pools: list[HostPool]) -> Iterator[HostPool]:
        n = len(pools)
        if n == 1:
            yield pools[0]
            return
        start = self._counter
        self._counter = (start + 1) % n
        up = [pools[(start + i) % n] for i in range(n)]
        yield from (p for p in up if p.is_up)
        yield from (p for p in up if not p.is_up)


async def _attempt(conn: Connection, spec: RequestSpec) -> Response:
    opcode, body = encode_request(spec.build(conn), conn.version)
    if spec.custom_payload_prefix:
        body = spec.custom_payload_prefix + body
    env: Envelope = await conn.proto.request(opcode, body, spec.flags)
    response = decode_response(env, conn.version)
    if isinstance(response, ErrorResponse):
        raise response.error
    return response


async def run(
    pools: list[HostPool],
    plan: QueryPlan,
    spec: RequestSpec,
    retry_policy: RetryPolicy,
) -> tuple[Response, Connection]:
    """Run ``spec`` over the plan's hosts until it succeeds or the retry policy gives up.

    Non-idempotent requests are never retried after a write timeout, a lost connection or an
    overloaded/server error, whatever the policy says. The caller applies the one deadline.
    """
    errors: dict[str, BaseException] = {}
    retries = 0  # what the retry policy sees; re-preparing is not a retry
    reprepares = 0
    hosts = plan.hosts(pools)
    pool = next(hosts, None)
    while pool is not None:
        try:
            conn = pool.borrow()
        except ConnectionError_ as exc:
            errors[pool.host] = exc
            pool = next(hosts, None)
            continue
        try:
            try:
                return await _attempt(conn, spec), conn
            except Unprepared as exc:
                if spec.reprepare is None or reprepares > 2:
                    raise
                reprepares += 1
                await spec.reprepare(conn, exc)  # its failure is judged below, like the attempt's
                continue  # same host, same connection's node
        except StreamsExhausted as exc:
            errors[pool.host] = exc  # nothing was sent: any request may go to the next host
            pool = next(hosts, None)
            continue
        except (ServerError, ConnectionError_) as exc:
            errors[pool.host] = exc
            decision = retry_policy.decide(RetryInfo(exc, retries, spec.is_idempotent))
            if decision is RetryDecision.IGNORE:
                return VoidResult(), conn  # the policy accepts the failure: an empty result, nothing resent
            if decision is RetryDecision.RETHROW or (not spec.is_idempotent and _unsafe_to_retry(exc)):
                raise
            retries += 1
            if decision is RetryDecision.RETRY_NEXT:
                pool = next(hosts, None)
            # RETRY_SAME keeps the pool
    raise NoHostAvailable("no host could run the request", errors)


def _unsafe_to_retry(exc: BaseException) -> bool:
    from aiocql.errors.server import ReadTimeout, Unavailable

    # Unavailable: the coordinator refused before writing anything; a read timeout is a read.
    return not isinstance(exc, (Unavailable, ReadTimeout))


async def run_with_deadline(
    pools: list[HostPool],
    plan: QueryPlan,
    spec: RequestSpec,
    retry_policy: RetryPolicy,
    timeout: float | None,
) -> tuple[Response, Connection]:
    """:func:`run` under one deadline covering every attempt; raises :class:`OperationTimedOut`."""
    if timeout is None:
        return await run(pools, plan, spec, retry_policy)
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await run(pools, plan, spec, retry_policy)
    except TimeoutError as exc:
        if deadline.expired():
            raise OperationTimedOut(f"request timed out after {timeout}s (client-side deadline)") from exc
        raise
