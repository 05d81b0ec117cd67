"""A design with a covariate (~ batch + condition) through the workflow, on counts with
a planted, unbalanced batch effect: it must recover the planted condition effect
better than ~ condition. Also: how numeric sheet columns are typed."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import mature_names
from conftest import run_snakemake as run_workflow

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[1]
N_FEATURES = 250
N_DE = 25


def run_snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """The shared runner of conftest, returning the process whatever its exit code."""
    return run_workflow(workdir, config, *args, check=False)


def simulate(seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Negative-binomial counts with a condition effect and a confounded batch effect.

    Batches are coded 1/2 (numbers, as sheets often have them) and unbalanced:
    five of six resistant samples are in batch 2, five of six sensitive ones in
    batch 1. 40% of the miRNAs shift in batch 2 (log2 effect ~ N(0, 1.5));
    N_DE miRNAs carry a condition effect of +-1.5.
    """
    rng = np.random.default_rng(seed)
    names = mature_names()[:N_FEATURES]
    sheet = pd.DataFrame(
        {
            "sample": [f"R{i:02d}" for i in range(1, 7)] + [f"S{i:02d}" for i in range(1, 7)],
            "condition": ["resistant"] * 6 + ["sensitive"] * 6,
            "batch": ["2"] * 5 + ["1"] + ["1"] * 5 + ["2"],
        }
    )
    base = rng.lognormal(4.5, 1.2, len(names))
    truth = np.zeros(len(names))
    truth[rng.choice(len(names), N_DE, replace=False)] = rng.choice([-1.5, 1.5], N_DE)
    batch_effect = np.zeros(len(names))
    shifted = rng.choice(len(names), int(0.4 * len(names)), replace=False)
    batch_effect[shifted] = rng.normal(0, 1.5, len(shifted))
    case = (sheet["condition"] == "resistant").to_numpy(float)
    batch2 = (sheet["batch"] == "2").to_numpy(float)
    depth = rng.uniform(0.8, 1.25, len(sheet))
    log2_mu = truth[:, None] * case + batch_effect[:, None] * batch2
    mu = base[:, None] * depth * 2**log2_mu
    size = 1 / 0.04
    counts = rng.negative_binomial(size, size / (size + mu))
    return (
        pd.DataFrame(counts, index=pd.Index(names, name="feature"), columns=sheet["sample"]),
        sheet,
        pd.Series(truth, index=names),
    )


@pytest.fixture(scope="module")
def covariate_run(tmp_path_factory):
    """One run: main design ~ batch + condition, extra contrast with ~ condition only."""
    workdir = tmp_path_factory.mktemp("covariate")
    counts, sheet, truth = simulate()
    counts.to_csv(workdir / "counts.tsv", sep="\t")
    sheet.to_csv(workdir / "samples.tsv", sep="\t", index=False)
    config = {
        "counts": str(workdir / "counts.tsv"),
        "samples": str(workdir / "samples.tsv"),
        "design": "~ batch + condition",
        "categorical": ["batch"],
        "de": {
            "extra_contrasts": [
                {
                    "name": "no_batch",
                    "variable": "condition",
                    "case": "resistant",
                    "control": "sensitive",
                    "design": "~ condition",
                }
            ]
        },
    }
    proc = run_snakemake(workdir, config)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return workdir, truth


def _performance(table: pd.DataFrame, truth: pd.Series) -> dict:
    table = table.set_index("feature")
    true = truth.reindex(table.index)
    error = table["log2FoldChange"] - true
    significant = table["padj"] < 0.05
    return {
        "rmse": float(np.sqrt((error**2).mean())),
        "tp": int((significant & (true != 0)).sum()),
        "fp": int((significant & (true == 0)).sum()),
    }


def test_batch_covariate_recovers_planted_effects_better(covariate_run):
    workdir, truth = covariate_run
    adjusted = pd.read_csv(workdir / "results/de/resistant_vs_sensitive.tsv", sep="\t")
    naive = pd.read_csv(workdir / "results/de/no_batch.tsv", sep="\t")
    with_batch = _performance(adjusted, truth)
    without = _performance(naive, truth)
    assert with_batch["rmse"] < 0.7 * without["rmse"], (with_batch, without)
    assert with_batch["fp"] * 3 < without["fp"], (with_batch, without)
    assert with_batch["fp"] <= 5, with_batch
    assert with_batch["tp"] >= 0.75 * N_DE, with_batch


def test_numeric_batch_listed_as_categorical_is_a_factor(covariate_run):
    workdir, _ = covariate_run
    log = (workdir / "logs/fit_diffexp.log").read_text()
    assert "resistant_vs_sensitive: design ~ batch + condition" in log
    assert "continuous covariates: none" in log
    assert "no_batch: design ~ condition" in log


def test_outputs_and_plots_of_the_covariate_design(covariate_run):
    workdir, _ = covariate_run
    for path in ("plots/pca.png", "plots/volcano/no_batch.png", "plots/heatmap_top_de.png"):
        assert (workdir / "results" / path).stat().st_size > 1000, path


def _continuous_warning(output: str) -> set[str]:
    """Variables named in the parse-time warning about continuous covariates."""
    for line in output.splitlines():
        if "hold only numbers" in line:
            listed = line.split("design variable(s)", 1)[1].split("hold only numbers")[0]
            return {v.strip() for v in listed.split(",")}
    return set()


def test_all_numeric_column_is_continuous_unless_categorical(tmp_path):
    counts, sheet, _ = simulate()
    sheet["age"] = [str(40 + 3 * i) for i in range(len(sheet))]
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    base = {
        "counts": str(tmp_path / "counts.tsv"),
        "samples": str(tmp_path / "samples.tsv"),
        "design": "~ age + batch + condition",
    }
    proc = run_snakemake(tmp_path, base, "-n")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert _continuous_warning(proc.stdout) == {"age", "batch"}
    proc = run_snakemake(tmp_path, {**base, "categorical": ["batch"]}, "-n")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert _continuous_warning(proc.stdout) == {"age"}
    proc = run_snakemake(tmp_path, {**base, "categorical": ["tissue"]}, "-n")
    assert proc.returncode != 0
    assert "'categorical' lists tissue" in proc.stdout
