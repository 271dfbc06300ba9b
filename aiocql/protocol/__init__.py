"""The sans-I/O core of the native protocol: bytes in, messages out; no asyncio, socket or ssl.

Modules (imported directly; this package's ``__init__`` imports nothing). The protocol layer sits
on :mod:`aiocql.errors` only; :mod:`aiocql.types` (value codecs, row decoders) builds on it.

* :mod:`~aiocql.protocol.constants` spec constants as enums;
* :mod:`~aiocql.protocol.cqltypes` the tree of CQL types that result metadata describes, read and
  written as [option]s by :mod:`~aiocql.protocol.options` and spelled as text (CQL, Java marshal
  class names) by :mod:`~aiocql.protocol.typestring`;
* :mod:`~aiocql.protocol.primitives` wire readers/writers; :mod:`~aiocql.protocol.unset` UNSET;
* :mod:`~aiocql.protocol.envelope`, :mod:`~aiocql.protocol.frames`, :mod:`~aiocql.protocol.decoder`
  envelopes, v5 frames (:mod:`~aiocql.protocol.crc`, :mod:`~aiocql.protocol.compression`) and the
  incremental :class:`~aiocql.protocol.decoder.FrameDecoder`;
* :mod:`~aiocql.protocol.requests` request messages; :mod:`~aiocql.protocol.responses`
  (:mod:`~aiocql.protocol.results`, :mod:`~aiocql.protocol.events`,
  :mod:`~aiocql.protocol.error_codec`) response decoding;
* :mod:`~aiocql.protocol.streams` stream ids with orphans.
"""
