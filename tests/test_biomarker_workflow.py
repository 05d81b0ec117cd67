"""The biomarker panel through the workflow: fitted on one simulated cohort (counts: run), then
applied to a second cohort of the same population; a model feature missing from the new data
stops the run before any job."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from conftest import REPO, run_snakemake
from exomir.simulate_counts import CASE, cohort_design, draw_cohort

pytestmark = pytest.mark.workflow

MATURE = REPO / "resources" / "mirbase" / "hsa_mature.fa"
FAST = {
    "enabled": True,
    "outer_folds": 3,
    "repeats": 1,
    "inner_folds": 3,
    "permutations": 19,
    "max_features": 30,
    "seed": 5,
}


def write_cohort(folder, design, seed, prefix):
    folder.mkdir(parents=True, exist_ok=True)
    counts, sheet = draw_cohort(design, 20, 20, seed=seed, prefix=prefix)
    counts.to_csv(folder / "counts.tsv", sep="\t")
    sheet.to_csv(folder / "samples.tsv", sep="\t", index=False)
    return counts


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A panel fitted on cohort A, and cohort B's matrix, both from one population."""
    root = tmp_path_factory.mktemp("biomarker")
    design = cohort_design(MATURE, n_planted=20, effect=0.7, seed=11, depth=2e5, cancer_effect=0)
    write_cohort(root / "A", design, seed=21, prefix="A")
    write_cohort(root / "B", design, seed=22, prefix="B")
    config = {
        "samples": str(root / "A" / "samples.tsv"),
        "counts": str(root / "A" / "counts.tsv"),
        "biomarker": FAST,
    }
    proc = run_snakemake(root / "runA", config, "results/biomarker/performance.tsv")
    assert "Traceback" not in proc.stdout
    return root


def test_panel_is_fitted_with_its_performance(trained):
    results = trained / "runA" / "results" / "biomarker"
    performance = pd.read_csv(results / "performance.tsv", sep="\t").set_index("metric")["value"]
    assert float(performance["auc"]) >= 0.85
    assert float(performance["auc_ci_low"]) <= float(performance["auc"])
    assert 0 < float(performance["permutation_pvalue"]) <= 0.05
    assert int(performance["n_case"]) == 20 and int(performance["n_control"]) == 20
    assert (results / "model.joblib").stat().st_size > 0 and (results / "model.json").is_file()


def test_saved_panel_scores_a_second_cohort(trained):
    config = {
        "samples": str(trained / "B" / "samples.tsv"),
        "counts": str(trained / "B" / "counts.tsv"),
        "biomarker": {"apply_model": str(trained / "runA/results/biomarker/model.joblib")},
    }
    proc = run_snakemake(trained / "runB", config)
    table = pd.read_csv(trained / "runB/results/biomarker/new_predictions.tsv", sep="\t")
    assert len(table) == 40
    auc = roc_auc_score(table["condition"] == CASE, table["probability"])
    assert auc >= 0.8, auc
    assert "validation AUC" in proc.stdout
    # a scoring run compares no groups: no DE, no new panel
    assert not (trained / "runB/results/de").exists()
    assert not (trained / "runB/results/biomarker/performance.tsv").exists()


def test_a_missing_model_feature_stops_the_run_before_any_job(trained):
    model = trained / "runA/results/biomarker/model.json"
    needed = pd.read_json(model, typ="series")["required_features"]
    counts = pd.read_csv(trained / "B" / "counts.tsv", sep="\t", index_col=0)
    counts.drop(index=needed[0]).to_csv(trained / "B" / "partial.tsv", sep="\t")
    config = {
        "samples": str(trained / "B" / "samples.tsv"),
        "counts": str(trained / "B" / "partial.tsv"),
        "biomarker": {"apply_model": str(trained / "runA/results/biomarker/model.joblib")},
    }
    workdir = trained / "runC"
    proc = run_snakemake(workdir, config, check=False)
    assert proc.returncode != 0
    assert f"lacks 1 of the model's {len(needed)} features: {needed[0]}" in proc.stdout
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()
