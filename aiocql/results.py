"""Results of :meth:`aiocql.Session.execute` and the row factories.

A :class:`ResultSet` holds one page of rows (``current_rows``) and knows how to fetch the next one.
``async for row in result`` walks every page, prefetching the next page while the current one is
consumed (one page ahead at most, so memory stays bounded); ``await result.all()`` collects every page;
``result.pages()`` streams page by page.

Example:
    >>> rs = await session.execute("SELECT k, v FROM t")  # doctest: +SKIP
    >>> async for row in rs:  # doctest: +SKIP
    ...     print(row.k, row.v)
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Generic, Protocol, TypeVar

from aiocql.errors import InvalidValueError, UsageError
from aiocql.protocol.constants import Consistency
from aiocql.protocol.cqltypes import CqlType
from aiocql.types import speedups
from aiocql.types.record import clean_name, row_class
from aiocql.types.rows import ROW, ROW_SHAPES, TUPLE
from aiocql.types.udt_classes import constructor_fields, match_fields

#: A row factory turns the column names and a page of decoded tuples into the rows users see.
#: Same signature as cassandra-driver's: ``factory(column_names, rows) -> list``.
RowFactory = Callable[[tuple[str, ...], list[tuple[Any, ...]]], list[Any]]

RowT = TypeVar("RowT")
_T = TypeVar("_T")

#: A row factory whose rows have a known type: ``execute(..., row_factory=f)`` then returns ``ResultSet[T]``.
TypedRowFactory = Callable[[tuple[str, ...], list[tuple[Any, ...]]], list[RowT]]


def tuple_factory(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[Any]:
    """Rows as plain tuples (the fastest).

    Example:
        >>> tuple_factory(("k", "v"), [(1, "a")])
        [(1, 'a')]
    """
    return rows


def _clean_name(name: str) -> str:
    """A column name as a Python identifier, as cassandra-driver does: ``[applied]`` -> ``applied``,
    ``writetime(v)`` -> ``writetime_v``."""
    return clean_name(name)


@lru_cache(maxsize=512)
def _row_maker(names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], Any]:
    # tuple.__new__(RowClass, values) builds the row in C: no Python frame per row (_make has one).
    return partial(tuple.__new__, row_class(names))


def named_tuple_factory(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[Any]:
    """Rows as :class:`aiocql.Row` (the default): named tuples with ``row.k``, ``row[0]`` and ``row["k"]``.

    A :class:`~aiocql.Row` is a tuple (``==``, ``hash``, slicing and unpacking as the tuple of its values) with
    a namedtuple's ``_fields``, ``_asdict()``, ``_replace()`` and ``_make()``, plus key access by column name
    (``row["[applied]"]``), ``keys()``/``values()``/``items()``/``get()``; it pickles. One class per set of
    column names; the decoder builds these rows itself (in C when the compiled core is built).

    Example:
        >>> row = named_tuple_factory(("k", "v"), [(1, "a")])[0]
        >>> row.v, row["k"], row == (1, "a")
        ('a', 1, True)
    """
    return list(map(_row_maker(names), rows))


def dict_factory(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[Any]:
    """Rows as dicts keyed by column name.

    Example:
        >>> dict_factory(("k", "v"), [(1, "a")])
        [{'k': 1, 'v': 'a'}]
    """
    return [dict(zip(names, r, strict=True)) for r in rows]


ROW_SHAPES[named_tuple_factory] = ROW
ROW_SHAPES[tuple_factory] = TUPLE


def object_factory(cls: Callable[..., _T]) -> TypedRowFactory[_T]:
    """Rows as instances of ``cls`` (a dataclass, NamedTuple, attrs or pydantic model, any class taking the
    columns as keyword arguments): ``execute(..., row_factory=object_factory(User))`` returns a
    ``ResultSet[User]`` that type checkers know.

    The mapping is checked against the result's columns once per set of columns (once per statement, not
    per row): a column without a field of that name, or a field without a default that no column fills,
    raises :class:`aiocql.InvalidValueError` naming them. Column names are matched as they are, then as
    Python identifiers (``[applied]`` -> ``applied``, ``writetime(v)`` -> ``writetime_v``). A dataclass or
    NamedTuple whose fields are exactly the columns in order is built positionally (no dict per row).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class KV:
        ...     k: int
        ...     v: str
        >>> object_factory(KV)(("k", "v"), [(1, "a")])
        [KV(k=1, v='a')]
        >>> object_factory(KV)(("k", "v", "extra"), [(1, "a", 2)])
        Traceback (most recent call last):
        ...
        aiocql.errors.base.InvalidValueError: row type KV does not fit the result's columns (k, v, extra): ...
    """
    plans: dict[tuple[str, ...], Callable[[tuple[Any, ...]], _T]] = {}

    def factory(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[_T]:
        make = plans.get(names)
        if make is None:
            if len(plans) >= 64:  # a class used with many statements: forget the oldest plans
                plans.pop(next(iter(plans)))
            make = plans[names] = _row_plan(cls, names)
        return list(map(make, rows))

    factory.__qualname__ = factory.__name__ = f"object_factory({getattr(cls, '__name__', cls)!s})"
    return factory


def _fields_of(cls: Callable[..., Any]) -> tuple[list[str], set[str], bool]:
    """(field names in order, required ones, positional construction allowed) of a row class."""
    return constructor_fields(cls, f"row type {cls!r}")


def _positional(cls: Callable[..., _T], row: tuple[Any, ...]) -> _T:
    return cls(*row)


def _column_field(name: str, known: set[str]) -> str:
    return name if name in known else _clean_name(name)


def _row_plan(cls: Callable[..., _T], names: tuple[str, ...]) -> Callable[[tuple[Any, ...]], _T]:
    fields, required, positional = _fields_of(cls)
    cls_name = getattr(cls, "__name__", repr(cls))
    if not fields and not required and not positional:  # accepts **kwargs
        keys = names
    else:
        keys, unknown, missing = match_fields(names, fields, required, _column_field)
        if unknown or missing:
            problems = []
            if unknown:
                problems.append(f"no field for column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
            if missing:
                problems.append(f"no column for required field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
            raise InvalidValueError(
                f"row type {cls_name} does not fit the result's columns ({', '.join(names)}): {'; '.join(problems)}"
            )
        if positional and list(keys) == fields:
            if isinstance(cls, type) and issubclass(cls, tuple):
                return partial(tuple.__new__, cls)  # type: ignore[return-value]
            return partial(_positional, cls)  # type: ignore[return-value]

    def make(row: tuple[Any, ...]) -> _T:
        return cls(**dict(zip(keys, row, strict=True)))

    return make


NextPage = Callable[[bytes], Awaitable["ResultSet[Any]"]]


class TraceReader(Protocol):
    """What a :class:`ResultSet` reads its traces through: the session that ran the request.

    A protocol, so that this module needs nothing from ``aiocql.session`` (which sits above it).
    """

    async def _read_trace(
        self, trace_id: uuid.UUID, max_wait: float, *, query_cl: Consistency, wait_for_complete: bool
    ) -> QueryTrace: ...


@dataclass(slots=True, eq=False)
class ResultSet(Generic[RowT]):
    """One page of rows plus what is needed to fetch the rest; ``ResultSet[User]`` when the rows are typed
    (``row_factory=object_factory(User)``), ``ResultSet[Any]`` otherwise.

    Example:
        >>> rs = await session.execute("SELECT release_version FROM system.local")  # doctest: +SKIP
        >>> rs.one().release_version  # doctest: +SKIP
        '5.0.9'
    """

    current_rows: list[RowT] = field(default_factory=list)
    column_names: tuple[str, ...] = ()
    column_types: tuple[CqlType, ...] = ()
    paging_state: bytes | None = None
    warnings: tuple[str, ...] = ()
    tracing_id: uuid.UUID | None = None
    custom_payload: dict[str, bytes] | None = None
    coordinator: str | None = None
    schema_agreement: bool | None = None
    _next_page: NextPage | None = field(default=None, repr=False)
    _session: TraceReader | None = field(default=None, repr=False)  # the session whose request this answers
    _earlier_traces: tuple[uuid.UUID, ...] = field(default=(), repr=False)  # of the pages before this one

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[RowT],
        *,
        paging_state: bytes | None = None,
        next_page: NextPage | None = None,
        column_names: Sequence[str] = (),
    ) -> ResultSet[RowT]:
        """A result set not read from a server, to test code that consumes results (``async for``,
        :meth:`pages`, :meth:`fetch_next_page`) without one: ``rows`` is its page, and while
        ``paging_state`` is set, ``await next_page(paging_state)`` gives the next page (a ResultSet).

        Example:
            >>> import asyncio
            >>> async def page_two(state: bytes) -> ResultSet[int]:
            ...     return ResultSet.from_rows([3])
            >>> rs = ResultSet.from_rows([1, 2], paging_state=b"2", next_page=page_two)
            >>> asyncio.run(rs.all())
            [1, 2, 3]
        """
        if paging_state is not None and next_page is None:
            raise InvalidValueError("ResultSet.from_rows(paging_state=...) needs next_page= to fetch that page")
        return cls(
            current_rows=list(rows), column_names=tuple(column_names), paging_state=paging_state, _next_page=next_page
        )

    @property
    def has_more_pages(self) -> bool:
        """True while the server says more pages follow (only the absence of a paging state ends paging)."""
        return self.paging_state is not None

    def one(self) -> RowT | None:
        """The first row of the current page, or None.

        Example:
            >>> (await session.execute("SELECT k FROM t WHERE k = 1")).one()  # doctest: +SKIP
        """
        return self.current_rows[0] if self.current_rows else None

    @property
    def was_applied(self) -> bool:
        """For a lightweight transaction (``IF ...``): whether it was applied.

        Raises :class:`aiocql.UsageError` (a :class:`RuntimeError` too) when the result is not an LWT result.
        """
        if not self.column_names or self.column_names[0] != "[applied]" or not self.current_rows:
            raise UsageError("was_applied is only defined for the result of a conditional (IF) statement")
        row: Any = self.current_rows[0]
        value = row["[applied]"] if isinstance(row, dict) else row[0]
        return bool(value)

    async def fetch_next_page(self) -> ResultSet[RowT]:
        """Fetch the page after this one (manual paging).

        Raises :class:`aiocql.UsageError` when none follows (check :attr:`has_more_pages` first).

        Example:
            >>> if rs.has_more_pages:  # doctest: +SKIP
            ...     page2 = await rs.fetch_next_page()
        """
        if self.paging_state is None or self._next_page is None:
            raise UsageError("no more pages: this is the last page (check has_more_pages)")
        return await _page_after(self)

    async def pages(self) -> AsyncIterator[list[RowT]]:
        """Every page's rows, in order, from this one on; the next page is fetched while one is used.

        Example:
            >>> async for rows in rs.pages():  # doctest: +SKIP
            ...     process(rows)
        """
        page = self
        pending: asyncio.Future[ResultSet[RowT]] | None = None
        try:
            while True:
                pending = _prefetch(page)
                if pending is not None:
                    await _request_sent()
                yield page.current_rows
                if pending is None:
                    return
                page = await pending
                pending = None
        finally:
            if pending is not None and not pending.done():
                pending.cancel()

    def __aiter__(self) -> AsyncIterator[RowT]:
        core = speedups.core
        if core is None:
            return _RowIterator(self)
        # compiled: no coroutine per row, only one per page (see aiocql.types._core.RowIter); the first page too
        # is handed over by _Pager.more, which lets the request of the next page leave first
        rows = self.current_rows
        pager = _Pager(self)
        it: AsyncIterator[RowT] = core.RowIter(rows if type(rows) is list else list(rows), pager.more, pager.first)
        return it

    async def all(self) -> list[RowT]:
        """Every row of every page from this one on (fetches the remaining pages).

        Example:
            >>> rows = await (await session.execute("SELECT * FROM t")).all()  # doctest: +SKIP
        """
        out: list[Any] = []
        async for rows in self.pages():
            out.extend(rows)
        return out

    async def get_query_trace(
        self,
        max_wait: float | None = None,
        query_cl: Consistency = Consistency.LOCAL_ONE,
        *,
        wait_for_complete: bool = True,
        max_wait_sec: float | None = None,
    ) -> QueryTrace | None:
        """The server's trace of the request that returned this page, or None if it was not traced
        (execute with ``trace=True``), as cassandra-driver does.

        Waits up to ``max_wait`` seconds (default 2; ``max_wait_sec`` is cassandra-driver's name for it) for
        the trace to be complete in ``system_traces`` (``wait_for_complete=False``: only for it to exist),
        then raises :class:`aiocql.TraceUnavailable`. The trace tables are read at ``query_cl``
        (LOCAL_ONE by default, whatever the session's consistency).

        Example:
            >>> rs = await session.execute("SELECT * FROM t", trace=True)  # doctest: +SKIP
            >>> trace = await rs.get_query_trace()  # doctest: +SKIP
            >>> trace.duration, trace.coordinator, trace.client, [e.description for e in trace.events]  # doctest: +SKIP
        """
        if self.tracing_id is None or self._session is None:
            return None
        return await self._trace(self._session, self.tracing_id, max_wait, max_wait_sec, query_cl, wait_for_complete)

    async def get_all_query_traces(
        self,
        max_wait: float | None = None,
        query_cl: Consistency = Consistency.LOCAL_ONE,
        *,
        wait_for_complete: bool = True,
        max_wait_sec: float | None = None,
    ) -> list[QueryTrace]:
        """The traces of every traced request that fetched this result's pages so far, first page first
        (``max_wait`` applies to each).

        Example:
            >>> rs = await session.execute("SELECT * FROM big", trace=True, fetch_size=100)  # doctest: +SKIP
            >>> page2 = await rs.fetch_next_page()  # doctest: +SKIP
            >>> len(await page2.get_all_query_traces())  # doctest: +SKIP
            2
        """
        if self._session is None:
            return []
        return [
            await self._trace(self._session, t, max_wait, max_wait_sec, query_cl, wait_for_complete)
            for t in self.tracing_ids
        ]

    async def _trace(
        self, session: TraceReader, trace_id: uuid.UUID, max_wait: float | None, max_wait_sec: float | None,
        query_cl: Consistency, wait_for_complete: bool,
    ) -> QueryTrace:  # fmt: skip
        wait = max_wait if max_wait is not None else (max_wait_sec if max_wait_sec is not None else 2.0)
        return await session._read_trace(trace_id, wait, query_cl=query_cl, wait_for_complete=wait_for_complete)

    @property
    def tracing_ids(self) -> tuple[uuid.UUID, ...]:
        """The trace ids of the requests that fetched the pages up to this one (traced ones only)."""
        own = (self.tracing_id,) if self.tracing_id is not None else ()
        return self._earlier_traces + own

    def __len__(self) -> int:
        return len(self.current_rows)

    def __getitem__(self, index: Any) -> Any:
        """``rs[0]``, ``rs[-1]``, ``rs[1:3]``: rows of the current page (``len(rs)`` counts them)."""
        return self.current_rows[index]

    def __iter__(self) -> Iterator[Any]:
        """``list(rs)`` / ``for row in rs``: the rows of a result that has a single page. A result with more
        pages raises instead of hiding them: read them with ``async for`` or ``await rs.all()``."""
        if self.has_more_pages:
            from aiocql.errors import InvalidValueError

            raise InvalidValueError(
                "this result has more pages: iterate it with 'async for row in rs' or 'await rs.all()' "
                "(rs.current_rows is only this page)"
            )
        return iter(self.current_rows)

    def __bool__(self) -> bool:
        return bool(self.current_rows) or self.has_more_pages


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One event of a query trace: what happened, on which node (``source``), when.

    ``source_elapsed_us`` is microseconds since the request reached that node (``source_elapsed`` the same
    as a ``timedelta``, cassandra-driver's form); ``datetime`` is the event's UTC time (from its id).

    Example:
        >>> e = TraceEvent("Parsing", "127.0.0.1", 1500, "Native-Transport-Requests-1")
        >>> e.source_elapsed, e.thread_name
        (datetime.timedelta(microseconds=1500), 'Native-Transport-Requests-1')
    """

    description: str
    source: str
    source_elapsed_us: int | None
    thread: str | None
    datetime: _dt.datetime | None = None

    @property
    def source_elapsed(self) -> _dt.timedelta | None:
        """``source_elapsed_us`` as a ``timedelta`` (cassandra-driver's field)."""
        return None if self.source_elapsed_us is None else _dt.timedelta(microseconds=self.source_elapsed_us)

    @property
    def thread_name(self) -> str | None:
        """cassandra-driver's name for :attr:`thread`."""
        return self.thread


@dataclass(frozen=True, slots=True)
class QueryTrace:
    """A request's trace read from ``system_traces``.

    ``duration_us`` is the coordinator's time in microseconds (``duration``: the same as a ``timedelta``,
    None while the trace is incomplete); ``client`` the address the request came from; ``started_at`` when
    the coordinator received it (UTC).

    Example:
        >>> t = QueryTrace(uuid.UUID(int=1), "Execute CQL3 query", "127.0.0.1", 2500, {}, [])
        >>> t.duration, t.client
        (datetime.timedelta(microseconds=2500), None)
    """

    trace_id: uuid.UUID
    request_type: str | None
    coordinator: str | None
    duration_us: int | None
    parameters: dict[str, str]
    events: Sequence[TraceEvent]
    client: str | None = None
    started_at: _dt.datetime | None = None

    @property
    def duration(self) -> _dt.timedelta | None:
        """``duration_us`` as a ``timedelta`` (cassandra-driver's field)."""
        return None if self.duration_us is None else _dt.timedelta(microseconds=self.duration_us)


class _RowIterator:
    """``async for row in result``: rows of every page, the next page prefetched while one is read.

    A flat iterator rather than nested async generators: the per-row step is one short coroutine.
    Leaving the loop early drops the iterator, which cancels the prefetched page (CPython frees the
    iterator as soon as the loop ends).
    """

    __slots__ = ("_held", "_index", "_pending", "_rows")

    def __init__(self, first: ResultSet[Any]) -> None:
        self._index = 0
        self._pending = _prefetch(first)
        # With a next page, the first page is held back: the first step finds no row and takes the page path,
        # which lets the next page's request leave before the first row (and the per-row step stays as short).
        self._rows: Sequence[Any] = () if self._pending is not None else first.current_rows
        self._held: Sequence[Any] | None = first.current_rows if self._pending is not None else None

    def __aiter__(self) -> _RowIterator:
        return self

    async def __anext__(self) -> Any:
        rows = self._rows
        index = self._index
        if index < len(rows):
            self._index = index + 1
            return rows[index]
        held = self._held
        if held is not None:
            self._held = None
            await _request_sent()
            self._rows = held
            if held:
                self._index = 1
                return held[0]
        while True:
            pending = self._pending
            if pending is None:
                raise StopAsyncIteration
            self._pending = None
            page = await pending
            self._pending = _prefetch(page)
            self._rows = rows = page.current_rows
            if rows:  # a page may be empty and still not the last one
                if self._pending is not None:
                    await _request_sent()
                self._index = 1
                return rows[0]

    def __del__(self) -> None:
        pending = self._pending
        if pending is not None and not pending.done():
            pending.cancel()


class _Pager:
    """The page boundaries of the compiled row iterator: its ``more`` coroutine awaits the prefetched page,
    prefetches the one after, and hands the rows over. Dropped with the iterator, it cancels the prefetch."""

    __slots__ = ("_pending", "first")

    def __init__(self, first: ResultSet[Any]) -> None:
        self._pending = _prefetch(first)
        #: Whether the iterator is to call more() before its first row (for the second page's request to leave).
        self.first = self._pending is not None

    async def more(self, it: Any) -> Any:
        if self.first:
            self.first = False
            await _request_sent()
        row = it._take(_NO_ROW)  # rows left on the current page (the first, or another more() call's page)
        if row is not _NO_ROW:
            return row
        while True:
            pending = self._pending
            if pending is None:
                raise StopAsyncIteration
            self._pending = None
            page = await pending
            self._pending = _prefetch(page)
            rows = page.current_rows
            if rows:  # a page may be empty and still not the last one
                if self._pending is not None:
                    await _request_sent()
                return it._next_page(rows if type(rows) is list else list(rows))

    def __del__(self) -> None:
        pending = self._pending
        if pending is not None and not pending.done():
            pending.cancel()


_NO_ROW: Any = object()


async def _request_sent() -> None:
    """Let the loop send the prefetched page's request before the current page is read.

    Reading a page's rows does not yield to the loop (no coroutine per row), so a prefetch task that has not
    started would only send its request once the whole page is read, and the server would only then start on the
    next page: no overlap at all. Two loop iterations: the task's first step (which sends the request: at once
    on an idle connection, else queued with the others of that iteration) and the connection's write of a queue.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def _prefetch(page: ResultSet[_T]) -> asyncio.Future[ResultSet[_T]] | None:
    if page.paging_state is None or page._next_page is None:
        return None
    task = asyncio.ensure_future(_page_after(page))
    task.add_done_callback(_retrieve)
    return task


async def _page_after(page: ResultSet[_T]) -> ResultSet[_T]:
    # The next page learns the trace ids of the pages before it here, from ``page`` itself: the session's
    # next-page function must not hold its own ResultSet (a reference cycle per page, which kept every page
    # and its rows alive until a full collection).
    assert page._next_page is not None and page.paging_state is not None
    following = await page._next_page(page.paging_state)
    following._earlier_traces = page.tracing_ids  # get_all_query_traces() sees every page's trace
    return following


def _retrieve(task: asyncio.Future[ResultSet[Any]]) -> None:
    # A prefetched page nobody reads (the loop ended early) must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()
