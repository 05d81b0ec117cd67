"""Biomarker panel: nested CV finds planted signal, stays at chance on null data where a
leaky analysis does not, applies to a second cohort, and every step learns from training
samples only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from conftest import make_contrast
from exomir import biomarker, biomarker_apply, biomarker_model, biomarker_plots, biomarker_report
from exomir import biomarker_tables as tables
from exomir.annotate import read_resistance_list
from exomir.biomarker_model import (
    CountPrefilter,
    InnerSearch,
    MedianOfRatios,
    ModelSpec,
    UnivariatePreselect,
    balanced_weights,
    build_search,
)
from exomir.reference import mature_from_fasta
from exomir.simulate_counts import CASE, CONTROL, cohort_design, draw_cohort

REPO = Path(__file__).resolve().parents[1]
MATURE = REPO / "resources" / "mirbase" / "hsa_mature.fa"
CONTRAST = make_contrast("condition", CASE, CONTROL)
DEPTH = 1e6
# Fast settings: small folds and few permutations keep each fit to seconds.
FAST = {
    "enabled": "auto",
    "model": "elastic_net",
    "outer_folds": 3,
    "repeats": 2,
    "inner_folds": 3,
    "permutations": 9,
    "seed": 7,
    "max_features": 30,
    "covariates": [],
    "apply_model": "",
}


def settings(**changes) -> biomarker.BiomarkerSettings:
    return biomarker.BiomarkerSettings.from_config({**FAST, **changes})


def sheet_of(sheet: pd.DataFrame) -> pd.DataFrame:
    return sheet.set_index("sample")


@pytest.fixture(scope="module")
def features_table() -> pd.DataFrame:
    """The reference's features.tsv for a matrix with one row per mature miRNA."""
    mature = mature_from_fasta(MATURE)
    return pd.DataFrame(
        {
            "feature": [m.name for m in mature],
            "mature_names": [m.name for m in mature],
            "mimat": [m.accession for m in mature],
        }
    )


@pytest.fixture(scope="module")
def planted_design():
    """20 planted miRNAs with log2 fold change +-0.5: predictable, though not perfectly."""
    return cohort_design(MATURE, n_planted=20, effect=0.5, seed=11, depth=DEPTH, cancer_effect=0)


@pytest.fixture(scope="module")
def planted(planted_design):
    counts, sheet = draw_cohort(planted_design, 20, 20, seed=12, prefix="T")
    result = biomarker.fit_biomarker(counts, sheet_of(sheet), CONTRAST, settings(), [], n_jobs=2)
    return counts, sheet, result


@pytest.fixture(scope="module")
def saved(planted, tmp_path_factory, features_table):
    folder = tmp_path_factory.mktemp("biomarker")
    outputs = {key: folder / name for key, name in biomarker_report.OUTPUTS.items()}
    findings = read_resistance_list(REPO / "resources" / "resistance_mirnas.tsv")
    caption = biomarker_report.write_outputs(planted[2], outputs, features_table, findings)
    return outputs, caption


def performance_of(result) -> dict[str, float]:
    table = result.performance()
    return dict(zip(table["metric"], table["value"].astype(float)))


# --------------------------------------------------------------------------
# Acceptance
# --------------------------------------------------------------------------


def test_planted_cohort_is_predicted_and_its_signature_is_planted(planted, planted_design):
    _, _, result = planted
    performance = performance_of(result)
    assert performance["n_case"] == 20 and performance["n_control"] == 20
    assert performance["auc"] >= 0.85
    assert performance["auc_ci_low"] <= performance["auc"] <= performance["auc_ci_high"]
    signature = result.signature()
    stable = signature[signature["selection_frequency"] >= 0.5]
    assert len(stable) >= 3
    assert stable["feature"].isin(set(planted_design.planted)).mean() >= 0.7
    # planted direction is recovered
    for row in stable[stable["feature"].isin(set(planted_design.planted))].itertuples():
        assert np.sign(row.mean_coefficient) == np.sign(planted_design.planted[row.feature])


NULL_SEEDS = (21, 22, 23)
# 39 shuffles: the smallest possible p (1/40) is below 0.05, so the null test can fail
NULL_PERMUTATIONS = 39


def null_cohort(seed: int):
    design = cohort_design(MATURE, n_planted=0, effect=0.0, seed=seed, depth=DEPTH, cancer_effect=0)
    counts, sheet = draw_cohort(design, 15, 15, seed=seed + 1000, prefix="N")
    return counts, sheet_of(sheet)


@pytest.fixture(scope="module")
def null_results():
    results = {}
    for seed in NULL_SEEDS:
        counts, sheet = null_cohort(seed)
        fast = settings(repeats=1, seed=seed, permutations=NULL_PERMUTATIONS)
        results[seed] = biomarker.fit_biomarker(counts, sheet, CONTRAST, fast, [], n_jobs=2)
    return results


@pytest.mark.parametrize("seed", NULL_SEEDS)
def test_null_cohort_stays_at_chance(null_results, seed):
    performance = performance_of(null_results[seed])
    assert performance["auc_ci_low"] <= 0.5 <= performance["auc_ci_high"]
    assert performance["permutation_pvalue"] >= 0.05
    assert performance["permutations"] == NULL_PERMUTATIONS


def leaky_auc(counts: pd.DataFrame, sheet: pd.DataFrame, seed: int) -> float:
    """The classic mistake: miRNAs chosen on ALL samples, then cross-validated."""
    values = MedianOfRatios().fit_transform(
        counts.loc[(counts > 0).all(axis=1), sheet.index].to_numpy(float).T
    )
    y = (sheet["condition"] == CASE).to_numpy(int)
    chosen = UnivariatePreselect(10).fit(values, y).get_support()
    model = LogisticRegression(C=1.0, max_iter=1000)
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    probability = cross_val_predict(model, values[:, chosen], y, cv=folds, method="predict_proba")
    return roc_auc_score(y, probability[:, 1])


@pytest.mark.parametrize("seed", NULL_SEEDS)
def test_leaky_selection_is_optimistic_where_exomir_is_not(null_results, seed):
    counts, sheet = null_cohort(seed)
    leaky = leaky_auc(counts, sheet, seed)
    honest = performance_of(null_results[seed])
    assert leaky >= 0.8, "selecting on all samples should look predictive on noise"
    assert honest["auc"] < 0.65
    assert leaky > honest["auc_ci_high"]


def test_model_applies_to_a_second_cohort(saved, planted_design):
    outputs, _ = saved
    counts, sheet = draw_cohort(planted_design, 20, 20, seed=99, prefix="V")
    table, messages = biomarker_apply.score_new_cohort(outputs["model"], counts, sheet_of(sheet))
    assert messages == []
    assert list(table["sample"]) == list(sheet["sample"])
    y = (table["condition"] == CASE).to_numpy(int)
    assert roc_auc_score(y, table["probability"]) >= 0.8
    assert set(table["predicted"]) <= {CASE, CONTROL}


def test_missing_model_feature_is_a_clear_error(saved, planted_design):
    outputs, _ = saved
    needed = biomarker_apply.read_model_features(outputs["model"])
    weighted = list(
        json.loads(Path(outputs["model"]).with_suffix(".json").read_text())["signature"]
    )
    counts, sheet = draw_cohort(planted_design, 5, 5, seed=98, prefix="V")
    lost = weighted[0]
    assert lost in needed
    with pytest.raises(
        ValueError, match=rf"lacks 1 of the model's {len(needed)} features: {lost}\."
    ):
        biomarker_apply.score_new_cohort(outputs["model"], counts.drop(index=lost), sheet_of(sheet))


# --------------------------------------------------------------------------
# Model files and apply mode
# --------------------------------------------------------------------------


def test_feature_list_is_read_without_unpickling(saved, tmp_path):
    outputs, _ = saved
    copy = tmp_path / "model.joblib"
    copy.write_bytes(b"not a pickle")
    copy.with_suffix(".json").write_text(Path(outputs["model"]).with_suffix(".json").read_text())
    features = biomarker_apply.read_model_features(copy)
    assert len(features) > 5 and features == sorted(features)
    with pytest.raises(ValueError, match="checksum differs"):
        biomarker_apply.load_model(copy)
    with pytest.raises(ValueError, match="copy both"):
        biomarker_apply.read_model_features(tmp_path / "other.joblib")


def test_version_difference_is_warned(saved, tmp_path, planted_design):
    outputs, _ = saved
    model = tmp_path / "model.joblib"
    model.write_bytes(Path(outputs["model"]).read_bytes())
    metadata = json.loads(Path(outputs["model"]).with_suffix(".json").read_text())
    metadata["sklearn_version"] = "0.0.1"
    model.with_suffix(".json").write_text(json.dumps(metadata))
    counts, sheet = draw_cohort(planted_design, 3, 3, seed=97, prefix="V")
    _, messages = biomarker_apply.score_new_cohort(model, counts, sheet_of(sheet))
    assert any("scikit-learn 0.0.1" in m for m in messages)


def test_features_the_model_does_not_read_may_be_absent(saved, planted_design):
    outputs, _ = saved
    needed = set(biomarker_apply.read_model_features(outputs["model"]))
    counts, sheet = draw_cohort(planted_design, 6, 6, seed=96, prefix="V")
    bundle = biomarker_apply.load_model(outputs["model"])
    full = biomarker_apply.score_samples(bundle, counts, sheet_of(sheet))
    trimmed = counts.loc[[f for f in counts.index if f in needed]]
    assert len(trimmed) < len(counts)
    pd.testing.assert_frame_equal(
        full, biomarker_apply.score_samples(bundle, trimmed, sheet_of(sheet))
    )


def test_outputs_are_written_and_annotated(saved, planted):
    outputs, caption = saved
    for key in biomarker_report.OUTPUTS:
        assert Path(outputs[key]).stat().st_size > 0, key
    performance = pd.read_csv(outputs["performance"], sep="\t")
    assert list(performance.columns) == ["metric", "value"]
    required = {"auc", "auc_ci_low", "auc_ci_high", "balanced_accuracy", "sensitivity"}
    required |= {"specificity", "permutation_pvalue", "n_case", "n_control"}
    assert required <= set(performance["metric"])
    signature = pd.read_csv(outputs["signature"], sep="\t", keep_default_na=False)
    for column in ("feature", "selection_frequency", "mean_coefficient", "in_review_list"):
        assert column in signature.columns
    assert set(signature["in_review_list"]) <= {"yes", "no"}
    predictions = pd.read_csv(outputs["predictions"], sep="\t")
    assert len(predictions) == 40 and predictions["probability"].between(0, 1).all()
    for key in ("roc_plot", "calibration_plot", "signature_plot", "permutation_plot"):
        with Image.open(outputs[key]) as image:
            assert image.format == "PNG" and np.asarray(image.convert("L")).std() > 0
    assert "20 samples" in caption and "not yet evidence" not in caption


def test_listed_mirna_is_annotated_with_the_review(features_table):
    findings = read_resistance_list(REPO / "resources" / "resistance_mirnas.tsv")
    signature = pd.DataFrame(
        {"feature": ["hsa-miR-21-5p", "hsa-miR-4520-3p"], "log2_fold_change": [1.2, -0.5]}
    )
    annotated = tables.annotate_signature(signature, features_table, findings)
    assert list(annotated["in_review_list"]) == ["yes", "no"]
    assert "resistance" in annotated.loc[0, "review_roles"]
    assert annotated.loc[0, "review_drugs"] and annotated.loc[1, "review_drugs"] == ""


def test_same_seed_gives_identical_tables_whatever_the_workers(planted_design, tmp_path):
    counts, sheet = draw_cohort(planted_design, 10, 10, seed=13, prefix="D")
    fast = settings(permutations=3, covariates=["cancer"])
    runs = [
        biomarker.fit_biomarker(counts, sheet_of(sheet), CONTRAST, fast, [], n_jobs=jobs)
        for jobs in (1, 2)
    ]
    for name in ("performance", "signature", "predictions", "roc", "permutations"):
        first, second = tmp_path / f"{name}1.tsv", tmp_path / f"{name}2.tsv"
        tables.write_table(getattr(runs[0], name)(), first)
        tables.write_table(getattr(runs[1], name)(), second)
        assert first.read_bytes() == second.read_bytes(), name


def test_figures_are_reproducible(saved, tmp_path):
    outputs, _ = saved
    performance = pd.read_csv(outputs["performance"], sep="\t")
    roc = pd.read_csv(outputs["roc"], sep="\t")
    biomarker_plots.roc_plot(roc, performance, tmp_path / "roc.png")
    assert (tmp_path / "roc.png").read_bytes() == Path(outputs["roc_plot"]).read_bytes()


# --------------------------------------------------------------------------
# Every step learns from training samples only
# --------------------------------------------------------------------------


def test_prefilter_learns_from_training_samples_only():
    train = np.array([[20, 0, 50], [30, 1, 40], [25, 0, 60], [10, 2, 0]])
    test = np.array([[0, 500, 0], [0, 800, 0]])
    prefilter = CountPrefilter(min_count=10, min_fraction=0.5).fit(train)
    assert prefilter.get_support().tolist() == [True, False, True]
    assert prefilter.transform(test).tolist() == [[0, 0], [0, 0]]


def test_median_of_ratios_matches_deseq2_and_scales_new_samples_to_training():
    from pydeseq2.preprocessing import deseq2_norm

    rng = np.random.default_rng(3)
    train = rng.negative_binomial(5, 0.05, size=(8, 40)).astype(float) + 1
    norm = MedianOfRatios().fit(train)
    _, size_factors = deseq2_norm(pd.DataFrame(train))
    np.testing.assert_allclose(norm.size_factors(train), size_factors, rtol=1e-10)
    new = train[:2] * np.array([[3.0], [0.5]])
    new[0, :5] = 0  # zeros are skipped, as DESeq2 skips them with poscounts
    np.testing.assert_allclose(norm.size_factors(new[1:]), norm.size_factors(train[1:2]) * 0.5)
    refit = MedianOfRatios().fit(np.vstack([train, new]))
    assert refit.reference_.sum() < norm.reference_.sum()  # learnt from what fit() saw
    assert not np.allclose(refit.size_factors(train), norm.size_factors(train))
    np.testing.assert_allclose(
        norm.transform(train[:1]), np.log2(train[:1] / size_factors[0] + 1), rtol=1e-10
    )


def test_preselection_uses_training_labels_and_breaks_ties_by_column():
    y = np.array([0, 0, 0, 1, 1, 1])
    values = np.array(
        [[0, 5, 1, 1], [0, 5, 2, 1], [0, 5, 1, 1], [0, 5, 9, 1], [0, 5, 8, 1], [0, 5, 9, 1]],
        dtype=float,
    )
    selector = UnivariatePreselect(2).fit(values, y)
    assert selector.get_support().tolist() == [True, False, True, False]
    assert UnivariatePreselect(10).fit(values, y).get_support().all()


def test_inner_search_scores_candidates_as_scikit_learn_cross_validation_does():
    counts, sheet = null_cohort(5)
    design = counts.T.to_numpy(float)
    y = (sheet["condition"] == CASE).to_numpy(int)
    y[:6] = 1 - y[:6]  # some structure is irrelevant here; only the scoring is compared
    spec = ModelSpec("elastic_net", 20, 3, design.shape[1])
    search = build_search(spec, random_state=4).fit(design, y)
    folds = StratifiedKFold(3, shuffle=True, random_state=4)
    weights = balanced_weights(y)
    reached = np.flatnonzero(np.isfinite(search.cv_loss_))
    assert len(reached) >= 3 and reached.tolist() == list(range(len(reached)))
    for i in reached:
        params = search.candidates_[i]
        pipeline = Pipeline(
            [*search.features.steps, ("classifier", search.classifier.set_params(**params))]
        )
        predicted = cross_val_predict(
            pipeline,
            design,
            y,
            cv=folds,
            method="predict_proba",
            params={"classifier__sample_weight": weights},
        )[:, 1]
        assert search.cv_loss_[i] == pytest.approx(
            log_loss(y, predicted, sample_weight=weights), rel=1e-9
        )
    assert search.best_index_ == int(np.argmin(search.cv_loss_))


def test_out_of_fold_prediction_ignores_the_other_test_samples():
    counts, sheet = null_cohort(6)
    cohort = biomarker.prepare_cohort(counts, sheet, CONTRAST, [], [])
    fast = settings(repeats=1)
    spec = biomarker.model_spec(cohort, fast)
    before = biomarker.nested_cv(cohort.design, cohort.y, spec, fast, 5, False).probabilities[0]
    folds = StratifiedKFold(3, shuffle=True, random_state=5).split(cohort.design, cohort.y)
    test = next(folds)[1]
    changed = cohort.design.copy()
    changed[test[0], :-1] *= 7  # a wildly different test sample
    after = biomarker.nested_cv(changed, cohort.y, spec, fast, 5, False).probabilities[0]
    np.testing.assert_array_equal(before[test[1:]], after[test[1:]])


# --------------------------------------------------------------------------
# Settings, covariates, statistics, captions
# --------------------------------------------------------------------------


def test_settings_from_config():
    assert settings(enabled=True).enabled == "true"
    assert settings(enabled=False).enabled == "false"
    with pytest.raises(ValueError, match="biomarker.model"):
        settings(model="svm")
    with pytest.raises(ValueError, match="missing key"):
        biomarker.BiomarkerSettings.from_config({"model": "elastic_net"})


def test_auto_runs_from_eight_samples_in_the_smaller_group():
    auto = settings()
    assert biomarker.decide_enabled(auto, 8, 30)[0]
    on, reason = biomarker.decide_enabled(auto, 7, 30)
    assert not on and "7 samples" in reason and "enabled: true" in reason
    assert biomarker.decide_enabled(settings(enabled="true"), 3, 3)[0]
    assert not biomarker.decide_enabled(settings(enabled="false"), 50, 50)[0]
    with pytest.raises(ValueError, match="too few for 3 outer and 3 inner folds"):
        biomarker.check_group_sizes(auto, 4, 30)


def test_covariates_enter_the_model_and_have_their_own_baseline(tmp_path, planted_design):
    design = cohort_design(MATURE, n_planted=20, effect=0.7, seed=11, depth=DEPTH, cancer_effect=2)
    counts, sheet = draw_cohort(design, 12, 12, seed=31, prefix="C")
    fast = settings(covariates=["cancer"], repeats=1, permutations=2)
    result = biomarker.fit_biomarker(counts, sheet_of(sheet), CONTRAST, fast, [], n_jobs=1)
    performance = performance_of(result)
    assert performance["auc_covariates_only"] < 0.75 < performance["auc"]
    assert result.cohort.covariates == (biomarker.Covariate("cancer", ("breast", "lung")),)
    outputs = {key: tmp_path / name for key, name in biomarker_report.OUTPUTS.items()}
    biomarker_apply.save_model(result, outputs["model"])
    new = sheet_of(sheet).assign(cancer="ovary")
    _, messages = biomarker_apply.score_new_cohort(outputs["model"], counts, new)
    assert any("never saw" in m for m in messages)
    with pytest.raises(ValueError, match="no column 'cancer'"):
        biomarker_apply.score_new_cohort(outputs["model"], counts, new.drop(columns="cancer"))


def test_random_forest_runs(monkeypatch):
    monkeypatch.setattr(biomarker_model, "FOREST_TREES", 40)  # speed; one process sees it
    design = cohort_design(MATURE, n_planted=20, effect=1.0, seed=40, depth=DEPTH, cancer_effect=0)
    counts, sheet = draw_cohort(design, 12, 12, seed=41, prefix="F")
    fast = settings(model="random_forest", repeats=1, permutations=1, inner_folds=2)
    result = biomarker.fit_biomarker(counts, sheet_of(sheet), CONTRAST, fast, [], n_jobs=1)
    assert result.final.classifier_.n_estimators == 40
    assert performance_of(result)["auc"] >= 0.8
    signature = result.signature()
    assert signature["mean_coefficient"].isna().all() and (signature["mean_importance"] > 0).all()


def test_bootstrap_auc_equals_scikit_learn_on_each_resample():
    rng = np.random.default_rng(0)
    y = np.array([1] * 7 + [0] * 9)
    probabilities = rng.random((2, 16)).round(1)  # ties included
    assert tables.auc_bootstrap(y, probabilities, 1, 0).shape == (1,)
    boot = tables.auc_bootstrap(y, probabilities, 5, 3)
    generator = np.random.default_rng(3)
    case, control = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    draws_case = generator.multinomial(7, np.full(7, 1 / 7), size=5)
    draws_control = generator.multinomial(9, np.full(9, 1 / 9), size=5)
    for b in range(5):
        rows = np.concatenate(
            [np.repeat(case, draws_case[b]), np.repeat(control, draws_control[b])]
        )
        expected = np.mean([roc_auc_score(y[rows], p[rows]) for p in probabilities])
        assert boot[b] == pytest.approx(expected)


def test_permutation_pvalue_counts_ties_against_the_model():
    assert tables.permutation_pvalue(0.7, np.array([0.5, 0.7, 0.9, 0.6])) == pytest.approx(3 / 5)
    assert tables.permutation_pvalue(0.99, np.full(19, 0.5)) == pytest.approx(1 / 20)


def test_caption_warns_below_the_evidence_bound():
    base = {"auc": 0.7, "auc_ci_high": 0.8, "n_case": 9, "n_control": 11, "outer_folds": 5}
    base |= {"repeats": 3, "permutation_pvalue": 0.02, "permutations": 200}
    weak = pd.DataFrame(list({**base, "auc_ci_low": 0.55}.items()), columns=["metric", "value"])
    strong = pd.DataFrame(list({**base, "auc_ci_low": 0.62}.items()), columns=["metric", "value"])
    text = biomarker_plots.caption_text(weak, CONTRAST)
    assert "9 samples" in text and "11 samples" in text and "not yet evidence" in text
    assert "not yet evidence" not in biomarker_plots.caption_text(strong, CONTRAST)


def test_skipped_analysis_still_writes_every_output(tmp_path):
    outputs = {key: tmp_path / name for key, name in biomarker_report.OUTPUTS.items()}
    biomarker_report.write_skipped("auto: the smaller group has 5 samples", outputs, CONTRAST)
    assert all(Path(p).is_file() for p in outputs.values())
    assert "not run" in pd.read_csv(outputs["performance"], sep="\t")["value"][0]
    with pytest.raises(ValueError, match="holds no model.*smaller group has 5 samples"):
        biomarker_apply.read_model_features(outputs["model"])


def test_simulator_is_deterministic_and_plants_what_it_says(planted_design):
    first, sheet = draw_cohort(planted_design, 3, 2, seed=5, prefix="X")
    second, _ = draw_cohort(planted_design, 3, 2, seed=5, prefix="X")
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 2656 and first.index[0].startswith("hsa-")
    assert list(sheet["condition"]) == [CASE] * 3 + [CONTROL] * 2
    counts, _ = draw_cohort(planted_design, 150, 150, seed=6, prefix="X")
    planted = planted_design.planted
    assert len(planted) == 20
    case, control = counts.iloc[:, :150], counts.iloc[:, 150:]
    depth = np.log2(case.sum().mean() / control.sum().mean())
    for feature, lfc in planted.items():
        observed = np.log2(case.loc[feature].mean() / control.loc[feature].mean()) - depth
        assert observed == pytest.approx(lfc, abs=0.25), feature


def test_inner_search_is_a_scikit_learn_classifier():
    from sklearn.base import is_classifier

    assert is_classifier(InnerSearch(None, None, None, 2, 0))
