"""Docs that users read first tell the truth: Cluster's docstring states the defaults its signature has,
no docstring cites a document the repository does not have, relative links in the docs resolve, and the
fault-injection doc's match predicate passes mypy --strict."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

from aiocql import Cluster

ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_docstring_states_the_defaults_of_its_signature() -> None:
    params = inspect.signature(Cluster.__init__).parameters
    doc = Cluster.__doc__ or ""
    for name in ("port", "connect_timeout", "request_timeout", "fetch_size"):
        assert f"``{name}={params[name].default!r}``" in doc, name
    assert params["consistency_level"].default.name == "LOCAL_ONE" and "LOCAL_ONE" in doc


def test_no_docstring_cites_the_protocol_pitfalls_notes() -> None:
    cited = [str(p.relative_to(ROOT)) for p in (ROOT / "aiocql").rglob("*.py") if "pitfalls" in p.read_text()]
    assert cited == []


def test_relative_links_in_the_docs_resolve() -> None:
    broken = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:\s]+\.md)(?:#[^)]*)?\)", doc.read_text()):
            if not (doc.parent / target).exists():
                broken.append(f"{doc.name} -> {target}")
    assert broken == []


def test_the_fault_injection_predicate_passes_mypy_strict(tmp_path: Path) -> None:
    from mypy import api

    text = (ROOT / "docs" / "fault-injection.md").read_text()
    predicates = re.findall(r"match=(lambda r: [^,]+?\)?)(?:,|\)\s)", text)
    assert predicates, "the doc shows a match= predicate"
    snippet = tmp_path / "predicates.py"
    lines = [f"p{i}: Callable[[ReceivedRequest], bool] = {p}" for i, p in enumerate(predicates)]
    snippet.write_text(
        textwrap.dedent("""
            from collections.abc import Callable

            from aiocql.testing.replies import ReceivedRequest
        """)
        + "\n".join(lines)
        + "\n"
    )
    out, err, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(snippet)])
    assert status == 0, out + err + snippet.read_text()
