"""``python -m aiocql.testing start|stop|status|logs``: manage a local Cassandra for tests and demos.

Example:
    $ python -m aiocql.testing start --nodes 3
    $ python -m aiocql.testing status --nodes 3
    $ python -m aiocql.testing stop --nodes 3
"""

from __future__ import annotations

import argparse
import sys

from aiocql.testing.distribution import LauncherError
from aiocql.testing.launcher import LocalCluster


def main(argv: list[str] | None = None) -> int:
    """Run the launcher command line; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m aiocql.testing", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "logs", "fetch"])
    parser.add_argument("--nodes", type=int, default=1, help="number of nodes on 127.0.0.1..N (default 1)")
    parser.add_argument("--dcs", type=int, default=1, help="datacenters (dc1, dc2, ...; GossipingPropertyFileSnitch)")
    parser.add_argument("--auth", action="store_true", help="PasswordAuthenticator (cassandra/cassandra)")
    parser.add_argument("--tls", action="store_true", help="require client TLS; prints the CA file")
    parser.add_argument("--benchmark", action="store_true", help="no unsafe test shortcuts, bigger heap")
    parser.add_argument("--timeout", type=float, default=300.0, help="start-up timeout in seconds")
    parser.add_argument("--node", type=int, default=1, help="node for 'logs'")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.nodes, auth=args.auth, tls=args.tls, benchmark=args.benchmark, dcs=args.dcs)
    try:
        if args.command == "fetch":
            from aiocql.testing.distribution import fetch

            dist = fetch()
            print(f"Cassandra {dist.version}: {dist.lib_dir}")
        elif args.command == "start":
            state = cluster.start(timeout=args.timeout)
            print(f"Cassandra {state.version} up on {', '.join(cluster.contact_points)} "
                  f"in {state.startup_seconds}s (cluster {state.name!r})")  # fmt: skip
            if state.ca_file:
                print(f"CA file for clients: {state.ca_file}")
        elif args.command == "stop":
            cluster.stop()
            print(f"stopped cluster {cluster.name!r}")
        elif args.command == "status":
            recorded = cluster.state
            if not recorded:
                print(f"cluster {cluster.name!r}: never started")
                return 1
            up = cluster.running()
            print(f"cluster {cluster.name!r} ({recorded.version}): {'running' if up else 'stopped'}")
            for node in recorded.nodes:
                print(f"  node{node.index} {node.address} pid={node.pid} jmx={node.jmx_port} {node.node_dir}")
            return 0 if up else 1
        elif args.command == "logs":
            print(cluster.logs(args.node, lines=80))
    except LauncherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
