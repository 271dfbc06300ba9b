"""CPU time per request of prepared point reads against a real node (the cost of the driver's hot path).

Runs ``--requests`` prepared point reads (``SELECT v FROM t WHERE k = ?``) with ``--concurrency`` in
flight on one session and prints the process CPU time (``time.process_time()``) per request, best of
``--rounds``. Used to check that option validation costs next to nothing per call.

    python3 scripts/cpu_per_request.py --host 127.0.0.1 --requests 20000

``--calls`` adds one round under cProfile and prints the Python function calls per request (a count
that, unlike CPU time on a shared machine, does not move with the load) and the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

from aiocql import Cluster


async def main(args: argparse.Namespace) -> None:
    async with Cluster([args.host], protocol_version=args.version) as cluster:
        session = await cluster.connect()
        await session.execute(
            "CREATE KEYSPACE IF NOT EXISTS cpu_bench WITH replication = {'class': 'SimpleStrategy', "
            "'replication_factor': 1}"
        )
        await session.execute("CREATE TABLE IF NOT EXISTS cpu_bench.t (k int PRIMARY KEY, v text)")
        insert = await session.prepare("INSERT INTO cpu_bench.t (k, v) VALUES (?, ?)")
        for k in range(100):
            await session.execute(insert, (k, f"value-{k}"))
        select = await session.prepare("SELECT v FROM cpu_bench.t WHERE k = ?")

        async def worker(start: int) -> None:
            for i in range(start, args.requests, args.concurrency):
                await session.execute(select, (i % 100,))

        await asyncio.gather(*(worker(i) for i in range(args.concurrency)))  # warm-up
        best = float("inf")
        for _ in range(args.rounds):
            cpu = time.process_time()
            await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
            best = min(best, time.process_time() - cpu)
        print(
            f"v{args.version}: {args.requests} prepared point reads, concurrency {args.concurrency}: "
            f"{best * 1e6 / args.requests:.1f} us CPU per request (best of {args.rounds})"
        )
        if args.calls:
            profile = cProfile.Profile()
            profile.enable()
            await asyncio.gather(*(worker(i) for i in range(args.concurrency)))
            profile.disable()
            stats = pstats.Stats(profile)
            calls = sum(nc for _, nc, _, _, _ in stats.stats.values())  # type: ignore[attr-defined]
            print(f"{calls / args.requests:.1f} Python function calls per request (cProfile, one round)")
            stats.sort_stats("tottime").print_stats(args.calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--version", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=0, metavar="N", help="profile one round; show the top N")
    asyncio.run(main(parser.parse_args()))
