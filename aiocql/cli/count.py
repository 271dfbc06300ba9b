"""``aiocql count``: a table's rows, ``count(*)`` per token range in parallel.

Example:
    $ aiocql count ks.events
"""

from __future__ import annotations

import argparse
from typing import Any

from aiocql.cli.common import (
    consistency,
    make_cluster,
    table_metadata,
)
from aiocql.cli.progress import Progress
from aiocql.results import tuple_factory
from aiocql.scan import TableScan, token_ranges

__all__ = ["count"]


async def count(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    async with make_cluster(args, row_factory=tuple_factory) as cluster:
        session = await cluster.connect()
        table = await table_metadata(session, args)
        ranges = token_ranges(session.state, table.keyspace, splits=args.splits or max(64, 4 * args.concurrency))
        scan = TableScan(session, table, ranges, selectors="count(*)", concurrency=args.concurrency,
                         consistency_level=consistency(args.consistency), timeout=args.request_timeout,
                         row_factory=tuple_factory)  # fmt: skip
        progress.start()
        total = 0
        async for page in scan.pages():
            n = sum(r[0] for r in page.rows)
            total += n
            progress.add(n, page.latency)
        return {"count": total, "ranges": len(scan.ranges)}
