"""Docs that users read first tell the truth: Cluster's signature shows its config objects' defaults,
no docstring cites a document the repository does not have, relative links in the docs resolve, and the
fault-injection doc's match predicate passes mypy --strict."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

from aiocql import Cluster

ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_signature_shows_the_defaults_of_its_config_objects() -> None:
    """A keyword left out of Cluster(...) takes its config class's default, and help(Cluster) shows that value
    (the defaults themselves are written once, in the config classes; docs/configuration.md lists them)."""
    from aiocql import ConnectionConfig
    from aiocql.session.profiles import ResolvedProfile

    params = inspect.signature(Cluster.__init__).parameters
    for name in ("port", "connect_timeout"):
        assert repr(params[name].default) == repr(getattr(ConnectionConfig(), name)), name
    assert repr(params["request_timeout"].default) == repr(ResolvedProfile().request_timeout) == "10.0"
    assert repr(params["fetch_size"].default) == "5000"
    assert repr(params["consistency_level"].default) == "<Consistency.LOCAL_ONE: 10>"
    doc = Cluster.__doc__ or ""
    assert "docs/configuration.md" in doc and "ConnectionConfig" in doc and "PoolConfig" in doc


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
