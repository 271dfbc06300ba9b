"""Fetching Apache Cassandra 5.0 from Maven Central into a cache outside the repository.

Maven Central does not carry the binary tarball (``apache-cassandra:<v>:tar.gz:bin``) for any 5.0.x
release, so the launcher takes the documented fallback: the ``cassandra-all`` jar plus its runtime
dependencies, resolved by ``mvn dependency:copy-dependencies`` from a tiny generated pom. The server is
then started as ``java ... org.apache.cassandra.service.CassandraDaemon`` with configuration files the
launcher writes itself (see :mod:`aiocql.testing.config`).

Example:
    >>> from aiocql.testing.distribution import cache_dir
    >>> cache_dir().name
    'aiocql'
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from aiocql.errors import LauncherError

#: Versions tried in order when none is pinned with ``AIOCQL_CASSANDRA_VERSION``.
DEFAULT_VERSIONS = ("5.0.9", "5.0.8", "5.0.7", "5.0.6")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>aiocql.testing</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>{version}</version>
    </dependency>
  </dependencies>
</project>
"""


__all__ = ["DEFAULT_VERSIONS", "Distribution", "LauncherError", "cache_dir", "fetch", "run_tool"]


def cache_dir() -> Path:
    """The cache for downloads and node folders: ``$AIOCQL_CACHE`` or ``~/.cache/aiocql``.

    Example:
        >>> isinstance(cache_dir(), Path)
        True
    """
    return Path(os.environ.get("AIOCQL_CACHE") or Path.home() / ".cache" / "aiocql")


@dataclass(frozen=True, slots=True)
class Distribution:
    """A fetched Cassandra: its version and the folder holding ``cassandra-all`` and its dependencies."""

    version: str
    lib_dir: Path

    @property
    def classpath(self) -> str:
        """The Java class path (every jar in ``lib_dir``)."""
        return str(self.lib_dir / "*")

    def jar(self, prefix: str) -> Path:
        """The one jar whose file name starts with ``prefix`` (e.g. ``jamm-``)."""
        for path in sorted(self.lib_dir.glob(f"{prefix}*.jar")):
            return path
        raise LauncherError(f"no {prefix}*.jar in {self.lib_dir}: the download is incomplete; delete it")


def run_tool(cmd: list[str], *, timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run an external tool (mvn, keytool, nodetool) and return its result; one that cannot start or does not
    finish within ``timeout`` seconds raises :class:`LauncherError` naming it (never a bare OSError or
    subprocess.TimeoutExpired).

    Example:
        >>> run_tool(["no-such-tool-aiocql"], timeout=5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        aiocql.errors.base.LauncherError: could not run no-such-tool-aiocql: ...
    """
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LauncherError(f"{' '.join(cmd[:2])} did not finish within {timeout}s") from None
    except OSError as exc:
        raise LauncherError(f"could not run {cmd[0]}: {exc}") from exc


def _run_mvn(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(["mvn", "-B", "-q", *args], cwd=cwd, timeout=900)


def fetch(version: str | None = None) -> Distribution:
    """Return a cached distribution, downloading it with Maven on first use.

    Tries ``version`` (or ``$AIOCQL_CASSANDRA_VERSION``, or the newest of :data:`DEFAULT_VERSIONS` that
    Maven Central serves). Raises :class:`LauncherError` naming what failed: no ``mvn``, no Java,
    or every version refused (with Maven's own error).

    Example:
        >>> dist = fetch()  # doctest: +SKIP
        >>> dist.version  # doctest: +SKIP
        '5.0.9'
    """
    pinned = version or os.environ.get("AIOCQL_CASSANDRA_VERSION")
    candidates = (pinned,) if pinned else DEFAULT_VERSIONS
    root = cache_dir() / "cassandra"
    for candidate in candidates:
        lib = root / candidate / "lib"
        if (lib / ".complete").exists():
            return Distribution(candidate, lib)
    if shutil.which("mvn") is None:
        raise LauncherError("Maven ('mvn') is not on PATH: it is needed to fetch Cassandra from Maven Central")
    failures: list[str] = []
    for candidate in candidates:
        work = root / candidate
        lib = work / "lib"
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(_POM.format(version=candidate))
        partial = work / "lib.partial"
        shutil.rmtree(partial, ignore_errors=True)
        result = _run_mvn(
            [
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            cwd=work,
        )
        if result.returncode == 0 and any(partial.glob("cassandra-all-*.jar")):
            shutil.rmtree(lib, ignore_errors=True)
            partial.rename(lib)
            (lib / ".complete").write_text(candidate)
            return Distribution(candidate, lib)
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        failures.append(f"{candidate}: " + " | ".join(tail))
    raise LauncherError("could not download Cassandra from Maven Central: " + "; ".join(failures))
