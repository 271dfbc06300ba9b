"""Start, stop and inspect a local Apache Cassandra 5.0 (one node, or N nodes on 127.0.0.1..N).

This is test and demo tooling, not part of the driver: it runs ``java`` and ``keytool`` as child
processes and waits for them with plain blocking calls.

A cluster's state (node folders, pids, modes) lives in ``<cache>/clusters/<name>/state.json`` so that
``python -m aiocql.testing stop`` in another process stops what ``start`` started. Nodes are stopped by
pid (SIGTERM, then SIGKILL after a grace period), never by process name, and only after checking that
the pid still runs a CassandraDaemon of that node folder.

Example:
    >>> cluster = LocalCluster(nodes=1)  # doctest: +SKIP
    >>> cluster.start()  # doctest: +SKIP
    >>> cluster.contact_points  # doctest: +SKIP
    ['127.0.0.1']
    >>> cluster.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiocql.testing.config import (
    JVM17_OPTIONS,
    LOGBACK_TOOLS_XML,
    LOGBACK_XML,
    NodeOptions,
    cassandra_yaml,
    jvm_command,
    make_tls_material,
    rackdc_properties,
)
from aiocql.testing.distribution import Distribution, LauncherError, cache_dir, fetch, run_tool

READY_LINE = "Starting listening for CQL clients"
CQL_PORT = 9042


@dataclass(slots=True)
class NodeState:
    """One node as recorded in the state file."""

    index: int
    address: str
    jmx_port: int
    node_dir: str
    pid: int | None = None


@dataclass(slots=True)
class ClusterState:
    """What ``start`` recorded: enough for another process to stop or inspect the cluster."""

    name: str
    version: str
    nodes: list[NodeState] = field(default_factory=list)
    auth: bool = False
    tls: bool = False
    benchmark: bool = False
    ca_file: str | None = None
    startup_seconds: float | None = None
    dcs: int = 1


def _log_tail(node_dir: Path, lines: int = 40) -> str:
    parts = []
    for name in ("system.log", "stdout.log"):
        path = node_dir / "logs" / name
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text))
    return "\n".join(parts) or f"(no log in {node_dir / 'logs'})"


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def superuser_login_error(
    address: str, port: int = CQL_PORT, ca_file: str | None = None, user: str = "cassandra", password: str = "cassandra"
) -> str | None:
    """Log in once over a blocking socket (protocol v4: STARTUP, PLAIN SASL); None on success, else why not.

    Test tooling only (blocking): the launcher uses it to return from ``start(auth=True)`` only once the
    default superuser exists.
    """
    import ssl

    from aiocql.protocol.decoder import FrameDecoder
    from aiocql.protocol.envelope import encode_envelope
    from aiocql.protocol.requests import AuthResponse, Startup, encode_request
    from aiocql.protocol.responses import Authenticate, AuthSuccess, ErrorResponse, Ready, decode_response

    try:
        with socket.create_connection((address, port), timeout=5.0) as raw:
            sock: socket.socket = raw
            if ca_file is not None:
                sock = ssl.create_default_context(cafile=ca_file).wrap_socket(raw, server_hostname=address)
            decoder = FrameDecoder()

            def ask(message: object) -> object:
                opcode, body = encode_request(message, 4)  # type: ignore[arg-type]
                sock.sendall(encode_envelope(4, 0, 0, opcode, body))
                while True:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("connection closed by the server")
                    envelopes = decoder.feed(data)
                    if envelopes:
                        return decode_response(envelopes[0], 4)

            reply = ask(Startup({"CQL_VERSION": "3.0.0"}))
            if isinstance(reply, Ready):
                return None  # no authentication: nothing to wait for
            if not isinstance(reply, Authenticate):
                return f"unexpected reply to STARTUP: {type(reply).__name__}"
            reply = ask(AuthResponse(b"\0" + user.encode() + b"\0" + password.encode()))
            if isinstance(reply, AuthSuccess):
                return None
            if isinstance(reply, ErrorResponse):
                return f"{type(reply.error).__name__}: {reply.error}"
            return f"unexpected reply to AUTH_RESPONSE: {type(reply).__name__}"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a ProtocolError from a half-started node: keep waiting
        return f"{type(exc).__name__}: {exc}"


def _pid_is_node(pid: int, node_dir: str) -> bool:
    """True when ``pid`` still runs the CassandraDaemon of ``node_dir`` (guards against reused pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"org.apache.cassandra.service.CassandraDaemon" in cmdline and any(
        arg == f"-Daiocql.node_dir={node_dir}".encode() for arg in cmdline
    )


class LocalCluster:
    """A local Cassandra cluster of ``nodes`` nodes on 127.0.0.1..N.

    ``benchmark=True`` leaves out the unsafe durability shortcuts used for tests. ``auth=True`` turns on
    PasswordAuthenticator (user ``cassandra``/``cassandra``); ``tls=True`` requires client TLS and writes
    a CA file for clients (:attr:`ca_file`).

    Example:
        >>> with LocalCluster(nodes=1) as cluster:  # doctest: +SKIP
        ...     print(cluster.contact_points)
        ['127.0.0.1']
    """

    def __init__(
        self,
        nodes: int = 1,
        *,
        name: str | None = None,
        auth: bool = False,
        tls: bool = False,
        benchmark: bool = False,
        heap: str | None = None,
        version: str | None = None,
        base: int | None = None,
        dcs: int = 1,
    ) -> None:
        if not 1 <= nodes <= 9:
            raise LauncherError(f"nodes must be between 1 and 9, not {nodes}")
        if not 1 <= dcs <= nodes:
            raise LauncherError(f"dcs must be between 1 and the number of nodes ({nodes}), not {dcs}")
        self.nodes = nodes
        self.dcs = dcs
        # AIOCQL_NODE_BASE moves every local cluster to 127.0.0.<base>.. so that two people (or a
        # benchmark and a test run) can each run their own server on one machine.
        self.base = base if base is not None else int(os.environ.get("AIOCQL_NODE_BASE", "1"))
        if not 1 <= self.base <= 250 - nodes:
            raise LauncherError(f"node base must be between 1 and {250 - nodes}, not {self.base}")
        self.name = name or ("bench" if benchmark else f"test{nodes}") + ("_auth" if auth else "") + (
            "_tls" if tls else ""
        ) + (f"_{dcs}dc" if dcs > 1 else "")
        if self.base != 1:
            self.name += f"_at{self.base}"
        self.auth, self.tls, self.benchmark = auth, tls, benchmark
        self.heap = heap or ("1G" if benchmark else "512M")
        self.version = version
        self.root = cache_dir() / "clusters" / self.name
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self.state: ClusterState | None = self._load_state()

    # -- state file -------------------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.root / "state.json"

    def _load_state(self) -> ClusterState | None:
        try:
            raw = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        nodes = [NodeState(**n) for n in raw.pop("nodes", [])]
        return ClusterState(nodes=nodes, **raw)

    def _save_state(self) -> None:
        assert self.state is not None
        self.root.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(json.dumps(asdict(self.state), indent=2))

    # -- public API -------------------------------------------------------------------------------
    @property
    def contact_points(self) -> list[str]:
        """The nodes' addresses (where they are now, if a node was moved)."""
        moved = {n.index: n.address for n in self.state.nodes} if self.state else {}
        return [moved.get(i + 1, f"127.0.0.{self.base + i}") for i in range(self.nodes)]

    @property
    def ca_file(self) -> str | None:
        """The PEM file clients trust when TLS is on."""
        return self.state.ca_file if self.state else None

    def running(self) -> bool:
        """True when every node recorded in the state file still runs."""
        if not self.state or not self.state.nodes:
            return False
        return all(n.pid is not None and _pid_is_node(n.pid, n.node_dir) for n in self.state.nodes)

    def start(self, timeout: float = 300.0, *, fresh: bool = True) -> ClusterState:
        """Fetch Cassandra if needed, write fresh node folders, start the nodes and wait for CQL.

        Node 1 (the seed) starts first; the others start together once it accepts CQL. Returns the
        recorded state. Raises :class:`LauncherError` (with the node log's tail) on any failure, after
        stopping whatever it started.
        """
        if self.running():
            assert self.state is not None
            return self.state
        if shutil.which("java") is None:
            raise LauncherError("no 'java' on PATH: Cassandra 5.0 needs a Java 17 runtime")
        began = time.monotonic()
        dist = fetch(self.version)
        addresses = [f"127.0.0.{self.base + i}" for i in range(self.nodes)]  # where a fresh start puts them
        for address in addresses:
            if _port_open(address, CQL_PORT):
                raise LauncherError(
                    f"port {CQL_PORT} on {address} is taken by another process (another Cassandra? "
                    "`python -m aiocql.testing status`, or set AIOCQL_CONTACT_POINTS to use it)"
                )
        if fresh:
            shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        ca_file = str(make_tls_material(self.root / "tls", addresses)) if self.tls else None
        self.state = ClusterState(
            name=self.name, version=dist.version, auth=self.auth, tls=self.tls, benchmark=self.benchmark,
            ca_file=ca_file, dcs=self.dcs,
        )  # fmt: skip
        try:
            first, *rest = range(1, self.nodes + 1)
            self._launch(dist, first)
            self._save_state()
            self._wait_ready([first], began + timeout)
            for index in rest:
                self._launch(dist, index)
            self._save_state()
            self._wait_ready(rest, began + timeout)
            if self.nodes > 1:
                self._wait_gossip(began + timeout)
            if self.auth:
                # CQL is up a moment before the default superuser exists: return only once it can log in.
                self._wait_superuser(began + timeout)
        except BaseException:
            self.stop()
            raise
        self.state.startup_seconds = round(time.monotonic() - began, 1)
        self._save_state()
        return self.state

    def stop(self, grace: float = 30.0) -> None:
        """Stop every node by pid: SIGTERM, then SIGKILL after ``grace`` seconds. Harmless when stopped."""
        if not self.state:
            return
        deadline = time.monotonic() + grace
        live = [n for n in self.state.nodes if n.pid is not None and _pid_is_node(n.pid, n.node_dir)]
        for node in live:
            assert node.pid is not None
            os.kill(node.pid, signal.SIGTERM)
        for node in live:
            assert node.pid is not None
            while _pid_is_node(node.pid, node.node_dir) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _pid_is_node(node.pid, node.node_dir):
                os.kill(node.pid, signal.SIGKILL)
            self._reap(node.pid)
        for node in self.state.nodes:
            node.pid = None
        self._save_state()

    def stop_node(self, index: int, grace: float = 30.0) -> None:
        """Stop one node (for failover tests); :meth:`start_node` starts it again with its data."""
        node = self._node(index)
        if node.pid is not None and _pid_is_node(node.pid, node.node_dir):
            os.kill(node.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _pid_is_node(node.pid, node.node_dir) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _pid_is_node(node.pid, node.node_dir):
                os.kill(node.pid, signal.SIGKILL)
            self._reap(node.pid)
        node.pid = None
        self._save_state()

    def start_node(self, index: int, timeout: float = 300.0) -> None:
        """Start one stopped node again (keeping its data) and wait until it accepts CQL."""
        self._launch(fetch(self.state.version if self.state else self.version), index, rewrite=False)
        self._save_state()
        self._wait_ready([index], time.monotonic() + timeout)

    def move_node(self, index: int, address: str, timeout: float = 300.0) -> None:
        """Stop one node and start it again on another loopback ``address`` with the same data (so the
        same host id): what a pod rescheduled with its volume looks like. Not for the seed (node 1)."""
        if index == 1:
            raise LauncherError("node 1 is the seed: move another node")
        if _port_open(address, CQL_PORT):
            raise LauncherError(f"port {CQL_PORT} on {address} is taken by another process")
        self.stop_node(index)
        old = self._node(index)
        self._launch(fetch(self.state.version if self.state else self.version), index, address=address,
                     keep_data=True)  # fmt: skip
        self._save_state()
        self._wait_ready([index], time.monotonic() + timeout)
        self._wait_seen(index, old.address, time.monotonic() + timeout)

    def replace_node(self, index: int, timeout: float = 300.0) -> None:
        """Replace one node by a new, empty node at the same address and with the same token, so with a
        new host id: the old node is stopped and removed from gossip (``nodetool assassinate``, no
        streaming: test data only), then a fresh node starts there.

        (``replace_address_first_boot`` at the same address is not used: Cassandra 5.0 then keeps the old
        host id, which makes it the same node to a client.)
        """
        if index == 1:
            raise LauncherError("node 1 is the seed: replace another node")
        node = self._node(index)
        self.stop_node(index)
        self.nodetool(1, "assassinate", node.address)
        shutil.rmtree(Path(node.node_dir) / "data", ignore_errors=True)
        (Path(node.node_dir) / "logs" / "system.log").unlink(missing_ok=True)  # wait for this start's lines
        self._launch(fetch(self.state.version if self.state else self.version), index, keep_data=True)
        self._save_state()
        self._wait_ready([index], time.monotonic() + timeout)

    def _wait_seen(self, index: int, old_address: str, deadline: float) -> None:
        """Wait until the other nodes' logs show node ``index`` up at its (new) address."""
        assert self.state is not None
        address = self._node(index).address
        others = [n for n in self.state.nodes if n.index != index and n.pid is not None]
        while True:
            texts = [(Path(n.node_dir) / "logs" / "system.log").read_text(errors="replace") for n in others]
            if all(f"/{address}:7000 is now UP" in t for t in texts):
                return
            if time.monotonic() > deadline:
                raise LauncherError(f"the others did not see node {index} at {address} (was {old_address}) in time")
            time.sleep(0.25)

    def logs(self, index: int = 1, lines: int = 40) -> str:
        """The tail of one node's logs."""
        return _log_tail(self.root / f"node{index}", lines)

    def nodetool(self, index: int, *args: str) -> str:
        """Run ``nodetool`` against one node over its local JMX port and return its output."""
        dist = fetch(self.state.version if self.state else self.version)
        node = self._node(index)
        jpms = [opt for opt in JVM17_OPTIONS if opt.startswith("--add-")]
        quiet = self.root / "logback-tools.xml"
        quiet.write_text(LOGBACK_TOOLS_XML)
        cmd = [
            "java", *jpms, f"-Dlogback.configurationFile=file://{quiet}", "-cp", dist.classpath,
            "org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p", str(node.jmx_port), *args,
        ]  # fmt: skip
        result = run_tool(cmd, timeout=120)
        if result.returncode != 0:
            raise LauncherError(f"nodetool {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------------
    def _node(self, index: int) -> NodeState:
        if not self.state:
            raise LauncherError(f"cluster {self.name!r} was never started")
        for node in self.state.nodes:
            if node.index == index:
                return node
        raise LauncherError(f"cluster {self.name!r} has no node {index}")

    def _launch(
        self, dist: Distribution, index: int, *, rewrite: bool = True, address: str | None = None,
        keep_data: bool = False,
    ) -> None:  # fmt: skip
        assert self.state is not None
        if address is None and not rewrite:  # a restart keeps the address the node was moved to
            with contextlib.suppress(LauncherError):
                recorded = self._node(index).address
                if recorded != f"127.0.0.{self.base + index - 1}":
                    address = recorded
        opts = NodeOptions(
            index=index, base=self.base, nodes=self.nodes, auth=self.auth, tls=self.tls, benchmark=self.benchmark,
            heap=self.heap, cluster_name=f"aiocql_{self.name}", dcs=self.dcs, address_override=address,
        )  # fmt: skip
        node_dir = self.root / f"node{index}"
        if rewrite or keep_data:
            for sub in ("conf", "logs", "data"):
                (node_dir / sub).mkdir(parents=True, exist_ok=True)
            (node_dir / "conf" / "cassandra.yaml").write_text(cassandra_yaml(opts, node_dir))
            (node_dir / "conf" / "logback.xml").write_text(LOGBACK_XML)
            (node_dir / "conf" / "cassandra-rackdc.properties").write_text(rackdc_properties(opts))
        cmd = jvm_command(opts, node_dir, dist.classpath, dist.jar("jamm-"))
        with open(node_dir / "logs" / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self._procs[index] = proc
        existing = [n for n in self.state.nodes if n.index != index]
        node = NodeState(index, opts.address, opts.jmx_port, str(node_dir), proc.pid)
        self.state.nodes = sorted([*existing, node], key=lambda n: n.index)

    def _wait_ready(self, indexes: list[int], deadline: float) -> None:
        pending = {self._node(i).index for i in indexes}
        while pending:
            for index in sorted(pending):
                node = self._node(index)
                node_dir = Path(node.node_dir)
                if not self._alive(node):
                    tail = _log_tail(node_dir)
                    raise LauncherError(f"node {index} ({node.address}) died during start-up\n{tail}")
                log = node_dir / "logs" / "system.log"
                ready = log.exists() and READY_LINE in log.read_text(errors="replace")
                if ready and _port_open(node.address, CQL_PORT):
                    pending.discard(index)
            if pending and time.monotonic() > deadline:
                first = self._node(min(pending))
                raise LauncherError(
                    f"node {first.index} ({first.address}) did not accept CQL in time\n"
                    f"{_log_tail(Path(first.node_dir))}"
                )
            if pending:
                time.sleep(0.25)

    def _wait_gossip(self, deadline: float) -> None:
        """Wait until every node's log says each other node is up (so system.peers_v2 is filled)."""
        assert self.state is not None
        addresses = [n.address for n in self.state.nodes]
        while True:
            missing = []
            for node in self.state.nodes:
                text = (Path(node.node_dir) / "logs" / "system.log").read_text(errors="replace")
                missing += [
                    f"{node.address} sees {peer}"
                    for peer in addresses
                    if peer != node.address and f"/{peer}:7000 is now UP" not in text
                ]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise LauncherError("nodes did not see each other in time: " + ", ".join(missing))
            time.sleep(0.25)

    def _wait_superuser(self, deadline: float) -> None:
        """Wait until ``cassandra``/``cassandra`` can log in on every node (PasswordAuthenticator)."""
        assert self.state is not None
        for node in self.state.nodes:
            while True:
                error = superuser_login_error(node.address, CQL_PORT, self.ca_file)
                if error is None:
                    break
                if not self._alive(node):
                    raise LauncherError(f"node {node.index} ({node.address}) died during start-up\n"
                                        f"{_log_tail(Path(node.node_dir))}")  # fmt: skip
                if time.monotonic() > deadline:
                    raise LauncherError(f"the superuser cannot log in on {node.address} in time: {error}")
                time.sleep(0.25)

    def _alive(self, node: NodeState) -> bool:
        # While starting, trust our own child handle: /proc can be briefly unreadable around exec.
        proc = self._procs.get(node.index)
        if proc is not None:
            return proc.poll() is None
        return node.pid is not None and _pid_is_node(node.pid, node.node_dir)

    @staticmethod
    def _reap(pid: int) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
