"""Encoders and decoders of CQL values, resolved once per type and reused for every value.

Python value mapping (decoding gives the first type listed; encoding accepts all listed):

============================  ==============================================================
CQL type                      Python
============================  ==============================================================
ascii, text (varchar)         ``str`` (ascii rejects non-ASCII characters on encode)
tinyint, smallint, int,       ``int``, range-checked on encode (``bool`` is rejected); int
bigint, counter, varint       subclasses and objects with ``__index__`` are accepted
float, double                 ``float`` (float is 4-byte IEEE: values are rounded to it);
                              ``int`` and other real numbers (not ``bool``) are accepted
decimal                       ``decimal.Decimal`` (finite); ``int``; ``float`` is rejected.
                              Decoding: an unscaled part over
                              :func:`~aiocql.types.decoders.set_decimal_limit` bytes (default
                              256: 616 digits) raises :class:`~aiocql.errors.ValueTooLarge`
boolean                       ``bool`` only
blob                          ``bytes``; ``bytearray`` and ``memoryview`` are accepted
uuid, timeuuid                ``uuid.UUID`` (timeuuid requires version 1 on encode)
inet                          ``ipaddress.IPv4Address`` / ``IPv6Address``; ``str`` accepted
timestamp                     timezone-aware ``datetime`` in UTC. Encode: aware ``datetime``
                              (sub-millisecond digits are floored away) or ``int``
                              milliseconds; a naive ``datetime`` is rejected. Decoding a value
                              outside years 1..9999 returns the ``int`` milliseconds instead
                              (exact, and accepted back by the encoder).
date                          ``datetime.date``; :class:`~aiocql.types.values.Date` when outside
                              years 1..9999 (both accepted on encode; ``datetime`` is rejected)
time                          :class:`~aiocql.types.values.Time` (nanoseconds; lossless);
                              encode also accepts a naive ``datetime.time`` and ``int`` ns
duration                      :class:`~aiocql.types.values.Duration`
list<T>                       ``list`` (encode: list or tuple)
set<T>                        ``set`` (encode: set, frozenset, list or tuple); when more than
                              8 of over 16 elements share a hash (hash flooding), an
                              :class:`~aiocql.types.values.UnhashedSet` instead
map<K, V>                     ``dict`` (encode: any mapping); keys flooding as for sets: an
                              :class:`~aiocql.types.values.UnhashedMap`
tuple<...>                    ``tuple`` (missing trailing components decode as ``None``)
user type                     a namedtuple class built once per UDT type (see
                              :func:`~aiocql.types.composite_decoders.udt_class`), or the class registered
                              for it (:mod:`~aiocql.types.udt_classes`); missing trailing fields
                              decode as ``None``. Encode: that class or any tuple (positional),
                              a mapping of field names, or an object with the fields as attributes
vector<T, n>                  ``list`` of exactly n elements (encode: any sized sequence)
custom types                  ``bytes``
============================  ==============================================================

Where Python needs a hashable value (elements of a set, keys of a map) containers decode to
hashable forms: list -> ``tuple``, set -> ``frozenset``, map -> :class:`~aiocql.types.values.FrozenMap`,
vector -> ``tuple``; so ``set<frozen<list<int>>>`` decodes to a set of tuples.

Null and empty: a null (length -1) never reaches a decoder; the row decoder maps it to ``None``. Inside
collections, tuples and UDTs a null element decodes to ``None``. Encoders reject ``None`` inside
lists, sets, maps and vectors (Cassandra refuses them) but write it as a null tuple component or
UDT field. A zero-length value of any type other than ascii, text, blob, custom types, tuples and
UDTs decodes to :data:`~aiocql.types.values.EMPTY` (cassandra-driver returns ``None``, which hides
the difference from null); every encoder turns ``EMPTY`` back into zero bytes. A zero-length tuple
or UDT is one whose fields are all missing: every field decodes as ``None``.

Example:
    >>> from aiocql.protocol.cqltypes import INT, TEXT, ListType, MapType
    >>> encode = encoder_for(MapType(TEXT, ListType(INT)), "column 'm'")
    >>> data = encode({"a": [1, 2]})
    >>> decoder_for(MapType(TEXT, ListType(INT)))(memoryview(data))
    {'a': [1, 2]}
    >>> encoder_for(INT, "column 'age'")("x")
    Traceback (most recent call last):
    ...
    aiocql.errors.base.InvalidValueError: column 'age' (int): expected int, got str 'x'
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from aiocql.protocol.cqltypes import CqlType
from aiocql.types.composite_decoders import build_decoder
from aiocql.types.decoders import Decoder
from aiocql.types.encoders import Encoder, build_encoder

__all__ = ["Decoder", "Encoder", "decoder_for", "encoder_for"]


@functools.lru_cache(maxsize=4096)
def _decoder(t: CqlType, hashable: bool) -> Decoder:
    return build_decoder(t, hashable, _decoder)


def decoder_for(t: CqlType) -> Decoder:
    """The decoder of values of type ``t``: takes a value's bytes (no length prefix), returns it.

    The decoder accepts ``memoryview`` or ``bytes``.

    Built once per type (cached); null is the caller's business; malformed bytes raise
    :class:`~aiocql.errors.ProtocolError`.

    Example:
        >>> from aiocql.protocol.cqltypes import BIGINT
        >>> decoder_for(BIGINT)(memoryview(b"\\x00" * 7 + b"\\x2a"))
        42
    """
    return _decoder(t, False)


@functools.lru_cache(maxsize=4096)
def encoder_for(t: CqlType, label: str) -> Callable[[object], bytes]:
    """The encoder of values of type ``t``; ``label`` names the target in error messages.

    Raises :class:`~aiocql.errors.InvalidValueError` with messages such as
    ``column 'age' (int): expected int, got str 'x'``. ``None`` and ``UNSET`` are not values: the
    caller (e.g. :class:`~aiocql.types.rows.ValuesEncoder`) handles them.

    Example:
        >>> from aiocql.protocol.cqltypes import SMALLINT
        >>> encoder_for(SMALLINT, "parameter 0")(-2).hex()
        'fffe'
    """
    return build_encoder(t, label, encoder_for)
