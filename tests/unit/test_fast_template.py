"""The lean path's EXECUTE bytes (aiocql.session.fast.Template) are those of Execute(...).encode for the same
settings: every combination of values, page size, serial consistency, timestamp, keyspace and version."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from aiocql.model.result_metadata import metadata_for
from aiocql.protocol.constants import Consistency
from aiocql.protocol.requests import Execute, QueryParameters
from aiocql.protocol.results import ColumnSpec
from aiocql.protocol.unset import UNSET
from aiocql.session.fast import Template
from aiocql.statements import PreparedStatement
from aiocql.types import INT, TEXT


def prepared(markers: int, rows: bool) -> PreparedStatement:
    columns = tuple(ColumnSpec("ks", "t", f"c{i}", INT) for i in range(markers))
    result = metadata_for((ColumnSpec("ks", "t", "v", TEXT),)) if rows else None
    return PreparedStatement(query="q", query_id=b"\x01\x02\x03", bind_columns=columns, result_metadata=result,
                             result_metadata_id=b"\x09\x08")  # fmt: skip


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("page_size", [None, 5000])
@pytest.mark.parametrize("serial", [None, Consistency.LOCAL_SERIAL])
@pytest.mark.parametrize("stamped", [False, True])
@pytest.mark.parametrize("keyspace", [None, "ks"])
@pytest.mark.parametrize("values", [[], [b"\x00\x00\x00\x01", None, UNSET], [bytearray(b"\x02"), b""]])
@pytest.mark.parametrize("rows", [False, True])
def test_template_bytes_are_executes(
    version: int, page_size: int | None, serial: Consistency | None, stamped: bool, keyspace: str | None,
    values: list[Any], rows: bool,
) -> None:  # fmt: skip
    ps = prepared(len(values), rows)
    plan: Any = SimpleNamespace(page_size=page_size, serial=serial, client_timestamps=stamped, keyspace=keyspace,
                                consistency=Consistency.QUORUM)  # fmt: skip
    template = Template(plan, ps, version)
    timestamp = 1_700_000_000_000_123 if stamped else None
    skip = rows and version >= 5
    params = QueryParameters(Consistency.QUORUM, values, skip_metadata=skip, page_size=page_size,
                             serial_consistency=serial, timestamp=timestamp,
                             keyspace=keyspace if version >= 5 else None)  # fmt: skip
    expected = Execute(ps.query_id, params, ps.result_metadata_id).encode(version)
    assert template.body(values, timestamp) == expected
    assert template.body(tuple(values), timestamp) == expected  # (the compiled build takes lists; the rest here)
    assert (template.sent_metadata is not None) == skip
