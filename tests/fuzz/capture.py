"""Capture the fuzz seed corpus: real frames received from a real Cassandra 5.0 by aiocql.

Records every byte the driver's connections receive while a script of DDL, writes, reads (every CQL
type, collections, UDTs, tuples, vectors, big and small pages), prepares, errors and schema events
runs on protocol v4 and v5, with and without LZ4. Each connection's stream is cut at envelope (v4)
or frame (v5) boundaries into small inputs in the format of tests/fuzz/decoders.py and written to
``tests/fuzz/corpus`` (replacing it). Run against a node the launcher started::

    AIOCQL_NODE_BASE=20 python -m aiocql.testing start
    PYTHONPATH=. AIOCQL_CONTACT_POINTS=127.0.0.20 python -m tests.fuzz.capture
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import struct
import sys
import uuid
from decimal import Decimal
from pathlib import Path

from aiocql import Cluster, CqlError
from aiocql.connection.protocol import CqlProtocol

CORPUS = Path(__file__).parent / "corpus"
MAX_INPUT = 1500  # bytes of stream per corpus file (libFuzzer works best on small inputs)

DDL = [
    "CREATE KEYSPACE IF NOT EXISTS fuzzks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    "CREATE TYPE IF NOT EXISTS fuzzks.addr (street text, zip int, tags set<text>)",
    'CREATE TYPE IF NOT EXISTS fuzzks."y5³" (a int)',
    "CREATE TABLE IF NOT EXISTS fuzzks.every (k int PRIMARY KEY, a ascii, b bigint, bl blob, bo boolean, "
    "d decimal, db double, f float, i inet, n int, s smallint, t text, ts timestamp, tu timeuuid, "
    "ti tinyint, u uuid, vi varint, da date, tm time, du duration, "
    "l list<int>, st set<uuid>, m map<text, bigint>, tp tuple<int, text, double>, ad frozen<addr>, "
    "v vector<float, 3>, vt vector<text, 2>, fm frozen<map<int, frozen<set<text>>>>)",
    "CREATE TABLE IF NOT EXISTS fuzzks.kv (k int, c int, v text, PRIMARY KEY (k, c))",
]

INSERT = (
    "INSERT INTO fuzzks.every (k, a, b, bl, bo, d, db, f, i, n, s, t, ts, tu, ti, u, vi, da, tm, du, l, st, m, tp, "
    "ad, v, vt, fm) VALUES (?, 'ascii', -9000000000, 0xcafe, true, 123.4500, 2.5e300, 1.5, '::1', -7, 300, "
    "'tëxt ☃', '2024-02-29 12:34:56.789+0000', now(), -5, ?, ?, '1970-01-01', '23:59:59.999999999', 1mo2d3ns, "
    "[1, 2, 3], ?, {'a': 1, 'b': 2}, (1, 'x', 0.5), {street: 'Main', zip: 12345, tags: {'p', 'q'}}, "
    "[0.5, -1.25, 3e38], ['a', 'bc'], {1: {'x'}, 2: {'y', 'z'}})"
)


async def _script(cluster: Cluster) -> None:
    session = await cluster.connect()
    for ddl in DDL:
        try:
            await session.execute(ddl)
        except CqlError as exc:
            print("ddl:", exc, file=sys.stderr)
    insert = await session.prepare(INSERT)
    for k in range(6):
        await session.execute(insert, (k, uuid.UUID(int=k), 10**40 * (-1) ** k, {uuid.UUID(int=i) for i in range(k)}))
    await session.execute("INSERT INTO fuzzks.every (k) VALUES (100)")  # nulls everywhere
    await session.execute("INSERT INTO fuzzks.every (k, d, n) VALUES (101, ?, ?)", (Decimal("-1E-30"), 0))
    for c in range(40):
        await session.execute("INSERT INTO fuzzks.kv (k, c, v) VALUES (1, ?, ?)", (c, "v" * c))
    await session.execute("SELECT * FROM fuzzks.every")
    await session.execute("SELECT k, c, v FROM fuzzks.kv WHERE k = 1", fetch_size=7)
    await session.execute("SELECT json * FROM fuzzks.kv WHERE k = 1 LIMIT 3")
    select = await session.prepare("SELECT * FROM fuzzks.every WHERE k = ?")
    await session.execute(select, (1,))
    await session.execute("SELECT writetime(n), ttl(n), token(k) FROM fuzzks.every")
    await session.execute("SELECT release_version, tokens FROM system.local")
    for bad in ["SELEC nothing", "SELECT * FROM fuzzks.nope", "INSERT INTO fuzzks.kv (k) VALUES (1)"]:
        with contextlib.suppress(CqlError):
            await session.execute(bad)
    for ddl in [
        "CREATE TABLE IF NOT EXISTS fuzzks.tmp (k int PRIMARY KEY)",
        "ALTER TABLE fuzzks.tmp ADD x text",
        "DROP TABLE fuzzks.tmp",
        "CREATE FUNCTION IF NOT EXISTS fuzzks.f (x int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java "
        "AS 'return x;'",
        'CREATE TYPE IF NOT EXISTS fuzzks."z²" (b int)',
        'DROP TYPE IF EXISTS fuzzks."z²"',
    ]:
        try:
            await session.execute(ddl)
        except CqlError as exc:
            print("ddl:", exc, file=sys.stderr)
    await asyncio.sleep(1.0)  # let the schema events reach the control connection


def _v4_pieces(stream: bytes) -> list[bytes]:
    pieces: list[bytes] = []
    pos = 0
    while pos + 9 <= len(stream):
        (length,) = struct.unpack_from(">i", stream, pos + 5)
        end = pos + 9 + length
        pieces.append(stream[pos:end])
        pos = end
    return pieces


def _v5_pieces(stream: bytes, lz4: bool) -> tuple[bytes, list[bytes]]:
    """Split a v5 connection's stream into the unframed start and its frames."""
    pos = 0
    while pos + 9 <= len(stream):  # unframed envelopes until READY/AUTHENTICATE
        opcode = stream[pos + 4]
        (length,) = struct.unpack_from(">i", stream, pos + 5)
        pos += 9 + length
        if opcode in (0x02, 0x03):
            break
    head, frames = stream[:pos], []
    header = 8 if lz4 else 6
    while pos + header <= len(stream):
        raw = int.from_bytes(stream[pos : pos + (5 if lz4 else 3)], "little")
        end = pos + header + (raw & 0x1FFFF) + 4
        frames.append(stream[pos:end])
        pos = end
    return head, frames


def _group(pieces: list[bytes]) -> list[bytes]:
    groups: list[bytes] = []
    current = b""
    for piece in pieces:
        if current and len(current) + len(piece) > MAX_INPUT:
            groups.append(current)
            current = b""
        if len(piece) > MAX_INPUT:
            continue  # a big page: too large for a seed
        current += piece
    if current:
        groups.append(current)
    return groups


async def capture(host: str, version: int, lz4: bool) -> list[bytes]:
    streams: dict[int, bytearray] = {}
    original = CqlProtocol.data_received

    def recording(self: CqlProtocol, data: bytes) -> None:
        streams.setdefault(id(self), bytearray()).extend(data)
        original(self, data)

    CqlProtocol.data_received = recording  # type: ignore[method-assign]
    try:
        async with Cluster([host], protocol_version=version, compression=lz4) as cluster:
            await _script(cluster)
    finally:
        CqlProtocol.data_received = original  # type: ignore[method-assign]
    inputs: list[bytes] = []
    for raw in streams.values():
        stream = bytes(raw)
        if version == 4:
            mode = 1 if lz4 else 0
            inputs += [bytes([mode, 0]) + g for g in _group(_v4_pieces(stream))]
        else:
            head, frames = _v5_pieces(stream, lz4)
            inputs.append(bytes([4, 0]) + head + b"".join(frames[:2]) if not lz4 else bytes([0, 0]) + head)
            inputs += [bytes([3 if lz4 else 2, 0]) + g for g in _group(frames)]
    return inputs


def _values() -> list[bytes]:
    """Mode-5 seeds: one value of a marshal type each."""
    m = "org.apache.cassandra.db.marshal."
    cases: list[tuple[str, bytes]] = [
        (m + "DecimalType", bytes.fromhex("00000002") + (12345).to_bytes(2, "big")),
        (m + "IntegerType", (-(10**30)).to_bytes(13, "big", signed=True)),
        (m + f"SetType({m}UUIDType)", struct.pack(">ii", 1, 16) + bytes(range(16))),
        (m + f"MapType({m}Int32Type,{m}UTF8Type)", struct.pack(">iii", 1, 4, 7) + struct.pack(">i", 1) + b"x"),
        (m + f"VectorType({m}FloatType,2)", struct.pack(">ff", 1.0, 2.0)),
        (m + f"TupleType({m}Int32Type,{m}UTF8Type)", struct.pack(">ii", 4, 1) + struct.pack(">i", 2) + b"ab"),
        (m + f"UserType(ks,61,61:{m}Int32Type)", struct.pack(">ii", 4, 9)),
        (m + f"ListType({m}TimestampType)", struct.pack(">iiq", 1, 8, 0)),
        (m + "DurationType", bytes([2, 4, 6])),
    ]
    out = []
    for text, value in cases:
        raw = text.encode()
        out.append(bytes([5, 0]) + struct.pack(">H", len(raw)) + raw + value)
    return out


async def main() -> None:
    host = os.environ.get("AIOCQL_CONTACT_POINTS", "127.0.0.1").split(",")[0]
    inputs: list[bytes] = []
    for version, lz4 in [(4, False), (4, True), (5, False), (5, True)]:
        inputs += await capture(host, version, lz4)
    inputs += _values()
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    seen = set()
    for data in inputs:
        name = hashlib.sha1(data).hexdigest()[:16]
        if name not in seen:
            seen.add(name)
            (CORPUS / name).write_bytes(data)
    total = sum(len(d) for d in inputs)
    print(f"{len(seen)} corpus files, {total} bytes in {CORPUS}")


if __name__ == "__main__":
    asyncio.run(main())
