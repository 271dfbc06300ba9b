"""Many statements at once: :func:`execute_concurrent_stream` (an async iterator) and :func:`execute_concurrent`.

The input is read lazily (any iterable or async iterable of ``(statement, parameters)`` pairs), at most
``concurrency`` statements are in flight or waiting to be read, and results come back in input order as
:class:`ExecutionResult` named tuples, unpackable as ``(success, result_or_exc)``.

Example:
    >>> ps = await session.prepare("INSERT INTO t (k, v) VALUES (?, ?)")  # doctest: +SKIP
    >>> async with execute_concurrent_stream(session, ((ps, (i, str(i))) for i in range(10**6))) as results:
    ...     async for ok, result in results:  # doctest: +SKIP
    ...         pass
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from aiocql.errors import InvalidValueError

if TYPE_CHECKING:
    from aiocql.results import ResultSet
    from aiocql.session.session import Session
    from aiocql.statements import Parameters, Statement

#: Keyword arguments of Session.execute that execute_concurrent passes on (checked up front).
_EXECUTE_KWARGS = frozenset(
    {
        "consistency_level", "serial_consistency_level", "timeout", "fetch_size", "timestamp", "trace",
        "custom_payload", "is_idempotent", "keyspace", "row_factory", "execution_profile", "host",
    }
)  # fmt: skip


class ExecutionResult(NamedTuple):
    """One statement's outcome: ``success`` and the :class:`ResultSet` or the exception.

    A named tuple, as in cassandra-driver: ``for ok, result in results`` works.

    Example:
        >>> ok, value = ExecutionResult(True, "rs")
        >>> ok, value
        (True, 'rs')
    """

    success: bool
    result_or_exc: ResultSet[Any] | BaseException


def _check(concurrency: object, raise_on_first_error: object) -> int:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise InvalidValueError(f"concurrency must be an int, not {type(concurrency).__name__}")
    if concurrency < 1:
        raise InvalidValueError(f"concurrency must be at least 1, not {concurrency}")
    if not isinstance(raise_on_first_error, bool):
        raise InvalidValueError(f"raise_on_first_error must be a bool, not {type(raise_on_first_error).__name__}")
    return concurrency


def _pair(index: int, item: object) -> tuple[Any, Any]:
    if not isinstance(item, tuple) or len(item) != 2:
        raise InvalidValueError(
            f"statements_and_parameters[{index}] must be a (statement, parameters) pair, not {item!r:.80}"
        )
    return item[0], item[1]


class ConcurrentResults:
    """The async iterator :func:`execute_concurrent_stream` returns; also an async context manager.

    Leaving the ``async with`` block (or calling :meth:`aclose`) cancels the statements still in flight.
    """

    def __init__(
        self,
        session: Session,
        statements_and_parameters: Any,
        concurrency: int,
        raise_on_first_error: bool,
        execute_kwargs: dict[str, Any],
    ) -> None:
        self._pending: deque[asyncio.Task[ResultSet[Any]]] = deque()
        self._session = session
        self._sync: Iterator[Any] | None = None
        self._async: AsyncIterator[Any] | None = None
        if isinstance(statements_and_parameters, AsyncIterable):
            self._async = aiter(statements_and_parameters)
        elif isinstance(statements_and_parameters, Iterable) and not isinstance(statements_and_parameters, str):
            self._sync = iter(statements_and_parameters)
        else:
            raise InvalidValueError(
                "statements_and_parameters must be an iterable or async iterable of (statement, parameters) pairs, "
                f"not {type(statements_and_parameters).__name__}"
            )
        self._concurrency = concurrency
        self._raise = raise_on_first_error
        self._kwargs = execute_kwargs
        self._read = 0
        self._exhausted = False
        self._closed = False

    def __aiter__(self) -> ConcurrentResults:
        return self

    async def _next_input(self) -> tuple[Any, Any] | None:
        try:
            if self._async is not None:
                item = await anext(self._async)
            else:
                assert self._sync is not None
                item = next(self._sync)
        except (StopIteration, StopAsyncIteration):
            self._exhausted = True
            return None
        index = self._read
        self._read += 1
        return _pair(index, item)

    async def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self._concurrency:
            pair = await self._next_input()
            if pair is None:
                return
            stmt, params = pair
            task = asyncio.ensure_future(self._session.execute(stmt, params, **self._kwargs))
            task.add_done_callback(_retrieve)
            self._pending.append(task)

    async def __anext__(self) -> ExecutionResult:
        if self._closed:
            raise StopAsyncIteration
        try:
            await self._fill()
        except BaseException:
            await self._abort()
            raise
        if not self._pending:
            self._closed = True
            raise StopAsyncIteration
        head = self._pending[0]
        try:
            await asyncio.wait((head,))
        except BaseException:  # cancelled while waiting: nothing of ours keeps running
            await self._abort()
            raise
        self._pending.popleft()
        if head.cancelled():
            await self._abort()
            raise asyncio.CancelledError("a statement of execute_concurrent was cancelled")
        exc = head.exception()
        if exc is None:
            return ExecutionResult(True, head.result())
        if self._raise or not isinstance(exc, Exception):
            await self._abort()
            raise exc
        return ExecutionResult(False, exc)

    async def _abort(self) -> None:
        """Cancel what is in flight and wait until it has unwound (its requests are no longer in flight)."""
        self._closed = True
        tasks = list(self._pending)
        self._pending.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def aclose(self) -> None:
        """Cancel the statements still in flight (and wait for them to unwind); the iterator ends."""
        await self._abort()
        if self._async is not None:
            close = getattr(self._async, "aclose", None)
            if close is not None:
                await close()

    async def __aenter__(self) -> ConcurrentResults:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        for task in self._pending:
            task.cancel()


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A result nobody reads (cancelled run, closed iterator) must not log "exception never retrieved".
    if not task.cancelled():
        task.exception()


def execute_concurrent_stream(
    session: Session,
    statements_and_parameters: Iterable[tuple[str | Statement, Parameters]]
    | AsyncIterable[tuple[str | Statement, Parameters]],
    *,
    concurrency: int = 100,
    raise_on_first_error: bool = True,
    **execute_kwargs: Any,
) -> ConcurrentResults:
    """Run many statements, at most ``concurrency`` in flight, and iterate their results in input order.

    The input (an iterable or async iterable of ``(statement, parameters)`` pairs) is read lazily: never more
    than ``concurrency`` statements ahead of the result being consumed, so a generator of millions of rows
    runs in bounded memory. Each result is an :class:`ExecutionResult` ``(success, result_or_exc)``. With
    ``raise_on_first_error`` (the default) the first failure, in input order, cancels the rest and is raised;
    otherwise failures are yielded as ``(False, exception)``. Other keyword arguments (``timeout=``,
    ``consistency_level=``, ...) go to every :meth:`Session.execute`. Leaving an ``async with`` block around
    it, or :meth:`ConcurrentResults.aclose`, cancels what is still in flight.

    Example:
        >>> ps = await session.prepare("INSERT INTO t (k, v) VALUES (?, ?)")  # doctest: +SKIP
        >>> async with execute_concurrent_stream(session, ((ps, (i, "x")) for i in range(10**6))) as results:
        ...     async for ok, result in results:  # doctest: +SKIP
        ...         if not ok:
        ...             log.warning("failed: %s", result)
    """
    unknown = sorted(set(execute_kwargs) - _EXECUTE_KWARGS)
    if "results_generator" in unknown:
        raise InvalidValueError(
            "results_generator is cassandra-driver's: use execute_concurrent_stream() for results as an async iterator"
        )
    if unknown:
        raise InvalidValueError(f"execute_concurrent got unknown keyword arguments: {', '.join(unknown)}")
    return ConcurrentResults(
        session, statements_and_parameters, _check(concurrency, raise_on_first_error), raise_on_first_error,
        execute_kwargs,
    )  # fmt: skip


async def execute_concurrent(
    session: Session,
    statements_and_parameters: Iterable[tuple[str | Statement, Parameters]]
    | AsyncIterable[tuple[str | Statement, Parameters]],
    *,
    concurrency: int = 100,
    raise_on_first_error: bool = True,
    **execute_kwargs: Any,
) -> list[ExecutionResult]:
    """Run many statements with at most ``concurrency`` in flight; the list of results keeps the input order.

    With ``raise_on_first_error`` the first failure cancels the rest and is raised; otherwise each
    :class:`ExecutionResult` says whether its statement succeeded and holds the result or the error. For
    large inputs use :func:`execute_concurrent_stream`, which does not keep every result.

    Example:
        >>> ps = await session.prepare("INSERT INTO t (k, v) VALUES (?, ?)")  # doctest: +SKIP
        >>> results = await execute_concurrent(session, [(ps, (i, str(i))) for i in range(1000)])  # doctest: +SKIP
        >>> all(ok for ok, _ in results)  # doctest: +SKIP
        True
    """
    async with execute_concurrent_stream(
        session, statements_and_parameters, concurrency=concurrency, raise_on_first_error=raise_on_first_error,
        **execute_kwargs,
    ) as results:  # fmt: skip
        return [r async for r in results]


async def execute_concurrent_with_args(
    session: Session,
    statement: str | Statement,
    parameters: Iterable[Parameters] | AsyncIterable[Parameters],
    *,
    concurrency: int = 100,
    raise_on_first_error: bool = True,
    **execute_kwargs: Any,
) -> list[ExecutionResult]:
    """One statement with each of many parameter sets (cassandra-driver's ``execute_concurrent_with_args``).

    For cassandra-driver's ``results_generator=True`` use :func:`execute_concurrent_stream` with
    ``((statement, p) for p in parameters)``.

    Example:
        >>> ps = await session.prepare("INSERT INTO t (k, v) VALUES (?, ?)")  # doctest: +SKIP
        >>> await execute_concurrent_with_args(session, ps, [(i, str(i)) for i in range(100)])  # doctest: +SKIP
    """
    if isinstance(parameters, AsyncIterable):

        async def pairs_async() -> AsyncIterator[tuple[str | Statement, Parameters]]:
            async for p in parameters:
                yield statement, p

        source: Any = pairs_async()
    else:
        source = ((statement, p) for p in parameters)
    return await execute_concurrent(
        session, source, concurrency=concurrency, raise_on_first_error=raise_on_first_error, **execute_kwargs
    )
