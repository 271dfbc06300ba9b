"""The short CI run of the atheris fuzzer (tests/fuzz/decoders.py) and a replay of its seed corpus.

The corpus holds real frames captured from Cassandra 5.0 (tests/fuzz/capture.py). The long run and
its figures are in docs/fuzzing.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import decoders

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"


def test_corpus_is_real_and_small() -> None:
    files = sorted(CORPUS.iterdir())
    assert len(files) >= 40
    assert sum(f.stat().st_size for f in files) < 200_000
    modes = {f.read_bytes()[0] % decoders.MODES for f in files}
    assert modes == set(range(decoders.MODES))  # v4, v4+LZ4, v5, v5+LZ4, the v5 switch, values


def test_replay_corpus() -> None:
    decoders.load()
    stats = decoders.Stats(None)
    run = decoders.timed(stats)
    for path in sorted(CORPUS.iterdir()):
        run(path.read_bytes())  # raises on any non-CqlError exception or a slow input
    assert stats.count == len(list(CORPUS.iterdir()))


def test_the_harness_reports_a_non_cql_error(monkeypatch: pytest.MonkeyPatch) -> None:
    decoders.load()

    def broken(data: bytes) -> None:
        raise IndexError("boom")

    monkeypatch.setitem(decoders.T, "parse_marshal_type", broken)
    with pytest.raises(IndexError):
        decoders.one_input(bytes([5, 0, 0, 1]) + b"x")


def test_short_atheris_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    work = tmp_path / "corpus"
    shutil.copytree(CORPUS, work)  # libFuzzer adds its new inputs to the first directory
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIOCQL_FUZZ_STATS": str(tmp_path / "stats")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.decoders",
            str(work),
            "-max_total_time=20",
            "-max_len=2048",
            "-timeout=10",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    tail = proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "Done" in proc.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
