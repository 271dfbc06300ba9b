"""The ``Cluster(...)`` keyword arguments as a thin shim over the config objects.

Each keyword of :class:`aiocql.Cluster` that is a setting of a config object builds that object:
:data:`~aiocql.connection.config.CONNECTION_KEYWORDS` a :class:`~aiocql.ConnectionConfig`,
:data:`~aiocql.pool.config.POOL_KEYWORDS` a :class:`~aiocql.PoolConfig`, :data:`PROFILE_KEYWORDS` the
default execution profile, :data:`SESSION_KEYWORDS` the session defaults. No default is restated here:
a keyword left out takes the config object's own default (:class:`Default` is the marker of "left out",
shown in ``help(Cluster)`` as that default). A keyword given together with the config object that holds
its setting is a :class:`~aiocql.UsageError`: a setting is given in one place.

Example:
    >>> from aiocql import ConnectionConfig
    >>> settings = ClusterSettings.build({"connect_timeout": 2.0})
    >>> settings.connection.connect_timeout, settings.connection.heartbeat_interval
    (2.0, 30.0)
    >>> ClusterSettings.build({"connect_timeout": 2.0, "connection": ConnectionConfig()})
    Traceback (most recent call last):
    ...
    aiocql.errors.base.UsageError: Cluster(connect_timeout=...) and Cluster(connection=ConnectionConfig(...)) \
both set connect_timeout: set it in one place, e.g. ConnectionConfig(connect_timeout=...)
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiocql.connection.config import CONNECTION_KEYWORDS, ConnectionConfig
from aiocql.errors import InvalidValueError, UsageError
from aiocql.observability.slow_queries import check_threshold
from aiocql.policies.load_balancing import LoadBalancingPolicy, default_load_balancing_policy
from aiocql.pool.config import POOL_KEYWORDS, PoolConfig
from aiocql.session.profiles import EXEC_PROFILE_DEFAULT, ExecutionProfile, ResolvedProfile, check_profiles
from aiocql.session.session import SessionDefaults
from aiocql.validation import check_cluster_arguments, describe_value

__all__ = ["DRIVER_ARGUMENTS", "PROFILE_KEYWORDS", "SESSION_KEYWORDS", "ClusterSettings", "Default", "default"]

#: ``Cluster(...)`` keywords that set the default execution profile (same names as its fields).
PROFILE_KEYWORDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ExecutionProfile))
#: ``Cluster(...)`` keywords that set the session defaults outside the profile (same names as its fields).
SESSION_KEYWORDS: tuple[str, ...] = (
    "client_timestamps", "schema_agreement_wait", "request_tracker", "max_requests_in_flight", "max_requests_queued",
)  # fmt: skip
#: Keywords whose ``None`` means "the default policy" (so None is "not given", as before config objects).
_NONE_IS_DEFAULT = frozenset(
    {"reconnection_policy", "retry_policy", "load_balancing_policy", "speculative_execution_policy", "request_tracker"}
)


class Default:
    """The marker of a ``Cluster(...)`` keyword left out: the setting's default comes from its config class.

    Its repr is that default, so ``help(Cluster)`` shows the real value.

    Example:
        >>> default(ConnectionConfig, "connect_timeout")
        5.0
    """

    __slots__ = ("name", "owner")

    def __init__(self, owner: type[Any], name: str) -> None:
        self.owner = owner
        self.name = name

    def value(self) -> Any:
        """The default itself, from the config class's field."""
        for f in dataclasses.fields(self.owner):
            if f.name == self.name:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
        raise UsageError(f"{self.owner.__name__} has no default for {self.name}")

    def __repr__(self) -> str:
        value = self.value()
        return value.__name__ if inspect.isfunction(value) else repr(value)


def default(owner: type[Any], name: str) -> Any:
    """The marker of a left-out keyword whose setting is ``owner``'s field ``name`` (typed Any, for signatures)."""
    return Default(owner, name)


def _given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The keywords the caller gave (a left-out one is a :class:`Default`; None for a policy means default)."""
    return {
        name: value
        for name, value in arguments.items()
        if not isinstance(value, Default) and not (value is None and name in _NONE_IS_DEFAULT)
    }


#: cassandra-driver ``Cluster(...)`` arguments aiocql does not take, and the aiocql way to the same effect.
DRIVER_ARGUMENTS: dict[str, str] = {
    "idle_heartbeat_interval": "pass heartbeat_interval= (ConnectionConfig.heartbeat_interval)",
    "idle_heartbeat_timeout": "pass heartbeat_timeout= (ConnectionConfig.heartbeat_timeout)",
    "ssl_options": "pass ssl_context= (an ssl.SSLContext) and server_hostname= (ConnectionConfig)",
    "default_retry_policy": "pass retry_policy= (the default ExecutionProfile's)",
    "max_schema_agreement_wait": "pass schema_agreement_wait=",
    "schema_metadata_enabled": "pass schema_metadata=",
    "schema_event_refresh_window": "events are debounced by aiocql; schema_event_refresh=False turns the refresh off",
    "topology_event_refresh_window": "events are debounced by aiocql: nothing to configure",
    "status_event_refresh_window": "events are debounced by aiocql: nothing to configure",
    "executor_threads": "aiocql runs no threads: nothing to configure",
    "connection_class": "aiocql runs on asyncio (uvloop when it is the running loop): nothing to configure",
    "metrics_enabled": "metrics are always on: cluster.metrics",
    "timestamp_generator": "client_timestamps=True (the default): monotonic client timestamps; False: the server's",
    "prepare_on_all_hosts": "a statement is prepared on the other hosts after the first (best effort), and re-prepared "
    "on a host that answers UNPREPARED: nothing to configure",
    "reprepare_on_up": "a host that answers UNPREPARED gets the statement prepared again: nothing to configure",
    "control_connection_timeout": "the control connection connects within connect_timeout=",
    "allow_beta_protocol_version": "protocol_version= takes 4 or 5 (None negotiates)",
    "cql_version": "not a setting in aiocql",
    "no_compact": "not a setting in aiocql",
    "cloud": "not supported by aiocql: give the contact points, ssl_context= and server_hostname=",
}


def _refuse_unknown(unsupported: Mapping[str, Any], known: list[str]) -> None:
    """A cassandra-driver argument (with the aiocql way) or a misspelt one (with the closest of ``known``)."""
    import difflib

    name = next(iter(unsupported))
    hint = DRIVER_ARGUMENTS.get(name)
    if hint is not None:
        raise UsageError(f"Cluster({name}=...) is cassandra-driver's: {hint} (see docs/configuration.md)")
    close = difflib.get_close_matches(name, known, n=3)
    also = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"Cluster() has no argument {name!r}{also} (every setting: docs/configuration.md)")


def _conflict(keyword: str, where: str, field: str, cls: str) -> UsageError:
    return UsageError(
        f"Cluster({keyword}=...) and {where} both set {field}: set it in one place, e.g. {cls}({field}=...)"
    )


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """What ``Cluster(...)``'s arguments come to: the config objects (the cluster's own settings, such as
    ``schema_metadata``, it reads from its arguments itself)."""

    connection: ConnectionConfig
    pool: PoolConfig
    load_balancing_policy: LoadBalancingPolicy
    session: SessionDefaults  # its request_tracker is the user's (the cluster adds its metrics)

    @classmethod
    def build(cls, arguments: Mapping[str, Any]) -> ClusterSettings:
        """Check ``arguments`` (``Cluster.__init__``'s, by name) and build the config objects from them.

        A wrong value raises :class:`~aiocql.InvalidValueError` naming the keyword; a keyword given with
        the config object that holds its setting raises :class:`~aiocql.UsageError`.
        """
        unsupported = arguments.get("unsupported")
        if unsupported:
            _refuse_unknown(unsupported, [name for name in arguments if name != "unsupported"])
        given = _given({name: value for name, value in arguments.items() if name != "unsupported"})
        check_cluster_arguments(given)  # each keyword by its own name, before anything is built
        # The checks of types above validation's layer, called here explicitly (no import registers them).
        if "execution_profiles" in given:
            check_profiles("execution_profiles", given["execution_profiles"])
        if "slow_query_threshold" in given:
            check_threshold(given["slow_query_threshold"])
        if "max_requests_queued" in given and given.get("max_requests_in_flight") is None:
            raise UsageError(
                "Cluster(max_requests_queued=...) bounds the queue of the request throttle, and there is none: "
                "pass max_requests_in_flight= too (without it nothing would read max_requests_queued)"
            )
        connection = _config_of(given, "connection", ConnectionConfig, CONNECTION_KEYWORDS)
        pool = _config_of(given, "pool", PoolConfig, POOL_KEYWORDS)

        profiles = dict(given.get("execution_profiles") or {})
        chosen = profiles.get(EXEC_PROFILE_DEFAULT)
        profile_given = {name: given[name] for name in PROFILE_KEYWORDS if name in given}
        if chosen is not None:
            for name in profile_given:
                if getattr(chosen, name) is not None:
                    where = f"execution_profiles[{EXEC_PROFILE_DEFAULT!r}]"
                    raise _conflict(name, where, name, "ExecutionProfile")
        # The load-balancing policy is the default profile's: the cluster sizes pools by its distances.
        policy = profile_given.pop("load_balancing_policy", None)
        if policy is None and chosen is not None:
            policy = chosen.load_balancing_policy
        local_dc = given.get("local_dc")
        if policy is not None and local_dc is not None:
            raise InvalidValueError("give local_dc to the load_balancing_policy you pass, not to Cluster")
        if policy is None:
            policy = default_load_balancing_policy(local_dc)
        session = SessionDefaults(
            default_profile=ResolvedProfile(load_balancing_policy=policy, **profile_given),
            execution_profiles=profiles,
            **{name: given[name] for name in SESSION_KEYWORDS if name in given},
        )
        return cls(connection, pool, policy, session)


def _config_of(given: Mapping[str, Any], argument: str, config_type: type[Any], keywords: Mapping[str, str]) -> Any:
    """The config object given as ``argument`` (no keyword of its may be given too), or one built from
    the keywords given."""
    config = given.get(argument)
    fields = {field: given[keyword] for keyword, field in keywords.items() if keyword in given}
    if config is None:
        return config_type(**fields)
    if not isinstance(config, config_type):
        raise InvalidValueError(f"{argument} must be a {config_type.__name__} or None, not {describe_value(config)}")
    for keyword, field in keywords.items():
        if keyword in given:
            raise _conflict(keyword, f"Cluster({argument}={config_type.__name__}(...))", field, config_type.__name__)
    return config
