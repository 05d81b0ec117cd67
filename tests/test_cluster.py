"""The SLURM partition and account of a cluster run, checked before any job (exomir.cluster).

These tests give ``check_target`` a recording stand-in for ``sbatch`` and for the SLURM
plugin's account check; tests/test_slurm.py runs the same check against a real SLURM.
"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from exomir.cluster import SlurmTarget, check_slurm_run, check_target, slurm_targets
from exomir.settings import SettingsError


class Sbatch:
    """Records the commands it is given and answers with ``returncode`` and ``stderr``."""

    def __init__(self, returncode: int = 0, stderr: str = ""):
        self.returncode, self.stderr, self.commands = returncode, stderr, []

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def refuse(account):
    raise RuntimeError(f"The given account {account} appears to be invalid. Available: lab")


def test_targets_merge_each_rules_overrides_over_the_defaults():
    defaults = {"slurm_partition": "main", "slurm_account": "", "mem_mb": 2000}
    per_rule = [{"runtime": 120}, {"slurm_partition": "'bigmem'"}, {"slurm_account": '"lab"'}]
    assert slurm_targets(defaults, per_rule) == [
        SlurmTarget("bigmem", ""),
        SlurmTarget("main", ""),
        SlurmTarget("main", "lab"),
    ]


def test_an_account_list_gives_one_target_per_account():
    defaults = {"slurm_partition": "main", "slurm_account": "lab, 'other'"}
    assert slurm_targets(defaults, []) == [SlurmTarget("main", "lab"), SlurmTarget("main", "other")]


def test_targets_without_slurm_resources_are_the_clusters_defaults():
    assert slurm_targets({}, []) == [SlurmTarget("", "")]
    assert slurm_targets({"slurm_partition": None}, [{}]) == [SlurmTarget("", "")]


def test_empty_values_are_left_to_slurm_and_no_account_is_checked():
    sbatch, checked = Sbatch(), []
    check_target(SlurmTarget("", ""), checked.append, run=sbatch)
    assert sbatch.commands == [["sbatch", "--test-only", "--job-name=exomir-check", "--wrap=true"]]
    assert checked == []


def test_named_partition_and_account_are_asked_of_sbatch_and_of_the_plugin():
    sbatch, checked = Sbatch(), []
    check_target(SlurmTarget("main", "lab"), checked.append, run=sbatch)
    assert sbatch.commands[0][-2:] == ["--partition=main", "--account=lab"]
    assert checked == ["lab"]


def test_a_partition_slurm_refuses_stops_the_run_with_slurms_reason_and_the_fix():
    sbatch = Sbatch(1, "sbatch: error: invalid partition specified: gpu\nallocation failure\n")
    with pytest.raises(SettingsError) as error:
        check_target(SlurmTarget("gpu", ""), refuse, run=sbatch)
    message = str(error.value)
    assert "slurm_partition 'gpu'" in message
    assert "invalid partition specified: gpu allocation failure" in message
    assert "profiles/slurm/config.yaml" in message
    assert "Fix: set slurm_partition to a partition `sinfo -s` lists" in message


def test_an_account_the_plugin_cannot_confirm_stops_the_run_before_it_waits_in_silence():
    with pytest.raises(SettingsError) as error:
        check_target(SlurmTarget("main", "nosuch"), refuse, run=Sbatch())
    message = str(error.value)
    assert "slurm_account 'nosuch'" in message
    assert "appears to be invalid" in message
    assert "Fix: set slurm_account to an account `sacctmgr" in message
    assert "slurm_partition" not in message.split("Fix:")[1]


def test_a_run_on_another_executor_asks_nothing_of_slurm():
    # a workflow without resource settings: reading them would raise AttributeError
    for plugin in (None, SimpleNamespace(name="local")):
        check_slurm_run(SimpleNamespace(executor_plugin=plugin), logger=None)
    with pytest.raises(AttributeError):
        check_slurm_run(SimpleNamespace(executor_plugin=SimpleNamespace(name="slurm")), None)


def test_a_host_without_sbatch_is_told_to_run_from_the_login_node():
    def missing(command, **kwargs):
        raise FileNotFoundError(command[0])

    with pytest.raises(SettingsError, match="sbatch not found.*login node"):
        check_target(SlurmTarget("", ""), refuse, run=missing)
