"""A module-scoped fixture that runs a whole test module on both row cores (pure Python and compiled).

Import it into a test module (``from .cores import row_core  # noqa: F401``) and every test there runs twice:
with the compiled core switched off (RowDecoder falls back to the generated pure-Python functions), and with
it on. Where it is not built the compiled run is skipped, unless AIOCQL_REQUIRE_EXTENSIONS=1 (CI's compiled
pass), which fails instead. Module scope so that hypothesis tests may use it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from aiocql.types import speedups


@pytest.fixture(scope="module", autouse=True, params=["pure", "compiled"])
def row_core(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "compiled" and speedups.core is None:
        if os.environ.get("AIOCQL_REQUIRE_EXTENSIONS", "") not in ("", "0"):
            pytest.fail("the compiled core is required (AIOCQL_REQUIRE_EXTENSIONS) but not built")
        pytest.skip("the compiled core is not built")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "pure":
            patch.setattr(speedups, "core", None)
        yield request.param
