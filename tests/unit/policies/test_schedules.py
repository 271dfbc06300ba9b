"""Reconnection schedules and speculative-execution plans."""

from __future__ import annotations

import itertools
import random

import pytest

from aiocql.policies.reconnection import ConstantReconnectionPolicy, ExponentialReconnectionPolicy, ReconnectionPolicy
from aiocql.policies.request import RequestInfo
from aiocql.policies.speculative import (
    ConstantSpeculativeExecutionPolicy,
    NoSpeculativeExecutionPolicy,
    SpeculativeExecutionPolicy,
)

IDEMPOTENT = RequestInfo(is_idempotent=True)


def test_exponential_without_jitter_doubles_up_to_max_forever() -> None:
    schedule = ExponentialReconnectionPolicy(base=0.5, max=10.0, jitter=0.0).new_schedule()
    assert list(itertools.islice(schedule, 8)) == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert next(itertools.islice(schedule, 10_000, None)) == 10.0  # no overflow, still going


def test_exponential_jitter_only_shortens_and_stays_in_band() -> None:
    policy = ExponentialReconnectionPolicy(base=1.0, max=60.0, jitter=0.15, rng=random.Random(42))
    delays = list(itertools.islice(policy.new_schedule(), 200))
    nominal = [min(2.0**i, 60.0) for i in range(200)]
    assert all(0.85 * n <= d <= n for d, n in zip(delays, nominal, strict=True))
    assert len(set(delays[10:])) > 150  # jittered, not all equal at the cap
    assert max(delays) <= 60.0


def test_exponential_schedules_are_independent_and_restart_at_base() -> None:
    policy = ExponentialReconnectionPolicy(base=2.0, max=8.0, jitter=0.0)
    first = policy.new_schedule()
    assert [next(first) for _ in range(3)] == [2.0, 4.0, 8.0]
    assert next(policy.new_schedule()) == 2.0
    assert next(first) == 8.0


def test_exponential_is_deterministic_with_a_seed() -> None:
    a = ExponentialReconnectionPolicy(rng=random.Random(7)).new_schedule()
    b = ExponentialReconnectionPolicy(rng=random.Random(7)).new_schedule()
    assert list(itertools.islice(a, 10)) == list(itertools.islice(b, 10))


@pytest.mark.parametrize(("base", "max_", "jitter"), [(0, 1, 0), (2, 1, 0), (-1, 1, 0), (1, 2, 1.0), (1, 2, -0.1)])
def test_exponential_rejects_bad_settings(base: float, max_: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        ExponentialReconnectionPolicy(base, max_, jitter)


def test_constant_reconnection() -> None:
    assert list(ConstantReconnectionPolicy(1.5, max_attempts=3).new_schedule()) == [1.5, 1.5, 1.5]
    assert list(ConstantReconnectionPolicy(1.5, max_attempts=0).new_schedule()) == []
    forever = ConstantReconnectionPolicy(0.1).new_schedule()
    assert list(itertools.islice(forever, 1000)) == [0.1] * 1000
    with pytest.raises(ValueError):
        ConstantReconnectionPolicy(-1)
    with pytest.raises(ValueError):
        ConstantReconnectionPolicy(1, max_attempts=-1)


def test_reconnection_policies_satisfy_the_protocol() -> None:
    policies: list[ReconnectionPolicy] = [ExponentialReconnectionPolicy(), ConstantReconnectionPolicy(1.0)]
    assert all(isinstance(next(p.new_schedule()), float) for p in policies)


def test_constant_speculation() -> None:
    policy = ConstantSpeculativeExecutionPolicy(0.02, max_executions=2)
    assert list(policy.new_plan(IDEMPOTENT)) == [0.02, 0.02]
    assert list(policy.new_plan(RequestInfo(is_idempotent=False))) == []
    assert list(ConstantSpeculativeExecutionPolicy(0.02, 0).new_plan(IDEMPOTENT)) == []
    with pytest.raises(ValueError):
        ConstantSpeculativeExecutionPolicy(-0.1, 1)
    with pytest.raises(ValueError):
        ConstantSpeculativeExecutionPolicy(0.1, -1)


def test_no_speculation() -> None:
    policies: list[SpeculativeExecutionPolicy] = [NoSpeculativeExecutionPolicy()]
    assert [list(p.new_plan(IDEMPOTENT)) for p in policies] == [[]]
