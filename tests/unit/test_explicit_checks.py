"""The checks of ``Cluster(...)`` arguments are called explicitly, never registered by an import's side effect.

``validation`` sits below the session layer, so it cannot check ``execution_profiles`` (an ExecutionProfile
lives above it); the cluster's shim calls that check itself. Importing a module must not change what
``validation`` checks.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from aiocql import Cluster, ExecutionProfile, InvalidValueError
from aiocql.cluster.config import ClusterSettings


def test_importing_the_profiles_module_changes_no_check() -> None:
    code = (
        "import aiocql.validation as v\n"
        "v.check_cluster_arguments({'execution_profiles': {'fast': 1}})\n"  # not validation's to check
        "import aiocql.session.profiles\n"
        "v.check_cluster_arguments({'execution_profiles': {'fast': 1}})\n"  # still not: no import side effect
        "print('same')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "same", out.stderr


def test_the_cluster_shim_checks_the_profiles_itself() -> None:
    with pytest.raises(InvalidValueError, match=r"execution_profiles\['fast'\] must be an ExecutionProfile"):
        ClusterSettings.build({"execution_profiles": {"fast": 1}})
    with pytest.raises(InvalidValueError, match="execution_profiles must be a mapping"):
        Cluster(execution_profiles=[ExecutionProfile()])  # type: ignore[arg-type]
    assert ClusterSettings.build({"execution_profiles": {"fast": ExecutionProfile()}}).session.execution_profiles
