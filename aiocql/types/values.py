"""Value types for CQL values that have no exact Python equivalent, and the value markers.

* :class:`Duration` -- CQL ``duration``: months, days and nanoseconds, kept apart as Cassandra does.
* :class:`Date` -- CQL ``date`` outside :class:`datetime.date`'s years 1..9999 (days since 1970-01-01).
* :class:`Time` -- CQL ``time`` with nanosecond precision (:class:`datetime.time` stops at microseconds).
* :class:`FrozenMap` -- a hashable, read-only mapping, used for maps inside sets and map keys.
* :data:`UNSET` -- bind marker value that leaves a column untouched (protocol v4+).
* :data:`EMPTY` -- a zero-length value of a type that normally has content (an "empty int").

Example:
    >>> Duration(1, 2, 3)
    Duration(months=1, days=2, nanoseconds=3)
    >>> str(Date(-719162)), str(Time(3_723_000_000_001))
    ('0001-01-01', '01:02:03.000000001')
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from aiocql.errors.base import InvalidValueError
from aiocql.protocol.unset import UNSET, Unset

__all__ = ["EMPTY", "UNSET", "Date", "Duration", "Empty", "FrozenMap", "Time", "UnhashedMap", "UnhashedSet", "Unset"]

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
NANOS_PER_DAY: Final = 86_400_000_000_000
_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_MIN_ORDINAL_DAYS: Final = _dt.date.min.toordinal() - _EPOCH_ORDINAL
_MAX_ORDINAL_DAYS: Final = _dt.date.max.toordinal() - _EPOCH_ORDINAL


class Empty:
    """Type of :data:`EMPTY`: the zero-length value of a type whose values normally have content.

    Cassandra keeps, for compatibility with its Thrift past, "empty" values that are not null: an
    ``int`` column can hold zero bytes. Decoders return :data:`EMPTY` for them (``text``, ``ascii``,
    ``blob`` and custom types decode zero bytes to ``''`` / ``b''`` instead, tuples and UDTs to all
    fields ``None``) and every encoder turns :data:`EMPTY` back into zero bytes.

    Example:
        >>> EMPTY, bool(EMPTY), EMPTY is Empty()
        (EMPTY, False, True)
    """

    __slots__ = ()
    _instance: Empty | None = None

    def __new__(cls) -> Empty:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "EMPTY"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "EMPTY"

    def __copy__(self) -> Empty:
        return self

    def __deepcopy__(self, memo: object) -> Empty:
        return self


EMPTY: Final[Empty] = Empty()


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if type(value) is not int:
        raise InvalidValueError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidValueError(f"{name} must be in [{low}, {high}], got {value}")


@dataclass(frozen=True, slots=True)
class Duration:
    """A CQL ``duration``: signed months, days and nanoseconds, all >= 0 or all <= 0.

    Months and days are int32, nanoseconds int64; they are not normalised into each other
    because a month or a day has no fixed length in Cassandra's date arithmetic.

    Example:
        >>> Duration(months=-1, days=0, nanoseconds=-5)
        Duration(months=-1, days=0, nanoseconds=-5)
        >>> Duration(1, -1, 0)
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: duration components must all be >= 0 or all <= 0, got (1, -1, 0)
    """

    months: int = 0
    days: int = 0
    nanoseconds: int = 0

    def __post_init__(self) -> None:
        _check_int("duration months", self.months, _INT32_MIN, _INT32_MAX)
        _check_int("duration days", self.days, _INT32_MIN, _INT32_MAX)
        _check_int("duration nanoseconds", self.nanoseconds, _INT64_MIN, _INT64_MAX)
        parts = (self.months, self.days, self.nanoseconds)
        if min(parts) < 0 < max(parts):
            raise InvalidValueError(f"duration components must all be >= 0 or all <= 0, got {parts}")


def _civil_from_days(days: int) -> tuple[int, int, int]:
    # Proleptic Gregorian calendar for any day count (H. Hinnant's days_from_civil inverse).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


@dataclass(frozen=True, slots=True)
class Date:
    """A CQL ``date`` as signed days since 1970-01-01, covering the whole CQL range.

    Decoders return :class:`datetime.date` when the day fits in years 1..9999 and :class:`Date`
    otherwise; encoders accept both.

    Example:
        >>> Date.from_date(_dt.date(1970, 1, 2))
        Date(days=1)
        >>> Date(-2**31).ymd
        (-5877641, 6, 23)
        >>> Date(0).to_date()
        datetime.date(1970, 1, 1)
    """

    days: int

    def __post_init__(self) -> None:
        _check_int("date days", self.days, _INT32_MIN, _INT32_MAX)

    @classmethod
    def from_date(cls, value: _dt.date) -> Date:
        """Build from a :class:`datetime.date`."""
        return cls(value.toordinal() - _EPOCH_ORDINAL)

    @property
    def ymd(self) -> tuple[int, int, int]:
        """(year, month, day) in the proleptic Gregorian calendar; years may be <= 0 or > 9999."""
        return _civil_from_days(self.days)

    def to_date(self) -> _dt.date:
        """Convert to :class:`datetime.date`.

        Raises :class:`aiocql.InvalidValueError` (a ValueError) outside years 1..9999.
        """
        if not _MIN_ORDINAL_DAYS <= self.days <= _MAX_ORDINAL_DAYS:
            raise InvalidValueError(f"{self} is outside datetime.date's range")
        return _dt.date.fromordinal(self.days + _EPOCH_ORDINAL)

    def __str__(self) -> str:
        y, m, d = self.ymd
        return f"{y:04d}-{m:02d}-{d:02d}" if y >= 0 else f"-{-y:04d}-{m:02d}-{d:02d}"


@dataclass(frozen=True, slots=True, order=True)
class Time:
    """A CQL ``time``: nanoseconds since midnight, 0 <= nanoseconds < 86400 * 10**9.

    Example:
        >>> t = Time.from_time(_dt.time(1, 2, 3, 4))
        >>> t, t.to_time()
        (Time(nanoseconds=3723000004000), datetime.time(1, 2, 3, 4))
    """

    nanoseconds: int

    def __post_init__(self) -> None:
        _check_int("time nanoseconds", self.nanoseconds, 0, NANOS_PER_DAY - 1)

    @classmethod
    def from_time(cls, value: _dt.time) -> Time:
        """Build from a naive :class:`datetime.time` (an aware one raises InvalidValueError)."""
        if value.tzinfo is not None:
            raise InvalidValueError(f"CQL time has no time zone, got an aware time {value!r}")
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return cls(seconds * 1_000_000_000 + value.microsecond * 1000)

    def to_time(self) -> _dt.time:
        """Convert to :class:`datetime.time`, truncating to microseconds."""
        seconds, nanos = divmod(self.nanoseconds, 1_000_000_000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return _dt.time(hour, minute, second, nanos // 1000)

    def __str__(self) -> str:
        seconds, nanos = divmod(self.nanoseconds, 1_000_000_000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return f"{hour:02d}:{minute:02d}:{second:02d}.{nanos:09d}"


_K = TypeVar("_K")
_V = TypeVar("_V")


class FrozenMap(Mapping[_K, _V]):
    """A read-only, hashable mapping: how a CQL map decodes where Python needs a hashable value.

    That is inside a set or as a map key (``set<frozen<map<int, text>>>``). It compares equal to a
    ``dict`` with the same items and keeps the server's order.

    Example:
        >>> m = FrozenMap({1: "a"})
        >>> m == {1: "a"}, {m: 0}[FrozenMap([(1, "a")])]
        (True, 0)
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[_K, _V] | Iterable[tuple[_K, _V]] = ()) -> None:
        self._data: dict[_K, _V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = _items_hash(self._data.items())
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _items_hash(items: Iterable[object]) -> int:
    """An order-independent hash of distinct items, built without a set (so items whose hashes
    collide cost no comparisons): the algorithm of ``collections.abc.Set._hash``."""
    mask = 2**64 - 1
    n = 0
    h = 1927868237
    for item in items:
        n += 1
        x = hash(item)
        h ^= ((x ^ (x << 16) ^ 89869747) * 3644798167) & mask
    h = ((h ^ n) * 1927868237 + 69069 * 907133923) & mask
    h = h * 69069 + 907133923 & mask
    h = h - 2**64 if h >= 2**63 else h
    return -2 if h == -1 else h


_T = TypeVar("_T")


class UnhashedSet(AbstractSet[_T]):
    """A read-only set kept as a sequence: what a CQL set decodes to when its elements' hashes
    collide pathologically.

    A writer can store set elements (UUIDs, varints, decimals, tuples...) chosen so that their
    Python hashes are all equal; building a ``set`` of n of them costs n²/2 comparisons (16,000
    UUIDs: 8 s of a blocked event loop). The decoder detects that (more than 16 elements, more than
    8 sharing one hash) and returns this instead, in linear time: the elements in the server's
    order, without hashing them. Lookups (``in``) scan; iteration, ``len``, comparisons and set
    operations work as for a frozenset (it is hashable, with frozenset's hash algorithm). A normal
    set never decodes to this type.

    Example:
        >>> s = UnhashedSet([3, 1, 2])
        >>> 1 in s, len(s), s == {1, 2, 3}, list(s)
        (True, 3, True, [3, 1, 2])
    """

    __slots__ = ("_cached_hash", "_items")

    def __init__(self, items: Iterable[_T] = ()) -> None:
        self._items: tuple[_T, ...] = tuple(items)
        self._cached_hash: int | None = None

    def __contains__(self, value: object) -> bool:
        return value in self._items

    def __iter__(self) -> Iterator[_T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._cached_hash is None:
            self._cached_hash = self._hash()
        return self._cached_hash

    def __repr__(self) -> str:
        return f"UnhashedSet({list(self._items)!r})"


class UnhashedMap(Mapping[_K, _V]):
    """A read-only mapping kept as a sequence of pairs: what a CQL map decodes to when its keys'
    hashes collide pathologically (see :class:`UnhashedSet`, same detection).

    Keys and values are in the server's order; ``m[key]`` and ``key in m`` scan; it compares equal
    to a ``dict`` with the same items and is hashable (an order-independent hash of its items).

    Example:
        >>> m = UnhashedMap([(2, "b"), (1, "a")])
        >>> m[1], list(m), m == {1: "a", 2: "b"}
        ('a', [2, 1], True)
    """

    __slots__ = ("_hash", "_keys", "_values")

    def __init__(self, items: Iterable[tuple[_K, _V]] = ()) -> None:
        pairs = tuple(items)
        self._keys: tuple[_K, ...] = tuple(k for k, _ in pairs)
        self._values: tuple[_V, ...] = tuple(v for _, v in pairs)
        self._hash: int | None = None

    def __getitem__(self, key: _K) -> _V:
        for i, k in enumerate(self._keys):
            if k is key or k == key:
                return self._values[i]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[_K]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def items(self) -> _UnhashedItems[_K, _V]:
        return _UnhashedItems(self)

    def values(self) -> _UnhashedValues[_V]:
        return _UnhashedValues(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(other) != len(self):
            return False
        missing = object()
        return all(other.get(k, missing) == v for k, v in zip(self._keys, self._values, strict=True))

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = _items_hash(zip(self._keys, self._values, strict=True))
        return self._hash

    def __repr__(self) -> str:
        return f"UnhashedMap({list(zip(self._keys, self._values, strict=True))!r})"


class _UnhashedItems(ItemsView[_K, _V]):
    # Iterating the generic view would look every key up (a scan each): quadratic.
    _mapping: UnhashedMap[_K, _V]

    def __iter__(self) -> Iterator[tuple[_K, _V]]:
        return zip(self._mapping._keys, self._mapping._values, strict=True)


class _UnhashedValues(ValuesView[_V]):
    _mapping: UnhashedMap[Any, _V]

    def __iter__(self) -> Iterator[_V]:
        return iter(self._mapping._values)
