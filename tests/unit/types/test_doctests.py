"""The examples in the docstrings of aiocql.types run and are right."""

from __future__ import annotations

import pkgutil

import pytest

import aiocql.types
from tests.helpers.doctests import missing_examples, run_doctests

MODULES = ["aiocql.types"] + [f"aiocql.types.{m.name}" for m in pkgutil.iter_modules(aiocql.types.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    run_doctests(name, require_examples=False)


def test_every_public_function_has_an_example() -> None:
    assert missing_examples(MODULES, skip_classes=True) == []
