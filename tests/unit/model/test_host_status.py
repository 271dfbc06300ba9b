"""The host-status machine, transition by transition, on an injected clock: each rule of
aiocql.model.host_status (and each flag or timer the cluster once kept for it) pinned by a test that fails
without it."""

from __future__ import annotations

import uuid

import pytest

from aiocql.model.host import Host
from aiocql.model.host_status import (
    UP_SETTLE,
    ClosePool,
    HostStatus,
    OpenPool,
    ReconnectNow,
    RekeyPool,
    WakeAt,
    stand_in,
    stand_in_id,
)

A = Host(uuid.UUID(int=1), "10.0.0.1")
B = Host(uuid.UUID(int=2), "10.0.0.2")
P, Q = "pool-a", "pool-q"  # pools are any hashable keys


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def machine(clock: Clock, *hosts: Host, pool: str | None = P) -> HostStatus:
    """A machine that knows ``hosts`` (up), each with ``pool`` added and connected."""
    status = HostStatus(clock)
    status.topology(hosts)
    if pool is not None:
        for host in hosts:
            status.pool_added(host.host_id, pool)
            status.pool_connected(host.host_id, pool)
    return status


# -- topology -------------------------------------------------------------------------------------------
def test_a_host_that_appears_is_up_and_gets_a_pool(clock: Clock) -> None:
    status = HostStatus(clock)
    assert status.topology([A, B]) == [OpenPool(A), OpenPool(B)]
    assert status.up == {A.host_id, B.host_id} and status.hosts == (A, B)
    assert status.topology([A, B]) == [OpenPool(A), OpenPool(B)]  # no pool yet (no session): asked again
    status.pool_added(A.host_id, P)
    assert status.topology([A, B]) == [OpenPool(B)]


def test_an_ignored_host_gets_no_pool_and_loses_the_one_it_had(clock: Clock) -> None:
    status = machine(clock, A, B)
    assert status.topology([A, B], ignored={B.host_id}) == [ClosePool(B.host_id)]
    assert not status.has_pools(B.host_id) and status.is_up(B.host_id)
    assert status.topology([A, B], ignored={B.host_id}) == []
    assert status.topology([A, B]) == [OpenPool(B)]  # no longer ignored


def test_a_host_that_leaves_has_its_pools_closed_and_is_forgotten(clock: Clock) -> None:
    status = machine(clock, A, B)
    assert status.topology([A]) == [ClosePool(B.host_id)]
    assert status.up == {A.host_id} and not status.is_up(B.host_id) and status.hosts == (A,)
    assert status.pool_connected(B.host_id, P) == [] and status.up == {A.host_id}  # a late report: ignored


def test_a_host_that_moved_gets_new_pools_and_forgets_its_down_event(clock: Clock) -> None:
    status = machine(clock, A)
    status.server_down(A.host_id)
    moved = Host(A.host_id, "10.0.0.9")
    assert status.topology([moved]) == [ClosePool(A.host_id), OpenPool(moved)]
    assert not status.down_by_event(A.host_id) and not status.is_up(A.host_id)
    status.pool_added(A.host_id, Q)
    status.pool_connected(A.host_id, Q)  # the node, restarted at its new address: no UP event needed
    assert status.is_up(A.host_id)


def test_new_fields_at_the_same_address_keep_the_pools(clock: Clock) -> None:
    status = machine(clock, A)
    assert status.topology([Host(A.host_id, A.address, tokens=(5,))]) == []
    assert status.hosts[0].tokens == (5,) and status.has_pools(A.host_id)


def test_a_stand_in_whose_real_identity_appears_keeps_its_pools_and_status(clock: Clock) -> None:
    si = stand_in("10.0.0.1", 9042)
    real = Host(uuid.UUID(int=9), "10.0.0.1", 9042, "dc1")
    status = machine(clock, si, B)
    status.server_down(si.host_id)
    assert status.topology([real, B]) == [RekeyPool(si.host_id, real)]  # no close, no new pool
    assert status.hosts == (real, B) and status.has_pools(real.host_id) and not status.has_pools(si.host_id)
    assert not status.is_up(real.host_id) and status.down_by_event(real.host_id)  # its status came along
    status.server_up(real.host_id)
    assert status.is_up(real.host_id)
    assert status.pool_lost(real.host_id, P) == [] and not status.is_up(real.host_id)  # the pool, re-keyed


def test_only_a_stand_in_is_re_keyed(clock: Clock) -> None:
    other = Host(uuid.UUID(int=3), "10.0.0.1")  # a real host replaced by another node at its address
    status = machine(clock, A)
    assert status.topology([other]) == [ClosePool(A.host_id), OpenPool(other)]


def test_a_stand_in_without_pools_is_simply_replaced(clock: Clock) -> None:
    si = stand_in("10.0.0.1", 9042)
    real = Host(uuid.UUID(int=9), "10.0.0.1", 9042)
    status = machine(clock, si, pool=None)
    assert status.topology([real]) == [OpenPool(real)]
    assert status.is_up(real.host_id) and stand_in_id("10.0.0.1", 9042) not in status.up


# -- server events ------------------------------------------------------------------------------------
def test_down_event_sticks_while_a_pool_reconnects(clock: Clock) -> None:
    status = machine(clock, A)
    assert status.server_down(A.host_id) == [] and not status.is_up(A.host_id)
    status.pool_lost(A.host_id, P)
    clock.now += 10 * UP_SETTLE
    assert status.pool_connected(A.host_id, P) == []  # the dying node still accepts connections
    assert not status.is_up(A.host_id)
    assert status.tick() == [] and not status.is_up(A.host_id)


def test_down_event_with_the_pool_still_connected_makes_the_host_down(clock: Clock) -> None:
    status = machine(clock, A)
    status.server_down(A.host_id)
    assert not status.is_up(A.host_id) and status.down_by_event(A.host_id)


def test_up_event_with_a_connected_pool_is_up_at_once_and_asks_for_reconnection(clock: Clock) -> None:
    status = machine(clock, A)
    status.server_down(A.host_id)
    assert status.server_up(A.host_id) == [ReconnectNow(A.host_id)]
    assert status.is_up(A.host_id) and not status.down_by_event(A.host_id)


def test_up_event_without_a_connected_pool_waits_for_one(clock: Clock) -> None:
    status = machine(clock, A)
    status.server_down(A.host_id)
    status.pool_lost(A.host_id, P)
    assert status.server_up(A.host_id) == [ReconnectNow(A.host_id)]
    assert not status.is_up(A.host_id)  # a request aimed at it now would find no connection
    clock.now += UP_SETTLE  # the settle time since the loss has passed
    assert status.pool_connected(A.host_id, P) == [] and status.is_up(A.host_id)


def test_up_event_for_a_host_without_pools_is_up_at_once(clock: Clock) -> None:
    status = machine(clock, A, pool=None)
    status.server_down(A.host_id)
    assert status.server_up(A.host_id) == [] and status.is_up(A.host_id)


def test_events_for_unknown_hosts_change_nothing(clock: Clock) -> None:
    status = machine(clock, A)
    assert status.server_down(B.host_id) == status.server_up(B.host_id) == []
    assert status.up == {A.host_id}


# -- pool connectivity and the settle time ---------------------------------------------------------------
def test_a_pool_that_loses_its_connections_makes_the_host_down_at_once(clock: Clock) -> None:
    status = machine(clock, A)
    assert status.pool_lost(A.host_id, P) == [] and not status.is_up(A.host_id)


def test_a_pool_reconnecting_within_the_settle_time_waits_for_it(clock: Clock) -> None:
    status = machine(clock, A)
    status.pool_lost(A.host_id, P)
    clock.now += 0.2
    lost_at = clock.now - 0.2
    assert status.pool_connected(A.host_id, P) == [WakeAt(lost_at + UP_SETTLE)]
    assert not status.is_up(A.host_id)
    clock.now = lost_at + UP_SETTLE - 0.01
    assert status.tick() == [] and not status.is_up(A.host_id)  # too early
    clock.now = lost_at + UP_SETTLE
    assert status.tick() == [] and status.is_up(A.host_id)


def test_a_down_event_during_the_settle_time_keeps_the_host_down(clock: Clock) -> None:
    status = machine(clock, A)
    status.pool_lost(A.host_id, P)
    clock.now += 0.1
    status.pool_connected(A.host_id, P)
    clock.now += 0.1
    status.server_down(A.host_id)  # the DOWN event arrives after the pool reconnected
    clock.now += UP_SETTLE
    assert status.tick() == [] and not status.is_up(A.host_id)


def test_a_second_loss_during_the_settle_time_starts_it_again(clock: Clock) -> None:
    status = machine(clock, A)
    status.pool_lost(A.host_id, P)
    clock.now += 0.5
    status.pool_connected(A.host_id, P)
    status.pool_lost(A.host_id, P)  # lost again before the first settle time ended
    second_loss = clock.now
    clock.now += 0.6  # the first settle time is over, the second is not
    assert status.tick() == [] and not status.is_up(A.host_id)
    assert status.pool_connected(A.host_id, P) == [WakeAt(second_loss + UP_SETTLE)]


def test_the_settle_time_needs_the_pool_still_connected(clock: Clock) -> None:
    status = machine(clock, A)
    status.pool_lost(A.host_id, P)
    status.pool_connected(A.host_id, P)
    status.pool_failed(A.host_id, P)  # its connection broke again and the next attempt failed
    clock.now += UP_SETTLE
    assert status.tick() == [] and not status.is_up(A.host_id)


def test_a_pool_connecting_long_after_its_loss_makes_the_host_up_at_once(clock: Clock) -> None:
    status = machine(clock, A)
    status.pool_lost(A.host_id, P)
    clock.now += UP_SETTLE
    assert status.pool_connected(A.host_id, P) == [] and status.is_up(A.host_id)


def test_a_host_whose_pool_cannot_connect_is_down(clock: Clock) -> None:
    status = machine(clock, A, pool=None)
    status.pool_added(A.host_id, P)
    assert status.pool_failed(A.host_id, P) == [] and not status.is_up(A.host_id)
    assert status.pool_connected(A.host_id, P) == [] and status.is_up(A.host_id)  # never lost: no settle


def test_a_failing_pool_leaves_a_host_with_another_connected_pool_up(clock: Clock) -> None:
    status = machine(clock, A)
    status.pool_added(A.host_id, Q)  # a second session's pool
    assert status.pool_failed(A.host_id, Q) == [] and status.is_up(A.host_id)


def test_a_closed_pool_no_longer_counts(clock: Clock) -> None:
    status = machine(clock, A)
    status.server_down(A.host_id)
    status.pool_closed(A.host_id, P)  # its session closed
    assert not status.has_pools(A.host_id)
    assert status.server_up(A.host_id) == [] and status.is_up(A.host_id)  # no pool to wait for


# -- the control connection ------------------------------------------------------------------------------
def test_a_new_control_connection_forgets_down_events_and_trusts_connected_pools(clock: Clock) -> None:
    status = machine(clock, A, B)
    status.control_connection("control-1")
    status.server_down(A.host_id)
    status.server_down(B.host_id)
    status.pool_lost(B.host_id, P)
    assert status.control_connection("control-1") == [] and status.up == frozenset()  # the same one
    assert status.control_connection("control-2") == []
    assert status.up == {A.host_id}  # A's pool is connected; B's is not
    assert not status.down_by_event(A.host_id) and not status.down_by_event(B.host_id)
    clock.now += UP_SETTLE
    status.pool_connected(B.host_id, P)  # B's DOWN report was forgotten too
    assert status.up == {A.host_id, B.host_id}


def test_a_down_event_on_the_new_control_connection_is_kept(clock: Clock) -> None:
    # The owner reports the new control connection before the event it brings (the topology refresh
    # that follows must not forget it).
    status = machine(clock, A)
    status.control_connection("control-1")
    status.control_connection("control-2")
    status.server_down(A.host_id)
    status.topology([A])
    status.control_connection("control-2")
    assert not status.is_up(A.host_id) and status.down_by_event(A.host_id)
