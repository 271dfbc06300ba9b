"""Value types: Duration, Date, Time, FrozenMap, EMPTY, UNSET."""

from __future__ import annotations

import copy
import datetime as dt
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aiocql.types as types_pkg
from aiocql.protocol.unset import UNSET as PROTOCOL_UNSET
from aiocql.types.values import EMPTY, UNSET, Date, Duration, Empty, FrozenMap, Time


def test_unset_is_the_protocol_singleton() -> None:
    assert UNSET is PROTOCOL_UNSET is types_pkg.UNSET


def test_empty_singleton() -> None:
    assert Empty() is EMPTY and copy.deepcopy(EMPTY) is EMPTY and pickle.loads(pickle.dumps(EMPTY)) is EMPTY
    assert not EMPTY and repr(EMPTY) == "EMPTY" and EMPTY != None  # noqa: E711


@given(st.integers(-(2**31), 2**31 - 1))
def test_date_matches_datetime_in_range(days: int) -> None:
    d = Date(days)
    if dt.date.min.toordinal() <= days + 719163 <= dt.date.max.toordinal():
        assert d.to_date() == dt.date(1970, 1, 1) + dt.timedelta(days)
        assert d.ymd == (d.to_date().year, d.to_date().month, d.to_date().day)
        assert Date.from_date(d.to_date()) == d
    else:
        with pytest.raises(ValueError, match=r"outside datetime\.date's range"):
            d.to_date()


def test_date_extremes_match_the_spec() -> None:
    assert str(Date(-(2**31))) == "-5877641-06-23"
    assert str(Date(2**31 - 1)) == "5881580-07-11"
    assert str(Date(-719163)) == "0000-12-31"


def test_time() -> None:
    t = Time(3_723_000_004_567)
    assert str(t) == "01:02:03.000004567"
    assert t.to_time() == dt.time(1, 2, 3, 4)
    assert Time.from_time(dt.time(23, 59, 59, 999999)) == Time(86_399_999_999_000)
    assert Time(1) < Time(2)


def test_duration() -> None:
    assert Duration() == Duration(0, 0, 0)
    assert Duration(-1, 0, -1).months == -1
    with pytest.raises(TypeError):
        Duration(1.5, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Duration(True, 0, 0)


def test_frozen_map() -> None:
    m = FrozenMap({"a": 1, "b": 2})
    assert m == {"a": 1, "b": 2} and list(m) == ["a", "b"] and len(m) == 2 and m["a"] == 1
    assert hash(m) == hash(FrozenMap([("b", 2), ("a", 1)]))
    assert {m} == {FrozenMap({"b": 2, "a": 1})}
    assert repr(m) == "FrozenMap({'a': 1, 'b': 2})"
    with pytest.raises(TypeError):
        m["c"] = 3  # type: ignore[index]


def test_date_outside_datetime_range_raises_the_drivers_value_error() -> None:
    from aiocql import CqlError
    from aiocql.types.values import Date

    with pytest.raises(CqlError, match=r"outside datetime\.date's range"):
        Date(2**31 - 1).to_date()
