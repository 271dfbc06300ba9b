#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the package with its dev extras, then pytest.
# The pytest plugin downloads Cassandra (once, into ~/.cache/aiocql), starts the servers the tests ask
# for, and stops them at the end even when tests fail.
#
# Without arguments, on Python 3.11 (python3): every test on the default asyncio loop, then every test that
# runs on an event loop (the server-free unit tests aside) again on uvloop. Then the unit suite on Python 3.12
# and 3.13, and the real-server integration suite on 3.13 (the dev extras are installed into each; the
# package itself is used from this checkout through PYTHONPATH). With arguments: one pytest run with them,
# on python3.
#
# The compiled core (aiocql/types/_core.pyx, Cython) is built in place for each interpreter and required
# (AIOCQL_REQUIRE_EXTENSIONS=1: a missing build fails instead of falling back); the unit and codec tests run
# once more on 3.11 in pure-Python mode (AIOCQL_NO_EXTENSIONS=1), the integration suite on the compiled core.
set -euo pipefail
cd "$(dirname "$0")/.."
# dev and every optional extra the driver's own code imports (otel, prometheus, cli, ...): not bench.
extras=$(python3 -c 'import tomllib; print(",".join(k for k in tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"] if k != "bench"))')
python3 -m pip install -q --disable-pip-version-check -e ".[${extras}]"
stop_servers() {
  # Belt and braces: if pytest itself was killed, stop whatever the launcher recorded as running.
  for args in "" "--nodes 3" "--auth" "--tls"; do
    # shellcheck disable=SC2086
    python3 -m aiocql.testing stop $args >/dev/null 2>&1 || true
  done
}
trap stop_servers EXIT

# The interpreter of Python $1 (3.12, 3.13): pythonX.Y on PATH, else the newest pyenv build of it.
python_of() {
  # A pyenv shim answers `command -v` even when that version is not selected, then fails when run: try it.
  if command -v "python$1" >/dev/null 2>&1 && "python$1" -c 'import sys' >/dev/null 2>&1; then
    command -v "python$1"
    return
  fi
  local root="${PYENV_ROOT:-$HOME/.pyenv}" found=""
  for candidate in "$root"/versions/"$1".*/bin/python; do
    [ -x "$candidate" ] && found="$candidate"
  done
  if [ -z "$found" ]; then
    echo "Python $1 not found (neither python$1 on PATH nor a pyenv build in $root/versions)" >&2
    return 1
  fi
  echo "$found"
}

# Install the same extras into interpreter $1 (not the package itself: it runs from this checkout).
install_dev_deps() {
  local deps
  deps=$(python3 -c 'import tomllib; print("\n".join(d for k, v in tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"].items() if k != "bench" for d in v))')
  # shellcheck disable=SC2086
  "$1" -m pip install -q --disable-pip-version-check $deps
}

# Build the compiled core in place for interpreter $1 (its .so is named per Python version, so they coexist).
build_core() {
  AIOCQL_REQUIRE_EXTENSIONS=1 "$1" setup.py -q build_ext --inplace >/dev/null
}

if [ "$#" -gt 0 ]; then
  python3 -m pytest "$@"
else
  build_core python3
  export AIOCQL_REQUIRE_EXTENSIONS=1
  python3 -m pytest
  echo "=== the unit and codec tests again in pure-Python mode (AIOCQL_NO_EXTENSIONS=1) ==="
  AIOCQL_NO_EXTENSIONS=1 AIOCQL_REQUIRE_EXTENSIONS=0 python3 -m pytest tests/unit \
    --deselect tests/unit/test_source_checks.py::test_ruff_clean --deselect tests/unit/test_source_checks.py::test_ruff_format_clean \
    --deselect tests/unit/test_source_checks.py::test_mypy_strict
  echo "=== the same driver tests again on uvloop ==="
  python3 -m pytest --loop uvloop tests/adversity tests/integration tests/cluster
  py312=$(python_of 3.12)
  py313=$(python_of 3.13)
  for py in "$py312" "$py313"; do
    echo "=== unit tests on $("$py" -c 'import platform; print("Python", platform.python_version())') ==="
    install_dev_deps "$py"
    build_core "$py"
    # ruff and mypy --strict check the same sources on every interpreter: once (on 3.11) is enough.
    PYTHONPATH="$PWD" "$py" -m pytest tests/unit --deselect tests/unit/test_source_checks.py::test_ruff_clean \
      --deselect tests/unit/test_source_checks.py::test_ruff_format_clean \
      --deselect tests/unit/test_source_checks.py::test_mypy_strict
  done
  echo "=== integration tests (real Cassandra) on Python 3.13 ==="
  PYTHONPATH="$PWD" "$py313" -m pytest tests/integration
fi
