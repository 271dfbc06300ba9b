"""aiocql: an asyncio-native client for Apache Cassandra (CQL native protocol v4 and v5).

One event loop, no threads, no blocking calls.

Example:
    >>> import asyncio
    >>> from aiocql import Cluster
    >>> async def main():
    ...     async with Cluster(["127.0.0.1"]) as cluster:
    ...         session = await cluster.connect()
    ...         return (await session.execute("SELECT release_version FROM system.local")).one()
    >>> asyncio.run(main())  # doctest: +SKIP
    Row(release_version='5.0.9')
"""

from aiocql._version import __version__
from aiocql.cluster.cluster import Cluster, HostStateListener
from aiocql.connection.auth import Authenticator, AuthProvider, PlainTextAuthProvider
from aiocql.connection.config import ConnectionConfig
from aiocql.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionClosed,
    ConnectionLost,
    ConnectTimeout,
    CqlError,
    DriverError,
    InvalidValueError,
    NoHostAvailable,
    OperationTimedOut,
    ProtocolError,
    TLSCertificateError,
    TraceUnavailable,
    UnsupportedProtocolVersion,
    UsageError,
    ValueTooLarge,
)
from aiocql.errors import ConnectionError_ as ConnectionError
from aiocql.errors.server import (
    AlreadyExists,
    CqlSyntaxError,
    InvalidPagingState,
    InvalidRequest,
    Overloaded,
    ReadFailure,
    ReadTimeout,
    ServerError,
    Unauthorized,
    Unavailable,
    Unprepared,
    WriteFailure,
    WriteTimeout,
)
from aiocql.metrics.nodes import Metrics
from aiocql.metrics.operations import AttemptInfo, OperationInfo
from aiocql.metrics.trackers import CompositeTracker, MetricsTracker, OperationTracker, RequestTracker
from aiocql.model.host import Host, HostDistance
from aiocql.model.metadata import ClusterMetadata
from aiocql.model.schema import (
    ColumnMetadata,
    IndexMetadata,
    KeyspaceMetadata,
    TableMetadata,
    UserTypeMetadata,
    ViewMetadata,
)
from aiocql.model.schema_functions import AggregateMetadata, FunctionMetadata
from aiocql.model.state import ClusterState
from aiocql.net import DnsResolver, GetaddrinfoResolver, NameResolutionError, Resolver
from aiocql.policies import (
    AddressTranslator,
    ConstantReconnectionPolicy,
    ConstantSpeculativeExecutionPolicy,
    DCAwareRoundRobinPolicy,
    DefaultRetryPolicy,
    ExponentialReconnectionPolicy,
    FallthroughRetryPolicy,
    HostFilterPolicy,
    IdentityTranslator,
    LoadBalancingPolicy,
    MappingTranslator,
    NoSpeculativeExecutionPolicy,
    ReconnectionPolicy,
    RequestInfo,
    RetryDecision,
    RetryInfo,
    RetryPolicy,
    RoundRobinPolicy,
    SpeculativeExecutionPolicy,
    TokenAwarePolicy,
)
from aiocql.pool.config import PoolConfig
from aiocql.protocol.constants import BatchType
from aiocql.protocol.constants import Consistency as ConsistencyLevel
from aiocql.results import (
    QueryTrace,
    ResultSet,
    dict_factory,
    named_tuple_factory,
    object_factory,
    tuple_factory,
)
from aiocql.scan import (
    RangePage,
    RangeProgress,
    ScanProgress,
    TableScan,
    TokenRange,
    scan_range,
    scan_table,
    token_ranges,
)
from aiocql.session.concurrent import ConcurrentResults, execute_concurrent_stream, execute_concurrent_with_args
from aiocql.session.profiles import EXEC_PROFILE_DEFAULT, ExecutionProfile
from aiocql.session.session import ExecutionResult, Session, execute_concurrent
from aiocql.session.throttle import RequestThrottled
from aiocql.statements import (
    UNSET_VALUE,
    BatchStatement,
    BoundStatement,
    PreparedStatement,
    SimpleStatement,
)
from aiocql.types.decoders import set_decimal_limit
from aiocql.types.record import Row
from aiocql.types.speedups import COMPILED as compiled
from aiocql.types.udt_classes import UdtClasses
from aiocql.types.values import Duration, UnhashedMap, UnhashedSet
from aiocql.validation import NO_PAGING

__all__ = [
    "EXEC_PROFILE_DEFAULT",
    "NO_PAGING",
    "UNSET_VALUE",
    "AddressTranslator",
    "AggregateMetadata",
    "AlreadyExists",
    "AttemptInfo",
    "AuthProvider",
    "AuthenticationError",
    "Authenticator",
    "BatchStatement",
    "BatchType",
    "BoundStatement",
    "Cluster",
    "ClusterMetadata",
    "ClusterState",
    "ColumnMetadata",
    "CompositeTracker",
    "ConcurrentResults",
    "ConfigurationError",
    "ConnectTimeout",
    "ConnectionClosed",
    "ConnectionConfig",
    "ConnectionError",
    "ConnectionLost",
    "ConsistencyLevel",
    "ConstantReconnectionPolicy",
    "ConstantSpeculativeExecutionPolicy",
    "CqlError",
    "CqlSyntaxError",
    "DCAwareRoundRobinPolicy",
    "DefaultRetryPolicy",
    "DnsResolver",
    "DriverError",
    "Duration",
    "ExecutionProfile",
    "ExecutionResult",
    "ExponentialReconnectionPolicy",
    "FallthroughRetryPolicy",
    "FunctionMetadata",
    "GetaddrinfoResolver",
    "Host",
    "HostDistance",
    "HostFilterPolicy",
    "HostStateListener",
    "IdentityTranslator",
    "IndexMetadata",
    "InvalidPagingState",
    "InvalidRequest",
    "InvalidValueError",
    "KeyspaceMetadata",
    "LoadBalancingPolicy",
    "MappingTranslator",
    "Metrics",
    "MetricsTracker",
    "NameResolutionError",
    "NoHostAvailable",
    "NoSpeculativeExecutionPolicy",
    "OperationInfo",
    "OperationTimedOut",
    "OperationTracker",
    "Overloaded",
    "PlainTextAuthProvider",
    "PoolConfig",
    "PreparedStatement",
    "ProtocolError",
    "QueryTrace",
    "RangePage",
    "RangeProgress",
    "ReadFailure",
    "ReadTimeout",
    "ReconnectionPolicy",
    "RequestInfo",
    "RequestThrottled",
    "RequestTracker",
    "Resolver",
    "ResultSet",
    "RetryDecision",
    "RetryInfo",
    "RetryPolicy",
    "RoundRobinPolicy",
    "Row",
    "ScanProgress",
    "ServerError",
    "Session",
    "SimpleStatement",
    "SpeculativeExecutionPolicy",
    "TLSCertificateError",
    "TableMetadata",
    "TableScan",
    "TokenAwarePolicy",
    "TokenRange",
    "TraceUnavailable",
    "UdtClasses",
    "Unauthorized",
    "Unavailable",
    "UnhashedMap",
    "UnhashedSet",
    "Unprepared",
    "UnsupportedProtocolVersion",
    "UsageError",
    "UserTypeMetadata",
    "ValueTooLarge",
    "ViewMetadata",
    "WriteFailure",
    "WriteTimeout",
    "__version__",
    "compiled",
    "dict_factory",
    "execute_concurrent",
    "execute_concurrent_stream",
    "execute_concurrent_with_args",
    "named_tuple_factory",
    "object_factory",
    "scan_range",
    "scan_table",
    "set_decimal_limit",
    "token_ranges",
    "tuple_factory",
]
