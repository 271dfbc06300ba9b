"""``python -m aiocql``: the ``aiocql`` command (see :mod:`aiocql.cli.main`).

Example:
    $ python -m aiocql count ks.table
"""

from aiocql.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
