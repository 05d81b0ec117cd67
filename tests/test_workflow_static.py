"""Static checks of the workflow: conda envs, lint, formatting, config validation."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, run_snakemake, tool_env

RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))


def _rules():
    """(file, rule name, body) for every rule in the workflow."""
    found = []
    for path in RULE_FILES:
        text = path.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            found.append((path, match.group(1), match.group(2)))
    return found


def test_every_rule_has_log_and_a_pinned_conda_env():
    rules = _rules()
    assert len(rules) >= 8
    for path, name, body in rules:
        assert re.search(r"^\s+log:", body, re.M), f"rule {name} ({path.name}) has no log:"
        env = re.search(r'^\s+conda:\n\s+"([^"]+)"', body, re.M)
        assert env, f"rule {name} ({path.name}) has no conda: env"
        env_path = (path.parent / env.group(1)).resolve()
        assert env_path.parent == REPO / "envs", f"rule {name}: env outside envs/"
        assert env_path.is_file(), f"rule {name}: {env_path} missing"


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_conda_env_is_pinned_with_the_right_channels(env):
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "bioconda", "nodefaults"]
    assert spec["dependencies"], f"{env.name} lists no packages"
    for dep in spec["dependencies"]:
        assert isinstance(dep, str), f"{env.name}: {dep!r}"
        assert re.fullmatch(r"[A-Za-z0-9_.-]+ ?==?[0-9][0-9A-Za-z.*]*", dep), (
            f"{env.name}: '{dep}' is not pinned"
        )


def test_heavy_rules_have_benchmarks_threads_and_memory():
    heavy = {
        "cutadapt_trim_collapse",
        "bowtie_align_mature",
        "bowtie_align_hairpin",
        "bowtie_build",
        "pysam_count_sample",
        "pydeseq2_diffexp",
    }
    bodies = {name: body for _, name, body in _rules()}
    for name in heavy:
        assert "benchmark:" in bodies[name], name
        assert "mem_mb" in bodies[name], name


def test_snakemake_lint_is_clean(tmp_path, example_dir):
    # the default config reads resources/example, which `make example` writes: use the fixture's
    config = tmp_path / "config.yaml"
    config.write_text(f"samples: {example_dir / 'samples.tsv'}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--configfile", str(config)],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout, proc.stdout


def test_snakefmt_check_passes():
    snakefmt = [sys.executable, "-m", "snakefmt"]
    proc = subprocess.run(
        [*snakefmt, "--check", "Snakefile", "workflow"],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_unknown_config_key_is_rejected(tmp_path):
    proc = run_snakemake(tmp_path, {"protocl": "truseq"}, "-n", check=False)
    assert proc.returncode != 0
    assert "protocl" in proc.stdout and "Additional properties are not allowed" in proc.stdout


def test_sheet_error_reaches_the_user(tmp_path):
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tcondition\tfastq\nA\tresistant\ta.fastq.gz\nA\tsensitive\tb.fastq.gz\n"
    )
    proc = run_snakemake(tmp_path, {"samples": str(sheet)}, "-n", check=False)
    assert proc.returncode != 0
    assert "duplicate sample name(s) A" in proc.stdout


def test_dry_run_from_another_working_directory(tmp_path, example_dir):
    proc = run_snakemake(
        tmp_path / "elsewhere", {"samples": str(example_dir / "samples.tsv")}, "-n"
    )
    assert "pydeseq2_diffexp" in proc.stdout


def test_unknown_drug_stops_before_any_job(tmp_path, example_dir):
    config = {"samples": str(example_dir / "samples.tsv"), "drug": "aspirin"}
    proc = run_snakemake(tmp_path, config, "-n", check=False)
    assert proc.returncode != 0
    assert "drug 'aspirin' is not in the resistance list" in proc.stdout
    assert "cisplatin" in proc.stdout


def test_other_species_reference_from_the_bundled_table(tmp_path, example_dir):
    config = {"samples": str(example_dir / "samples.tsv"), "reference": {"species": "mmu"}}
    run_snakemake(tmp_path, config, "results/reference/features.tsv")
    features = (tmp_path / "results/reference/features.tsv").read_text().splitlines()
    assert len(features) > 1000
    assert all(line.startswith("mmu-") for line in features[1:])


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "."],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
