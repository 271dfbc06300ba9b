"""Retry policies: what to do when an attempt fails (Java driver 4 semantics).

The executor asks the policy only where a retry is safe: a request that is not idempotent is never
retried after a write timeout, a lost connection or an overloaded/server error, whatever the policy
says, and a client-side timeout is never retried.

Example:
    >>> from aiocql.errors.server import Unavailable
    >>> policy = DefaultRetryPolicy()
    >>> unavailable = Unavailable("x", consistency=1, required=1, alive=0)
    >>> policy.decide(RetryInfo(error=unavailable, attempt=0, is_idempotent=False))
    <RetryDecision.RETRY_NEXT: 'retry_next'>
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from aiocql.errors import ConnectionError_
from aiocql.errors.server import (
    InternalServerError,
    IsBootstrapping,
    Overloaded,
    ReadTimeout,
    ServerError,
    TruncateError,
    Unavailable,
    WriteTimeout,
)


class RetryDecision(Enum):
    """What the executor does next."""

    RETHROW = "rethrow"
    RETRY_SAME = "retry_same"
    RETRY_NEXT = "retry_next"
    IGNORE = "ignore"


@dataclass(frozen=True, slots=True)
class RetryInfo:
    """One failed attempt, as the policy sees it. New fields may be added; policies ignore them."""

    error: BaseException
    attempt: int  # retries already made for this request (0 on the first failure)
    is_idempotent: bool


class RetryPolicy(Protocol):
    """Decides, from one failed attempt, whether and where to retry."""

    def decide(self, info: RetryInfo) -> RetryDecision:
        """Return the decision for this failure."""
        ...


class DefaultRetryPolicy:
    """The Java driver 4 default: at most one retry, and only where it is safe.

    - read timeout: retry on the same node if enough replicas answered but the data was missing;
    - write timeout: retry once only for an idempotent BATCH_LOG write;
    - unavailable: retry once on the next node;
    - connection lost, overloaded, bootstrapping, server error, truncate error: next node, idempotent only.
    """

    def decide(self, info: RetryInfo) -> RetryDecision:
        err, first = info.error, info.attempt == 0
        if isinstance(err, ReadTimeout):
            if first and err.received >= err.block_for and not err.data_present:
                return RetryDecision.RETRY_SAME
            return RetryDecision.RETHROW
        if isinstance(err, WriteTimeout):
            if first and info.is_idempotent and str(err.write_type) == "BATCH_LOG":
                return RetryDecision.RETRY_SAME
            return RetryDecision.RETHROW
        if isinstance(err, Unavailable):
            return RetryDecision.RETRY_NEXT if first else RetryDecision.RETHROW
        if isinstance(err, IsBootstrapping):
            return RetryDecision.RETRY_NEXT  # the node did not run the request at all
        if isinstance(err, (ConnectionError_, Overloaded, TruncateError, InternalServerError)):
            return RetryDecision.RETRY_NEXT if info.is_idempotent else RetryDecision.RETHROW
        if isinstance(err, ServerError):
            return RetryDecision.RETHROW
        return RetryDecision.RETHROW


class FallthroughRetryPolicy:
    """Never retries: every failure reaches the caller."""

    def decide(self, info: RetryInfo) -> RetryDecision:
        return RetryDecision.RETHROW
