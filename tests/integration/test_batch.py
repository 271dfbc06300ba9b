"""BatchStatement: logged, unlogged and counter batches; simple, prepared and bound children mixed."""

from __future__ import annotations

import pytest

from aiocql import (
    BatchStatement,
    BatchType,
    InvalidRequest,
    InvalidValueError,
    Session,
    SimpleStatement,
)
from aiocql.protocol.constants import Opcode
from aiocql.testing.pytest_plugin import ServerInfo

from .conftest import VARIANTS, VERSIONS, count_requests, ddl

pytestmark = pytest.mark.server


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        "CREATE TABLE b (k text, c int, v text, PRIMARY KEY (k, c))",
        "CREATE TABLE counts (k text PRIMARY KEY, hits counter, misses counter)",
    )


async def _rows(session: Session, key: str) -> list[tuple[int, str]]:
    return [tuple(r) for r in await (await session.execute("SELECT c, v FROM b WHERE k = ?", (key,))).all()]


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
@pytest.mark.parametrize("batch_type", [BatchType.LOGGED, BatchType.UNLOGGED])
async def test_mixed_children(session: Session, batch_type: BatchType, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    insert = await session.prepare("INSERT INTO b (k, c, v) VALUES (?, ?, ?)")
    batch = BatchStatement(batch_type)
    batch.add(f"INSERT INTO b (k, c, v) VALUES ('{key}', 0, 'string')")
    batch.add(SimpleStatement(f"INSERT INTO b (k, c, v) VALUES ('{key}', 1, 'simple')"))
    batch.add(insert, (key, 2, "prepared"))
    batch.add(insert.bind((key, 3, "bound")))
    batch.add(insert, {"k": key, "c": 4, "v": "named"})
    batch.add_all([insert, insert], [(key, 5, "five"), (key, 6, None)])
    assert len(batch) == 7
    rs = await session.execute(batch)
    assert rs.current_rows == []
    assert await _rows(session, key) == [
        (0, "string"), (1, "simple"), (2, "prepared"), (3, "bound"), (4, "named"), (5, "five"), (6, None)
    ]  # fmt: skip
    # Updates and deletes in one batch.
    batch = BatchStatement(batch_type)
    batch.add(f"DELETE FROM b WHERE k = '{key}' AND c = 0")
    batch.add(await session.prepare("UPDATE b SET v = ? WHERE k = ? AND c = ?"), ("changed", key, 1))
    await session.execute(batch)
    assert (await _rows(session, key))[:2] == [(1, "changed"), (2, "prepared")]


@pytest.mark.parametrize("session", VARIANTS, indirect=True)
async def test_counter_batch(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    incr = await session.prepare("UPDATE counts SET hits = hits + ? WHERE k = ?")
    batch = BatchStatement(BatchType.COUNTER)
    batch.add(incr, (5, key))
    batch.add(incr, (-2, key))
    batch.add(f"UPDATE counts SET misses = misses + 7 WHERE k = '{key}'")
    await session.execute(batch)
    await session.execute(batch)
    row = (await session.execute("SELECT hits, misses FROM counts WHERE k = ?", (key,))).one()
    assert (row.hits, row.misses) == (6, 14)
    # The server refuses plain writes in a counter batch, and counter updates in a logged batch.
    wrong = BatchStatement(BatchType.COUNTER)
    wrong.add(f"INSERT INTO b (k, c, v) VALUES ('{key}', 0, 'x')")
    with pytest.raises(InvalidRequest, match=r"(?i)counter"):
        await session.execute(wrong)
    logged = BatchStatement(BatchType.LOGGED)
    logged.add(incr, (1, key))
    with pytest.raises(InvalidRequest, match=r"(?i)counter"):
        await session.execute(logged)


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_batch_warning_and_bad_batches(session: Session, request: pytest.FixtureRequest) -> None:
    key = request.node.callspec.id
    insert = await session.prepare("INSERT INTO b (k, c, v) VALUES (?, ?, ?)")
    small = BatchStatement(BatchType.UNLOGGED)
    small.add(insert, (key, 0, "x"))
    assert (await session.execute(small)).warnings == ()
    # The launcher sets batch_size_warn_threshold to 64 KiB: 80 KB over several partitions draws a
    # warning (the server does not check single-partition batches).
    big = BatchStatement(BatchType.LOGGED)
    for c in range(10):
        big.add(insert, (f"{key}-{c}", c, "x" * 8000))
    rs = await session.execute(big)
    assert len(rs.warnings) == 1, rs.warnings
    assert "exceeding specified threshold" in rs.warnings[0]
    assert ".b]" in rs.warnings[0]
    with pytest.raises(InvalidValueError, match=r"at least one statement"):
        await session.execute(BatchStatement())
    with pytest.raises(InvalidValueError, match=r"already carries its values"):
        big.add(insert.bind((key, 1, "x")), (key, 1, "x"))
    wrong_type = BatchStatement()
    wrong_type.add("INSERT INTO b (k, c, v) VALUES (?, ?, ?)", (key, "one", "x"))
    with pytest.raises(InvalidValueError, match=r"column 'c' \(int\)"):
        await session.execute(wrong_type)


@pytest.mark.parametrize("session", VERSIONS, indirect=True)
async def test_children_with_parameters_are_prepared_transparently(
    session: Session, request: pytest.FixtureRequest
) -> None:
    key = f"auto-{request.node.callspec.id}"
    counts = count_requests(session)
    batch = BatchStatement(BatchType.UNLOGGED)
    for c in range(5):
        batch.add("INSERT INTO b (k, c, v) VALUES (?, ?, ?)", (key, c, f"v{c}"))
    batch.add(SimpleStatement("UPDATE b SET v = :v WHERE k = :k AND c = :c"), {"k": key, "c": 10, "v": "named"})
    # Every statement of a batch has the same timestamp; at equal timestamps a deletion wins.
    batch.add(f"DELETE FROM b WHERE k = '{key}' AND c = 4")
    await session.execute(batch)
    await session.execute(batch)
    assert counts[Opcode.PREPARE] == 2  # one per distinct query text with parameters, then cached
    assert counts[Opcode.BATCH] == 2
    assert await _rows(session, key) == [(0, "v0"), (1, "v1"), (2, "v2"), (3, "v3"), (10, "named")]
