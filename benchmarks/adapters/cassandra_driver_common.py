"""What the cassandra-driver adapters (and async-cassandra's) share: settings, binding, checking rows, info.

Settings, the same for every style: token-aware DC-aware round robin, LOCAL_ONE, ``compression`` exactly as
the run says (cassandra-driver would otherwise negotiate LZ4 whenever the lz4 package is installed), the
protocol version negotiated unless the run pins v4, and the row factory of the variant: ``tuple_factory``
for the headline clients (the adapters read rows by position), the driver's default
``named_tuple_factory`` for the labelled ``-named`` variant.
"""

from __future__ import annotations

from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement, Statement, named_tuple_factory, tuple_factory

from benchmarks import workloads as w

ROW_FACTORIES = {"tuple": tuple_factory, "named_tuple": named_tuple_factory, "default": named_tuple_factory}


def cluster_kwargs(conf: w.Conf) -> dict[str, Any]:
    """The ``Cluster(...)`` settings every cassandra-driver based client uses for ``conf``."""
    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
        consistency_level=ConsistencyLevel.LOCAL_ONE,
        row_factory=ROW_FACTORIES[conf.row_factory],
    )
    kwargs: dict[str, Any] = {
        "execution_profiles": {EXEC_PROFILE_DEFAULT: profile},
        "compression": "lz4" if conf.compression else False,
    }
    if conf.protocol is not None:
        kwargs["protocol_version"] = conf.protocol
    return kwargs


def driver_info(cluster: Cluster, session: Session) -> dict[str, Any]:
    """What the driver negotiated, read from its own objects (its open connections)."""
    import cassandra

    conns = []
    for pool in list(session._pools.values()):
        conn = getattr(pool, "_connection", None)
        conns += [conn] if conn is not None else list(getattr(pool, "_connections", {}).values())
    control = getattr(cluster.control_connection, "_connection", None)
    compressions = sorted({"lz4" if c.compressor is not None else "none" for c in conns})
    profile = cluster.profile_manager.default
    return {
        "version": cassandra.__version__,
        "protocol": cluster.protocol_version,
        "connection_protocols": sorted({c.protocol_version for c in conns}),
        "compression": compressions[0] if len(compressions) == 1 else compressions,
        "row_factory": profile.row_factory.__name__,
        "connections": len(conns) + (1 if control is not None else 0),
        "reactor": cluster.connection_class.__name__,
    }


class Common:
    """A connected cassandra-driver session with the workload's statement prepared."""

    cluster: Cluster
    session: Session
    ps: PreparedStatement

    def connect(self, conf: w.Conf) -> None:
        self.conf = conf
        self.cell = w.CellParams(0, "")
        self.cluster = Cluster(list(conf.hosts), **cluster_kwargs(conf))
        self.session = self.cluster.connect(conf.keyspace)
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        self.ps = self.session.prepare(cql)

    def statement(self, i: int) -> Statement:
        """The request number ``i`` of the cell's workload."""
        return statement(self.conf, self.ps, self.cell, i)

    def scan_statement(self) -> Statement:
        bound = self.ps.bind(())
        bound.fetch_size = self.conf.page_size
        return bound

    def check(self, i: int, rows: Any) -> None:
        check(self.conf, i, rows)

    def shutdown(self) -> None:
        self.cluster.shutdown()

    def info(self) -> dict[str, Any]:
        return driver_info(self.cluster, self.session)


def statement(conf: w.Conf, ps: PreparedStatement, cell: w.CellParams, i: int) -> Statement:
    """The request number ``i`` of the cell's workload."""
    workload = conf.workload
    if workload in (w.POINT_READ, w.WIDE_READ):
        return ps.bind((w.read_key(i),))
    if workload == w.INSERT:
        k = w.write_key(cell, i)
        return ps.bind((k, w.write_value(cell.tag, k)))
    if workload == w.BATCH:
        p, tag = w.write_key(cell, i), cell.tag
        batch = BatchStatement(BatchType.UNLOGGED)
        for c in range(w.BATCH_SIZE):
            batch.add(ps, (p, c, w.batch_value(tag, p, c)))
        return batch
    raise ValueError(workload)


def check(conf: w.Conf, i: int, rows: Any) -> None:
    """``rows``: the result's first page (a list of rows) or a ResultSet; rows are read by position."""
    workload = conf.workload
    if workload == w.POINT_READ:
        k = w.read_key(i)
        if not rows:
            raise w.CheckFailed(f"point read {k}: no row")
        row = rows[0]
        w.check_point_row(k, row[0], row[1])
    elif workload == w.WIDE_READ:
        k = w.read_key(i)
        if not rows:
            raise w.CheckFailed(f"wide read {k}: no row")
        w.check_wide_row(k, rows[0])
