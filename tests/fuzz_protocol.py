"""Fuzzer for the sans-I/O protocol core: the decoder and decode_response only ever raise ProtocolError.

Random bytes and mutated valid streams/bodies are fed to :class:`FrameDecoder` (unframed, v5
switch, v5 frames with and without LZ4, random chunking) and to :func:`decode_response` (every
response opcode, random prefix flags, v4 and v5). A decoded ERROR body is a *result*
(:class:`ErrorResponse` holding a ServerError), not a failure. Any other exception, or a case
slower than ``--slow`` seconds, is reported with its seed so it can be replayed.

Usage::

    python -m tests.fuzz_protocol --cases 100000 [--seed 1] [--slow 2.0]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
import traceback
from collections.abc import Callable

from aiocql.errors import ProtocolError
from aiocql.errors.server import (
    AlreadyExists,
    ReadFailure,
    ServerError,
    Unavailable,
    Unprepared,
    WriteTimeout,
)
from aiocql.protocol.compression import Lz4Compressor, lz4_available
from aiocql.protocol.constants import Consistency, Opcode
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.envelope import Envelope, encode_envelope
from aiocql.protocol.error_codec import encode_error
from aiocql.protocol.frames import encode_v5_frames
from aiocql.protocol.responses import ErrorResponse, Response, decode_response

MAX_ENVELOPE = 1 << 20  # keeps random compressed-length prefixes from allocating much

_LZ4 = Lz4Compressor() if lz4_available() else None


def _errors(version: int) -> list[bytes]:
    import ipaddress

    excs: list[ServerError] = [
        Unavailable("u", consistency=Consistency.QUORUM, required=3, alive=1),
        WriteTimeout("w", consistency=Consistency.SERIAL, received=0, block_for=2, write_type="CAS", contentions=1),
        ReadFailure(
            "r",
            consistency=Consistency.ONE,
            received=0,
            block_for=1,
            reason_map={ipaddress.ip_address("::1"): 2},
            data_present=False,
        ),
        AlreadyExists("a", keyspace="ks", table="t"),
        Unprepared("p", statement_id=b"\x01\x02"),
        ServerError("x", code=0x7777),
    ]
    return [encode_error(e, version) for e in excs]


def _h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# Valid bodies per response opcode (after any prefix).
CORPUS: dict[Opcode, list[bytes]] = {
    Opcode.READY: [b""],
    Opcode.AUTHENTICATE: [_h("0003 616263")],
    Opcode.SUPPORTED: [_h("0001 0001 6b 0002 0001 61 0001 62")],
    Opcode.AUTH_CHALLENGE: [_h("00000002 abcd"), _h("ffffffff")],
    Opcode.AUTH_SUCCESS: [_h("00000000")],
    Opcode.EVENT: [
        _h("000f") + b"TOPOLOGY_CHANGE" + _h("0008") + b"NEW_NODE" + _h("04 0a000002 00002352"),
        _h("000d") + b"STATUS_CHANGE" + _h("0002") + b"UP" + _h("10" + "00" * 15 + "01" + "00002352"),
        _h("000d")
        + b"SCHEMA_CHANGE"
        + _h("0007")
        + b"CREATED"
        + _h("0008")
        + b"FUNCTION"
        + _h("0002 6b73 0001 66")
        + _h("0001 0003")
        + b"int",
    ],
    Opcode.RESULT: [
        _h("00000001"),
        _h("00000003 0002 6b73"),
        _h("00000005 0007") + b"DROPPED" + _h("0005") + b"TABLE" + _h("0002 6b73 0001 74"),
        # Rows: global spec, paging state, columns int / list<int> / map<text,int> / udt / tuple / custom
        _h(
            "00000002 00000003 00000006 00000002 0102 0002 6b73 0001 74"
            "0001 61 0009  0001 62 0020 0009  0001 63 0021 000d 0009"
            "0001 64 0030 0002 6b73 0001 75 0002 0001 78 0009 0001 79 000d"
            "0001 65 0031 0002 0009 000d  0001 66 0000 0003 6f2e43"
            "00000001 00000001 01 ffffffff 00000000 00000000 00000000 00000000"
        ),
        _h("00000002 00000004 00000002 00000000"),
        _h("00000002 00000009 00000001 0002 abcd 0002 6b73 0001 74 0001 6b 0009 00000000"),
        _h("00000004 0002 cafe 0001 0a 00000001 00000002 00000002 0001 0000 0002 6b73 0001 74 0001 61 0009")
        + _h("0001 62 000d 00000004 00000000"),
    ],
}


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if not buf or choice < 0.15:
            buf[rng.randint(0, len(buf)) : rng.randint(0, len(buf))] = rng.randbytes(rng.randint(1, 8))
        elif choice < 0.45:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif choice < 0.65:
            i = rng.randrange(len(buf))
            buf[i] = rng.choice((0x00, 0x7F, 0x80, 0xFF, 0xFE, 0x01))
        elif choice < 0.8:
            del buf[rng.randrange(len(buf)) :]
        elif choice < 0.9:
            i = rng.randrange(len(buf))
            del buf[i : i + rng.randint(1, 8)]
        else:
            i = rng.randrange(len(buf))
            buf[i:i] = buf[i : i + rng.randint(1, 16)]
    return bytes(buf)


def _feed_chunks(rng: random.Random, dec: FrameDecoder, data: bytes) -> list[Envelope]:
    out: list[Envelope] = []
    pos = 0
    while pos < len(data):
        step = rng.choice((1, 2, 3, 7, 64, 1000, len(data)))
        out += dec.feed(data[pos : pos + step])
        pos += step
    return out


def _valid_envelopes(rng: random.Random, version: int) -> list[bytes]:
    envs = []
    for _ in range(rng.randint(1, 6)):
        opcode = rng.choice(list(CORPUS))
        body = rng.choice(CORPUS[opcode] + (_errors(version) if opcode is Opcode.RESULT else []))
        if body in _errors(version):
            opcode = Opcode.ERROR
        envs.append(encode_envelope(version, 0, rng.randint(-1, 300), opcode, body, response=True))
    return envs


def _check_response(env: Envelope, version: int) -> None:
    resp = decode_response(env, version)
    assert isinstance(resp, Response)
    if isinstance(resp, ErrorResponse):
        assert isinstance(resp.error, ServerError)


def _decode_all(envs: list[Envelope], version: int) -> None:
    for env in envs:
        with contextlib.suppress(ProtocolError):
            _check_response(env, version)


def case_decoder_random_bytes(rng: random.Random) -> None:
    dec = FrameDecoder(max_envelope_size=MAX_ENVELOPE, compressor=_LZ4)
    mode = rng.randrange(3)
    if mode == 1:
        dec.expect_v5_framing(rng.choice((None, _LZ4)))
    elif mode == 2:
        dec.start_v5_framing(rng.choice((None, _LZ4)))
    _decode_all(_feed_chunks(rng, dec, rng.randbytes(rng.randint(0, 300))), rng.choice((4, 5)))


def case_decoder_mutated_v5_stream(rng: random.Random) -> None:
    compressor = rng.choice((None, _LZ4))
    envs = _valid_envelopes(rng, 5)
    if rng.random() < 0.5:  # mutate inside frames (CRCs recomputed), to reach the envelope splitter
        envs = [_mutate(rng, e) if rng.random() < 0.5 else e for e in envs]
    data = encode_envelope(5, 0, 0, Opcode.READY, b"", response=True)
    data += encode_v5_frames(envs, compressor, max_payload=rng.choice((7, 50, 200, 131071)))
    if rng.random() < 0.5:
        data = _mutate(rng, data)
    dec = FrameDecoder(max_envelope_size=MAX_ENVELOPE)
    dec.expect_v5_framing(compressor)
    _decode_all(_feed_chunks(rng, dec, data), 5)


def case_decoder_mutated_v4_stream(rng: random.Random) -> None:
    envs = [
        encode_envelope(4, 0, rng.randint(0, 100), Opcode.RESULT, b, _LZ4, response=True)
        for b in (rng.choice(CORPUS[Opcode.RESULT]) + rng.randbytes(rng.randint(0, 40)) for _ in range(3))
    ]
    data = _mutate(rng, b"".join(envs))
    dec = FrameDecoder(max_envelope_size=MAX_ENVELOPE, compressor=_LZ4)
    _decode_all(_feed_chunks(rng, dec, data), 4)


def case_decode_response_bodies(rng: random.Random) -> None:
    version = rng.choice((4, 5))
    opcode = rng.choice([*CORPUS, Opcode.ERROR])
    body = rng.choice(_errors(version)) if opcode is Opcode.ERROR else rng.choice(CORPUS[opcode])
    flags = rng.choice((0, 0, 0x02, 0x04, 0x08, 0x0E, rng.randrange(256)))
    body = rng.randbytes(rng.randint(0, 40)) if rng.random() < 0.3 else _mutate(rng, body)
    with contextlib.suppress(ProtocolError):
        _check_response(Envelope(version, flags, 1, opcode, body), version)


CASES: list[Callable[[random.Random], None]] = [
    case_decoder_random_bytes,
    case_decoder_mutated_v5_stream,
    case_decoder_mutated_v4_stream,
    case_decode_response_bodies,
]


def run(cases: int, seed: int = 0, slow: float = 2.0, out: Callable[[str], None] = print) -> int:
    """Run ``cases`` fuzz cases from ``seed``; return the number of failures (each is reported)."""
    failures = 0
    for i in range(cases):
        case_seed = seed * 1_000_003 + i
        rng = random.Random(case_seed)
        case = CASES[i % len(CASES)]
        start = time.perf_counter()
        try:
            case(rng)
        except ProtocolError:
            pass
        except Exception:  # anything else is a bug
            failures += 1
            out(f"FAIL {case.__name__} seed={case_seed}\n{traceback.format_exc()}")
        elapsed = time.perf_counter() - start
        if elapsed > slow:
            failures += 1
            out(f"SLOW {case.__name__} seed={case_seed}: {elapsed:.2f}s")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--slow", type=float, default=2.0, help="seconds after which a case counts as a hang")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    failures = run(args.cases, args.seed, args.slow)
    print(f"{args.cases} cases, seed {args.seed}, {failures} failures, {time.perf_counter() - start:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
