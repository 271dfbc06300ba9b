#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the package with its dev extras, then pytest.
# The pytest plugin downloads Cassandra (once, into ~/.cache/aiocql), starts the servers the tests ask
# for, and stops them at the end even when tests fail.
#
# Without arguments: every test on the default asyncio loop, then every test that runs on an event
# loop (the server-free unit tests aside) again on uvloop. With arguments: one pytest run with them.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -e '.[dev]'
stop_servers() {
  # Belt and braces: if pytest itself was killed, stop whatever the launcher recorded as running.
  for args in "" "--nodes 3" "--auth" "--tls"; do
    # shellcheck disable=SC2086
    python3 -m aiocql.testing stop $args >/dev/null 2>&1 || true
  done
}
trap stop_servers EXIT
if [ "$#" -gt 0 ]; then
  python3 -m pytest "$@"
else
  python3 -m pytest
  echo "=== the same driver tests again on uvloop ==="
  python3 -m pytest --loop uvloop tests/adversity tests/integration tests/cluster
fi
