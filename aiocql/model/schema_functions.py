"""Schema metadata of user-defined functions and aggregates (``system_schema.functions`` / ``aggregates``).

Example:
    >>> from aiocql.protocol.cqltypes import INT
    >>> FunctionMetadata("ks", "plus", ("a", "b"), (INT, INT), INT, "java", "return a + b;", False).signature
    'plus(int, int)'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiocql.protocol.cqltypes import CqlType, quote_identifier

__all__ = ["AggregateMetadata", "FunctionMetadata", "TypeParser", "aggregate_from_row", "function_from_row"]

Row = Mapping[str, Any]
#: Parses a type string of the schema tables; ``where`` names the element for a warning.
TypeParser = Callable[[str, str], CqlType]


@dataclass(frozen=True, slots=True)
class FunctionMetadata:
    """A user-defined function; ``signature`` (``name(type, ...)``) is its key in
    :attr:`KeyspaceMetadata.functions`.

    Example:
        >>> from aiocql.protocol.cqltypes import INT
        >>> f = FunctionMetadata("ks", "plus", ("a", "b"), (INT, INT), INT, "java", "return a + b;", False)
        >>> f.signature
        'plus(int, int)'
    """

    keyspace: str
    name: str
    argument_names: tuple[str, ...]
    argument_types: tuple[CqlType, ...]
    return_type: CqlType
    language: str
    body: str
    called_on_null_input: bool

    @property
    def signature(self) -> str:
        """``name(type, ...)``: functions may be overloaded, so the name alone is not a key."""
        return _signature(self.name, self.argument_types)

    def as_cql_query(self) -> str:
        """The ``CREATE FUNCTION`` statement that recreates this function.

        Example:
            >>> print(f.as_cql_query())  # doctest: +SKIP
        """
        from aiocql.model.schema_cql import function_cql

        return function_cql(self)


@dataclass(frozen=True, slots=True)
class AggregateMetadata:
    """A user-defined aggregate. ``initial_condition`` is the CQL literal as the server stores it.

    Example:
        >>> from aiocql.protocol.cqltypes import INT
        >>> AggregateMetadata("ks", "total", (INT,), "plus", INT, None, "0", INT).signature
        'total(int)'
    """

    keyspace: str
    name: str
    argument_types: tuple[CqlType, ...]
    state_func: str
    state_type: CqlType
    final_func: str | None
    initial_condition: str | None
    return_type: CqlType

    @property
    def signature(self) -> str:
        """``name(type, ...)``, its key in :attr:`KeyspaceMetadata.aggregates`."""
        return _signature(self.name, self.argument_types)

    def as_cql_query(self) -> str:
        """The ``CREATE AGGREGATE`` statement that recreates this aggregate.

        Example:
            >>> print(a.as_cql_query())  # doctest: +SKIP
        """
        from aiocql.model.schema_cql import aggregate_cql

        return aggregate_cql(self)


def _signature(name: str, types: Iterable[CqlType]) -> str:
    return f"{quote_identifier(name)}({', '.join(t.cql_name for t in types)})"


def function_from_row(row: Row, parse: TypeParser) -> FunctionMetadata:
    """A function from its ``system_schema.functions`` row (types parsed by ``parse(text, where)``)."""
    where = f"{row['keyspace_name']}.{row['function_name']}"
    return FunctionMetadata(
        keyspace=row["keyspace_name"],
        name=row["function_name"],
        argument_names=tuple(row.get("argument_names") or ()),
        argument_types=tuple(parse(t, where) for t in row.get("argument_types") or ()),
        return_type=parse(row["return_type"], where),
        language=str(row.get("language") or "java"),
        body=str(row.get("body") or ""),
        called_on_null_input=bool(row.get("called_on_null_input")),
    )


def aggregate_from_row(row: Row, parse: TypeParser) -> AggregateMetadata:
    """An aggregate from its ``system_schema.aggregates`` row."""
    where = f"{row['keyspace_name']}.{row['aggregate_name']}"
    return AggregateMetadata(
        keyspace=row["keyspace_name"],
        name=row["aggregate_name"],
        argument_types=tuple(parse(t, where) for t in row.get("argument_types") or ()),
        state_func=row["state_func"],
        state_type=parse(row["state_type"], where),
        final_func=row.get("final_func") or None,
        initial_condition=row.get("initcond"),
        return_type=parse(row["return_type"], where),
    )
