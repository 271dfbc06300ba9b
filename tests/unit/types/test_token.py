"""Murmur3 tokens against cassandra-driver's C implementation and its Murmur3Token.hash_fn."""

from __future__ import annotations

import random
import struct
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiocql.errors import InvalidValueError
from aiocql.types.token import composite_routing_key, murmur3_token, routing_key

cmurmur3 = pytest.importorskip("cassandra.cmurmur3")
metadata = pytest.importorskip("cassandra.metadata")


def _reference(key: bytes) -> int:
    return int(metadata.Murmur3Token.hash_fn(key))


def test_every_tail_length_against_cassandra_driver() -> None:
    rng = random.Random(1234)
    keys = [bytes(rng.getrandbits(8) for _ in range(n)) for n in range(0, 41) for _ in range(125)]
    # all-high bytes exercise the signed tail bytes (pitfall 13) in every position
    keys += [b"\xff" * n for n in range(41)] + [b"\x80" * n for n in range(41)] + [b"\x7f" * n for n in range(41)]
    for key in keys:
        assert murmur3_token(key) == _reference(key), key.hex()
    assert len(keys) >= 5000


def test_typical_key_types() -> None:
    rng = random.Random(99)
    keys: list[bytes] = []
    for _ in range(500):
        keys.append(struct.pack(">i", rng.randrange(-(2**31), 2**31)))  # int
        keys.append(struct.pack(">q", rng.randrange(-(2**63), 2**63)))  # bigint
        keys.append(uuid.UUID(int=rng.getrandbits(128)).bytes)  # uuid
        keys.append(f"user-{rng.randrange(10**9)}".encode())  # text
        keys.append(composite_routing_key([struct.pack(">i", rng.randrange(100)), b"x" * rng.randrange(30)]))
    for key in keys:
        assert murmur3_token(key) == _reference(key)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=64))
def test_property_against_the_c_implementation(key: bytes) -> None:
    raw = cmurmur3.murmur3(key)
    assert murmur3_token(key) == (2**63 - 1 if raw == -(2**63) else raw)
    assert murmur3_token(bytearray(key)) == murmur3_token(memoryview(key)) == murmur3_token(key)


def test_known_values() -> None:
    assert murmur3_token(b"") == 0
    # computed by Cassandra's Murmur3Partitioner (as reproduced by cassandra-driver)
    assert murmur3_token(b"\xff\xff\xff") == -9154616442117352147
    assert murmur3_token(b"abc") == _reference(b"abc")


def test_minimum_token_maps_to_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    # No known key hashes to -2**63; force the final mix so that the 64-bit sum is 2**63.
    import aiocql.types.token as token

    monkeypatch.setattr(token, "_fmix", lambda k: 2**62)
    assert token._murmur3_python(b"any") == 2**63 - 1
    monkeypatch.setattr(token, "_fmix", lambda k: 2**62 + 1)
    assert token._murmur3_python(b"any") == -(2**63) + 2


def test_the_compiled_hash_is_the_python_one() -> None:
    import aiocql.types.token as token

    if token._fast is None:
        pytest.skip("aiocql.types._murmur3 is not built here (or AIOCQL_NO_EXTENSIONS is set)")
    rng = random.Random(7)
    keys = [bytes(rng.getrandbits(8) for _ in range(n)) for n in range(0, 71) for _ in range(60)]
    keys += [b"\xff" * n for n in range(40)] + [b"\x80" * n for n in range(40)]
    for key in keys:
        assert token._fast(key) == token._murmur3_python(key), key.hex()
        assert murmur3_token(key) == token._murmur3_python(key)
    # Only exactly bytes take the compiled path; the others are hashed by the Python one, to the same token.
    assert token._fast(bytearray(b"abc")) is None and token._fast(memoryview(b"abc")) is None
    assert murmur3_token(bytearray(b"abc")) == murmur3_token(b"abc")


def test_composite_routing_key() -> None:
    assert composite_routing_key([b"\x00\x00\x00\x01", b"ab"]).hex() == "000400000001000002616200"
    assert composite_routing_key([b"", b"x"]).hex() == "00000000017800"
    assert routing_key([b"abc"]) == b"abc"
    assert routing_key([b"a", b"b"]) == composite_routing_key([b"a", b"b"])
    with pytest.raises(InvalidValueError, match="component 1 is 65536 bytes"):
        composite_routing_key([b"", b"x" * 65536])
