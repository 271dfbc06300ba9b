"""Constants of the CQL native protocol (v4 and v5), as enums named after the spec.

Sections of ``native_protocol_v4.spec`` / ``native_protocol_v5.spec`` are cited next to each enum.

Example:
    >>> from aiocql.protocol.constants import Consistency, Opcode
    >>> Opcode(0x07).name, int(Consistency.LOCAL_ONE)
    ('QUERY', 10)
"""

from __future__ import annotations

from enum import IntEnum, IntFlag, StrEnum

from aiocql.errors.server import ErrorCode  # generated from the one table of codes, aiocql.errors.codes

__all__ = [
    "MAX_ENVELOPE_BODY",
    "MAX_V5_PAYLOAD",
    "MIN_SUPPORTED_VERSION",
    "RESPONSE_BIT",
    "BatchType",
    "Consistency",
    "ErrorCode",
    "EventType",
    "HeaderFlag",
    "Opcode",
    "PrepareFlag",
    "ProtocolVersion",
    "QueryFlag",
    "ResultKind",
    "RowsFlag",
    "SchemaChangeTarget",
    "SchemaChangeType",
    "StatusChangeType",
    "TopologyChangeType",
]

RESPONSE_BIT = 0x80
"""Set in the envelope version byte of every response (spec 2.1)."""

MAX_ENVELOPE_BODY = 256 * 1024 * 1024
"""Largest envelope body the spec allows (256 MiB); the decoder's default limit."""

MAX_V5_PAYLOAD = 128 * 1024 - 1
"""Largest payload of one v5 frame (17-bit length field)."""

MIN_SUPPORTED_VERSION = 4
"""Oldest protocol version this driver speaks."""


class ProtocolVersion(IntEnum):
    """Native protocol versions this driver speaks. v5 is the first with outer framing."""

    V4 = 4
    V5 = 5


class Opcode(IntEnum):
    """Envelope opcodes (spec 2.4; there is no 0x04)."""

    ERROR = 0x00
    STARTUP = 0x01
    READY = 0x02
    AUTHENTICATE = 0x03
    OPTIONS = 0x05
    SUPPORTED = 0x06
    QUERY = 0x07
    RESULT = 0x08
    PREPARE = 0x09
    EXECUTE = 0x0A
    REGISTER = 0x0B
    EVENT = 0x0C
    BATCH = 0x0D
    AUTH_CHALLENGE = 0x0E
    AUTH_RESPONSE = 0x0F
    AUTH_SUCCESS = 0x10


class HeaderFlag(IntFlag):
    """Envelope header flags (spec 2.2 / v5 2.4.1.2)."""

    COMPRESSION = 0x01
    """v4: the body is compressed. Deprecated and ignored in v5 (frames carry compression)."""
    TRACING = 0x02
    CUSTOM_PAYLOAD = 0x04
    WARNING = 0x08
    USE_BETA = 0x10
    """v5: the client opts in to a protocol version the server marks as beta."""


class Consistency(IntEnum):
    """[consistency] levels (spec 3)."""

    ANY = 0x0000
    ONE = 0x0001
    TWO = 0x0002
    THREE = 0x0003
    QUORUM = 0x0004
    ALL = 0x0005
    LOCAL_QUORUM = 0x0006
    EACH_QUORUM = 0x0007
    SERIAL = 0x0008
    LOCAL_SERIAL = 0x0009
    LOCAL_ONE = 0x000A

    def __str__(self) -> str:
        """The level's name, as cassandra-driver prints it: ``str(Consistency.QUORUM) == 'QUORUM'``."""
        return self.name

    def __format__(self, spec: str) -> str:
        return self.name if not spec else format(int(self), spec)


class QueryFlag(IntFlag):
    """<flags> of QUERY / EXECUTE / BATCH parameters (spec 4.1.4, 4.1.7).

    The masks are the same in v4 and v5, but the field is a [byte] in v4 and an [int] in v5.
    WITH_KEYSPACE and WITH_NOW_IN_SECONDS exist only in v5.
    """

    VALUES = 0x0001
    SKIP_METADATA = 0x0002
    PAGE_SIZE = 0x0004
    WITH_PAGING_STATE = 0x0008
    WITH_SERIAL_CONSISTENCY = 0x0010
    WITH_DEFAULT_TIMESTAMP = 0x0020
    WITH_NAMES_FOR_VALUES = 0x0040
    WITH_KEYSPACE = 0x0080
    WITH_NOW_IN_SECONDS = 0x0100


class PrepareFlag(IntFlag):
    """<flags> of a v5 PREPARE (spec v5 4.1.5)."""

    WITH_KEYSPACE = 0x01


class BatchType(IntEnum):
    """<type> of a BATCH (spec 4.1.7)."""

    LOGGED = 0
    UNLOGGED = 1
    COUNTER = 2


class ResultKind(IntEnum):
    """<kind> of a RESULT (spec 4.2.5)."""

    VOID = 0x0001
    ROWS = 0x0002
    SET_KEYSPACE = 0x0003
    PREPARED = 0x0004
    SCHEMA_CHANGE = 0x0005


class RowsFlag(IntFlag):
    """<flags> of result metadata (spec 4.2.5.2; METADATA_CHANGED is v5 only).

    CONTINUOUS_PAGING and LAST_CONTINUOUS_PAGE are DataStax Enterprise extensions; they are named
    here so that they print readably, but their extra fields are not parsed (Cassandra never sets them).
    """

    GLOBAL_TABLES_SPEC = 0x0001
    HAS_MORE_PAGES = 0x0002
    NO_METADATA = 0x0004
    METADATA_CHANGED = 0x0008
    CONTINUOUS_PAGING = 0x40000000
    LAST_CONTINUOUS_PAGE = 0x80000000


class EventType(StrEnum):
    """Event types for REGISTER and EVENT (spec 4.2.6)."""

    TOPOLOGY_CHANGE = "TOPOLOGY_CHANGE"
    STATUS_CHANGE = "STATUS_CHANGE"
    SCHEMA_CHANGE = "SCHEMA_CHANGE"


class TopologyChangeType(StrEnum):
    """<change> of a TOPOLOGY_CHANGE event. MOVED_NODE is still sent by some servers."""

    NEW_NODE = "NEW_NODE"
    REMOVED_NODE = "REMOVED_NODE"
    MOVED_NODE = "MOVED_NODE"


class StatusChangeType(StrEnum):
    """<change> of a STATUS_CHANGE event."""

    UP = "UP"
    DOWN = "DOWN"


class SchemaChangeType(StrEnum):
    """<change_type> of a SCHEMA_CHANGE event or result."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DROPPED = "DROPPED"


class SchemaChangeTarget(StrEnum):
    """<target> of a SCHEMA_CHANGE event or result."""

    KEYSPACE = "KEYSPACE"
    TABLE = "TABLE"
    TYPE = "TYPE"
    FUNCTION = "FUNCTION"
    AGGREGATE = "AGGREGATE"
