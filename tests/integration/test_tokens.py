"""Murmur3 tokens: aiocql's murmur3_token of a routing key equals the server's token() of that partition,
for thousands of keys of several types, single and composite (routing keys from bound statements and
from composite_routing_key)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from aiocql import Session, execute_concurrent
from aiocql.protocol.cqltypes import BIGINT, BLOB, INT, TEXT, UUID, CqlType
from aiocql.testing.pytest_plugin import ServerInfo
from aiocql.types.codecs import encoder_for
from aiocql.types.token import composite_routing_key, murmur3_token

from .conftest import V5, ddl

pytestmark = pytest.mark.server

KEYS_PER_TYPE = 2000
rng = random.Random(20240229)


def _texts() -> list[str]:
    fixed = ["a", "é", "😀", "x" * 15, "y" * 16, "z" * 17, "ü" * 40]
    return fixed + ["".join(chr(rng.randrange(32, 0x3000)) for _ in range(rng.randrange(1, 40))) for _ in range(2100)]


def _blobs() -> list[bytes]:
    # Tails of every length 0..15 with high bytes (sign extension of the tail bytes matters there).
    fixed = [*(bytes([0x80 + i] * n) for i, n in enumerate(range(1, 40)))]
    return fixed + [rng.randbytes(rng.randrange(1, 70)) for _ in range(2100)]


KEYS: dict[str, tuple[CqlType, list[Any]]] = {
    "int": (INT, [0, 1, -1, 2**31 - 1, -(2**31)] + [rng.randrange(-(2**31), 2**31) for _ in range(2100)]),
    "bigint": (BIGINT, [0, -1, 2**63 - 1, -(2**63)] + [rng.randrange(-(2**63), 2**63) for _ in range(2100)]),
    "text": (TEXT, _texts()),
    "blob": (BLOB, _blobs()),
    "uuid": (
        UUID,
        [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)] + [uuid.UUID(int=rng.getrandbits(128)) for _ in range(2100)],
    ),
}


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))[:KEYS_PER_TYPE]


@pytest.fixture(scope="module", autouse=True)
def tables(server: ServerInfo, keyspace: str) -> None:
    ddl(
        server,
        keyspace,
        *(f"CREATE TABLE tok_{name} (k {name} PRIMARY KEY)" for name in KEYS),
        "CREATE TABLE tok_composite (a int, b text, c bigint, v int, PRIMARY KEY ((a, b, c), v))",
    )


@pytest.mark.parametrize("session", [V5], indirect=True)
@pytest.mark.parametrize("type_name", list(KEYS))
async def test_single_column_keys(session: Session, type_name: str) -> None:
    cql_type, candidates = KEYS[type_name]
    keys = _unique(candidates)
    assert len(keys) == KEYS_PER_TYPE
    insert = await session.prepare(f"INSERT INTO tok_{type_name} (k) VALUES (?)")
    bound = [insert.bind((k,)) for k in keys]
    await execute_concurrent(session, [(b, None) for b in bound], concurrency=128)
    encode = encoder_for(cql_type, "k")
    for key, b in zip(keys, bound, strict=True):
        assert b.routing_key == encode(key)  # the bound statement's routing key is the serialized key
    server = {row[1]: row[0] for row in await (await session.execute(f"SELECT token(k), k FROM tok_{type_name}")).all()}
    assert len(server) == KEYS_PER_TYPE
    mismatches = [(k, murmur3_token(encode(k)), t) for k, t in server.items() if murmur3_token(encode(k)) != t]
    assert not mismatches[:5], f"{len(mismatches)} of {len(server)} tokens differ"


@pytest.mark.parametrize("session", [V5], indirect=True)
async def test_composite_keys(session: Session) -> None:
    keys = _unique(
        [(0, "", 0), (-1, "é", -1)]  # an empty component is fine (an empty single-column key is not)
        + [(rng.randrange(-(2**31), 2**31), t, rng.randrange(-(2**63), 2**63)) for t in _texts()]
    )
    # Bind markers in another order than the partition key: the routing key follows the key's order.
    insert = await session.prepare("INSERT INTO tok_composite (c, v, b, a) VALUES (?, ?, ?, ?)")
    assert insert.pk_indexes == (3, 2, 0)
    bound = [insert.bind((c, 1, b, a)) for a, b, c in keys]
    await execute_concurrent(session, [(s, None) for s in bound], concurrency=128)
    enc_a, enc_b, enc_c = encoder_for(INT, "a"), encoder_for(TEXT, "b"), encoder_for(BIGINT, "c")
    rows = await (await session.execute("SELECT token(a, b, c), a, b, c FROM tok_composite")).all()
    assert len(rows) == KEYS_PER_TYPE
    by_key = {(a, b, c): s for (a, b, c), s in zip(keys, bound, strict=True)}
    mismatches = []
    for token, a, b, c in rows:
        routing = composite_routing_key([enc_a(a), enc_b(b), enc_c(c)])
        assert by_key[(a, b, c)].routing_key == routing
        if murmur3_token(routing) != token:
            mismatches.append(((a, b, c), murmur3_token(routing), token))
    assert not mismatches[:5], f"{len(mismatches)} of {len(rows)} tokens differ"
