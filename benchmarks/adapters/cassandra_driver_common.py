"""What the three cassandra-driver adapters share: connecting, preparing, binding, checking rows."""

from __future__ import annotations

from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster, Session
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
from cassandra.query import BatchStatement, BatchType, PreparedStatement, Statement

from benchmarks import workloads as w


class Common:
    """A connected cassandra-driver session with the workload's statement prepared."""

    cluster: Cluster
    session: Session
    ps: PreparedStatement

    def connect(self, conf: w.Conf) -> None:
        self.conf = conf
        self.cell = w.CellParams(0, "")
        policy = TokenAwarePolicy(DCAwareRoundRobinPolicy())
        self.cluster = Cluster(list(conf.hosts), load_balancing_policy=policy)
        self.session = self.cluster.connect(conf.keyspace)
        self.session.default_consistency_level = ConsistencyLevel.LOCAL_ONE
        cql = w.scan_cql(conf.scan_rows) if conf.workload == w.SCAN else w.CQL[conf.workload]
        self.ps = self.session.prepare(cql)

    def statement(self, i: int) -> Statement:
        """The request number ``i`` of the cell's workload."""
        workload = self.conf.workload
        if workload in (w.POINT_READ, w.WIDE_READ):
            return self.ps.bind((w.read_key(i),))
        if workload == w.INSERT:
            k = w.write_key(self.cell, i)
            return self.ps.bind((k, w.write_value(self.cell.tag, k)))
        if workload == w.BATCH:
            p, tag = w.write_key(self.cell, i), self.cell.tag
            batch = BatchStatement(BatchType.UNLOGGED)
            for c in range(w.BATCH_SIZE):
                batch.add(self.ps, (p, c, w.batch_value(tag, p, c)))
            return batch
        raise ValueError(workload)

    def scan_statement(self) -> Statement:
        bound = self.ps.bind(())
        bound.fetch_size = self.conf.page_size
        return bound

    def check(self, i: int, rows: Any) -> None:
        """``rows``: the result's first page (a list of named tuples) or a ResultSet."""
        workload = self.conf.workload
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

    def shutdown(self) -> None:
        self.cluster.shutdown()

    def info(self) -> dict[str, Any]:
        import cassandra

        reactor = self.cluster.connection_class.__name__
        return {"version": cassandra.__version__, "protocol": self.cluster.protocol_version, "reactor": reactor}
