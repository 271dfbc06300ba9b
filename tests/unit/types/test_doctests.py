"""The examples in the docstrings of aiocql.types run and are right."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import aiocql.types

MODULES = ["aiocql.types"] + [f"aiocql.types.{m.name}" for m in pkgutil.iter_modules(aiocql.types.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_public_function_has_an_example() -> None:
    missing = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            own = getattr(obj, "__module__", None) == name
            own_function = callable(obj) and own and not isinstance(obj, type)
            if own_function and ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{name}.{attr}")
    assert missing == []
