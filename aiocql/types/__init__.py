"""The CQL type system, with no I/O: codecs, row decoding, value types and Murmur3 tokens; the type
tree, its [option] codec and type-string parsers (defined in :mod:`aiocql.protocol`, where result
metadata needs them) are exported here too.

Example:
    >>> from aiocql.types import INT, ListType, decoder_for, encoder_for
    >>> t = ListType(INT)
    >>> decoder_for(t)(memoryview(encoder_for(t, "parameter 0")([1, 2])))
    [1, 2]
"""

from aiocql.protocol.cqltypes import (
    ASCII,
    BIGINT,
    BLOB,
    BOOLEAN,
    COUNTER,
    DATE,
    DECIMAL,
    DOUBLE,
    DURATION,
    FLOAT,
    INET,
    INT,
    SMALLINT,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMEUUID,
    TINYINT,
    UUID,
    VARCHAR,
    VARINT,
    CqlType,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UdtType,
    VectorType,
)
from aiocql.protocol.options import read_option, write_option
from aiocql.protocol.typestring import TypeStringError, parse_cql_type, parse_marshal_type
from aiocql.types.codecs import decoder_for, encoder_for
from aiocql.types.decoders import DEFAULT_DECIMAL_LIMIT, decimal_limit, set_decimal_limit
from aiocql.types.rows import RowDecoder, ValuesEncoder
from aiocql.types.token import composite_routing_key, murmur3_token, routing_key
from aiocql.types.values import EMPTY, UNSET, Date, Duration, Empty, FrozenMap, Time, UnhashedMap, UnhashedSet, Unset

__all__ = [
    "ASCII",
    "BIGINT",
    "BLOB",
    "BOOLEAN",
    "COUNTER",
    "DATE",
    "DECIMAL",
    "DEFAULT_DECIMAL_LIMIT",
    "DOUBLE",
    "DURATION",
    "EMPTY",
    "FLOAT",
    "INET",
    "INT",
    "SMALLINT",
    "TEXT",
    "TIME",
    "TIMESTAMP",
    "TIMEUUID",
    "TINYINT",
    "UNSET",
    "UUID",
    "VARCHAR",
    "VARINT",
    "CqlType",
    "CustomType",
    "Date",
    "Duration",
    "Empty",
    "FrozenMap",
    "ListType",
    "MapType",
    "NativeType",
    "RowDecoder",
    "SetType",
    "Time",
    "TupleType",
    "TypeStringError",
    "UdtType",
    "UnhashedMap",
    "UnhashedSet",
    "Unset",
    "ValuesEncoder",
    "VectorType",
    "composite_routing_key",
    "decimal_limit",
    "decoder_for",
    "encoder_for",
    "murmur3_token",
    "parse_cql_type",
    "parse_marshal_type",
    "read_option",
    "routing_key",
    "set_decimal_limit",
    "write_option",
]
