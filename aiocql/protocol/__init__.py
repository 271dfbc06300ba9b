"""The sans-I/O core of the native protocol: bytes in, messages out; no asyncio, socket or ssl.

Modules (imported directly; this package imports nothing so that ``aiocql.types`` can use
:mod:`aiocql.protocol.unset` without a cycle):

* :mod:`~aiocql.protocol.constants` spec constants as enums;
* :mod:`~aiocql.protocol.primitives` wire readers/writers; :mod:`~aiocql.protocol.unset` UNSET;
* :mod:`~aiocql.protocol.envelope`, :mod:`~aiocql.protocol.frames`, :mod:`~aiocql.protocol.decoder`
  envelopes, v5 frames (:mod:`~aiocql.protocol.crc`, :mod:`~aiocql.protocol.compression`) and the
  incremental :class:`~aiocql.protocol.decoder.FrameDecoder`;
* :mod:`~aiocql.protocol.requests` request messages; :mod:`~aiocql.protocol.responses`
  (:mod:`~aiocql.protocol.results`, :mod:`~aiocql.protocol.events`,
  :mod:`~aiocql.protocol.error_codec`) response decoding;
* :mod:`~aiocql.protocol.streams` stream ids with orphans.
"""
