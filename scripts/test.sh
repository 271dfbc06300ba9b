#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the package with its dev extras, then pytest.
# The pytest plugin downloads Cassandra (once, into ~/.cache/aiocql), starts the servers the tests ask
# for, and stops them at the end even when tests fail. Extra arguments go to pytest.
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
python3 -m pytest "$@"
