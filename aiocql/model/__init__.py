"""``aiocql.model``: the driver's pure values, with no I/O and no asyncio.

Hosts and their distance, replication settings, the token map, schema metadata and its CQL export, and the
immutable cluster state that ties them together. Everything here is a plain value or a pure function of values:
it can be built and tested without a server or an event loop, and every package above (policies, connection,
pool, session, cluster) may read it. This package imports only ``errors``, ``protocol`` and ``types``.

Example:
    >>> import uuid
    >>> from aiocql.model.host import Host
    >>> Host(uuid.UUID(int=1), "127.0.0.1").endpoint
    ('127.0.0.1', 9042)
"""
