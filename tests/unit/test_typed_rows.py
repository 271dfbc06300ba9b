"""Typed rows: rows mapped to the user's classes (checked against the columns once per statement), and
``ResultSet`` generic in the row type so that mypy knows it (checked with mypy's API on a snippet)."""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from aiocql import InvalidValueError, ResultSet, Session, object_factory
from aiocql.session.session import ExecuteOptions

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class User:
    id: int
    name: str
    email: str | None = None


class Point(NamedTuple):
    x: int
    y: int


class Plain:
    def __init__(self, k: int, *, v: str = "none") -> None:
        self.k, self.v = k, v


class Model:  # pydantic-like: takes any keyword
    def __init__(self, **data: Any) -> None:
        self.data = data


def test_dataclass_rows_in_column_order_are_built_positionally() -> None:
    rows = object_factory(User)(("id", "name", "email"), [(1, "ann", "a@x"), (2, "bob", None)])
    assert rows == [User(1, "ann", "a@x"), User(2, "bob")]


def test_columns_in_another_order_or_a_subset_map_by_name() -> None:
    assert object_factory(User)(("name", "id"), [("ann", 1)]) == [User(1, "ann")]
    assert object_factory(Point)(("y", "x"), [(2, 1)]) == [Point(1, 2)]
    assert object_factory(Point)(("x", "y"), [(1, 2)]) == [Point(1, 2)]


def test_plain_classes_and_kwargs_classes() -> None:
    [p] = object_factory(Plain)(("v", "k"), [("one", 1)])
    assert (p.k, p.v) == (1, "one")
    [m] = object_factory(Model)(("a", "[applied]"), [(1, True)])
    assert m.data == {"a": 1, "[applied]": True}


def test_cql_names_match_as_python_identifiers() -> None:
    @dataclass
    class Applied:
        applied: bool
        writetime_v: int = 0

    assert object_factory(Applied)(("[applied]", "writetime(v)"), [(True, 7)]) == [Applied(True, 7)]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("id", "name", "age"), "no field for column age"),
        (("id",), "no column for required field name"),
        (("id", "nick", "extra"), "no field for columns nick, extra; no column for required field name"),
    ],
)
def test_a_mismatch_names_columns_and_fields(names: tuple[str, ...], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message) as info:
        object_factory(User)(names, [tuple(range(len(names)))])
    assert "row type User does not fit the result's columns" in str(info.value)


class _CountsSignatureReads(type):
    """A metaclass counting how often the class's signature is read (each read is one mapping check)."""

    reads = 0

    @property
    def __signature__(cls) -> inspect.Signature:
        _CountsSignatureReads.reads += 1
        params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in ("id", "name")]
        return inspect.Signature(params)


class Counted(metaclass=_CountsSignatureReads):
    def __init__(self, *, id: int, name: str) -> None:
        self.id, self.name = id, name


def test_the_mapping_is_checked_once_per_set_of_columns() -> None:
    factory = object_factory(Counted)
    _CountsSignatureReads.reads = 0
    for _ in range(5):  # five pages of one statement
        rows = factory(("id", "name"), [(1, "a"), (2, "b")])
    assert [(r.id, r.name) for r in rows] == [(1, "a"), (2, "b")]
    factory(("name", "id"), [("c", 3)])  # another statement
    assert _CountsSignatureReads.reads == 2


def test_a_kw_only_dataclass_is_built_by_name() -> None:
    @dataclass(kw_only=True)
    class K:
        a: int
        b: list[int] = field(default_factory=list)

    assert object_factory(K)(("a", "b"), [(1, [2])]) == [K(a=1, b=[2])]


def test_execute_options_list_every_keyword_of_execute() -> None:
    # The typed overloads of execute() take row_factory plus ExecuteOptions: the lists must agree.
    params = inspect.signature(Session.execute).parameters.values()
    keywords = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
    assert keywords - {"row_factory"} == set(ExecuteOptions.__annotations__)


SNIPPET = """
    from dataclasses import dataclass

    from aiocql import Session, dict_factory, object_factory


    @dataclass
    class User:
        id: int
        name: str


    async def typed(session: Session) -> None:
        rs = await session.execute("SELECT id, name FROM users", row_factory=object_factory(User))
        reveal_type(rs)
        reveal_type(rs.one())
        reveal_type(await rs.all())
        async for user in rs:
            reveal_type(user)
        page = await rs.fetch_next_page()
        reveal_type(page)
        count: int = rs.current_rows[0]  # an error: a User is not an int


    async def untyped(session: Session) -> None:
        reveal_type(await session.execute("SELECT * FROM t"))
        reveal_type(await session.execute("SELECT * FROM t", row_factory=dict_factory, timeout=1.0))
        await session.execute("SELECT 1", tiemout=1.0)  # an error: no such option
"""


def test_mypy_knows_the_row_type(tmp_path: Path) -> None:
    from mypy import api

    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    # Its own cache folder: a result cached for an earlier snippet of the same module name must not answer.
    args = ["--strict", "--no-error-summary", "--show-error-codes", "--cache-dir", str(tmp_path / "cache")]
    out, err, status = api.run([*args, str(snippet)])
    lines = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith(str(snippet))]
    revealed = [
        line.split('Revealed type is "', 1)[1].rstrip('"').replace("builtins.", "")  # mypy versions differ there
        for line in lines
        if "Revealed type" in line
    ]
    assert revealed == [
        "aiocql.results.ResultSet[snippet.User]",
        "snippet.User | None",
        "list[snippet.User]",
        "snippet.User",
        "aiocql.results.ResultSet[snippet.User]",
        "aiocql.results.ResultSet[Any]",
        "aiocql.results.ResultSet[Any]",
    ], out + err
    errors = [line for line in lines if line.startswith("error")]
    assert 'Incompatible types in assignment (expression has type "User", variable has type "int")' in errors[0]
    assert any('Unexpected keyword argument "tiemout"' in e for e in errors[1:]), out + err
    assert status == 1


def test_result_set_is_generic_at_run_time_too() -> None:
    rs: ResultSet[User] = ResultSet[User](current_rows=[User(1, "a")])
    assert rs.one() == User(1, "a")
