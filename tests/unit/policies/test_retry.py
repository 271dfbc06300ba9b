"""The retry policies as pure functions: every decision branch, for each kind of error, first failure
and later ones, idempotent and not (the executor's own "never retry what is unsafe" rule on top of the
policy is tested end to end in tests/adversity/test_retries.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from aiocql import (
    ConnectionClosed,
    ConnectionLost,
    ConnectTimeout,
    ConsistencyLevel,
    DefaultRetryPolicy,
    FallthroughRetryPolicy,
    InvalidValueError,
    OperationTimedOut,
    RetryDecision,
    RetryInfo,
)
from aiocql.errors.server import (
    AlreadyExists,
    CASWriteUnknown,
    InternalServerError,
    InvalidRequest,
    IsBootstrapping,
    Overloaded,
    ReadFailure,
    ReadTimeout,
    ServerError,
    TruncateError,
    Unavailable,
    Unprepared,
    WriteFailure,
    WriteTimeout,
)

Q = ConsistencyLevel.QUORUM
SAME, NEXT, RETHROW = RetryDecision.RETRY_SAME, RetryDecision.RETRY_NEXT, RetryDecision.RETHROW
ATTEMPTS = (0, 1, 5)


def read_timeout(received: int, block_for: int, data_present: bool) -> ReadTimeout:
    return ReadTimeout("rt", consistency=Q, received=received, block_for=block_for, data_present=data_present)


def write_timeout(write_type: str) -> WriteTimeout:
    return WriteTimeout("wt", consistency=Q, received=1, block_for=2, write_type=write_type)


#: (error, expected decision of DefaultRetryPolicy for (first failure?, idempotent?))
Expect = Callable[[bool, bool], RetryDecision]


def only_first(decision: RetryDecision) -> Expect:
    return lambda first, idempotent: decision if first else RETHROW


def only_first_idempotent(decision: RetryDecision) -> Expect:
    return lambda first, idempotent: decision if first and idempotent else RETHROW


def idempotent_only(decision: RetryDecision) -> Expect:
    return lambda first, idempotent: decision if idempotent else RETHROW


def always(decision: RetryDecision) -> Expect:
    return lambda first, idempotent: decision


CASES: list[tuple[str, BaseException, Expect]] = [
    # read timeout: retried on the same node once, only if enough replicas answered but not the data
    ("read timeout, enough replicas, no data", read_timeout(2, 2, False), only_first(SAME)),
    ("read timeout, more than enough replicas, no data", read_timeout(3, 2, False), only_first(SAME)),
    ("read timeout, enough replicas, data present", read_timeout(2, 2, True), always(RETHROW)),
    ("read timeout, too few replicas", read_timeout(1, 2, False), always(RETHROW)),
    ("read timeout, too few replicas, data present", read_timeout(1, 2, True), always(RETHROW)),
    # write timeout: only an idempotent batch-log write, once, on the same node
    ("write timeout BATCH_LOG", write_timeout("BATCH_LOG"), only_first_idempotent(SAME)),
    *(
        (f"write timeout {kind}", write_timeout(kind), always(RETHROW))
        for kind in ("SIMPLE", "BATCH", "UNLOGGED_BATCH", "COUNTER", "CAS", "VIEW", "CDC")
    ),
    # unavailable: the coordinator refused before doing anything: the next node, once
    ("unavailable", Unavailable("u", consistency=Q, required=2, alive=1), only_first(NEXT)),
    # bootstrapping: the node ran nothing: the next node, always
    ("bootstrapping", IsBootstrapping("b"), always(NEXT)),
    # the request may have run: the next node only if idempotent (any attempt)
    ("connection lost", ConnectionLost("lost"), idempotent_only(NEXT)),
    ("connection closed", ConnectionClosed("closed"), idempotent_only(NEXT)),
    ("connect timeout", ConnectTimeout("slow connect"), idempotent_only(NEXT)),
    ("overloaded", Overloaded("busy"), idempotent_only(NEXT)),
    ("truncate error", TruncateError("t"), idempotent_only(NEXT)),
    ("server error", InternalServerError("oops"), idempotent_only(NEXT)),
    # everything else reaches the caller
    ("read failure", ReadFailure("rf", consistency=Q, received=1, block_for=2, data_present=False), always(RETHROW)),
    ("write failure", WriteFailure("wf", consistency=Q, received=1, block_for=2, write_type="SIMPLE"), always(RETHROW)),
    ("CAS write unknown", CASWriteUnknown("cas", consistency=Q, received=1, block_for=2), always(RETHROW)),
    ("invalid request", InvalidRequest("bad"), always(RETHROW)),
    ("already exists", AlreadyExists("dup", keyspace="ks", table="t"), always(RETHROW)),
    ("unprepared", Unprepared("u", statement_id=b"\x01"), always(RETHROW)),
    ("unknown server error code", ServerError("?", code=0x7777), always(RETHROW)),
    ("client-side timeout", OperationTimedOut("deadline"), always(RETHROW)),
    ("driver error", InvalidValueError("value"), always(RETHROW)),
    ("foreign exception", RuntimeError("not ours"), always(RETHROW)),
]


@pytest.mark.parametrize("idempotent", [True, False], ids=["idempotent", "not-idempotent"])
@pytest.mark.parametrize("attempt", ATTEMPTS)
@pytest.mark.parametrize(("error", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_default_policy_decision(error: BaseException, expect: Expect, attempt: int, idempotent: bool) -> None:
    decision = DefaultRetryPolicy().decide(RetryInfo(error=error, attempt=attempt, is_idempotent=idempotent))
    assert decision is expect(attempt == 0, idempotent)


def test_the_table_reaches_every_decision_the_default_policy_makes() -> None:
    seen = {
        DefaultRetryPolicy().decide(RetryInfo(error=e, attempt=a, is_idempotent=i))
        for _, e, _ in CASES
        for a in ATTEMPTS
        for i in (True, False)
    }
    assert seen == {SAME, NEXT, RETHROW}  # IGNORE is never the default's answer


@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("attempt", ATTEMPTS)
@pytest.mark.parametrize("error", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_fallthrough_policy_never_retries(error: BaseException, attempt: int, idempotent: bool) -> None:
    assert FallthroughRetryPolicy().decide(RetryInfo(error, attempt, idempotent)) is RETHROW


def test_the_policy_is_stateless_and_keeps_no_memory_of_earlier_calls() -> None:
    policy = DefaultRetryPolicy()
    info = RetryInfo(error=Unavailable("u", consistency=Q, required=2, alive=1), attempt=0, is_idempotent=False)
    assert [policy.decide(info) for _ in range(3)] == [NEXT] * 3  # only ``attempt`` counts, not past calls


def test_a_policy_cannot_change_the_attempt_it_is_shown() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryInfo(OperationTimedOut("t"), 0, True).attempt = 1  # type: ignore[misc]
