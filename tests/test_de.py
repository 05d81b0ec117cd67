"""Tests of exomir.de: concordance with R DESeq2, input errors, determinism,
batch adjustment on planted data, and the count-matrix helpers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import de_options, make_contrast
from exomir.de import (
    RESULT_COLUMNS,
    check_samples_match,
    read_count_matrix,
    run_contrasts,
    run_de,
)

# ---------------------------------------------------------------------------
# Concordance with R DESeq2
#
# The reference files are those shipped with PyDESeq2's own test-suite: a
# synthetic 10-gene x 100-sample data set analysed with R DESeq2 (DESeq(),
# results(), lfcShrink(type="apeglm"), estimateSizeFactors()).  The R runs
# used no prefiltering, so min_count=0 here; the reference level of every
# factor is its first level in sorted order (A, X), as in R.
# ---------------------------------------------------------------------------

R_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "deseq2_reference" / "pydeseq2"
needs_r_reference = pytest.mark.skipif(
    not R_DIR.is_dir(),
    reason=f"R DESeq2 reference data not found at {R_DIR} (PyDESeq2 test data, not bundled)",
)

# case -> (counts, metadata, design, contrast).  R's results() reports the last
# design coefficient: condition B vs A for the factor designs, and the slope of
# the continuous covariate 'measurement' (change per unit, i.e. 1 vs 0) for
# the continuous design.
R_CASES = {
    "single_factor": (
        "datasets/synthetic/test_counts.csv",
        "datasets/synthetic/test_metadata.csv",
        "~ condition",
        ("condition", "B", "A"),
    ),
    "multi_factor": (
        "datasets/synthetic/test_counts.csv",
        "datasets/synthetic/test_metadata.csv",
        "~ group + condition",
        ("condition", "B", "A"),
    ),
    "continuous": (
        "tests/data/continuous/test_counts.csv",
        "tests/data/continuous/test_metadata.csv",
        "~ group + condition + measurement",
        ("measurement", "1", "0"),
    ),
}

# Genes allowed to sit on different sides of padj = 0.05 in R and here.  Only a
# gene whose R padj is within 1e-3 of the threshold may be listed, because
# optimiser differences move padj by up to ~1e-3 relative.  None is needed on these
# data sets: the R padj closest to 0.05 are 0.0348 and 0.0381 below it, 0.0641
# and 0.0648 above it.
BORDERLINE: dict[str, set[str]] = {
    "single_factor": set(),
    "multi_factor": set(),
    "continuous": set(),
}

LFC_TOL = 1e-2  # absolute, log2 scale; observed max difference ~3e-6
# apeglm: PyDESeq2 and R maximise the same posterior with different optimisers
# (L-BFGS-B vs apeglm's C++ Newton/L-BFGS) starting from slightly different
# dispersions; observed max |difference| ~3e-4, so 5e-3 leaves a 20-fold margin
# while still catching a wrong coefficient, prior scale or sign (those shift
# values by >= 0.05 on these genes).
SHRINK_TOL = 5e-3


def _r_csv(relative: str) -> pd.DataFrame:
    return pd.read_csv(R_DIR / relative, index_col=0)


_R_RUNS: dict[str, object] = {}


def _r_case_result(case: str):
    """run_de on an R reference case (cached: several tests share a run)."""
    if case not in _R_RUNS:
        counts_file, meta_file, design, contrast = R_CASES[case]
        counts = _r_csv(counts_file)  # genes x samples, as run_de expects
        metadata = _r_csv(meta_file)
        _R_RUNS[case] = run_de(
            counts, metadata, make_contrast(*contrast, design=design), de_options(min_count=0)
        )
    return _R_RUNS[case]


@needs_r_reference
@pytest.mark.parametrize("case", sorted(R_CASES))
def test_r_concordance_results(case):
    result = _r_case_result(case)
    ours = result.table.set_index("feature")
    r_res = _r_csv(f"tests/data/{case}/r_test_res.csv")
    tested = r_res.index[r_res["log2FoldChange"].notna()]
    assert len(tested) == len(r_res) == 10
    ours = ours.loc[r_res.index]

    lfc_diff = (ours.loc[tested, "log2FoldChange"] - r_res.loc[tested, "log2FoldChange"]).abs()
    assert lfc_diff.max() < LFC_TOL, lfc_diff.sort_values().tail()

    # Same missing p-values (Cook's / independent filtering), close p-values.
    assert (ours["pvalue"].isna() == r_res["pvalue"].isna()).all()
    assert (ours["padj"].isna() == r_res["padj"].isna()).all()
    rel = ((ours["padj"] - r_res["padj"]).abs() / r_res["padj"]).dropna()
    assert rel.max() < 2e-2

    ours_sig = set(ours.index[ours["padj"] < 0.05])
    r_sig = set(r_res.index[r_res["padj"] < 0.05])
    discordant = ours_sig ^ r_sig
    assert discordant <= BORDERLINE[case], f"discordant significant genes: {sorted(discordant)}"
    for gene in BORDERLINE[case]:
        assert abs(r_res.loc[gene, "padj"] - 0.05) < 1e-3


@needs_r_reference
@pytest.mark.parametrize("case", sorted(R_CASES))
def test_r_concordance_apeglm_shrinkage(case):
    result = _r_case_result(case)
    expected = "measurement" if case == "continuous" else "condition[T.B]"
    assert result.coefficient == expected
    ours = result.table.set_index("feature")
    r_shrunk = _r_csv(f"tests/data/{case}/r_test_lfc_shrink_res.csv")
    diff = (ours.loc[r_shrunk.index, "log2FoldChange_shrunk"] - r_shrunk["log2FoldChange"]).abs()
    assert diff.max() < SHRINK_TOL, diff.sort_values().tail()


@needs_r_reference
@pytest.mark.parametrize("case", sorted(R_CASES))
def test_r_concordance_ratio_size_factors(case):
    result = _r_case_result(case)
    r_sf = _r_csv(f"tests/data/{case}/r_test_size_factors.csv").iloc[:, 0]
    ours = result.size_factors.loc[r_sf.index]
    np.testing.assert_allclose(ours.to_numpy(), r_sf.to_numpy(), rtol=1e-8)


@needs_r_reference
def test_r_concordance_poscounts_size_factors():
    counts = _r_csv("datasets/synthetic/test_counts.csv")
    metadata = _r_csv("datasets/synthetic/test_metadata.csv")
    options = de_options(size_factors="poscounts", min_count=0, shrink=False)
    result = run_de(counts, metadata, make_contrast("condition", "B", "A"), options)
    r_sf = _r_csv("tests/data/single_factor/r_test_size_factors_poscount.csv").iloc[:, 0]
    np.testing.assert_allclose(
        result.size_factors.loc[r_sf.index].to_numpy(), r_sf.to_numpy(), rtol=1e-8
    )


@needs_r_reference
def test_r_concordance_blind_vst():
    # R: varianceStabilizingTransformation(dds, blind=TRUE)
    result = _r_case_result("single_factor")
    r_vst = _r_csv("tests/data/single_factor/r_vst.csv")
    ours = result.vst.loc[r_vst.index, r_vst.columns]
    rel = ((ours - r_vst).abs() / r_vst.abs()).to_numpy()
    assert rel.max() < 1e-3  # observed ~2e-5


# ---------------------------------------------------------------------------
# Small data sets for the remaining tests
# ---------------------------------------------------------------------------


def _small_data(seed: int = 7, n_features: int = 30):
    rng = np.random.default_rng(seed)
    names = [f"S{i}" for i in range(1, 9)]
    samples = pd.DataFrame(
        {"condition": ["resistant"] * 4 + ["sensitive"] * 4, "batch": ["a", "b"] * 4},
        index=names,
    )
    mu = np.exp(rng.normal(4.0, 1.0, n_features))[:, None] * np.ones(8)
    counts = rng.negative_binomial(10, 10 / (10 + mu))
    features = [f"hsa-miR-{i}" for i in range(1, n_features + 1)]
    return pd.DataFrame(counts, index=features, columns=names), samples


def simulate_planted_batch(seed: int = 20240601):
    """NB counts with an unbalanced batch effect and a planted condition effect.

    200 features x 16 samples; batch A has 6 resistant / 2 sensitive samples,
    batch B 2 resistant / 6 sensitive.  100 features shift by log2 +/-2 in
    batch B; 20 (other or overlapping) features shift by log2 +/-1.5 in the
    resistant samples.  Returns counts, the sample table and the true log2
    fold changes (resistant vs sensitive).
    """
    rng = np.random.default_rng(seed)
    n_features = 200
    batch = np.array(["A"] * 8 + ["B"] * 8)
    condition = np.array(
        ["resistant"] * 6 + ["sensitive"] * 2 + ["resistant"] * 2 + ["sensitive"] * 6
    )
    names = [f"S{i + 1:02d}" for i in range(16)]
    samples = pd.DataFrame({"batch": batch, "condition": condition}, index=names)
    base = np.exp(rng.normal(np.log(200), 1.0, n_features))
    batch_lfc = np.zeros(n_features)
    hit = rng.choice(n_features, 100, replace=False)
    batch_lfc[hit] = 2.0 * rng.choice([-1.0, 1.0], 100)
    true_lfc = np.zeros(n_features)
    planted = rng.choice(n_features, 20, replace=False)
    true_lfc[planted] = 1.5 * rng.choice([-1.0, 1.0], 20)
    library = np.exp(rng.normal(0.0, 0.2, 16))
    log2_mu = (
        np.log2(base)[:, None]
        + batch_lfc[:, None] * (batch == "B")
        + true_lfc[:, None] * (condition == "resistant")
    )
    mu = 2.0**log2_mu * library
    size = 1.0 / (0.05 + 2.0 / base)[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    features = [f"miR-{i + 1:03d}" for i in range(n_features)]
    return (
        pd.DataFrame(counts, index=features, columns=names),
        samples,
        pd.Series(true_lfc, index=features),
    )


# ---------------------------------------------------------------------------
# Output format
# ---------------------------------------------------------------------------


def test_result_table_layout_and_prefilter():
    counts, samples = _small_data()
    counts.loc["hsa-miR-1"] = [1, 0, 2, 0, 1, 0, 0, 3]  # total 7 < min_count
    result = run_de(counts, samples, make_contrast(), de_options(min_count=10, shrink=False))
    table = result.table
    assert list(table.columns) == list(RESULT_COLUMNS) + [f"norm_{s}" for s in samples.index]
    assert "hsa-miR-1" not in set(table["feature"])
    assert (result.n_tested, result.n_filtered) == (29, 1)
    assert list(result.vst.columns) == list(samples.index)
    assert set(result.vst.index) == set(table["feature"])
    assert table["log2FoldChange_shrunk"].isna().all()
    assert result.contrast.label == "condition: resistant vs sensitive"
    # sorted by padj (NaN last), then pvalue, then name
    padj = table["padj"].to_numpy()
    finite = padj[~np.isnan(padj)]
    assert (np.diff(finite) >= 0).all()
    assert not np.isnan(padj[: len(finite)]).any()
    # normalised counts are counts / size factor
    row = table.set_index("feature").loc["hsa-miR-5"]
    norm = row[[f"norm_{s}" for s in samples.index]].to_numpy(dtype=float)
    expected = counts.loc["hsa-miR-5"].to_numpy() / result.size_factors.to_numpy()
    np.testing.assert_allclose(norm, expected)


def test_counts_columns_follow_sample_table_order():
    counts, samples = _small_data()
    shuffled = counts[list(reversed(counts.columns))]
    a = run_de(counts, samples, make_contrast(), de_options(shrink=False)).table
    b = run_de(shuffled, samples, make_contrast(), de_options(shrink=False)).table
    pd.testing.assert_frame_equal(a, b)


# ---------------------------------------------------------------------------
# Errors name the culprit
# ---------------------------------------------------------------------------


def test_error_design_variable_missing():
    counts, samples = _small_data()
    with pytest.raises(ValueError, match=r"the design '~ hemolysis \+ condition' uses hemolysis"):
        run_de(counts, samples, make_contrast(design="~ hemolysis + condition"), de_options())


def test_error_contrast_level_absent():
    counts, samples = _small_data()
    with pytest.raises(
        ValueError, match=r"'responder'.*condition.*levels found: resistant, sensitive"
    ):
        run_de(counts, samples, make_contrast("condition", "responder", "sensitive"), de_options())


def test_error_contrast_variable_not_in_design():
    counts, samples = _small_data()
    with pytest.raises(ValueError, match=r"'batch' is not in the design"):
        run_de(
            counts, samples, make_contrast("batch", "b", "a", design="~ condition"), de_options()
        )


def test_error_sample_missing_from_sample_table():
    counts, samples = _small_data()
    counts["S99"] = 5
    with pytest.raises(
        ValueError, match=r"in the count matrix are missing from the sample table: S99"
    ):
        run_de(counts, samples, make_contrast(), de_options())


def test_error_sample_missing_from_counts():
    counts, samples = _small_data()
    with pytest.raises(
        ValueError, match=r"in the sample table are missing from the count matrix: S3"
    ):
        run_de(counts.drop(columns="S3"), samples, make_contrast(), de_options())


def test_error_non_integer_count():
    counts, samples = _small_data()
    counts = counts.astype(float)
    counts.loc["hsa-miR-4", "S6"] = 2.5
    with pytest.raises(ValueError, match=r"feature hsa-miR-4, sample S6 \(value 2.5\)"):
        run_de(counts, samples, make_contrast(), de_options())


def test_error_negative_count():
    counts, samples = _small_data()
    counts.loc["hsa-miR-7", "S2"] = -3
    with pytest.raises(ValueError, match=r"feature hsa-miR-7, sample S2 \(value -3\)"):
        run_de(counts, samples, make_contrast(), de_options())


def test_error_control_feature_absent():
    counts, samples = _small_data()
    options = de_options(control_features=("hsa-miR-2", "cel-miR-39-3p"))
    with pytest.raises(ValueError, match=r"Control feature\(s\) cel-miR-39-3p are not rows"):
        run_de(counts, samples, make_contrast(), options)


def test_error_confounded_design():
    counts, samples = _small_data()
    samples["batch"] = samples["condition"].map({"resistant": "a", "sensitive": "b"})
    with pytest.raises(ValueError, match=r"not full rank"):
        run_de(counts, samples, make_contrast(design="~ batch + condition"), de_options())


# With a zero in every feature the parametric dispersion trend may not converge;
# PyDESeq2 then falls back to the mean trend and run_de re-issues its warning.
@pytest.mark.filterwarnings("ignore:PyDESeq2:UserWarning")
def test_error_ratio_size_factors_on_sparse_data():
    counts, samples = _small_data()
    for i, feature in enumerate(counts.index):
        counts.loc[feature, samples.index[i % 8]] = 0
    with pytest.raises(ValueError, match=r"size_factors='poscounts'"):
        run_de(counts, samples, make_contrast(), de_options(shrink=False))
    result = run_de(
        counts, samples, make_contrast(), de_options(size_factors="poscounts", shrink=False)
    )
    assert np.isfinite(result.size_factors).all()


def test_control_features_drive_size_factors():
    counts, samples = _small_data()
    controls = ("hsa-miR-2", "hsa-miR-3", "hsa-miR-5")
    # Double every other feature in S1: only control features define its size factor.
    others = [f for f in counts.index if f not in controls]
    counts.loc[others, "S1"] *= 2
    with_controls = run_de(
        counts, samples, make_contrast(), de_options(control_features=controls, shrink=False)
    )
    sub = counts.loc[list(controls)]
    log_geo = np.log(sub).mean(axis=1)
    # DESeq2's median of ratios restricted to the control features (as R's
    # estimateSizeFactors(controlGenes=...), no rescaling of the result).
    expected = np.exp(np.median(np.log(sub).sub(log_geo, axis=0), axis=0))
    np.testing.assert_allclose(with_controls.size_factors.to_numpy(), expected, rtol=1e-10)


# ---------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------


def test_identical_inputs_give_identical_tables():
    counts, samples, _ = simulate_planted_batch()
    contrast, options = make_contrast(design="~ batch + condition"), de_options()
    first = run_de(counts, samples, contrast, options)
    second = run_de(counts.copy(), samples.copy(), contrast, options)
    assert first.table.to_csv(sep="\t") == second.table.to_csv(sep="\t")
    assert first.vst.to_csv(sep="\t") == second.vst.to_csv(sep="\t")


# ---------------------------------------------------------------------------
# Batch adjustment recovers a planted effect
# ---------------------------------------------------------------------------


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney), ties counted half."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_batch_in_design_recovers_planted_condition_effect():
    counts, samples, truth = simulate_planted_batch()
    metrics = {}
    for design in ("~ condition", "~ batch + condition"):
        table = run_de(
            counts, samples, make_contrast(design=design), de_options(shrink=False)
        ).table
        table = table.set_index("feature").loc[truth.index]
        planted = (truth != 0).to_numpy()
        significant = (table["padj"] < 0.05).to_numpy()
        metrics[design] = {
            "mae": float((table["log2FoldChange"] - truth).abs().mean()),
            "auc": _auc(table["stat"].abs().fillna(0).to_numpy(), planted),
            "tp": int((significant & planted).sum()),
            "fp": int((significant & ~planted).sum()),
        }
    naive, adjusted = metrics["~ condition"], metrics["~ batch + condition"]
    # Ignoring the unbalanced batch biases condition LFCs by about
    # 2 * (6/8 - 2/8) = 1 log2 unit on batch-affected features.
    assert naive["mae"] > 0.4
    assert adjusted["mae"] < 0.5 * naive["mae"], metrics
    assert adjusted["auc"] > naive["auc"], metrics
    assert adjusted["tp"] >= naive["tp"], metrics
    assert adjusted["fp"] < naive["fp"], metrics
    assert adjusted["tp"] >= 18, metrics


# ---------------------------------------------------------------------------
# Several contrasts
# ---------------------------------------------------------------------------


def test_run_contrasts_main_and_subset():
    counts, samples, _ = simulate_planted_batch()
    main = make_contrast(design="~ batch + condition")
    subset = make_contrast(name="batchB_resistant_vs_sensitive", subset=("batch", "B"))
    results = run_contrasts(counts, samples, [main, subset], de_options(shrink=False))
    assert list(results) == ["resistant_vs_sensitive", "batchB_resistant_vs_sensitive"]
    sub = results["batchB_resistant_vs_sensitive"]
    in_b = list(samples.index[samples["batch"] == "B"])
    assert list(sub.size_factors.index) == in_b
    assert [c for c in sub.table.columns if c.startswith("norm_")] == [f"norm_{s}" for s in in_b]
    absent = make_contrast(name="batchC", subset=("batch", "C"))
    with pytest.raises(ValueError, match=r"no sample has batch = 'C'"):
        run_contrasts(counts, samples, [main, absent], de_options(shrink=False))


# ---------------------------------------------------------------------------
# Starting from a user-supplied count matrix
# ---------------------------------------------------------------------------


def test_read_count_matrix_tsv_and_csv(tmp_path):
    tsv = tmp_path / "counts.tsv"
    tsv.write_text("miRNA\tS1\tS2\nmiR-1\t10\t12.0\nmiR-2\t0\t3\n")
    counts = read_count_matrix(tsv)
    assert counts.to_dict() == {"S1": {"miR-1": 10, "miR-2": 0}, "S2": {"miR-1": 12, "miR-2": 3}}
    assert counts.dtypes.eq(np.int64).all()
    csv = tmp_path / "counts.csv"
    csv.write_text("miRNA,S1,S2\nmiR-1,10,12\nmiR-2,0,3\n")
    pd.testing.assert_frame_equal(read_count_matrix(csv), counts)


def test_read_count_matrix_duplicate_feature(tmp_path):
    path = tmp_path / "counts.tsv"
    path.write_text("miRNA\tS1\tS2\nmiR-1\t1\t2\nmiR-2\t3\t4\nmiR-1\t5\t6\n")
    with pytest.raises(ValueError, match=r"duplicate feature name\(s\) miR-1 \(lines 2 and 4\)"):
        read_count_matrix(path)


@pytest.mark.parametrize("value", ["3.5", "abc", "-2", ""])
def test_read_count_matrix_bad_value_names_row_and_column(tmp_path, value):
    path = tmp_path / "counts.tsv"
    path.write_text(f"miRNA\tS1\tS2\nmiR-1\t1\t2\nmiR-2\t3\t{value}\n")
    with pytest.raises(ValueError, match=r"feature miR-2 \(line 3\), sample S2"):
        read_count_matrix(path)


def test_check_samples_match_lists_both_sides():
    counts = pd.DataFrame({"S1": [1], "S2": [2], "X9": [3]}, index=["miR-1"])
    sheet = pd.DataFrame({"condition": ["a", "b", "a"]}, index=["S1", "S2", "S3"])
    with pytest.raises(ValueError) as info:
        check_samples_match(counts, sheet, "counts.tsv", "samples.tsv")
    message = str(info.value)
    assert "count matrix counts.tsv are missing from sample sheet samples.tsv: X9" in message
    assert "sample sheet samples.tsv are missing from count matrix counts.tsv: S3" in message
    ordered = check_samples_match(counts[["S2", "S1"]], sheet.iloc[:2], "c", "s")
    assert list(ordered.columns) == ["S1", "S2"]
