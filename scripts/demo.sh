#!/usr/bin/env bash
# Runs the demo: installs aiocql, starts a local Cassandra if none is running (downloaded once into
# ~/.cache/aiocql), runs the end-to-end demo and prints what it did; stops the server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -e '.[dev]'
python3 -m aiocql.demo "$@"
