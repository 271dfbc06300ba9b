"""Fuzzing (a few thousand cases): only ProtocolError may escape the decoder and decode_response.

Longer runs: ``python -m tests.fuzz_protocol --cases 1000000``.
"""

from __future__ import annotations

import pytest

from tests import fuzz_protocol


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzz(seed: int) -> None:
    report: list[str] = []
    failures = fuzz_protocol.run(2000, seed=seed, slow=5.0, out=report.append)
    assert failures == 0, "\n".join(report)


def test_fuzz_reports_unexpected_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(rng: object) -> None:
        raise IndexError("boom")

    monkeypatch.setattr(fuzz_protocol, "CASES", [broken])
    report: list[str] = []
    assert fuzz_protocol.run(2, seed=0, out=report.append) == 2
    assert "IndexError" in report[0] and "seed=0" in report[0]
