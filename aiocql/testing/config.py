"""Configuration files and JVM options for a local Cassandra node.

The launcher writes its own ``cassandra.yaml`` (only the keys that differ from Cassandra 5.0's
built-in defaults), ``logback.xml`` and TLS keystore; nothing is taken from a tarball.

Example:
    >>> opts = NodeOptions(index=2, nodes=3)
    >>> opts.address, opts.jmx_port
    ('127.0.0.2', 7302)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Balanced single tokens for up to three nodes (Murmur3 ring split in three); one node owns token 0.
THREE_NODE_TOKENS = (-9223372036854775808, -3074457345618258603, 3074457345618258602)
KEYSTORE_PASSWORD = "aiocql-test"

#: JVM options from Cassandra 5.0's conf/jvm17-server.options (G1 and the JPMS exports/opens it needs).
JVM17_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1HeapRegionSize=16m",
    "-XX:G1RSetUpdatingPauseTimePercent=5",
    "-XX:MaxGCPauseMillis=300",
    "-XX:InitiatingHeapOccupancyPercent=70",
    "-Xss256k",
    "-XX:+HeapDumpOnOutOfMemoryError",
    "-XX:+CrashOnOutOfMemoryError",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
    *(
        f"--add-exports={spec}"
        for spec in (
            "java.base/jdk.internal.misc=ALL-UNNAMED",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
            "java.rmi/sun.rmi.registry=ALL-UNNAMED",
            "java.rmi/sun.rmi.server=ALL-UNNAMED",
            "java.sql/java.sql=ALL-UNNAMED",
            "java.base/java.lang.ref=ALL-UNNAMED",
            "jdk.unsupported/sun.misc=ALL-UNNAMED",
            "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
            "jdk.attach/sun.tools.attach=ALL-UNNAMED",
        )
    ),
    *(
        f"--add-opens={spec}"
        for spec in (
            "java.base/java.lang.module=ALL-UNNAMED",
            "java.base/jdk.internal.loader=ALL-UNNAMED",
            "java.base/jdk.internal.ref=ALL-UNNAMED",
            "java.base/jdk.internal.reflect=ALL-UNNAMED",
            "java.base/jdk.internal.math=ALL-UNNAMED",
            "java.base/jdk.internal.module=ALL-UNNAMED",
            "java.base/jdk.internal.util.jar=ALL-UNNAMED",
            "jdk.management/com.sun.management.internal=ALL-UNNAMED",
            "java.base/sun.nio.ch=ALL-UNNAMED",
            "java.base/java.io=ALL-UNNAMED",
            "java.base/java.lang.reflect=ALL-UNNAMED",
            "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
            "java.base/java.lang=ALL-UNNAMED",
            "java.base/java.util=ALL-UNNAMED",
        )
    ),
)

#: Start-up shortcuts that are safe for any local run.
FAST_START_OPTIONS = (
    "-Dcassandra.skip_wait_for_gossip_to_settle=0",
    "-Dcassandra.superuser_setup_delay_ms=500",
)
#: Durability shortcuts for tests only: never used in benchmark mode.
UNSAFE_TEST_OPTIONS = ("-Dcassandra.unsafesystem=true", "-Dcassandra.skip_sync=true")


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What makes one node of a local cluster different from the others, and the cluster-wide modes."""

    index: int = 1
    base: int = 1  # the first node's last address byte: nodes are 127.0.0.base .. base+nodes-1
    nodes: int = 1
    cluster_name: str = "aiocql_test"
    auth: bool = False
    tls: bool = False
    benchmark: bool = False
    heap: str = "512M"
    dcs: int = 1  # datacenters: the nodes split into dcs blocks (dc1, dc2, ...), GossipingPropertyFileSnitch
    address_override: str | None = None  # a node moved to another address (same data, same host id)

    @property
    def address(self) -> str:
        """This node's loopback address, 127.0.0.(base + index - 1) unless it was moved."""
        return self.address_override or f"127.0.0.{self.base + self.index - 1}"

    @property
    def datacenter(self) -> str:
        """``datacenter1`` in a one-DC cluster (SimpleSnitch's name); ``dc1``, ``dc2``, ... otherwise.

        Example:
            >>> [NodeOptions(index=i, nodes=2, dcs=2).datacenter for i in (1, 2)]
            ['dc1', 'dc2']
        """
        if self.dcs <= 1:
            return "datacenter1"
        return f"dc{(self.index - 1) * self.dcs // self.nodes + 1}"

    @property
    def seed(self) -> str:
        """The first node's address: the only seed."""
        return f"127.0.0.{self.base}"

    @property
    def jmx_port(self) -> int:
        """A JMX port per address (7300 + last byte): all nodes share the machine's port space."""
        return 7300 + self.base + self.index - 1

    @property
    def token(self) -> int:
        """The node's single token: 0 alone, or its share of a balanced ring."""
        if self.nodes == 1:
            return 0
        if self.nodes <= len(THREE_NODE_TOKENS):
            return THREE_NODE_TOKENS[self.index - 1]
        step = 2**64 // self.nodes
        return -(2**63) + step * (self.index - 1)


def cassandra_yaml(opts: NodeOptions, node_dir: Path) -> str:
    """The ``cassandra.yaml`` for one node (5.0 key names only)."""
    data = node_dir / "data"
    lines = [
        f"cluster_name: {opts.cluster_name}",
        "num_tokens: 1",
        f"initial_token: {opts.token}",
        "partitioner: org.apache.cassandra.dht.Murmur3Partitioner",
        f"endpoint_snitch: {'GossipingPropertyFileSnitch' if opts.dcs > 1 else 'SimpleSnitch'}",
        "commitlog_sync: periodic",
        "commitlog_sync_period: 10000ms",
        "seed_provider:",
        "  - class_name: org.apache.cassandra.locator.SimpleSeedProvider",
        "    parameters:",
        f'      - seeds: "{opts.seed}:7000"',
        f"listen_address: {opts.address}",
        f"rpc_address: {opts.address}",
        "native_transport_port: 9042",
        "storage_port: 7000",
        "start_native_transport: true",
        f"data_file_directories: [{data / 'data'}]",
        f"commitlog_directory: {data / 'commitlog'}",
        f"saved_caches_directory: {data / 'saved_caches'}",
        f"hints_directory: {data / 'hints'}",
        f"cdc_raw_directory: {data / 'cdc_raw'}",
        "auto_bootstrap: false",
        f"auto_snapshot: {'true' if opts.benchmark else 'false'}",
        # Tests run many queries that tracing and big batches would otherwise warn about or refuse.
        "batch_size_warn_threshold: 64KiB",
        "batch_size_fail_threshold: 640KiB",
        "user_defined_functions_enabled: true",
        "materialized_views_enabled: true",  # schema metadata and export tests create views
    ]
    if opts.auth:
        lines += [
            "authenticator: PasswordAuthenticator",
            "authorizer: CassandraAuthorizer",
            "role_manager: CassandraRoleManager",
        ]
    if opts.tls:
        lines += [
            "client_encryption_options:",
            "  enabled: true",
            "  optional: false",
            f"  keystore: {node_dir.parent / 'tls' / 'keystore.p12'}",
            f"  keystore_password: {KEYSTORE_PASSWORD}",
            "  store_type: PKCS12",
        ]
    return "\n".join(lines) + "\n"


LOGBACK_XML = """<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
"""

#: For nodetool: its client-side logging would otherwise print DEBUG lines into its output.
LOGBACK_TOOLS_XML = """<configuration scan="false">
  <appender name="ERR" class="ch.qos.logback.core.ConsoleAppender"><target>System.err</target>
    <encoder><pattern>%-5level %msg%n</pattern></encoder></appender>
  <root level="WARN"><appender-ref ref="ERR"/></root>
</configuration>
"""


def rackdc_properties(opts: NodeOptions) -> str:
    """``cassandra-rackdc.properties`` for GossipingPropertyFileSnitch (one rack per datacenter)."""
    return f"dc={opts.datacenter}\nrack=rack1\n"


def jvm_command(opts: NodeOptions, node_dir: Path, classpath: str, jamm_jar: Path) -> list[str]:
    """The ``java`` command line that runs one node in the foreground of its own process."""
    conf = node_dir / "conf"
    flags = [*FAST_START_OPTIONS]
    if not opts.benchmark:
        flags += UNSAFE_TEST_OPTIONS
    if opts.auth and opts.nodes > 1:
        flags.append(f"-Dcassandra.system_auth.default_rf={min(opts.nodes, 3)}")
    if opts.dcs > 1:
        flags.append(f"-Dcassandra-rackdc.properties=file://{conf / 'cassandra-rackdc.properties'}")
    return [
        "java",
        f"-Xms{opts.heap}",
        f"-Xmx{opts.heap}",
        *JVM17_OPTIONS,
        f"-javaagent:{jamm_jar}",
        f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
        f"-Dlogback.configurationFile=file://{conf / 'logback.xml'}",
        f"-Dcassandra.logdir={node_dir / 'logs'}",
        f"-Dcassandra.storagedir={node_dir / 'data'}",
        f"-Dcassandra.jmx.local.port={opts.jmx_port}",
        f"-Daiocql.node_dir={node_dir}",
        *flags,
        "-cp",
        classpath,
        "org.apache.cassandra.service.CassandraDaemon",
    ]


def make_tls_material(tls_dir: Path, addresses: list[str]) -> Path:
    """Create a self-signed PKCS12 keystore for all local node addresses; return the client CA file (PEM).

    The certificate names every node address, ``localhost`` and ``*.aiocql.test`` (names an SNI proxy routes
    on) as subject alternative names, so clients can
    keep hostname checking on.
    """
    tls_dir.mkdir(parents=True, exist_ok=True)
    keystore = tls_dir / "keystore.p12"
    ca_file = tls_dir / "ca.pem"
    if keystore.exists() and ca_file.exists():
        return ca_file
    keystore.unlink(missing_ok=True)
    sans = ",".join(f"IP:{a}" for a in addresses)
    common = ["-keystore", str(keystore), "-storepass", KEYSTORE_PASSWORD, "-storetype", "PKCS12"]
    steps = [
        [
            "keytool", "-genkeypair", "-alias", "node", "-keyalg", "RSA", "-keysize", "2048",
            "-validity", "3650", "-keypass", KEYSTORE_PASSWORD, "-dname", "CN=aiocql-test-node",
            "-ext", f"SAN={sans},DNS:localhost,DNS:*.aiocql.test", *common,
        ],
        ["keytool", "-exportcert", "-rfc", "-alias", "node", "-file", str(ca_file), *common],
    ]  # fmt: skip
    from aiocql.testing.distribution import LauncherError, run_tool

    for step in steps:
        result = run_tool(step, timeout=120)
        if result.returncode != 0:
            raise LauncherError(f"keytool failed ({' '.join(step[:2])}): {result.stderr.strip()}")
    return ca_file
