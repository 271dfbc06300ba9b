"""Latency histograms: fixed log-linear buckets over microseconds (16 per power of two, so any estimate is
within ~3% of the true value), O(1) ``record``, percentile estimates, and exact counts per export bound.

Example:
    >>> h = LatencyHistogram()
    >>> h.record(0.0015); h.count, round(h.percentile(0.5))
    (1, 1500)
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Final

from aiocql.errors import InvalidValueError

__all__ = ["DEFAULT_LATENCY_BUCKETS", "LatencyHistogram"]

_SUB_BITS: Final = 4  # 16 linear sub-buckets per power of two
_MAX_BITS: Final = 38  # values up to 2**38 us (~76 hours); larger ones land in the last bucket
_BUCKETS: Final = ((_MAX_BITS - _SUB_BITS) << _SUB_BITS) + (2 << _SUB_BITS)


def _bucket_of(value: int) -> int:
    shift = value.bit_length() - _SUB_BITS - 1
    if shift <= 0:
        return value
    return min((shift << _SUB_BITS) + (value >> shift), _BUCKETS - 1)


def _bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) of a bucket, in microseconds."""
    if index < 2 << _SUB_BITS:
        return index, index + 1
    shift = (index >> _SUB_BITS) - 1
    low = (index - (shift << _SUB_BITS)) << shift
    return low, low + (1 << shift)


#: Upper bounds (seconds) of the exported latency histogram's buckets (``le``), then ``+Inf``.
DEFAULT_LATENCY_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def bounds_us(bounds: Sequence[float]) -> tuple[int, ...]:
    """Export bounds (seconds) as whole microseconds, checked: increasing, positive, 1 us apart or more.

    Example:
        >>> bounds_us((0.0005, 0.001))
        (500, 1000)
    """
    us = tuple(round(b * 1_000_000) for b in bounds)
    if not us or any(b <= 0 for b in us) or any(a >= b for a, b in pairwise(us)):
        raise InvalidValueError(
            f"latency buckets must be increasing positive seconds (1 us apart or more), not {bounds!r}"
        )
    return us


class LatencyHistogram:
    """Latencies in fixed log-linear microsecond buckets: exact below 32 us, then 16 buckets per
    power of two (bucket width at most 1/16 of its value), up to 2**38 us; and, for export as a
    Prometheus histogram, exact counts per ``bounds`` (seconds, default :data:`DEFAULT_LATENCY_BUCKETS`).

    ``record`` is O(1) (plus a binary search over the export bounds); ``percentile`` walks the buckets and
    returns the middle of the bucket holding that rank, clamped to the exact min and max seen.

    Example:
        >>> h = LatencyHistogram()
        >>> for us in range(1, 1001):
        ...     h.record_us(us)
        >>> h.count, h.min_us, h.max_us, h.percentile(0.5), h.percentile(0.99), h.percentile(1.0)
        (1000, 1, 1000, 503.5, 975.5, 1000)
    """

    __slots__ = ("_bounds_us", "_counts", "_le_counts", "bounds", "count", "max_us", "min_us", "sum_us")

    def __init__(self, bounds: Sequence[float] = DEFAULT_LATENCY_BUCKETS) -> None:
        self._bounds_us = bounds_us(bounds)
        self.bounds = tuple(float(b) for b in bounds)
        self._le_counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self._counts = [0] * _BUCKETS
        self.count = 0
        self.sum_us = 0
        self.min_us = 0
        self.max_us = 0

    def record(self, seconds: float) -> None:
        """Record a latency given in seconds (negative values count as 0).

        Example:
            >>> h = LatencyHistogram(); h.record(0.25); h.max_us
            250000
        """
        self.record_us(int(seconds * 1_000_000))

    def record_us(self, us: int) -> None:
        """Record a latency given in whole microseconds.

        Example:
            >>> h = LatencyHistogram(); h.record_us(7); h.percentile(0.5)
            7
        """
        if us < 0:
            us = 0
        shift = us.bit_length() - _SUB_BITS - 1  # _bucket_of(us), inlined: this runs once per request
        self._counts[us if shift <= 0 else min((shift << _SUB_BITS) + (us >> shift), _BUCKETS - 1)] += 1
        self._le_counts[bisect_left(self._bounds_us, us)] += 1
        count = self.count
        if not count or us < self.min_us:
            self.min_us = us
        if us > self.max_us:
            self.max_us = us
        self.count = count + 1
        self.sum_us += us

    @property
    def mean_us(self) -> float:
        """Mean latency in microseconds (0.0 when empty)."""
        return self.sum_us / self.count if self.count else 0.0

    def percentile(self, q: float) -> float:
        """Estimated latency in microseconds at quantile ``q`` (0..1); 0.0 when empty, exact for the min and max.

        Example:
            >>> LatencyHistogram().percentile(0.99)
            0.0
        """
        if not 0.0 <= q <= 1.0:
            raise InvalidValueError(f"quantile must be in [0, 1], not {q}")
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        if rank == 1:
            return self.min_us  # the extremes are known exactly
        if rank >= self.count:
            return self.max_us
        seen = 0
        for index, n in enumerate(self._counts):
            if n:
                seen += n
                if seen >= rank:
                    low, high = _bucket_bounds(index)
                    middle = low if high - low == 1 else (low + high - 1) / 2
                    return min(max(middle, self.min_us), self.max_us)
        return float(self.max_us)  # unreachable: the counts add up to self.count

    def cumulative(self) -> list[tuple[float, int]]:
        """``(le, count of latencies <= le seconds)`` for every export bound, then ``(inf, count)``: the
        buckets of a Prometheus histogram, exact (values are counted against the bounds as recorded).

        Example:
            >>> h = LatencyHistogram((0.001, 0.01)); h.record(0.001); h.record(0.002); h.record(1.0)
            >>> h.cumulative()
            [(0.001, 1), (0.01, 2), (inf, 3)]
        """
        out: list[tuple[float, int]] = []
        total = 0
        for le, n in zip((*self.bounds, math.inf), self._le_counts, strict=True):
            total += n
            out.append((le, total))
        return out

    def buckets(self) -> Iterator[tuple[int, int, int]]:
        """The non-empty buckets as ``(low_us, high_us, count)``, ``high`` exclusive.

        Example:
            >>> h = LatencyHistogram(); h.record_us(100); list(h.buckets())
            [(100, 104, 1)]
        """
        for index, n in enumerate(self._counts):
            if n:
                low, high = _bucket_bounds(index)
                yield low, high, n

    def as_dict(self) -> dict[str, float]:
        """Count, min, max, mean, p50, p99 and p999, in microseconds.

        Example:
            >>> LatencyHistogram().as_dict()["count"]
            0
        """
        return {
            "count": self.count,
            "min_us": self.min_us,
            "max_us": self.max_us,
            "mean_us": self.mean_us,
            "p50_us": self.percentile(0.5),
            "p99_us": self.percentile(0.99),
            "p999_us": self.percentile(0.999),
        }
