"""Speculative execution: start another attempt on the next host if the current one is slow.

For each request the executor asks the policy for a plan of delays: after the first attempt starts it
waits ``next(plan)`` seconds; if no reply came by then, it starts one more attempt on the next host of
the load-balancing plan (the earlier ones keep running), and so on until the plan ends. The first
reply wins and the others are cancelled.

Only idempotent requests are speculated: the executor never asks the policy for a request whose
``info.is_idempotent`` is false (a write that could be applied twice); the built-in policies also
return an empty plan for them, so a policy called by mistake does no harm.

Example:
    >>> from aiocql.policies.request import RequestInfo
    >>> list(ConstantSpeculativeExecutionPolicy(0.05, 2).new_plan(RequestInfo(is_idempotent=True)))
    [0.05, 0.05]
    >>> list(ConstantSpeculativeExecutionPolicy(0.05, 2).new_plan(RequestInfo(is_idempotent=False)))
    []
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Protocol

from aiocql.errors import InvalidValueError
from aiocql.policies.request import RequestInfo

__all__ = ["ConstantSpeculativeExecutionPolicy", "NoSpeculativeExecutionPolicy", "SpeculativeExecutionPolicy"]


class SpeculativeExecutionPolicy(Protocol):
    """Gives, per request, the delays before each extra (speculative) execution."""

    def new_plan(self, info: RequestInfo) -> Iterator[float]:
        """Delays in seconds, each counted from the start of the previous execution; empty: no speculation."""
        ...


class NoSpeculativeExecutionPolicy:
    """Never speculates (the default).

    Example:
        >>> from aiocql.policies.request import RequestInfo
        >>> list(NoSpeculativeExecutionPolicy().new_plan(RequestInfo(is_idempotent=True)))
        []
    """

    __slots__ = ()

    def new_plan(self, info: RequestInfo) -> Iterator[float]:
        """An empty plan."""
        return iter(())


class ConstantSpeculativeExecutionPolicy:
    """Up to ``max_executions`` extra executions, ``delay`` seconds apart, for idempotent requests.

    Example:
        >>> from aiocql.policies.request import RequestInfo
        >>> policy = ConstantSpeculativeExecutionPolicy(delay=0.1, max_executions=3)
        >>> list(policy.new_plan(RequestInfo(is_idempotent=True)))
        [0.1, 0.1, 0.1]
    """

    __slots__ = ("delay", "max_executions")

    def __init__(self, delay: float, max_executions: int) -> None:
        if delay < 0:
            raise InvalidValueError(f"delay must be >= 0, not {delay}")
        if max_executions < 0:
            raise InvalidValueError(f"max_executions must be >= 0, not {max_executions}")
        self.delay = delay
        self.max_executions = max_executions

    def new_plan(self, info: RequestInfo) -> Iterator[float]:
        """``delay`` repeated ``max_executions`` times; empty for a non-idempotent request."""
        if not info.is_idempotent:
            return iter(())
        return itertools.repeat(self.delay, self.max_executions)
