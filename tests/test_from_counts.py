"""The workflow started from a count matrix (config 'counts'): DE, annotation, plots
and report without FASTQ files, and a clear error when matrix and sheet disagree."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import mature_names
from conftest import run_snakemake as run_workflow

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[1]
# Review-list miRNAs planted as DE; hsa-miR-199a-3p is a member name of exomir's merged
# feature hsa-miR-199a-3p/hsa-miR-199b-3p, as another pipeline would name the row.
PLANTED = {
    "hsa-miR-21-5p": 1.6,
    "hsa-miR-155-5p": 1.8,
    "hsa-miR-34a-5p": -1.7,
    "hsa-miR-199a-3p": 1.5,
}


def run_snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """The shared runner of conftest, returning the process whatever its exit code."""
    return run_workflow(workdir, config, *args, check=False)


def simulated_matrix(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Negative-binomial counts (dispersion 0.05) of real miRNA names, 6 vs 6 samples."""
    rng = np.random.default_rng(seed)
    names = sorted(set(mature_names()[:200]) | set(PLANTED))
    sheet = pd.DataFrame(
        {
            "sample": [f"R{i:02d}" for i in range(1, 7)] + [f"S{i:02d}" for i in range(1, 7)],
            "condition": ["resistant"] * 6 + ["sensitive"] * 6,
            "batch": ["A", "B"] * 6,
        }
    )
    base = rng.lognormal(4.0, 1.4, len(names))
    lfc = np.array([PLANTED.get(n, 0.0) for n in names])
    case = (sheet["condition"] == "resistant").to_numpy(float)
    depth = rng.uniform(0.7, 1.4, len(sheet))
    mu = base[:, None] * depth[None, :] * 2 ** (lfc[:, None] * case[None, :])
    size = 1 / 0.05
    counts = rng.negative_binomial(size, size / (size + mu))
    matrix = pd.DataFrame(counts, index=pd.Index(names, name="feature"), columns=sheet["sample"])
    return matrix, sheet


@pytest.fixture(scope="module")
def from_counts_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("from_counts")
    counts, sheet = simulated_matrix()
    counts.to_csv(workdir / "counts.tsv", sep="\t")
    sheet.to_csv(workdir / "samples.tsv", sep="\t", index=False)
    config = {
        "counts": str(workdir / "counts.tsv"),
        "samples": str(workdir / "samples.tsv"),
        "de": {
            "extra_contrasts": [
                {
                    "name": "batchA_resistant_vs_sensitive",
                    "variable": "condition",
                    "case": "resistant",
                    "control": "sensitive",
                    "subset": {"column": "batch", "value": "A"},
                }
            ]
        },
    }
    proc = run_snakemake(workdir, config)
    assert proc.returncode == 0, proc.stdout[-6000:]
    report = run_snakemake(workdir, config, "--report", "report.html")
    assert report.returncode == 0, report.stdout[-6000:]
    return workdir


def test_runs_without_fastq_steps(from_counts_run):
    results = from_counts_run / "results"
    for path in (
        "de/resistant_vs_sensitive.tsv",
        "de/batchA_resistant_vs_sensitive.tsv",
        "annotation/resistance_hits.tsv",
        "annotation/enrichment.tsv",
        "plots/volcano/resistant_vs_sensitive.png",
        "plots/volcano/batchA_resistant_vs_sensitive.png",
        "plots/ma/batchA_resistant_vs_sensitive.png",
        "plots/qc/sample_qc.png",
        "report/provenance.tsv",
    ):
        assert (results / path).stat().st_size > 0, path
    for absent in ("collapsed", "align", "counts"):
        assert not (results / absent).exists(), f"FASTQ step output results/{absent} exists"


def test_extra_contrast_uses_its_subset(from_counts_run):
    main = pd.read_csv(from_counts_run / "results/de/resistant_vs_sensitive.tsv", sep="\t")
    extra = pd.read_csv(from_counts_run / "results/de/batchA_resistant_vs_sensitive.tsv", sep="\t")
    norm = [c for c in extra.columns if c.startswith("norm_")]
    assert len(norm) == 6 and len([c for c in main.columns if c.startswith("norm_")]) == 12
    assert set(norm) == {f"norm_{s}" for s in ("R01", "R03", "R05", "S01", "S03", "S05")}


def test_planted_review_mirnas_are_hits_by_name_or_member_name(from_counts_run):
    hits = pd.read_csv(from_counts_run / "results/annotation/resistance_hits.tsv", sep="\t")
    by_feature = hits.set_index("feature")
    for name, lfc in PLANTED.items():
        assert name in by_feature.index, name
        assert by_feature.at[name, "significant"] == "yes", name
        assert np.sign(by_feature.at[name, "log2FoldChange"]) == np.sign(lfc)
    # A member mature name maps to its own accession, not its merged partner's.
    assert by_feature.at["hsa-miR-199a-3p", "mimat"] == "MIMAT0000232"


def test_report_is_built(from_counts_run):
    html = (from_counts_run / "report.html").read_text(errors="replace")
    assert len(html) > 100_000
    for text in ("Differential expression", "Resistance annotation", "QC", "sha256:"):
        assert text in html, text
    assert "started from the count matrix" in html  # methods rendered from the config


@pytest.mark.parametrize(
    "change, named",
    [("extra_column", "P99"), ("missing_column", "S06")],
)
def test_sample_mismatch_is_a_clear_error(tmp_path, change, named):
    counts, sheet = simulated_matrix()
    if change == "extra_column":
        counts["P99"] = counts["R01"]
    else:
        counts = counts.drop(columns=["S06"])
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    proc = run_snakemake(
        tmp_path, {"counts": str(tmp_path / "counts.tsv"), "samples": str(tmp_path / "samples.tsv")}
    )
    assert proc.returncode != 0
    assert named in proc.stdout
    assert "missing from" in proc.stdout
    assert "Sample names must match" in proc.stdout


def test_feature_accessions_match_feature_or_member_name():
    from exomir.annotate import feature_accessions

    features = pd.DataFrame(
        {
            "feature": ["hsa-miR-199a-3p/hsa-miR-199b-3p", "hsa-miR-21-5p"],
            "mature_names": ["hsa-miR-199a-3p;hsa-miR-199b-3p", "hsa-miR-21-5p"],
            "mimat": ["MIMAT0000232;MIMAT0004563", "MIMAT0000076"],
        }
    )
    accessions = feature_accessions(features)
    assert accessions["hsa-miR-199a-3p/hsa-miR-199b-3p"] == {"MIMAT0000232", "MIMAT0004563"}
    assert accessions["hsa-miR-199a-3p"] == {"MIMAT0000232"}
    assert accessions["hsa-miR-199b-3p"] == {"MIMAT0004563"}
    assert accessions["hsa-miR-21-5p"] == {"MIMAT0000076"}
    assert "hsa-miR-199a" not in accessions
