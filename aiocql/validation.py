"""Checks of request and configuration options: a wrong one is an :class:`~aiocql.InvalidValueError`
naming the option and the value, raised before anything is sent.

The per-call checks are type-identity tests (a few tens of nanoseconds each); statement, profile and
cluster options are checked once when they are made, and again cheaply when a request resolves them
(a statement's attributes may be changed after it was made, as cassandra-driver users do).

Example:
    >>> check_timeout("timeout", 5)
    >>> check_timeout("timeout", "5")
    Traceback (most recent call last):
    ...
    aiocql.errors.base.InvalidValueError: timeout must be a number of seconds (int or float) or None, not '5' (str)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiocql.errors import InvalidValueError
from aiocql.protocol.constants import Consistency
from aiocql.protocol.streams import MAX_STREAMS

__all__ = [
    "MAX_FETCH_SIZE",
    "NO_PAGING",
    "NoPaging",
    "check_bool",
    "check_cluster_arguments",
    "check_consistency",
    "check_custom_payload",
    "check_fetch_size",
    "check_keyspace",
    "check_paging_state",
    "check_row_factory",
    "check_serial_consistency",
    "check_statement_options",
    "check_timeout",
    "check_timestamp",
]

MAX_FETCH_SIZE: Final = 2**31 - 1
"""The largest page size the protocol carries ([int])."""

_INT64 = 2**63


class NoPaging:
    """The type of :data:`NO_PAGING`."""

    _instance: NoPaging | None = None

    def __new__(cls) -> NoPaging:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_PAGING"

    def __reduce__(self) -> str:
        return "NO_PAGING"


NO_PAGING: Final = NoPaging()
"""``fetch_size=NO_PAGING`` asks for the whole result in one reply (no paging), wherever a fetch size is
accepted (a call, a statement, an execution profile, the cluster). ``fetch_size=None`` means "inherit"."""

FetchSize = int | NoPaging


def describe_value(value: object) -> str:
    """``value``'s repr (shortened) and type name, for error messages."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _refuse(name: str, expected: str, value: object, hint: str = "") -> InvalidValueError:
    return InvalidValueError(f"{name} must be {expected}, not {describe_value(value)}{hint}")


def check_consistency(name: str, value: object) -> None:
    """``value`` is a :class:`~aiocql.ConsistencyLevel` or None (strings, ints and floats are refused).

    Example:
        >>> check_consistency("consistency_level", "QUORUM")
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: consistency_level must be a ConsistencyLevel or None, \
not 'QUORUM' (str): use ConsistencyLevel.QUORUM
    """
    if value is None or type(value) is Consistency:
        return
    hint = ""
    if isinstance(value, str) and value.upper() in Consistency.__members__:
        hint = f": use ConsistencyLevel.{value.upper()}"
    elif isinstance(value, int) and not isinstance(value, bool) and value in Consistency._value2member_map_:
        hint = f": use ConsistencyLevel.{Consistency(value).name}"
    raise _refuse(name, "a ConsistencyLevel or None", value, hint)


def check_serial_consistency(name: str, value: object) -> None:
    """``value`` is ConsistencyLevel.SERIAL, ConsistencyLevel.LOCAL_SERIAL or None."""
    if value is None or value is Consistency.SERIAL or value is Consistency.LOCAL_SERIAL:
        return
    check_consistency(name, value)  # a wrong type says so first
    raise _refuse(name, "ConsistencyLevel.SERIAL, ConsistencyLevel.LOCAL_SERIAL or None", value)


def check_timeout(name: str, value: object, *, allow_none: bool = True, allow_zero: bool = False) -> None:
    """``value`` is a finite number of seconds > 0 (>= 0 with ``allow_zero``), or None if allowed.

    NaN, infinity, booleans and strings are refused: ``None`` is the way to say "no deadline".
    """
    if value is None:
        if allow_none:
            return
        raise _refuse(name, "a number of seconds (int or float)", value)
    if (type(value) is float or type(value) is int) and (0 < value < math.inf or (allow_zero and value == 0)):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        expected = "a number of seconds (int or float)" + (" or None" if allow_none else "")
        raise _refuse(name, expected, value)
    if value != value or value in (math.inf, -math.inf):
        hint = ": use None for no deadline" if allow_none else ""
        raise _refuse(name, "a finite number of seconds", value, hint)
    if value > 0 or (allow_zero and value == 0):
        return  # an int or float subclass
    raise _refuse(name, "at least 0 seconds" if allow_zero else "more than 0 seconds", value)


def check_fetch_size(name: str, value: object) -> None:
    """``value`` is a positive int, :data:`NO_PAGING` (one reply with every row) or None (inherit)."""
    if value is None or value is NO_PAGING:
        return
    if type(value) is int and 0 < value <= MAX_FETCH_SIZE:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 < value <= MAX_FETCH_SIZE:
            return
        raise _refuse(
            name, f"between 1 and {MAX_FETCH_SIZE} rows", value,
            ": to turn paging off use fetch_size=aiocql.NO_PAGING" if value <= 0 else "",
        )  # fmt: skip
    raise _refuse(name, "a positive int, aiocql.NO_PAGING or None", value)


def check_paging_state(name: str, value: object) -> None:
    """``value`` is the bytes of a previous page's ``paging_state``, or None."""
    if value is None or type(value) is bytes or isinstance(value, bytes):
        return
    raise _refuse(name, "bytes (a ResultSet's paging_state) or None", value)


def _check_routing_key(name: str, value: object) -> None:
    if value is None or isinstance(value, bytes):
        return
    raise _refuse(name, "bytes (the serialized partition key) or None", value)


def check_custom_payload(name: str, value: object) -> None:
    """``value`` is a mapping of str keys to bytes values, or None."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise _refuse(name, "a mapping of str to bytes or None", value)
    for key, item in value.items():
        if not isinstance(key, str):
            raise _refuse(f"{name} key", "a str", key)
        if not isinstance(item, bytes):
            raise _refuse(f"{name}[{key!r}]", "bytes", item)


def check_keyspace(name: str, value: object) -> None:
    """``value`` is a non-empty str, or None."""
    if value is None or (type(value) is str and value):
        return
    raise _refuse(name, "a non-empty str or None", value)


def check_timestamp(name: str, value: object) -> None:
    """``value`` is an int of microseconds since the epoch (64-bit), or None."""
    if value is None or (type(value) is int and -_INT64 <= value < _INT64):
        return
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return
    raise _refuse(name, "an int of microseconds since the epoch (64-bit) or None", value)


def check_bool(name: str, value: object, *, allow_none: bool = False) -> None:
    """``value`` is True or False (or None if allowed)."""
    if value is True or value is False or (allow_none and value is None):
        return
    raise _refuse(name, "True or False" + (" or None" if allow_none else ""), value)


def check_row_factory(name: str, value: object) -> None:
    """``value`` is callable (``factory(column_names, rows) -> list``), or None."""
    if value is None or callable(value):
        return
    raise _refuse(name, "a callable (column_names, rows) -> list, such as aiocql.named_tuple_factory", value)


def check_int(name: str, value: object, low: int, high: int | None = None, *, allow_none: bool = False) -> None:
    """``value`` is an int in ``[low, high]`` (or None if allowed)."""
    if allow_none and value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high):
        return
    bound = f"an int >= {low}" if high is None else f"an int from {low} to {high}"
    raise _refuse(name, bound + (" or None" if allow_none else ""), value)


def check_object(name: str, value: object, methods: tuple[str, ...], what: str, *, allow_none: bool = True) -> None:
    """``value`` has the callable ``methods`` of the policy or provider ``what`` (or is None if allowed)."""
    if value is None and allow_none:
        return
    if value is not None and not isinstance(value, type) and all(callable(getattr(value, m, None)) for m in methods):
        return
    missing = "" if value is None or isinstance(value, type) else (
        ": it has no " + ", ".join(f"{m}()" for m in methods if not callable(getattr(value, m, None)))
    )  # fmt: skip
    if isinstance(value, type):
        missing = f": pass an instance, e.g. {value.__name__}(...)"
    raise _refuse(name, f"{what}{' or None' if allow_none else ''}", value, missing)


def _check_contact_points(name: str, value: object) -> None:
    if isinstance(value, str):
        return  # one host
    if not isinstance(value, (list, tuple, set, frozenset)) or not value:
        raise _refuse(name, "a non-empty list of host names or addresses", value)
    for point in value:
        if not isinstance(point, str) or not point:
            raise _refuse(f"{name} entry", "a host name or address (str)", point)


def _check_protocol_version(name: str, value: object) -> None:
    if value is None or (type(value) is int and value in (4, 5)):
        return
    raise _refuse(name, "4, 5 or None (negotiate)", value)


def _check_ssl_context(name: str, value: object) -> None:
    import ssl

    if value is None or isinstance(value, ssl.SSLContext):
        return
    raise _refuse(name, "an ssl.SSLContext or None", value)


def _check_server_hostname(name: str, value: object) -> None:
    if value is None or (isinstance(value, str) and value) or (callable(value) and not isinstance(value, type)):
        return
    raise _refuse(name, "a host name (str), a function of the Host returning one, or None", value)


def _checks() -> dict[str, Callable[[str, Any], None]]:
    def number(allow_none: bool = False, allow_zero: bool = False) -> Callable[[str, Any], None]:
        return lambda n, v: check_timeout(n, v, allow_none=allow_none, allow_zero=allow_zero)

    def ints(low: int, high: int | None = None, allow_none: bool = False) -> Callable[[str, Any], None]:
        return lambda n, v: check_int(n, v, low, high, allow_none=allow_none)

    def required(check: Callable[[str, Any], None], expected: str) -> Callable[[str, Any], None]:
        def checked(n: str, v: Any) -> None:
            if v is None:
                raise _refuse(n, expected, v)
            check(n, v)

        return checked

    def policy(methods: tuple[str, ...], what: str) -> Callable[[str, Any], None]:
        return lambda n, v: check_object(n, v, methods, what)

    return {
        "contact_points": _check_contact_points,
        "port": ints(1, 65535),
        "protocol_version": _check_protocol_version,
        "auth_provider": policy(("new_authenticator",), "an AuthProvider (e.g. PlainTextAuthProvider)"),
        "ssl_context": _check_ssl_context,
        "compression": check_bool,
        "connect_timeout": number(),
        "request_timeout": number(allow_none=True),
        "connections_per_host": ints(1, 1024),
        "remote_connections_per_host": ints(1, 1024),
        "heartbeat_interval": number(allow_zero=True),
        "heartbeat_timeout": number(),
        "consistency_level": required(check_consistency, "a ConsistencyLevel"),
        "serial_consistency_level": check_serial_consistency,
        "fetch_size": required(check_fetch_size, "a positive int or aiocql.NO_PAGING"),
        "row_factory": required(check_row_factory, "a callable such as aiocql.named_tuple_factory"),
        "retry_policy": policy(("decide",), "a RetryPolicy"),
        "load_balancing_policy": policy(("plan", "distance", "on_init"), "a LoadBalancingPolicy"),
        "local_dc": check_keyspace,
        "reconnection_policy": policy(("new_schedule",), "a ReconnectionPolicy"),
        "speculative_execution_policy": policy(("new_plan",), "a SpeculativeExecutionPolicy"),
        "request_tracker": policy(("on_start", "on_success", "on_error"), "a RequestTracker"),
        "max_requests_in_flight": ints(1, allow_none=True),
        "max_requests_queued": ints(0),
        "client_timestamps": check_bool,
        "schema_agreement_wait": number(allow_zero=True),
        "max_streams_per_connection": ints(1, MAX_STREAMS),
        "max_orphans_per_connection": ints(1),
        "internal_request_timeout": number(),  # a ConnectionConfig field (no Cluster keyword)
        "schema_metadata": check_bool,
        "contact_points_are_hosts": check_bool,
        "schema_event_refresh": check_bool,
        "resolver": policy(("resolve",), "a Resolver"),
        "address_translator": policy(("translate",), "an AddressTranslator"),
        "server_hostname": _check_server_hostname,
    }


_STATEMENT_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "consistency_level": check_consistency,
    "serial_consistency_level": check_serial_consistency,
    "fetch_size": check_fetch_size,
    "timeout": check_timeout,
    "is_idempotent": check_bool,
    "keyspace": check_keyspace,
    "custom_payload": check_custom_payload,
    "routing_key": _check_routing_key,
}


def check_statement_options(kind: str, options: Mapping[str, Any]) -> None:
    """Check the keyword options given to a statement's constructor (unknown names are refused too).

    Example:
        >>> check_statement_options("SimpleStatement", {"consistency": 1})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: SimpleStatement has no option 'consistency' (options: ...)
    """
    for name, value in options.items():
        check = _STATEMENT_CHECKS.get(name)
        if check is None:
            raise InvalidValueError(f"{kind} has no option {name!r} (options: {', '.join(_STATEMENT_CHECKS)})")
        check(f"{kind}({name}=...)", value)


_CLUSTER_CHECKS: dict[str, Callable[[str, Any], None]] | None = None


def check_cluster_arguments(
    arguments: Mapping[str, Any], prefix: str = "", *, names: Mapping[str, str] | None = None
) -> None:
    """Check the arguments of ``Cluster(...)`` this module knows (others are left to their owners).

    This one table of checks serves the ``Cluster(...)`` keywords and the fields of the config objects
    they build: ``prefix`` and ``names`` (keyword -> field) make the error name the field as written.
    An argument whose type lives above this layer is checked by the caller, explicitly: the cluster's
    shim (:meth:`aiocql.cluster.config.ClusterSettings.build`) checks ``execution_profiles``,
    ``slow_query_threshold``, ``connection`` and ``pool`` itself. No import adds a check here.

    Example:
        >>> check_cluster_arguments({"port": "9042"})
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: port must be an int from 1 to 65535, not '9042' (str)
    """
    global _CLUSTER_CHECKS
    if _CLUSTER_CHECKS is None:
        _CLUSTER_CHECKS = _checks()
    for name, value in arguments.items():
        check = _CLUSTER_CHECKS.get(name)
        if check is not None:
            check(prefix + (names.get(name, name) if names else name), value)
