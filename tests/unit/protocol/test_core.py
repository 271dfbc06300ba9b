"""The sans-I/O connection core, transition by transition: a client core and a server core talk in memory."""

from __future__ import annotations

import pytest

from aiocql.errors import ConnectionClosed, ProtocolError
from aiocql.errors.server import BadCredentials, ProtocolErrorFromServer
from aiocql.protocol.compression import Lz4Compressor
from aiocql.protocol.constants import Opcode
from aiocql.protocol.core import (
    AuthenticationChallenge,
    AuthenticationRequired,
    ClientCore,
    ConnectionBroken,
    CoreState,
    HandshakeComplete,
    HandshakeFailed,
    ServerCore,
    StreamsExhausted,
    is_version_refusal,
)
from aiocql.protocol.decoder import FrameDecoder
from aiocql.protocol.envelope import Envelope, encode_envelope
from aiocql.protocol.primitives import read_bytes
from aiocql.protocol.responses import Supported, decode_response
from aiocql.testing.replies import AuthChallenge, Authenticate, AuthSuccess, Error, Event, Ready, Reply
from aiocql.testing.replies import Supported as SupportedReply

STARTUP = {"CQL_VERSION": "3.0.0"}
VARIANTS = [(4, False), (5, False), (4, True), (5, True)]


def requests(server: ServerCore, client: ClientCore) -> list[Envelope]:
    """What the server decodes of everything the client queued (no broken stream expected)."""
    events = server.receive_data(client.data_to_send())
    assert all(isinstance(e, Envelope) for e in events)
    return [e for e in events if isinstance(e, Envelope)]


def reply(server: ServerCore, stream: int, message: Reply, *, startup: bool = False) -> None:
    opcode, flags, body = message.encode(server.version or 4)
    server.send_reply(stream, opcode, body, flags, answers_startup=startup)


def deliver(server: ServerCore, client: ClientCore, now: float = 1.0) -> list[object]:
    return list(client.receive_data(server.data_to_send(), now))


def connect(version: int, lz4: bool = False, **kwargs: object) -> tuple[ClientCore, ServerCore]:
    """A client and a server past the handshake (READY)."""
    client = ClientCore(version, compressor=Lz4Compressor() if lz4 else None, **kwargs)  # type: ignore[arg-type]
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    reply(server, startup.stream, Ready(), startup=True)
    (done,) = deliver(server, client)
    assert isinstance(done, HandshakeComplete) and client.is_ready
    return client, server


# -- handshake ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("version", "lz4"), VARIANTS)
def test_startup_ready_then_requests_and_replies_round_trip(version: int, lz4: bool) -> None:
    client = ClientCore(version, compressor=Lz4Compressor() if lz4 else None)
    server = ServerCore()
    assert client.state is CoreState.IDLE
    client.start_handshake(STARTUP)
    assert client.state is CoreState.STARTING
    (startup,) = requests(server, client)
    assert startup.opcode is Opcode.STARTUP and not server.framed
    assert server.version == version
    assert server.startup_options == {**STARTUP, **({"COMPRESSION": "lz4"} if lz4 else {})}
    reply(server, startup.stream, Ready(), startup=True)
    (done,) = deliver(server, client)
    assert isinstance(done, HandshakeComplete) and done.token is None
    assert client.state is CoreState.READY and client.in_flight == 0
    assert client.framed == server.framed == (version >= 5)
    body = b"x" * 5000  # compressible: LZ4 shows on the wire
    streams = [client.send_request(Opcode.QUERY, body) for _ in range(3)]
    wire = client.data_to_send()
    assert (len(wire) < len(body)) == lz4
    got = server.receive_data(wire)
    assert [(e.opcode, e.stream, bytes(e.body)) for e in got if isinstance(e, Envelope)] == [
        (Opcode.QUERY, s, body) for s in streams
    ]
    for s in reversed(streams):
        reply(server, s, SupportedReply())
    replies = deliver(server, client)
    assert [e.stream for e in replies if isinstance(e, Envelope)] == list(reversed(streams))
    assert all(isinstance(decode_response(e), Supported) for e in replies if isinstance(e, Envelope))
    assert client.in_flight == 0 and client.freed == 3


def test_v5_framing_starts_right_after_ready_in_the_same_read() -> None:
    client = ClientCore(5)
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    reply(server, startup.stream, Ready(), startup=True)
    server.send_reply(-1, *_event())  # framed, in the same bytes as the unframed READY
    data = server.data_to_send()
    assert data[0] == 0x85  # READY: a plain envelope first
    events = client.receive_data(data, 1.0)
    assert isinstance(events[0], HandshakeComplete)
    assert isinstance(events[1], Envelope) and events[1].stream == -1 and events[1].opcode is Opcode.EVENT


def _event() -> tuple[int, bytes, int]:
    opcode, flags, body = Event.status_change("UP", "127.0.0.1").encode(5)  # type: ignore[arg-type]
    return opcode, body, flags


def test_only_options_may_precede_the_handshake() -> None:
    client = ClientCore(4)
    with pytest.raises(ProtocolError, match="QUERY before the handshake completed"):
        client.send_request(Opcode.QUERY, b"")
    stream = client.send_request(Opcode.OPTIONS, b"")  # spec 4.1.3: OPTIONS may come before STARTUP
    client.start_handshake(STARTUP)
    with pytest.raises(ProtocolError, match="already started"):
        client.start_handshake(STARTUP)
    with pytest.raises(ProtocolError, match="EXECUTE before the handshake completed"):
        client.send_request(Opcode.EXECUTE, b"")
    server = ServerCore()
    assert [e.opcode for e in requests(server, client)] == [Opcode.OPTIONS, Opcode.STARTUP]
    assert stream == 0


@pytest.mark.parametrize("version", [4, 5])
def test_authentication_challenge_and_success(version: int) -> None:
    client = ClientCore(version)
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    reply(server, startup.stream, Authenticate("org.example.Sasl"), startup=True)
    (step,) = deliver(server, client)
    assert isinstance(step, AuthenticationRequired) and step.authenticator == "org.example.Sasl"
    assert client.state is CoreState.AUTHENTICATING and client.framed == (version >= 5)
    with pytest.raises(ProtocolError, match="before the handshake"):
        client.send_request(Opcode.QUERY, b"")
    client.send_auth_response(b"first")
    with pytest.raises(ProtocolError, match="no authentication step is due"):
        client.send_auth_response(b"again")
    (auth,) = requests(server, client)  # v5: inside a frame, as the spec says AUTH_RESPONSE travels
    assert auth.opcode is Opcode.AUTH_RESPONSE and read_bytes(auth.body, 0)[0] == b"first"
    reply(server, auth.stream, AuthChallenge(b"nonce"))
    (step,) = deliver(server, client)
    assert isinstance(step, AuthenticationChallenge) and step.token == b"nonce"
    client.send_auth_response(b"second")
    (auth,) = requests(server, client)
    assert read_bytes(auth.body, 0)[0] == b"second"
    reply(server, auth.stream, AuthSuccess(b"final"))
    (step,) = deliver(server, client)
    assert isinstance(step, HandshakeComplete) and step.token == b"final" and client.is_ready
    assert client.in_flight == 0


def test_bad_credentials_fail_the_handshake_during_auth() -> None:
    client = ClientCore(5)
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    reply(server, startup.stream, Authenticate(), startup=True)
    deliver(server, client)
    client.send_auth_response(None)
    (auth,) = requests(server, client)
    reply(server, auth.stream, Error(BadCredentials("nope")))
    (step,) = deliver(server, client)
    assert isinstance(step, HandshakeFailed) and step.during_auth
    assert isinstance(step.error, BadCredentials) and client.is_closed


def test_version_refusal_fails_the_startup() -> None:
    client = ClientCore(5)
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    # Cassandra answers an unsupported version in the version it speaks, unframed.
    opcode, flags, body = Error(ProtocolErrorFromServer("Invalid or unsupported protocol version (5)")).encode(4)
    server.send_reply(startup.stream, opcode, body, flags, version=4)
    (step,) = deliver(server, client)
    assert isinstance(step, HandshakeFailed) and not step.during_auth
    assert is_version_refusal(step.error) and not client.framed and client.is_closed
    assert not is_version_refusal(ProtocolErrorFromServer("something else"))


def test_a_wrong_reply_to_startup_fails_the_handshake() -> None:
    client = ClientCore(4)
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    reply(server, startup.stream, SupportedReply())
    (step,) = deliver(server, client)
    assert isinstance(step, HandshakeFailed) and isinstance(step.error, ProtocolError)
    assert "answered STARTUP with Supported (expected READY or AUTHENTICATE)" in str(step.error)
    with pytest.raises(ConnectionClosed):
        client.send_request(Opcode.OPTIONS, b"")


def test_v4_lz4_compresses_the_reply_to_startup() -> None:
    client = ClientCore(4, compressor=Lz4Compressor())
    server = ServerCore()
    client.start_handshake(STARTUP)
    (startup,) = requests(server, client)
    reply(server, startup.stream, Authenticate("x" * 200), startup=True)
    wire = server.data_to_send()
    assert wire[1] & 0x01  # the COMPRESSION flag: compressed from the reply to STARTUP on
    (step,) = client.receive_data(wire, 1.0)
    assert isinstance(step, AuthenticationRequired) and step.authenticator == "x" * 200


# -- stream table -------------------------------------------------------------------------------------
def test_an_orphaned_id_stays_reserved_until_its_late_reply_which_is_dropped() -> None:
    client, server = connect(5, max_streams=2)
    a = client.send_request(Opcode.OPTIONS, b"")
    b = client.send_request(Opcode.OPTIONS, b"")
    with pytest.raises(StreamsExhausted):
        client.send_request(Opcode.OPTIONS, b"")
    assert client.cancel(a) and not client.cancel(a)
    assert (client.in_flight, client.orphaned, client.free_streams) == (1, 1, 0)
    with pytest.raises(StreamsExhausted):  # the orphan is not handed out again...
        client.send_request(Opcode.OPTIONS, b"")
    got = requests(server, client)
    reply(server, got[0].stream, SupportedReply())  # the late reply of the orphan
    assert deliver(server, client) == []  # ...dropped, never delivered
    assert (client.in_flight, client.orphaned, client.freed) == (1, 0, 1)
    c = client.send_request(Opcode.OPTIONS, b"")  # ...until its late reply freed it
    assert c == a
    reply(server, b, SupportedReply())
    (env,) = deliver(server, client)
    assert isinstance(env, Envelope) and env.stream == b


def test_a_reply_for_an_id_never_handed_out_is_dropped() -> None:
    client, server = connect(4)
    s = client.send_request(Opcode.OPTIONS, b"")
    reply(server, 77, SupportedReply())
    reply(server, s, SupportedReply())
    events = deliver(server, client)
    assert [e.stream for e in events if isinstance(e, Envelope)] == [s] and client.freed == 1


# -- broken streams -----------------------------------------------------------------------------------
def test_a_bad_frame_breaks_the_connection_after_the_valid_replies() -> None:
    client, server = connect(5)
    s = client.send_request(Opcode.OPTIONS, b"")
    reply(server, s, SupportedReply())
    good = server.data_to_send()
    bad = bytearray(good)
    bad[3] ^= 0xFF  # a corrupt CRC24 in the next frame's header
    events = client.receive_data(good + bytes(bad), 2.0)
    assert isinstance(events[0], Envelope) and events[0].stream == s
    assert isinstance(events[-1], ConnectionBroken) and "CRC24" in str(events[-1].error)
    assert client.is_closed and client.in_flight == 0
    assert client.receive_data(good, 3.0) == []  # nothing is delivered after the break
    with pytest.raises(ConnectionClosed, match="CRC24"):
        client.send_request(Opcode.OPTIONS, b"")


def test_the_server_role_reports_a_broken_stream_after_the_valid_requests() -> None:
    server = ServerCore()
    good = encode_envelope(4, 0, 1, Opcode.OPTIONS, b"")
    events = server.receive_data(good + bytes.fromhex("0400000242000000ff"))
    assert isinstance(events[0], Envelope) and events[0].stream == 1
    assert isinstance(events[1], ConnectionBroken) and "unknown opcode" in str(events[1].error)
    assert server.receive_data(good) == []


def test_close_frees_every_id_and_drops_queued_output() -> None:
    client, _ = connect(4)
    client.send_request(Opcode.OPTIONS, b"")
    client.cancel(client.send_request(Opcode.OPTIONS, b""))
    client.close(ConnectionClosed("bye"))
    assert (client.in_flight, client.orphaned, client.data_to_send()) == (0, 0, b"")
    assert client.is_closed and isinstance(client.failure, ConnectionClosed)


# -- heartbeat ----------------------------------------------------------------------------------------
def test_liveness_counts_decoded_replies_not_bytes() -> None:
    client, server = connect(4, heartbeat_interval=30.0, now=0.0)
    assert client.last_reply_at == 1.0  # the READY, decoded at 1.0
    assert client.probe_due_in(11.0) == 20.0 and client.probe_due_in(31.0) <= 0
    s = client.send_request(Opcode.OPTIONS, b"")
    reply(server, s, SupportedReply())
    wire = server.data_to_send()
    client.receive_data(wire[:5], 20.0)  # a header that never completes is no reply
    assert client.last_reply_at == 1.0
    client.receive_data(wire[5:], 25.0)
    assert client.last_reply_at == 25.0 and client.probe_due_in(30.0) == 25.0
    assert ClientCore(4).probe_due_in(1e9) == float("inf")  # heartbeat off


def test_a_timed_out_request_asks_for_a_probe_except_right_after_an_answered_one() -> None:
    client, _ = connect(4)
    assert client.probe_after_timeout(10.0)
    client.probe_answered(10.0)
    assert not client.probe_after_timeout(10.5)
    assert client.probe_after_timeout(11.0)
    client.close(ConnectionClosed("bye"))
    assert not client.probe_after_timeout(20.0)


def test_client_requests_are_what_a_plain_decoder_reads() -> None:
    """The client's wire format is the protocol's, not a private agreement with ServerCore."""
    client, _ = connect(5)
    s = client.send_request(Opcode.OPTIONS, b"")
    decoder = FrameDecoder(responses=False)
    decoder.start_v5_framing()
    (env,) = decoder.feed(client.data_to_send())
    assert (env.opcode, env.stream, env.version, env.is_response) == (Opcode.OPTIONS, s, 5, False)
