"""The docstring examples of the pure modules (model, policies, metrics) run and are right; public functions have one;
the pure modules import no I/O."""

from __future__ import annotations

import pytest

from tests.helpers.doctests import io_imports, missing_examples, run_doctests

MODULES = [
    "aiocql.model",
    "aiocql.model.host",
    "aiocql.model.replication",
    "aiocql.model.token_map",
    "aiocql.model.schema",
    "aiocql.model.state",
    "aiocql.model.host_status",
    "aiocql.policies",
    "aiocql.policies.request",
    "aiocql.policies.load_balancing",
    "aiocql.policies.reconnection",
    "aiocql.policies.speculative",
    "aiocql.metrics",
    "aiocql.metrics.histogram",
    "aiocql.metrics.nodes",
    "aiocql.metrics.operations",
    "aiocql.metrics.trackers",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    run_doctests(name)


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_and_classes_have_an_example(name: str) -> None:
    assert missing_examples([name]) == []


@pytest.mark.parametrize("name", MODULES)
def test_pure_modules_import_no_io(name: str) -> None:
    assert io_imports(name) == set()
