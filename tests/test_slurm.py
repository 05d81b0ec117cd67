"""The cluster profile on a real single-node SLURM: the README's command, a partition SLURM
refuses (stopped before any job), and a cancelled job.

The cluster comes from ``../shared/tools/slurm-single-node.sh`` (Debian slurm-wlm + munge, no
job accounting); where it cannot start (no root, no package mirror, no script), the tests skip
with the reason. A cluster this module started is stopped at the end.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, shared_data, tool_env

pytestmark = pytest.mark.workflow

PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
RULES = REPO / "workflow" / "rules"
# tables a user reads (every TSV under results/ except the per-job timings) and the BAMs
COMPARED = ("results/**/*.tsv", "results/**/*.bam")


def _rules_text() -> str:
    return "\n".join(p.read_text() for p in RULES.glob("*.smk"))


def _rule_names() -> set[str]:
    return set(re.findall(r"^rule (\w+):", _rules_text(), flags=re.M))


def _local_rules(indent: str = "") -> set[str]:
    """Rules of the Snakefile's ``localrules:`` block at ``indent``."""
    snakefile = (REPO / "workflow" / "Snakefile").read_text()
    block = rf"^{indent}localrules:\n((?:{indent}    \w+,\n)+)"
    return set(re.findall(r"\w+", re.search(block, snakefile, flags=re.M).group(1)))


def test_profile_names_only_rules_that_exist():
    profile = yaml.safe_load(PROFILE.read_text())
    assert set(profile.get("set-resources", {})) <= _rule_names()
    assert _local_rules() - {"all"} <= _rule_names()


def test_every_submitted_per_sample_rule_is_in_the_profiles_sample_group():
    """One 1-CPU SLURM job per sample chain: a per-sample rule left out would be submitted
    alone, one with more threads would make every sample's job ask for more CPUs."""
    profile = yaml.safe_load(PROFILE.read_text())
    grouped = dict(item.split("=") for item in profile["groups"])
    bodies = re.split(r"^rule (\w+):\n", _rules_text(), flags=re.M)[1:]
    per_sample = {
        name
        for name, body in zip(bodies[::2], bodies[1::2])
        if "{sample}" in re.search(r"^    output:\n(.*?)^    \w", body, re.M | re.S).group(1)
    }
    assert per_sample - _local_rules() == set(grouped)
    # inside the SLURM job they run in its own Snakemake, not through srun and another one
    assert _local_rules(indent="    ") == set(grouped)
    assert set(grouped.values()) == {"sample"}
    assert profile["group-components"] == ["sample=1"]
    assert profile["set-threads"] == {rule: 1 for rule in grouped}


def test_profile_settings_are_not_overridden_by_the_default_profile():
    """The cluster command names the profile with --workflow-profile: it replaces
    profiles/default, so nothing of the workstation profile can win key by key."""
    readme = (REPO / "README.md").read_text()
    assert "--workflow-profile profiles/slurm" in readme
    assert "--profile profiles/slurm" not in readme
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["slurm-status-command"] == "squeue"
    assert profile["latency-wait"] >= 30


@pytest.fixture(scope="module")
def slurm():
    """A running single-node SLURM, or skip with the reason."""
    script = shared_data().parent / "tools" / "slurm-single-node.sh"
    if not script.exists():
        pytest.skip(f"{script} not found")
    if shutil.which("sinfo") and _idle():
        yield
        return
    start = subprocess.run(["bash", str(script), "start"], capture_output=True, text=True)
    if start.returncode != 0 or not _idle():
        pytest.skip(f"single-node SLURM did not start: {(start.stderr or start.stdout)[-500:]}")
    yield
    subprocess.run(["bash", str(script), "stop"], capture_output=True)


def _idle() -> bool:
    proc = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return proc.returncode == 0 and "idle" in proc.stdout


def _cluster_command(workdir: Path, example_dir: Path) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "my.yaml").write_text(f"samples: {example_dir / 'samples.tsv'}\n")
    return [
        *(sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm"),
        *("--configfile", str(workdir / "my.yaml"), "--directory", str(workdir)),
    ]


def _run(cmd: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def _assert_same_tables(run: Path, reference: Path) -> None:
    tables = sorted(p.relative_to(reference) for c in COMPARED for p in reference.glob(c))
    tables = [t for t in tables if "benchmarks" not in t.parts]
    assert len(tables) > 50
    for table in tables:
        same = subprocess.run(["cmp", "-s", str(reference / table), str(run / table)])
        assert same.returncode == 0, f"{table} differs from the local run"


def test_readme_cluster_command_reproduces_the_local_run(slurm, example_dir, example_run, tmp_path):
    proc = _run(_cluster_command(tmp_path / "cluster", example_dir))
    assert proc.returncode == 0, proc.stdout[-6000:]
    # one job per sample chain, not per step; beside them: mirtop, DE, the signature and
    # MultiQC (the miRNA and tRNA indexes are built on the submit host)
    submitted = proc.stdout.count("has been submitted with SLURM jobid")
    samples = len(pd.read_csv(example_dir / "samples.tsv", sep="\t"))
    assert submitted == samples + 4, submitted
    # the per-sample steps ran in the SLURM jobs, none on the submit host
    assert "localrule trim_reads:" not in proc.stdout
    _assert_same_tables(tmp_path / "cluster", example_run)


def test_a_partition_slurm_refuses_stops_the_run_before_any_job(slurm, example_dir, tmp_path):
    # the SLURM plugin would only find out as it submits the first job, and for a grouped job
    # it then ends the run with "Error in group sample" and no reason (plugin 2.8.0)
    profile = yaml.safe_load(PROFILE.read_text())
    profile["default-resources"]["slurm_partition"] = "nosuch"
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    command = _cluster_command(tmp_path / "run", example_dir)
    command[command.index("profiles/slurm")] = str(tmp_path / "profile")
    proc = _run(command, timeout=300)
    assert proc.returncode != 0
    assert "exomir: SLURM refuses slurm_partition 'nosuch'" in proc.stdout, proc.stdout[-3000:]
    assert "invalid partition" in proc.stdout
    assert "has been submitted" not in proc.stdout
    assert not (tmp_path / "run" / "results").exists()


def _running_sample_job(run_id: str, timeout: float = 120) -> str:
    """SLURM id of a running per-sample job of this run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "-h", "--name", run_id, "-t", "RUNNING", "-o", "%i %k"],
            capture_output=True,
            text=True,
        ).stdout.split("\n")
        for line in queue:
            if "group_sample" in line or "sample_align" in line:
                return line.split()[0]
        time.sleep(1)
    raise AssertionError(f"no running per-sample job of {run_id} within {timeout} s")


def test_cancelled_job_is_reported_and_a_rerun_completes(slurm, example_dir, example_run, tmp_path):
    workdir = tmp_path / "cancel"
    proc = subprocess.Popen(
        _cluster_command(workdir, example_dir),
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run_id = None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if match := re.search(r"SLURM run ID: (\S+)", line):
            run_id = match.group(1)
            break
    assert run_id, "".join(lines)
    subprocess.run(["scancel", _running_sample_job(run_id)], check=True)
    output = "".join(lines) + proc.stdout.read()
    assert proc.wait() != 0
    assert "CANCELLED" in output
    rerun = _run(_cluster_command(workdir, example_dir))
    assert rerun.returncode == 0, rerun.stdout[-6000:]
    _assert_same_tables(workdir, example_run)
