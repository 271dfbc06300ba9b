"""Extension points, each a :class:`typing.Protocol` taking one info object, with the default policies.

Example:
    >>> from aiocql.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
    >>> policy = TokenAwarePolicy(DCAwareRoundRobinPolicy("dc1"))
    >>> policy.child.local_dc
    'dc1'
"""

from aiocql.policies.address_translation import AddressTranslator, IdentityTranslator, MappingTranslator
from aiocql.policies.load_balancing import (
    ClusterStateView,
    DCAwareRoundRobinPolicy,
    HostFilterPolicy,
    LoadBalancingPolicy,
    RoundRobinPolicy,
    TokenAwarePolicy,
    default_load_balancing_policy,
)
from aiocql.policies.reconnection import ConstantReconnectionPolicy, ExponentialReconnectionPolicy, ReconnectionPolicy
from aiocql.policies.request import RequestInfo
from aiocql.policies.retry import (
    DefaultRetryPolicy,
    FallthroughRetryPolicy,
    RetryDecision,
    RetryInfo,
    RetryPolicy,
)
from aiocql.policies.speculative import (
    ConstantSpeculativeExecutionPolicy,
    NoSpeculativeExecutionPolicy,
    SpeculativeExecutionPolicy,
)

__all__ = [
    "AddressTranslator",
    "ClusterStateView",
    "ConstantReconnectionPolicy",
    "ConstantSpeculativeExecutionPolicy",
    "DCAwareRoundRobinPolicy",
    "DefaultRetryPolicy",
    "ExponentialReconnectionPolicy",
    "FallthroughRetryPolicy",
    "HostFilterPolicy",
    "IdentityTranslator",
    "LoadBalancingPolicy",
    "MappingTranslator",
    "NoSpeculativeExecutionPolicy",
    "ReconnectionPolicy",
    "RequestInfo",
    "RetryDecision",
    "RetryInfo",
    "RetryPolicy",
    "RoundRobinPolicy",
    "SpeculativeExecutionPolicy",
    "TokenAwarePolicy",
    "default_load_balancing_policy",
]
