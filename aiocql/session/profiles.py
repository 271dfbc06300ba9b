"""Execution profiles: named bundles of request settings, chosen per request.

A field left ``None`` in a profile inherits the cluster's default. The cluster's defaults themselves
form the profile named ``"default"``.

Example:
    >>> from aiocql import ConsistencyLevel
    >>> analytics = ExecutionProfile(consistency_level=ConsistencyLevel.ONE, request_timeout=60.0)
    >>> cluster = Cluster(["127.0.0.1"], execution_profiles={"analytics": analytics})  # doctest: +SKIP
    >>> await session.execute("SELECT ...", execution_profile="analytics")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiocql.errors import InvalidValueError
from aiocql.policies.load_balancing import LoadBalancingPolicy, default_load_balancing_policy
from aiocql.policies.retry import DefaultRetryPolicy, RetryPolicy
from aiocql.policies.speculative import SpeculativeExecutionPolicy
from aiocql.protocol.constants import Consistency
from aiocql.results import RowFactory, named_tuple_factory
from aiocql.validation import NoPaging, check_cluster_arguments, describe_value

#: The name of the profile plain calls use, as cassandra-driver's ``EXEC_PROFILE_DEFAULT``:
#: ``Cluster(execution_profiles={EXEC_PROFILE_DEFAULT: profile})`` replaces the defaults for every call.
EXEC_PROFILE_DEFAULT = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionProfile:
    """Request settings bundled under a name (see the module docs).

    Each setting is checked here, once: a wrong one raises :class:`aiocql.InvalidValueError` naming it
    (``fetch_size=aiocql.NO_PAGING`` turns paging off; ``None`` inherits the cluster's default).

    ``slow_query_threshold`` (seconds) logs every request of this profile that takes at least that long
    on the ``aiocql.session.slow`` logger (see docs/observability.md); ``math.inf`` turns it off.
    """

    consistency_level: Consistency | None = None
    serial_consistency_level: Consistency | None = None
    request_timeout: float | None = None
    fetch_size: int | NoPaging | None = None
    row_factory: RowFactory | None = None
    retry_policy: RetryPolicy | None = None
    load_balancing_policy: LoadBalancingPolicy | None = None
    speculative_execution_policy: SpeculativeExecutionPolicy | None = None
    slow_query_threshold: float | None = None  # seconds; math.inf turns off a threshold set on the cluster

    def __post_init__(self) -> None:
        from aiocql.observability.slow_queries import check_threshold

        given = {name: getattr(self, name) for name in ExecutionProfile.__dataclass_fields__}
        check_cluster_arguments(
            {name: value for name, value in given.items() if value is not None}, "ExecutionProfile."
        )
        check_threshold(self.slow_query_threshold, "ExecutionProfile(slow_query_threshold=...)")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedProfile:
    """A profile with every field filled in (from the cluster's defaults where the profile had None).

    Its field defaults are the built-in default profile, written here once: what a ``Cluster(...)``
    given none of ``consistency_level=``, ``request_timeout=``... uses (docs/configuration.md).

    Example:
        >>> ResolvedProfile().request_timeout, ResolvedProfile().fetch_size
        (10.0, 5000)
    """

    consistency_level: Consistency = Consistency.LOCAL_ONE
    serial_consistency_level: Consistency | None = None  # the server's SERIAL
    request_timeout: float | None = 10.0
    fetch_size: int | NoPaging = 5000
    row_factory: RowFactory = named_tuple_factory
    retry_policy: RetryPolicy = field(default_factory=DefaultRetryPolicy)
    load_balancing_policy: LoadBalancingPolicy = field(default_factory=default_load_balancing_policy)
    speculative_execution_policy: SpeculativeExecutionPolicy | None = None
    slow_query_threshold: float | None = None

    def merge(self, profile: ExecutionProfile) -> ResolvedProfile:
        """This profile with ``profile``'s non-None fields on top."""
        fields = {name: getattr(self, name) for name in ResolvedProfile.__dataclass_fields__}
        for name in ExecutionProfile.__dataclass_fields__:
            value = getattr(profile, name)
            if value is not None:
                fields[name] = value
        return ResolvedProfile(**fields)


def clone_update(profile: ExecutionProfile, **changes: Any) -> ExecutionProfile:
    """A copy of ``profile`` with ``changes`` (checked like the constructor's arguments).

    Example:
        >>> from aiocql import ConsistencyLevel
        >>> base = ExecutionProfile(request_timeout=5.0)
        >>> clone_update(base, consistency_level=ConsistencyLevel.ONE).request_timeout
        5.0
    """

    unknown = sorted(set(changes) - set(ExecutionProfile.__dataclass_fields__))
    if unknown:
        known = ", ".join(ExecutionProfile.__dataclass_fields__)
        raise InvalidValueError(f"ExecutionProfile has no setting {', '.join(unknown)} (known: {known})")
    return dataclasses.replace(profile, **changes)


def as_profile(resolved: ResolvedProfile) -> ExecutionProfile:
    """The :class:`ExecutionProfile` with every setting of ``resolved`` (a profile as requests see it).

    Example:
        >>> as_profile(ResolvedProfile()).fetch_size
        5000
    """
    return ExecutionProfile(**{name: getattr(resolved, name) for name in ExecutionProfile.__dataclass_fields__})


def check_profiles(name: str, value: object) -> None:
    """The check of ``Cluster(execution_profiles=...)``: None or a mapping of names to profiles.

    Called by the cluster's shim (:meth:`aiocql.cluster.config.ClusterSettings.build`), explicitly:
    ``aiocql.validation`` sits below this package and cannot know an ExecutionProfile.

    Example:
        >>> check_profiles("execution_profiles", {"fast": ExecutionProfile(request_timeout=1.0)})
        >>> check_profiles("execution_profiles", {"fast": 1})
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: execution_profiles['fast'] must be an ExecutionProfile, not 1 (int)
    """

    def refuse(what: str, expected: str, given: object) -> InvalidValueError:
        return InvalidValueError(f"{what} must be {expected}, not {describe_value(given)}")

    if value is None:
        return
    if not isinstance(value, Mapping):
        raise refuse(name, "a mapping of names to ExecutionProfile or None", value)
    for key, profile in value.items():
        if not isinstance(key, str):
            raise refuse(f"{name} key", "a str", key)
        if not isinstance(profile, ExecutionProfile):
            raise refuse(f"{name}[{key!r}]", "an ExecutionProfile", profile)
