"""Parallel token-range scans: read a whole table (or part of its ring) in many independent pieces.

A table's rows are spread over the Murmur3 token ring, ``(-2**63, 2**63 - 1]``. :func:`token_ranges`
cuts the ring into ranges that follow replica ownership (no range straddles two owners, so each can
be read from one of its replicas) and splits them further into about ``splits`` pieces.
:func:`scan_table` reads the ranges with ``SELECT ... WHERE token(pk) > ? AND token(pk) <= ?``,
each range routed to one of its replicas, at most ``concurrency`` ranges at a time, each page
retried (from the same paging state, so no row comes twice) after a transient error. The result is an
async iterator of rows; :meth:`TableScan.pages` gives pages with the range they come from, and
:attr:`TableScan.progress` tells how far every range got.

A :class:`TokenRange` is a plain frozen value (two ints and a tuple of addresses) that pickles, so a
job too big for one machine hands ranges to a distributed engine, one task per range, each task
reading its range with :func:`scan_range` on its own event loop (see docs/cli.md for a Dask example).

Example:
    >>> async with Cluster(["127.0.0.1"]) as cluster:  # doctest: +SKIP
    ...     session = await cluster.connect()
    ...     scan = scan_table(session, "ks.events", splits=64, concurrency=8)
    ...     async for row in scan:
    ...         handle(row)
    ...     print(scan.progress.rows, "rows from", scan.progress.ranges_done, "ranges")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aiocql.errors import InvalidValueError
from aiocql.errors.base import ConnectionError_, NoHostAvailable, OperationTimedOut
from aiocql.errors.server import Overloaded, ReadFailure, ReadTimeout, Unavailable
from aiocql.protocol.constants import Consistency
from aiocql.protocol.cqltypes import quote_identifier

if TYPE_CHECKING:
    from aiocql.model.schema import TableMetadata
    from aiocql.model.state import ClusterState
    from aiocql.results import RowFactory
    from aiocql.session.session import Session
    from aiocql.statements import PreparedStatement

__all__ = [
    "MAX_TOKEN",
    "MIN_TOKEN",
    "RangePage",
    "RangeProgress",
    "ScanProgress",
    "TableScan",
    "TokenRange",
    "scan_range",
    "scan_table",
    "token_ranges",
]

log = logging.getLogger("aiocql.scan")

#: Rows per page of a scan's range queries unless ``fetch_size=`` says otherwise (the scan's own default).
SCAN_PAGE_SIZE = 5000

#: The Murmur3Partitioner's minimum token; no partition has it (a hash of it becomes :data:`MAX_TOKEN`).
MIN_TOKEN: Final = -(2**63)
#: The largest Murmur3 token.
MAX_TOKEN: Final = 2**63 - 1

#: Errors after which a page is asked for again (the read is idempotent).
TRANSIENT_ERRORS: Final = (
    ReadTimeout, ReadFailure, Unavailable, Overloaded, OperationTimedOut, NoHostAvailable, ConnectionError_,
)  # fmt: skip


@dataclass(frozen=True, slots=True, order=True)
class TokenRange:
    """The tokens ``t`` with ``start < t <= end``; ``start >= end`` wraps past :data:`MAX_TOKEN`.

    ``replicas`` are the addresses of the nodes holding the range (primary first), for routing and
    for a distributed engine's placement hints; they take no part in equality or ordering. A range
    with ``start == end`` is the whole ring (Cassandra's convention).

    Example:
        >>> r = TokenRange(-10, 10)
        >>> r.contains(10), r.contains(-10), r.width
        (True, False, 20)
        >>> [(p.start, p.end) for p in r.split(2)]
        [(-10, 0), (0, 10)]
        >>> [(p.start, p.end) for p in TokenRange(100, -100).unwrap()] == [(100, MAX_TOKEN), (MIN_TOKEN, -100)]
        True
    """

    start: int
    end: int
    replicas: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not MIN_TOKEN <= value <= MAX_TOKEN:
                raise InvalidValueError(f"TokenRange.{name} must be an int in [-2**63, 2**63 - 1], not {value!r}")

    @property
    def wraps(self) -> bool:
        """True when the range runs past :data:`MAX_TOKEN` to the start of the ring (or is the whole ring)."""
        return self.start >= self.end

    @property
    def width(self) -> int:
        """How many tokens the range holds."""
        return self.end - self.start if not self.wraps else (MAX_TOKEN - self.start) + (self.end - MIN_TOKEN)

    def contains(self, token: int) -> bool:
        """Whether ``token`` is in the range."""
        if not self.wraps:
            return self.start < token <= self.end
        return token > self.start or token <= self.end

    def unwrap(self) -> tuple[TokenRange, ...]:
        """The range as non-wrapping pieces (one, or two for a wrapping range), which CQL can query."""
        if not self.wraps:
            return (self,)
        pieces = []
        if self.start < MAX_TOKEN:
            pieces.append(TokenRange(self.start, MAX_TOKEN, self.replicas))
        if self.end > MIN_TOKEN:
            pieces.append(TokenRange(MIN_TOKEN, self.end, self.replicas))
        return tuple(pieces)

    def split(self, n: int) -> tuple[TokenRange, ...]:
        """A non-wrapping range cut into ``n`` contiguous pieces of (nearly) equal width."""
        if n < 1:
            raise InvalidValueError(f"split needs n >= 1, not {n}")
        if self.wraps:
            raise InvalidValueError("split a wrapping range's unwrap() pieces, not the range itself")
        n = min(n, self.width) or 1
        bounds = [self.start + (self.width * i) // n for i in range(n)] + [self.end]
        return tuple(TokenRange(a, b, self.replicas) for a, b in itertools.pairwise(bounds))

    def intersection(self, other: TokenRange) -> tuple[TokenRange, ...]:
        """The non-wrapping pieces both ranges cover (this range's replicas are kept)."""
        out: list[TokenRange] = []
        for a in self.unwrap():
            for b in other.unwrap():
                lo, hi = max(a.start, b.start), min(a.end, b.end)
                if lo < hi:
                    out.append(TokenRange(lo, hi, self.replicas))
        return tuple(out)


def _owned_ranges(state: ClusterState | None, keyspace: str | None) -> list[TokenRange]:
    """The ring's ranges, one per ring token, non-wrapping, each with its replicas' addresses."""
    token_map = state.token_map if state is not None else None
    ring = token_map.ring if token_map is not None else ()
    if token_map is None or not ring:
        return [TokenRange(MIN_TOKEN, MAX_TOKEN)]

    def replicas(token: int) -> tuple[str, ...]:
        hosts = token_map.replicas(keyspace, token) if keyspace else ()
        if not hosts:
            owner = token_map.owner(token)
            hosts = (owner,) if owner is not None else ()
        return tuple(h.address for h in hosts)

    tokens = [t for t, _ in ring]
    out: list[TokenRange] = []
    for prev, token in itertools.pairwise(tokens):
        out.append(TokenRange(prev, token, replicas(token)))
    # The wrap-around range (last token, first token] belongs to the first token's owner.
    first_replicas = replicas(tokens[0])
    out.extend(TokenRange(tokens[-1], tokens[0], first_replicas).unwrap())
    return out


def token_ranges(
    state: ClusterState | None,
    keyspace: str | None = None,
    *,
    splits: int | None = None,
    within: TokenRange | None = None,
) -> list[TokenRange]:
    """The ring cut into non-wrapping ranges aligned to replica ownership, in token order.

    ``state`` is ``session.state`` (or ``cluster.state``); without a token map (another partitioner,
    or ``None``) the whole ring is one range. Ranges follow the ring's tokens (one per vnode) and are
    split further, in proportion to their width, until there are about ``splits`` of them (never
    fewer than the ring has). ``within`` keeps only that part of the ring (it may wrap).

    Example:
        >>> rs = token_ranges(None, splits=4)
        >>> len(rs), rs[0].start == MIN_TOKEN, rs[-1].end == MAX_TOKEN
        (4, True, True)
        >>> [(r.start, r.end) for r in token_ranges(None, within=TokenRange(0, 100), splits=2)]
        [(0, 50), (50, 100)]
    """
    if splits is not None and splits < 1:
        raise InvalidValueError(f"splits must be at least 1, not {splits}")
    ranges = _owned_ranges(state, keyspace)
    if within is not None:
        ranges = [piece for r in ranges for piece in r.intersection(within)]
    if not ranges:
        return []
    total = sum(r.width for r in ranges)
    wanted = splits or len(ranges)
    out: list[TokenRange] = []
    for r in ranges:
        n = max(1, round(wanted * r.width / total)) if wanted > len(ranges) else 1
        out.extend(r.split(n))
    out.sort()
    return out


@dataclass(slots=True)
class RangeProgress:
    """How far one range's read got: rows and pages so far, attempts (1 + retries), done or failed."""

    range: TokenRange
    rows: int = 0
    pages: int = 0
    attempts: int = 0
    done: bool = False
    error: BaseException | None = None


@dataclass(slots=True)
class ScanProgress:
    """A scan's progress as a whole and per range (``ranges`` in token order)."""

    ranges: list[RangeProgress]
    rows: int = 0
    retries: int = 0

    @property
    def ranges_done(self) -> int:
        """Ranges read to the end."""
        return sum(1 for r in self.ranges if r.done)

    @property
    def ranges_failed(self) -> int:
        """Ranges that failed after their retries."""
        return sum(1 for r in self.ranges if r.error is not None)


@dataclass(frozen=True, slots=True)
class RangePage:
    """One page of a range: its rows, ``last`` when the range is read to its end, and the request's latency."""

    range: TokenRange
    rows: list[Any]
    last: bool
    latency: float = 0.0  # seconds the request for this page took


def _table_metadata(session: Session, table: str, keyspace: str | None) -> TableMetadata:
    if "." in table and keyspace is None:
        keyspace, table = table.split(".", 1)
    keyspace = keyspace or session.keyspace
    if keyspace is None:
        raise InvalidValueError(f"table {table!r} needs a keyspace: 'ks.table', keyspace=..., or a session keyspace")
    ks = session.state.keyspaces.get(keyspace)
    meta = ks.tables.get(table) if ks is not None else None
    if meta is None:
        raise InvalidValueError(
            f"no table {keyspace}.{table} in the schema metadata (is the name right, and schema_metadata on?)"
        )
    return meta


def range_query(meta: TableMetadata, columns: Sequence[str] | None = None, selectors: str | None = None) -> str:
    """The SELECT a scan runs per range: ``token(pk) > ? AND token(pk) <= ?`` on ``meta``'s table.

    ``columns`` are column names (quoted as needed); ``selectors`` is a raw select clause instead
    (e.g. ``"k, v, writetime(v)"``); neither selects every column.
    """
    pk = ", ".join(quote_identifier(c.name) for c in meta.partition_key)
    if selectors is None:
        names = list(columns) if columns else list(meta.columns)
        unknown = [c for c in names if c not in meta.columns]
        if unknown:
            raise InvalidValueError(f"no column {', '.join(unknown)} in {meta.keyspace}.{meta.name}")
        selectors = ", ".join(quote_identifier(c) for c in names)
    return (
        f"SELECT {selectors} FROM {quote_identifier(meta.keyspace)}.{quote_identifier(meta.name)}"
        f" WHERE token({pk}) > ? AND token({pk}) <= ?"
    )


class TableScan:
    """A parallel scan of a table by token range (made by :func:`scan_table`).

    ``async for row in scan`` gives every row once (ranges interleave: no order across ranges; rows of
    one range come in token order). :meth:`pages` gives :class:`RangePage` objects instead. A range
    that still fails after ``retries`` retries of a page raises its error from the iterator (after
    cancelling the other reads); :attr:`progress` then says which ranges were done. Leaving the loop
    early cancels the reads in flight.
    """

    def __init__(
        self,
        session: Session,
        meta: TableMetadata,
        ranges: Sequence[TokenRange],
        *,
        columns: Sequence[str] | None = None,
        selectors: str | None = None,
        concurrency: int = 8,
        fetch_size: int = SCAN_PAGE_SIZE,
        retries: int = 5,
        consistency_level: Consistency | None = None,
        timeout: float | None = 60.0,
        row_factory: RowFactory | None = None,
        on_range_done: Callable[[RangeProgress], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidValueError(f"concurrency must be at least 1, not {concurrency}")
        if retries < 0:
            raise InvalidValueError(f"retries must be 0 or more, not {retries}")
        self.session = session
        self.table = meta
        self.query = range_query(meta, columns, selectors)
        self.ranges = [piece for r in ranges for piece in r.unwrap()]
        self.concurrency = concurrency
        self.fetch_size = fetch_size
        self.retries = retries
        self.consistency_level = consistency_level
        self.timeout = timeout
        self.row_factory = row_factory
        self.on_range_done = on_range_done
        self.progress = ScanProgress([RangeProgress(r) for r in self.ranges])
        self.column_names: tuple[str, ...] = ()
        self._started = False

    async def _prepare(self) -> PreparedStatement:
        ps = await self.session.prepare(self.query)
        if ps.result_metadata is not None:
            self.column_names = ps.result_metadata.names
        return ps

    async def _read(self, ps: PreparedStatement, progress: RangeProgress) -> AsyncIterator[RangePage]:
        r = progress.range
        paging_state: bytes | None = None
        failures = 0
        while True:
            bound = ps.bind((r.start, r.end))
            bound.routing_token = r.end
            bound.is_idempotent = True
            progress.attempts += 1
            started = time.perf_counter()
            try:
                rs = await self.session.execute(
                    bound,
                    paging_state=paging_state,
                    fetch_size=self.fetch_size,
                    consistency_level=self.consistency_level,
                    timeout=self.timeout,
                    row_factory=self.row_factory,
                )
            except TRANSIENT_ERRORS as exc:
                failures += 1
                if failures > self.retries:
                    progress.error = exc
                    raise
                self.progress.retries += 1
                log.debug("range (%d, %d]: retry %d after %s", r.start, r.end, failures, type(exc).__name__)
                await asyncio.sleep(min(0.1 * 2**failures, 5.0))
                continue
            except BaseException as exc:
                progress.error = exc
                raise
            failures = 0
            if rs.column_names:
                self.column_names = rs.column_names
            rows = rs.current_rows
            paging_state = rs.paging_state
            progress.rows += len(rows)
            progress.pages += 1
            self.progress.rows += len(rows)
            last = paging_state is None
            if last:
                progress.done = True
            yield RangePage(r, rows, last, time.perf_counter() - started)
            if last:
                if self.on_range_done is not None:
                    self.on_range_done(progress)
                return

    async def pages(self) -> AsyncIterator[RangePage]:
        """Every page of every range, as ranges complete them (a range's pages in order).

        Example:
            >>> async for page in scan_table(session, "ks.t").pages():  # doctest: +SKIP
            ...     print(page.range, len(page.rows), page.last)
        """
        if self._started:
            raise InvalidValueError("a TableScan runs once: make a new one with scan_table()")
        self._started = True
        ps = await self._prepare()
        queue: asyncio.Queue[RangePage] = asyncio.Queue(maxsize=2 * self.concurrency)
        todo = iter(self.progress.ranges)

        async def worker() -> None:
            for progress in todo:  # next() runs between awaits: the workers share the iterator safely
                async for page in self._read(ps, progress):
                    await queue.put(page)

        async def run() -> None:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(self.ranges))):
                    group.create_task(worker())

        runner = asyncio.ensure_future(run())
        try:
            while True:
                item = await _next_page(queue, runner)
                if item is None:
                    break
                yield item
            try:
                await runner  # a range's error, if one failed
            except BaseExceptionGroup as group_exc:
                raise group_exc.exceptions[0] from None
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await runner

    async def _rows(self) -> AsyncIterator[Any]:
        async for page in self.pages():
            for row in page.rows:
                yield row

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._rows()


async def _next_page(queue: asyncio.Queue[RangePage], runner: asyncio.Future[None]) -> RangePage | None:
    """The next queued page; ``None`` once the readers are through and the queue is drained."""
    while True:
        if not queue.empty():
            return queue.get_nowait()
        if runner.done():
            return None
        getter = asyncio.ensure_future(queue.get())
        waiting: set[asyncio.Future[Any]] = {getter, runner}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()


def scan_table(
    session: Session,
    table: str,
    *,
    keyspace: str | None = None,
    columns: Sequence[str] | None = None,
    selectors: str | None = None,
    ranges: Iterable[TokenRange] | None = None,
    splits: int | None = None,
    within: TokenRange | None = None,
    concurrency: int = 8,
    fetch_size: int = SCAN_PAGE_SIZE,
    retries: int = 5,
    consistency_level: Consistency | None = None,
    timeout: float | None = 60.0,
    row_factory: RowFactory | None = None,
    on_range_done: Callable[[RangeProgress], None] | None = None,
) -> TableScan:
    """A parallel scan of ``table`` (``"ks.table"``, or a name in ``keyspace`` / the session's keyspace).

    The ranges are ``ranges`` if given, else :func:`token_ranges` of the session's cluster state with
    ``splits`` (default: ``max(ring ranges, 4 * concurrency)``) and ``within``. Each range is read by
    one request at a time, paged by ``fetch_size``, routed to its replicas; ``concurrency`` ranges
    are read at once; a page failing with a transient error (timeouts, unavailable, overloaded, lost
    connections) is asked for again up to ``retries`` times with a growing pause. ``on_range_done`` is
    called when a range is read to its end (after its last page was handed out), e.g. to checkpoint.

    Example:
        >>> scan = scan_table(session, "ks.t", columns=["k", "v"], concurrency=4)  # doctest: +SKIP
        >>> total = 0
        >>> async for row in scan:  # doctest: +SKIP
        ...     total += row.v
    """
    meta = _table_metadata(session, table, keyspace)
    if ranges is None:
        wanted = splits or max(4 * concurrency, 1)
        chosen = token_ranges(session.state, meta.keyspace, splits=wanted, within=within)
    else:
        chosen = list(ranges)
        if within is not None:
            chosen = [piece for r in chosen for piece in r.intersection(within)]
    return TableScan(
        session, meta, chosen, columns=columns, selectors=selectors, concurrency=concurrency, fetch_size=fetch_size,
        retries=retries, consistency_level=consistency_level, timeout=timeout, row_factory=row_factory,
        on_range_done=on_range_done,
    )  # fmt: skip


async def scan_range(
    session: Session,
    table: str,
    token_range: TokenRange,
    *,
    keyspace: str | None = None,
    columns: Sequence[str] | None = None,
    selectors: str | None = None,
    fetch_size: int = SCAN_PAGE_SIZE,
    retries: int = 5,
    consistency_level: Consistency | None = None,
    timeout: float | None = 60.0,
    row_factory: RowFactory | None = None,
) -> AsyncIterator[Any]:
    """Every row of one token range of ``table``: the unit of work for one task of a distributed job.

    Example:
        >>> async def count(r: TokenRange) -> int:  # doctest: +SKIP
        ...     async with Cluster(["127.0.0.1"]) as cluster:
        ...         session = await cluster.connect()
        ...         return sum([1 async for _ in scan_range(session, "ks.t", r)])
    """
    scan = scan_table(
        session, table, keyspace=keyspace, columns=columns, selectors=selectors, ranges=[token_range], concurrency=1,
        fetch_size=fetch_size, retries=retries, consistency_level=consistency_level, timeout=timeout,
        row_factory=row_factory,
    )  # fmt: skip
    async for row in scan:
        yield row
