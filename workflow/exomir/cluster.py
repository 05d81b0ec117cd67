"""The SLURM partition and account of a cluster run, asked of SLURM before any job is submitted.

The cluster profile (``profiles/slurm``) sets them as resources, ``slurm_partition``
and ``slurm_account`` (``default-resources``, or per rule in ``set-resources``). The
SLURM executor plugin checks them only as it submits each job, and the failed check
of a grouped job (each sample's chain is one) is lost: with plugin 2.8.0 an account
it cannot confirm leaves the run waiting without a word, and a partition SLURM
refuses ends it with "Error in group sample" and no reason. So a SLURM run asks
first, once per distinct partition and account, before it submits anything:

* SLURM itself, ``sbatch --test-only`` (checks partition and account, submits
  nothing);
* for a named account, the plugin's own account check (``validate_account``: the
  accounts ``sacctmgr`` or ``sshare`` list for the user). Without job accounting
  they list none, and the plugin and SLURM accept any account.

Values are read as Snakemake reads a plain name (surrounding quotes dropped).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .settings import SettingsError

WHERE = "set in profiles/slurm/config.yaml, default-resources or set-resources"
FIX_PARTITION = "set slurm_partition to a partition `sinfo -s` lists (empty: the cluster's default)"
FIX_ACCOUNT = (
    "set slurm_account to an account `sacctmgr -n -s list user $USER format=account%30` lists "
    "(empty: none)"
)


@dataclass(frozen=True, order=True)
class SlurmTarget:
    """Where jobs are submitted: partition and account ("": the cluster's default, none)."""

    partition: str
    account: str

    def describe(self) -> str:
        return f"slurm_partition '{self.partition}' and slurm_account '{self.account}'"


def plain(value: object) -> str:
    """A resource value as a plain name: ``None`` is empty, surrounding quotes dropped."""
    return "" if value is None else str(value).strip().strip("'\"")


def slurm_targets(
    defaults: Mapping[str, object], per_rule: Iterable[Mapping[str, object]]
) -> list[SlurmTarget]:
    """The distinct targets of a run: the defaults, and each rule's overrides on top of them.

    An account list (``a,b``: the plugin submits to each in turn) gives one target per account.
    """
    targets = set()
    for values in [defaults, *({**defaults, **rule} for rule in per_rule)]:
        partition, accounts = plain(values.get("slurm_partition")), values.get("slurm_account")
        for account in re.split(r"[,\s]+", plain(accounts)):
            targets.add(SlurmTarget(partition, plain(account)))
    return sorted(targets)


def check_target(
    target: SlurmTarget,
    validate_account: Callable[[str], object],
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> None:
    """Raise :class:`SettingsError` when SLURM or the SLURM plugin would refuse ``target``."""
    command = ["sbatch", "--test-only", "--job-name=exomir-check", "--wrap=true"]
    command += [f"--partition={target.partition}"] if target.partition else []
    command += [f"--account={target.account}"] if target.account else []
    try:
        answer = run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise SettingsError(
            "sbatch not found: the SLURM profile submits jobs with SLURM's client tools. "
            "Fix: run from a host that has them (the cluster's login node)"
        ) from None
    if answer.returncode != 0:
        reason = " ".join(answer.stderr.split()) or f"sbatch exit code {answer.returncode}"
        raise SettingsError(
            f"SLURM refuses {target.describe()} ({WHERE}): {reason}. "
            f"Fix: {FIX_PARTITION}, and {FIX_ACCOUNT}"
        )
    if target.account:
        try:
            validate_account(target.account)
        except Exception as error:  # the plugin raises WorkflowError
            reason = " ".join(str(error).split())
            raise SettingsError(
                f"the SLURM plugin cannot confirm slurm_account '{target.account}' ({WHERE}) "
                f"and would submit nothing, without a message: {reason}. Fix: {FIX_ACCOUNT}"
            ) from None


def check_slurm_run(workflow: Any, logger: Any) -> None:
    """Snakemake glue (``onstart``): every target of a SLURM run checked before any job."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    from snakemake.exceptions import WorkflowError
    from snakemake_executor_plugin_slurm.accounts import validate_account

    settings = workflow.resource_settings
    targets = slurm_targets(
        _as_written(settings.default_resources),
        map(_as_written, settings.overwrite_resources.values()),
    )
    try:
        for target in targets:
            check_target(target, lambda account: validate_account(account, logger))
    except SettingsError as error:
        raise WorkflowError(f"exomir: {error}") from None


def _as_written(resources: Any) -> dict[str, object]:
    """Snakemake resources as the profile or the command line wrote them (name: text)."""
    return {name: getattr(value, "raw", value) for name, value in (resources or {}).items()}
