"""The ``aiocql`` command: ``shell``, ``unload``, ``load``, ``count`` (see docs/cli.md).

Nothing here is imported by ``import aiocql``: the command's optional dependencies (``prompt_toolkit``,
``rich``, from the ``aiocql[cli]`` extra) stay out of the driver's import path.

Example:
    $ pip install 'aiocql[cli]'
    $ aiocql shell -e "SELECT release_version FROM system.local"
"""
