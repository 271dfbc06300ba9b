"""Every docstring example in aiocql runs and is right, in every module (not only the packages whose own
suites run theirs): an example that no longer matches the code is a wrong instruction to a user."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import aiocql
from tests.helpers.doctests import run_doctests

MODULES = sorted(m.name for m in pkgutil.walk_packages(aiocql.__path__, "aiocql."))

#: Optional extras a module may need; without them installed its examples cannot run (a visible skip).
OPTIONAL = frozenset({"prompt_toolkit", "rich", "opentelemetry", "prometheus_client", "uvloop", "lz4"})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in OPTIONAL:
            pytest.skip(f"{name} needs the optional {exc.name}")
        raise
    run_doctests(module, require_examples=False)


def test_the_walk_finds_the_modules() -> None:
    assert len(MODULES) > 100
    assert {"aiocql.policies.retry", "aiocql.cli.shell", "aiocql.cluster.cluster"} <= set(MODULES)
