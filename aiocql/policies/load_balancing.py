"""Load balancing: which hosts a request tries, in which order, and which hosts get connection pools.

A policy is pure: it reads one :class:`~aiocql.model.state.ClusterState` snapshot (any object with
the members of :class:`ClusterStateView`) and a :class:`~aiocql.policies.request.RequestInfo`, and
returns a lazy iterator of hosts, the *query plan*. The executor takes hosts from it until an
attempt succeeds; most requests read only the first host, so plans are generators and cheap to make.

How the cluster drives a policy:

1. after the control connection has read the topology: ``policy.on_init(state, contact_hosts)``
   (may raise :class:`ValueError` for a bad ``local_dc``: a configuration error, fail the connect);
2. after every state swap: ``policy.distance(host, state)`` for each host, to open pools for LOCAL
   and REMOTE hosts and close those of IGNORED hosts (a distance can change when another host goes
   up or down, see ``used_hosts_per_remote_dc``);
3. per request: ``policy.plan(info, state)``.

Down hosts are not skipped: the built-in policies put them after every up host of the plan (up
local, up remote, then down local, down remote), so a request still has somewhere to go when the
driver's view is stale (a host marked down by a blip); the executor moves past a host whose pool
has no connection at once. IGNORED hosts never appear in a plan.

Example:
    >>> import random, uuid
    >>> from aiocql.model.host import Host
    >>> from aiocql.model.state import ClusterState
    >>> hosts = [Host(uuid.UUID(int=i), f"10.0.0.{i}", datacenter="dc1" if i < 3 else "dc2") for i in (1, 2, 3)]
    >>> state = ClusterState.create(hosts)
    >>> policy = DCAwareRoundRobinPolicy(rng=random.Random(1))
    >>> policy.on_init(state, contact_hosts=[hosts[0]])
    >>> policy.local_dc, sorted(h.address for h in policy.plan(RequestInfo(), state))
    ('dc1', ['10.0.0.1', '10.0.0.2'])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from aiocql.errors import InvalidValueError
from aiocql.model.host import Host, HostDistance
from aiocql.model.token_map import TokenMap
from aiocql.policies.request import RequestInfo

__all__ = [
    "ClusterStateView",
    "DCAwareRoundRobinPolicy",
    "HostFilterPolicy",
    "LoadBalancingPolicy",
    "RequestInfo",
    "RoundRobinPolicy",
    "TokenAwarePolicy",
    "default_load_balancing_policy",
]


class ClusterStateView(Protocol):
    """What a policy reads from the cluster state (:class:`~aiocql.model.state.ClusterState` has it all)."""

    @property
    def host_list(self) -> tuple[Host, ...]:
        """Every known host, in a stable order."""
        ...

    @property
    def token_map(self) -> TokenMap | None:
        """The token map, ``None`` without token routing."""
        ...

    def is_up(self, host: Host) -> bool:
        """Whether the host is considered up."""
        ...


class LoadBalancingPolicy(Protocol):
    """Chooses the hosts of each request and the distance (pool or no pool) of each host."""

    def on_init(self, state: ClusterStateView, contact_hosts: Sequence[Host]) -> None:
        """Called once the first topology is known; ``contact_hosts`` are the hosts the contact points
        resolved to, the control connection's host first. May raise :class:`ValueError` (bad configuration)."""
        ...

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        """LOCAL or REMOTE: keep a pool to the host; IGNORED: no pool, never in a plan."""
        ...

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """The hosts to try for this request, best first, each at most once."""
        ...


def _rotated(hosts: Sequence[Host], start: int) -> Iterator[Host]:
    n = len(hosts)
    if n:
        start %= n
        yield from hosts[start:]
        yield from hosts[:start]


def _up_first(hosts: Iterable[Host], state: ClusterStateView, down: list[Host]) -> Iterator[Host]:
    # Yields the up hosts; collects the down ones in ``down`` for the caller to yield at the end.
    is_up = state.is_up
    for host in hosts:
        if is_up(host):
            yield host
        else:
            down.append(host)


class RoundRobinPolicy:
    """Every host LOCAL; each plan starts one host further along ``state.host_list`` (up hosts, then down).

    ``rng`` picks the first starting point (tests pass a seeded :class:`random.Random`).

    Example:
        >>> import random, uuid
        >>> from aiocql.model.host import Host
        >>> from aiocql.model.state import ClusterState
        >>> state = ClusterState.create([Host(uuid.UUID(int=i), f"h{i}") for i in range(3)])
        >>> rr = RoundRobinPolicy(rng=random.Random(0))
        >>> plans = [[h.address for h in rr.plan(RequestInfo(), state)] for _ in range(3)]
        >>> plans
        [['h1', 'h2', 'h0'], ['h2', 'h0', 'h1'], ['h0', 'h1', 'h2']]
    """

    __slots__ = ("_counter",)

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._counter = (rng or random).randrange(1 << 16)

    def on_init(self, state: ClusterStateView, contact_hosts: Sequence[Host]) -> None:
        """Nothing to set up."""

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        """Always LOCAL."""
        return HostDistance.LOCAL

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """All hosts, rotated by one per plan; down hosts last."""
        start = self._counter
        self._counter = (start + 1) & 0x7FFFFFFF
        return self._plan(state.host_list, start, state)

    @staticmethod
    def _plan(hosts: Sequence[Host], start: int, state: ClusterStateView) -> Iterator[Host]:
        down: list[Host] = []
        yield from _up_first(_rotated(hosts, start), state, down)
        yield from down


class DCAwareRoundRobinPolicy:
    """Round robin over the local datacenter's hosts; optionally a few hosts per remote DC as a fallback.

    * ``local_dc``: the local datacenter. ``None``: :meth:`on_init` takes it from the contact points
      (all of them must be in one DC, else :class:`ValueError` asks for ``local_dc``); until then, or
      if no host reports a DC, every host is LOCAL.
    * ``used_hosts_per_remote_dc``: how many hosts of each other DC are REMOTE (get a pool and come
      after every up local host in plans); the others are IGNORED. Up hosts are chosen first, then
      down ones, each DC's hosts in ``state.host_list`` order; hosts with no DC form a DC of their own.
      Use remote hosts only with LOCAL_* consistency levels you are ready to see served cross-DC.

    Example:
        >>> import random, uuid
        >>> from aiocql.model.host import Host
        >>> from aiocql.model.state import ClusterState
        >>> hs = [Host(uuid.UUID(int=i), f"h{i}", datacenter=f"dc{i % 2}") for i in range(4)]
        >>> state = ClusterState.create(hs)
        >>> p = DCAwareRoundRobinPolicy("dc0", used_hosts_per_remote_dc=1, rng=random.Random(0))
        >>> [p.distance(h, state).value for h in hs]
        ['local', 'remote', 'local', 'ignored']
        >>> DCAwareRoundRobinPolicy("dc9").on_init(state, [])
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: local_dc 'dc9' is not a datacenter of this cluster; its datacenters ...
    """

    __slots__ = ("_counter", "_layout", "_layout_key", "local_dc", "used_hosts_per_remote_dc")

    def __init__(
        self, local_dc: str | None = None, used_hosts_per_remote_dc: int = 0, *, rng: random.Random | None = None
    ) -> None:
        if used_hosts_per_remote_dc < 0:
            raise InvalidValueError(f"used_hosts_per_remote_dc must be >= 0, not {used_hosts_per_remote_dc}")
        self.local_dc = local_dc
        self.used_hosts_per_remote_dc = used_hosts_per_remote_dc
        self._counter = (rng or random).randrange(1 << 16)
        self._layout_key: tuple[Host, ...] | None = None
        self._layout: tuple[tuple[Host, ...], tuple[tuple[Host, ...], ...]] = ((), ())

    def on_init(self, state: ClusterStateView, contact_hosts: Sequence[Host]) -> None:
        """Check ``local_dc`` against the cluster's datacenters, or infer it from ``contact_hosts``.

        Raises :class:`aiocql.InvalidValueError` (a ValueError) naming the datacenters that exist when
        ``local_dc`` is not one of them, or when it must be inferred and cannot be (contact points in several DCs).
        """
        dcs = sorted({h.datacenter for h in state.host_list if h.datacenter is not None})
        listed = ", ".join(repr(dc) for dc in dcs)
        if self.local_dc is not None:
            if dcs and self.local_dc not in dcs:
                raise InvalidValueError(
                    f"local_dc {self.local_dc!r} is not a datacenter of this cluster; its datacenters are: {listed}"
                )
            return
        contact_dcs = sorted({h.datacenter for h in contact_hosts if h.datacenter is not None})
        if len(contact_dcs) == 1:
            self.local_dc = contact_dcs[0]
        elif len(contact_dcs) > 1:
            raise InvalidValueError(
                f"local_dc is not set and the contact points are in several datacenters "
                f"({', '.join(map(repr, contact_dcs))}): set local_dc to one of {listed}"
            )
        elif len(dcs) == 1:
            self.local_dc = dcs[0]
        elif dcs:
            raise InvalidValueError(
                f"local_dc is not set and cannot be inferred from the contact points: set it to one of {listed}"
            )
        self._layout_key = None

    def _split(self, state: ClusterStateView) -> tuple[tuple[Host, ...], tuple[tuple[Host, ...], ...]]:
        # Local hosts, and each remote DC's hosts (DCs sorted by name); rebuilt once per host list.
        hosts = state.host_list
        if hosts is not self._layout_key:
            local_dc = self.local_dc
            if local_dc is None:
                self._layout = (hosts, ())
            else:
                remote: dict[str | None, list[Host]] = {}
                for h in hosts:
                    if h.datacenter != local_dc:
                        remote.setdefault(h.datacenter, []).append(h)
                order = sorted(remote, key=lambda dc: (dc is None, dc or ""))
                self._layout = (
                    tuple(h for h in hosts if h.datacenter == local_dc),
                    tuple(tuple(remote[dc]) for dc in order),
                )
            self._layout_key = hosts
        return self._layout

    def _remote_choice(self, dc_hosts: Sequence[Host], state: ClusterStateView) -> list[Host]:
        n = self.used_hosts_per_remote_dc
        up = [h for h in dc_hosts if state.is_up(h)][:n]
        if len(up) < n:
            up += [h for h in dc_hosts if not state.is_up(h)][: n - len(up)]
        return up

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        """LOCAL in the local DC (or when there is none); REMOTE for the chosen remote hosts; else IGNORED."""
        if self.local_dc is None or host.datacenter == self.local_dc:
            return HostDistance.LOCAL
        if not self.used_hosts_per_remote_dc:
            return HostDistance.IGNORED
        for dc_hosts in self._split(state)[1]:
            if dc_hosts[0].datacenter == host.datacenter:
                chosen = self._remote_choice(dc_hosts, state)
                if any(h.host_id == host.host_id for h in chosen):
                    return HostDistance.REMOTE
        return HostDistance.IGNORED

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """Up local hosts rotated by one per plan, then up remote hosts, then the down ones."""
        start = self._counter
        self._counter = (start + 1) & 0x7FFFFFFF
        return self._plan(start, state)

    def _plan(self, start: int, state: ClusterStateView) -> Iterator[Host]:
        local, remotes = self._split(state)
        down: list[Host] = []
        yield from _up_first(_rotated(local, start), state, down)
        if self.used_hosts_per_remote_dc:
            for dc_hosts in remotes:
                yield from _up_first(_rotated(self._remote_choice(dc_hosts, state), start), state, down)
        yield from down


class TokenAwarePolicy:
    """Replicas of the request's partition first, then the child policy's plan without them.

    The replicas tried first are those the token map gives for ``info.keyspace`` and the token
    (``info.token``, else Murmur3 of ``info.routing_key``) that are up and LOCAL for the child;
    ``shuffle_replicas`` spreads load across them (else the primary replica comes first; always for
    a request with ``info.is_lwt``, a lightweight transaction). With no
    keyspace, no routing key/token, no token map or no local up replica, the plan is the child's.

    Example:
        >>> import random, uuid
        >>> from aiocql.model.host import Host
        >>> from aiocql.model.replication import ReplicationSettings
        >>> from aiocql.model.schema import KeyspaceMetadata
        >>> from aiocql.model.state import ClusterState
        >>> hs = [Host(uuid.UUID(int=i), f"h{i}", datacenter="dc1", tokens=(i * 100,)) for i in range(4)]
        >>> ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "2"})
        >>> state = ClusterState.create(hs, keyspaces={"ks": ks})
        >>> p = TokenAwarePolicy(RoundRobinPolicy(rng=random.Random(0)), shuffle_replicas=False)
        >>> [h.address for h in p.plan(RequestInfo(keyspace="ks", token=150), state)][:2]
        ['h2', 'h3']
    """

    __slots__ = ("_eligible", "_eligible_state", "_rng", "child", "shuffle_replicas")

    def __init__(
        self, child: LoadBalancingPolicy, shuffle_replicas: bool = True, *, rng: random.Random | None = None
    ) -> None:
        self.child = child
        self.shuffle_replicas = shuffle_replicas
        self._rng = rng or random.Random()
        # first_replica's memo for one state: id(replica tuple) -> (the tuple, which of its hosts are local and up)
        self._eligible: dict[int, tuple[tuple[Host, ...], tuple[bool, ...]]] = {}
        self._eligible_state: object = None

    def on_init(self, state: ClusterStateView, contact_hosts: Sequence[Host]) -> None:
        """Initializes the child."""
        self.child.on_init(state, contact_hosts)
        self._eligible_state = None

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        """The child's distance."""
        return self.child.distance(host, state)

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """Local up replicas (shuffled), then the child's plan minus those."""
        token_map = state.token_map
        keyspace = info.keyspace
        if token_map is None or keyspace is None:
            return self.child.plan(info, state)
        token = info.token
        if token is None:
            if info.routing_key is None:
                return self.child.plan(info, state)
            token = token_map.token_for(info.routing_key)
        replicas = token_map.replicas(keyspace, token)
        if not replicas:
            return self.child.plan(info, state)
        return self._plan(replicas, info, state)

    def _plan(self, replicas: Sequence[Host], info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        # Lazy: most requests take only the first host, which in a healthy cluster costs one look at one
        # replica. The other replicas and the child's plan are worked out only when a second host is asked for.
        distance, is_up, local = self.child.distance, state.is_up, HostDistance.LOCAL
        # LWT: always the same order (the primary replica first), so Paxos rounds do not contend.
        shuffle = self.shuffle_replicas and len(replicas) > 1 and not info.is_lwt
        first: Host | None = None
        if shuffle:
            # A replica drawn at random goes first if it is a local up one: that choice is uniform over the
            # local up replicas (a draw that is not one is not used, and the shuffle below decides).
            pick = replicas[int(self._rng.random() * len(replicas))]
            if is_up(pick) and distance(pick, state) is local:
                first = pick
                yield pick
        yield from self._after(first, replicas, info, state, shuffle)

    def _after(
        self, first: Host | None, replicas: Sequence[Host], info: RequestInfo, state: ClusterStateView, shuffle: bool
    ) -> Iterator[Host]:
        # The plan after its first host ``first`` (None: no replica went first).
        child = self.child
        distance, is_up, local = child.distance, state.is_up, HostDistance.LOCAL
        rest = [r for r in replicas if r is not first and is_up(r) and distance(r, state) is local]
        if first is None and not rest:
            yield from child.plan(info, state)  # no local up replica: the child's plan as it is
            return
        if shuffle and len(rest) > 1:
            self._rng.shuffle(rest)
        yield from rest
        seen = {h.host_id for h in rest}
        if first is not None:
            seen.add(first.host_id)
        for host in child.plan(info, state):
            if host.host_id not in seen:
                yield host

    def first_replica(
        self, keyspace: str | None, routing_key: bytes | None, token: int | None, is_lwt: bool, state: ClusterStateView
    ) -> Host | None:
        """The host :meth:`plan` would try first for such a request, chosen the same way, when that is one of
        the partition's local up replicas; None when :meth:`plan` must be asked (no keyspace, key or token
        map, no replica, or a random draw that is not a local up replica). The session's lean path calls
        this instead of making a plan; :meth:`plan_after` gives the rest of that plan, if it is needed.

        Example:
            >>> import uuid
            >>> from aiocql.model.host import Host
            >>> from aiocql.model.replication import ReplicationSettings
            >>> from aiocql.model.schema import KeyspaceMetadata
            >>> from aiocql.model.state import ClusterState
            >>> hs = [Host(uuid.UUID(int=i), f"h{i}", datacenter="dc1", tokens=(i * 100,)) for i in range(4)]
            >>> ks = KeyspaceMetadata.create("ks", {"class": "SimpleStrategy", "replication_factor": "2"})
            >>> state = ClusterState.create(hs, keyspaces={"ks": ks})
            >>> p = TokenAwarePolicy(RoundRobinPolicy(), shuffle_replicas=False)
            >>> p.first_replica("ks", None, 150, False, state).address
            'h2'
        """
        token_map = state.token_map
        if token_map is None or keyspace is None:
            return None
        if token is None:
            if routing_key is None:
                return None
            token = token_map.token_for(routing_key)
        replicas = token_map.replicas(keyspace, token)
        n = len(replicas)
        if not n:
            return None
        # Whether each replica is a local up one, worked out once per replica tuple of this state (the token
        # map's tuples live as long as the state; a new state, a host up or down, starts the memo again).
        # Only for the built-in children, whose distances depend on the state alone (a filter's predicate may not).
        if state is not self._eligible_state:
            self._eligible, self._eligible_state = {}, state
        entry = self._eligible.get(id(replicas))
        if entry is None or entry[0] is not replicas:
            distance, is_up, local = self.child.distance, state.is_up, HostDistance.LOCAL
            entry = (replicas, tuple(is_up(r) and distance(r, state) is local for r in replicas))
            if type(self.child) in _STATE_ONLY_DISTANCES:
                if len(self._eligible) >= 65536:
                    self._eligible.clear()
                self._eligible[id(replicas)] = entry
        eligible = entry[1]
        if n > 1 and self.shuffle_replicas and not is_lwt:
            i = int(self._rng.random() * n)
            return replicas[i] if eligible[i] else None
        for i in range(n):
            if eligible[i]:
                return replicas[i]
        return None

    def plan_after(self, first: Host, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """The rest of the plan whose first host :meth:`first_replica` gave for ``info``'s request: the other
        local up replicas (shuffled as :meth:`plan` shuffles them), then the child's plan without them."""
        token_map = state.token_map
        token = info.token
        if token is None and info.routing_key is not None and token_map is not None:
            token = token_map.token_for(info.routing_key)
        replicas = (
            token_map.replicas(info.keyspace, token)
            if token_map is not None and info.keyspace is not None and token is not None
            else ()
        )
        shuffle = self.shuffle_replicas and len(replicas) > 1 and not info.is_lwt
        return self._after(first, replicas, info, state, shuffle)


class HostFilterPolicy:
    """The child policy restricted to hosts for which ``predicate(host)`` is true (others are IGNORED).

    Example:
        >>> import random, uuid
        >>> from aiocql.model.host import Host
        >>> from aiocql.model.state import ClusterState
        >>> state = ClusterState.create([Host(uuid.UUID(int=i), f"h{i}") for i in range(3)])
        >>> p = HostFilterPolicy(RoundRobinPolicy(rng=random.Random(0)), lambda h: h.address != "h1")
        >>> sorted(h.address for h in p.plan(RequestInfo(), state)), p.distance(state.host_list[1], state).value
        (['h0', 'h2'], 'ignored')
    """

    __slots__ = ("child", "predicate")

    def __init__(self, child: LoadBalancingPolicy, predicate: Callable[[Host], bool]) -> None:
        self.child = child
        self.predicate = predicate

    def on_init(self, state: ClusterStateView, contact_hosts: Sequence[Host]) -> None:
        """Initializes the child with the contact hosts the predicate accepts."""
        self.child.on_init(state, [h for h in contact_hosts if self.predicate(h)])

    def distance(self, host: Host, state: ClusterStateView) -> HostDistance:
        """IGNORED if the predicate rejects the host, else the child's distance."""
        return self.child.distance(host, state) if self.predicate(host) else HostDistance.IGNORED

    def plan(self, info: RequestInfo, state: ClusterStateView) -> Iterator[Host]:
        """The child's plan without rejected hosts."""
        return filter(self.predicate, self.child.plan(info, state))


#: Children of a TokenAwarePolicy whose distance() reads nothing but the state (first_replica may memoize it).
_STATE_ONLY_DISTANCES = (DCAwareRoundRobinPolicy, RoundRobinPolicy)


def default_load_balancing_policy(local_dc: str | None = None) -> LoadBalancingPolicy:
    """The default: token-aware (shuffled replicas) over DC-aware round robin.

    Example:
        >>> type(default_load_balancing_policy()).__name__
        'TokenAwarePolicy'
    """
    return TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc))
