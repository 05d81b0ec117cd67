"""Hemolysis guard (exomir.hemolysis): the index from counts, the group test, the caution
rule, the adjusted fit, the plots and the simulator's confounded cohort; and the issue's
acceptance on a simulated hemolysis-confounded cohort."""

import gzip
import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from conftest import REPO, make_contrast, qc_settings, run_snakemake
from conftest import de_options as default_de_options
from exomir import de, hemolysis, plots, qc, simulate
from exomir.reference import build_features, mature_from_fasta

MATURE = REPO / "resources" / "mirbase" / "hsa_mature.fa"
HAIRPIN = REPO / "resources" / "mirbase" / "hsa_hairpin.fa"
LIST = REPO / "resources" / "blood_cell_mirnas.tsv"
RED = ["hsa-miR-16-5p", "hsa-miR-451a", "hsa-miR-486-5p", "hsa-miR-92a-3p"]
CONTRAST = make_contrast()
MIRNAS = ("miR-451a", "miR-23a-3p")


def features_table() -> pd.DataFrame:
    """The reference's features.tsv (feature, mature_names, mimat) from the bundled miRBase."""
    names = {m.accession: m.name for m in mature_from_fasta(MATURE)}
    rows = [
        (feature, ";".join(names[a] for a in accs.split(";")), accs)
        for feature, accs, _ in build_features(mature_from_fasta(MATURE))
    ]
    return pd.DataFrame(rows, columns=["feature", "mature_names", "mimat"])


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return features_table()


@pytest.fixture(scope="module")
def blood() -> pd.DataFrame:
    return hemolysis.read_blood_cell_list(LIST)


def de_options(**changes) -> de.DEOptions:
    return default_de_options(**{"size_factors": "poscounts", "shrink": False, **changes})


def sheet(n_case: int, n_control: int, **columns) -> pd.DataFrame:
    names = [f"R{i + 1:02d}" for i in range(n_case)] + [f"S{i + 1:02d}" for i in range(n_control)]
    table = pd.DataFrame(
        {"condition": ["resistant"] * n_case + ["sensitive"] * n_control, **columns},
        index=pd.Index(names, name="sample"),
    )
    return table


def group_row(differs: str, case_median: float = 2.0, control_median: float = 1.0) -> dict:
    return {
        "contrast": "resistant_vs_sensitive",
        "case_median": case_median,
        "control_median": control_median,
        "pvalue": 0.01 if differs == "yes" else (math.nan if differs == "NA" else 0.5),
        "differs": differs,
        "note": "",
    }


# --------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------


def test_index_from_counts_is_the_qc_index():
    counts = pd.DataFrame(
        {"A": [100, 10, 7], "B": [3, 2, 9], "C": [0, 50, 1]},
        index=["hsa-miR-451a", "hsa-miR-23a-3p", "hsa-miR-21-5p"],
    )
    index, note = hemolysis.index_from_counts(counts, MIRNAS, 10)
    assert index["A"] == pytest.approx(math.log2(101 / 11))
    assert np.isnan(index["B"]) and "1 sample(s) with fewer than 10 reads" in note
    assert index["C"] == pytest.approx(math.log2(1 / 51))
    thresholds = qc_settings(hemolysis_min_reads=10)
    for sample in ("A", "C"):
        row = qc.sample_row(
            sample,
            {
                "raw_reads": 1000,
                "reads_kept": 900,
                "reads_with_adapter": 950,
                "adapter_dimers": 0,
                "too_short": 0,
                "too_long": 0,
            },
            {},
            {20: 10},
            counts[sample],
            thresholds,
        )
        assert index[sample] == pytest.approx(row["hemolysis_index"])


def test_index_from_counts_without_the_two_mirnas_gives_a_note_not_an_error():
    counts = pd.DataFrame({"A": [5, 7], "B": [1, 2]}, index=["hsa-miR-451a", "hsa-miR-21-5p"])
    index, note = hemolysis.index_from_counts(counts, MIRNAS, 10)
    assert index.isna().all() and list(index.index) == ["A", "B"]
    assert "miR-23a-3p not in the count matrix" in note and "qc.hemolysis_mirnas" in note


def test_index_from_counts_finds_unprefixed_and_merged_names():
    counts = pd.DataFrame({"A": [40, 10]}, index=["miR-451a", "hsa-miR-23a-3p/hsa-miR-23c"])
    index, _ = hemolysis.index_from_counts(counts, MIRNAS, 10)
    assert index["A"] == pytest.approx(math.log2(41 / 11))


def test_index_from_qc_table_reads_na():
    table = pd.DataFrame({"sample": ["A", "B"], "hemolysis_index": ["1.500", "NA"]})
    index = hemolysis.index_from_qc_table(table)
    assert index["A"] == 1.5 and np.isnan(index["B"])
    with pytest.raises(hemolysis.HemolysisError, match="exomir_sample_qc"):
        hemolysis.index_from_qc_table(table.drop(columns=["hemolysis_index"]))


# --------------------------------------------------------------------------
# Does hemolysis differ between the groups?
# --------------------------------------------------------------------------


def test_separated_groups_differ_with_the_exact_mann_whitney_p():
    samples = sheet(6, 6)
    index = pd.Series(np.r_[np.arange(6) + 10.0, np.arange(6) + 1.0], index=samples.index)
    row = hemolysis.compare_groups(index, samples, CONTRAST, [], 0.05)
    assert row["pvalue"] == pytest.approx(2 / math.comb(12, 6))
    assert row["differs"] == "yes" and row["method"] == "Mann-Whitney U"
    assert row["case_median"] == pytest.approx(12.5) and row["control_median"] == 3.5


def test_same_distribution_does_not_differ_and_missing_samples_are_counted():
    samples = sheet(6, 6)
    values = [1.0, 2, 3, 4, 5, np.nan, 1.5, 2.5, 3.5, 4.5, np.nan, np.nan]
    row = hemolysis.compare_groups(
        pd.Series(values, index=samples.index), samples, CONTRAST, [], 0.05
    )
    assert row["differs"] == "no" and row["pvalue"] > 0.5
    assert (row["n_case"], row["n_control"], row["n_missing"]) == (5, 4, 3)
    assert "3 sample(s) without a hemolysis index left out" in row["note"]


def test_too_few_indexed_samples_gives_na_not_a_guess():
    samples = sheet(3, 3)
    values = pd.Series([1.0, 2.0, 3.0, 4.0, np.nan, np.nan], index=samples.index)
    row = hemolysis.compare_groups(values, samples, CONTRAST, [], 0.05)
    assert row["differs"] == "NA" and math.isnan(row["pvalue"])
    assert "fewer than 2 samples" in row["note"]


def test_van_elteren_with_one_stratum_is_the_normal_mann_whitney():
    rng = np.random.default_rng(3)
    x = rng.normal(size=14)
    is_case = np.arange(14) < 6
    _, p = hemolysis.van_elteren(x, is_case, np.zeros(14))
    expected = stats.mannwhitneyu(
        x[is_case], x[~is_case], use_continuity=False, method="asymptotic"
    ).pvalue
    assert p == pytest.approx(expected)


def test_strata_keep_a_batch_difference_from_looking_like_a_group_difference():
    """Hemolysis differs between batches, batch goes with the group, not within a batch."""
    samples = sheet(8, 8, batch=["A"] * 6 + ["B"] * 2 + ["A"] * 2 + ["B"] * 6)
    rng = np.random.default_rng(7)
    index = pd.Series(
        np.where(samples["batch"] == "A", 5.0, 1.0) + rng.normal(0, 0.5, 16), index=samples.index
    )
    plain = hemolysis.compare_groups(index, samples, CONTRAST, [], 0.05)
    stratified = hemolysis.compare_groups(index, samples, CONTRAST, ["batch"], 0.05)
    assert plain["differs"] == "yes"
    assert stratified["differs"] == "no" and stratified["method"].startswith("van Elteren")
    with pytest.raises(hemolysis.HemolysisError, match="site"):
        hemolysis.compare_groups(index, samples, CONTRAST, ["site"], 0.05)


def test_design_strata_are_the_categorical_covariates():
    samples = sheet(2, 2, batch=["A", "B", "A", "B"], age=[50.0, 61.0, 45.0, 70.0])
    with_batch = make_contrast(design="~ batch + age + condition")
    assert hemolysis.design_strata(with_batch, samples) == ["batch"]
    assert hemolysis.design_strata(CONTRAST, samples) == []


# --------------------------------------------------------------------------
# The caution rule
# --------------------------------------------------------------------------


def test_stratified_spearman_ignores_the_group_shift():
    groups = np.array(["a"] * 6 + ["b"] * 6)
    y = np.r_[np.arange(6.0), np.arange(6.0)]
    rng = np.random.default_rng(0)
    tracking_row = y + 10 * (groups == "b")  # follows y within each group, plus a shift
    shift_only = 10.0 * (groups == "b") + rng.permutation(np.r_[np.arange(6.0), np.arange(6.0)])
    rho, p = hemolysis.stratified_spearman(np.vstack([tracking_row, shift_only]), y, groups)
    assert rho[0] == pytest.approx(1.0) and p[0] < 1e-6
    assert abs(rho[1]) < 0.6 and p[1] > 0.05
    plain = stats.spearmanr(shift_only, y + 10 * (groups == "b")).statistic
    assert plain > 0.7  # a pooled correlation would have called it tracking


def caution_case():
    """Four significant features and one not, 12 samples, a known covariate."""
    samples = sheet(6, 6)
    cov = pd.Series(np.r_[np.arange(6.0), np.arange(6.0)], index=samples.index)
    rng = np.random.default_rng(5)
    noise = [rng.permutation(12) + 100.0 for _ in range(3)]
    rows = {
        "hsa-miR-16-5p": noise[0],  # listed red-cell, up in resistant, does not track
        "hsa-miR-92a-3p": noise[1],  # listed red-cell, down in resistant
        "hsa-miR-451a": noise[2],  # listed, not significant
        "hsa-miR-9999": 100 + 10 * cov.to_numpy(),  # unlisted, tracks the covariate
        "hsa-miR-21-5p": noise[0][::-1].copy(),  # unlisted, no tracking
    }
    table = pd.DataFrame(
        {
            "feature": list(rows),
            "log2FoldChange": [1.5, -1.5, 0.2, 1.0, 2.0],
            "padj": [0.001, 0.002, 0.6, 0.003, 0.0001],
        }
    )
    for j, sample in enumerate(samples.index):
        table[f"norm_{sample}"] = [values[j] for values in rows.values()]
    listed = {f: "red_cell" for f in RED}
    covariate = hemolysis.Covariate("index", cov, {})
    return table, samples["condition"], listed, covariate


@pytest.mark.parametrize(
    ("differs", "case_median", "expected"),
    [
        ("yes", 2.0, {"hsa-miR-16-5p", "hsa-miR-9999"}),  # resistant more hemolysed
        ("yes", 0.5, {"hsa-miR-92a-3p", "hsa-miR-9999"}),  # sensitive more hemolysed
        ("no", 2.0, {"hsa-miR-9999"}),
        ("NA", 2.0, {"hsa-miR-16-5p", "hsa-miR-92a-3p", "hsa-miR-9999"}),
    ],
)
def test_caution_rule(differs, case_median, expected):
    table, groups, listed, covariate = caution_case()
    rule = hemolysis.Rule(alpha=0.05, min_rho=0.5, track_fdr=0.05)
    row = group_row(differs, case_median=case_median)
    caution = hemolysis.caution_table(table, covariate, groups, listed, row, rule)
    flagged = set(caution["feature"][caution["blood_cell_caution"] == "yes"])
    assert flagged == expected
    by_feature = caution.set_index("feature")
    assert by_feature.at["hsa-miR-451a", "blood_cell_caution"] == "no"  # not significant
    assert by_feature.at["hsa-miR-9999", "tracks_hemolysis"] == "yes"
    assert "tracks the index" in by_feature.at["hsa-miR-9999", "reason"]
    assert by_feature.at["hsa-miR-21-5p", "reason"] == ""


def test_listing_is_by_accession_so_merged_features_are_found(features, blood):
    listed = hemolysis.listed_features(features, blood, ["platelet", "red_cell"])
    assert listed["hsa-miR-199a-3p/hsa-miR-199b-3p"] == "platelet"
    assert listed["hsa-miR-451a"] == "red_cell"
    assert "hsa-miR-21-5p" not in listed
    red_only = hemolysis.listed_features(features, blood, ["red_cell"])
    assert set(red_only) >= set(RED) and "hsa-miR-199a-3p/hsa-miR-199b-3p" not in red_only
    with pytest.raises(hemolysis.HemolysisError, match="monocyte"):
        hemolysis.listed_features(features, blood, ["monocyte"])


def test_caution_column_in_de_table_and_hits():
    table, groups, listed, covariate = caution_case()
    rule = hemolysis.Rule(0.05, 0.5, 0.05)
    caution = hemolysis.caution_table(table, covariate, groups, listed, group_row("yes"), rule)
    marked = hemolysis.add_caution(table, caution)
    columns = list(marked.columns)
    assert columns.index("blood_cell_caution") == columns.index("norm_R01") - 1
    assert list(marked["blood_cell_caution"]) == ["yes", "no", "no", "yes", "no"]
    hits = pd.DataFrame(
        {"feature": ["hsa-miR-21-5p", "hsa-miR-16-5p"], "significant": ["yes", "yes"], "x": [1, 2]}
    )
    annotated = hemolysis.add_caution_to_hits(hits, marked)
    assert list(annotated.columns) == ["feature", "significant", "blood_cell_caution", "x"]
    assert list(annotated["blood_cell_caution"]) == ["no", "yes"]


def test_reference_check_names_a_changing_reference():
    table = pd.DataFrame(
        {
            "feature": ["hsa-miR-23a-3p", "hsa-miR-451a"],
            "log2FoldChange": [1.7, 0.05],
            "padj": [1e-20, 0.99],
        }
    )
    note = hemolysis.reference_check(table, MIRNAS, 0.05)
    assert "miR-23a-3p, the index's reference, itself differs" in note and "miR-451a" in note
    table.loc[0, "padj"] = 0.5
    assert hemolysis.reference_check(table, MIRNAS, 0.05) == ""


# --------------------------------------------------------------------------
# The covariate and the adjusted fit
# --------------------------------------------------------------------------


def test_red_cell_score_and_its_leave_one_out_versions():
    table = pd.DataFrame(
        {
            "feature": ["hsa-miR-451a", "hsa-miR-16-5p", "hsa-miR-21-5p"],
            "norm_A": [3.0, 7.0, 100.0],
            "norm_B": [15.0, 31.0, 100.0],
        }
    )
    index = pd.Series([1.0, 2.0], index=["A", "B"])
    cov = hemolysis.hemolysis_covariate(
        "red_cell_score", table, index, ["hsa-miR-451a", "hsa-miR-16-5p", "hsa-miR-92a-3p"]
    )
    assert cov.kind == "red_cell_score"
    assert list(cov.values) == [2.5, 4.5]  # mean of log2(3+1), log2(7+1); log2(16), log2(32)
    assert list(cov.for_feature("hsa-miR-451a")) == [3.0, 5.0]  # the other one only
    assert list(cov.for_feature("hsa-miR-21-5p")) == [2.5, 4.5]
    fallback = hemolysis.hemolysis_covariate("red_cell_score", table, index, ["hsa-miR-451a"])
    assert fallback.kind == "index" and list(fallback.values) == [1.0, 2.0]
    assert "the hemolysis index is used instead" in fallback.note
    with pytest.raises(hemolysis.HemolysisError, match="hemolysis.covariate"):
        hemolysis.hemolysis_covariate("score", table, index, [])


def test_should_adjust():
    assert hemolysis.should_adjust("always", "no")
    assert not hemolysis.should_adjust("never", "yes")
    assert hemolysis.should_adjust("auto", "yes")
    assert not hemolysis.should_adjust("auto", "no") and not hemolysis.should_adjust("auto", "NA")
    with pytest.raises(hemolysis.HemolysisError, match="hemolysis.adjust"):
        hemolysis.should_adjust("sometimes", "yes")


def confounded_counts(seed: int = 11, n: int = 8) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """NB counts: red-cell miRNAs scaled by a per-sample factor higher in resistant samples,
    miR-21-5p truly up 4-fold, 60 unchanged miRNAs (too few for a parametric dispersion
    trend: PyDESeq2 falls back to the mean, which the tests below accept)."""
    rng = np.random.default_rng(seed)
    samples = sheet(n, n)
    case = (samples["condition"] == "resistant").to_numpy()
    factor = np.where(case, rng.uniform(1.5, 6.0, 2 * n), rng.uniform(0.7, 2.5, 2 * n))
    names = (
        RED + ["hsa-miR-23a-3p", "hsa-miR-21-5p"] + [f"hsa-miR-{i}-3p" for i in range(3000, 3060)]
    )
    base = np.r_[[4000, 3000, 5000, 3500, 500, 400], rng.lognormal(5, 1, 60)]
    mean = base[:, None] * rng.uniform(0.8, 1.2, 2 * n)[None, :]
    mean[:4] *= factor
    mean[5, case] *= 4
    counts = rng.poisson(rng.gamma(1 / 0.05, mean * 0.05)).astype(np.int64)
    return (
        pd.DataFrame(counts, index=names, columns=samples.index),
        samples,
        {f: "red_cell" for f in RED},
    )


@pytest.mark.filterwarnings("ignore:PyDESeq2.*dispersion trend")
def test_adjusted_fit_removes_the_red_cell_confound_and_keeps_the_true_change():
    counts, samples, listed = confounded_counts()
    options = de_options()
    table = de.run_de(counts, samples, CONTRAST, options).table
    padj = table.set_index("feature")["padj"]
    assert (padj[RED] < 0.05).sum() >= 3  # the confound makes red-cell miRNAs "DE"
    index, _ = hemolysis.index_from_counts(counts, MIRNAS, 10)
    cov = hemolysis.hemolysis_covariate("red_cell_score", table, index, RED)
    result = hemolysis.sensitivity(
        counts, samples, CONTRAST, options, cov, table, "always", "yes", listed
    )
    assert result.run and list(result.table.columns) == list(table.columns)
    adjusted = result.table.set_index("feature")["padj"]
    assert (adjusted[RED] >= 0.05).all()
    assert adjusted["hsa-miR-21-5p"] < 0.05
    lost = set(result.changes["feature"][result.changes["change"] == "lost"])
    assert lost == set(padj[RED][padj[RED] < 0.05].index)
    assert (result.changes.set_index("feature").loc[list(lost), "blood_cell"] == "red_cell").all()
    assert "design ~ hemolysis_index + condition" in result.note


@pytest.mark.filterwarnings("ignore:PyDESeq2.*dispersion trend")
def test_adjusted_fit_with_the_index_leaves_out_samples_without_one():
    counts, samples, listed = confounded_counts(n=5)
    options = de_options()
    table = de.run_de(counts, samples, CONTRAST, options).table
    index, _ = hemolysis.index_from_counts(counts, MIRNAS, 10)
    index["R01"] = np.nan
    cov = hemolysis.hemolysis_covariate("index", table, index, RED)
    result = hemolysis.sensitivity(
        counts, samples, CONTRAST, options, cov, table, "always", "yes", listed
    )
    assert result.left_out == ("R01",) and "norm_R01" not in result.table.columns
    assert "1 sample(s) without a covariate left out" in result.note


@pytest.mark.filterwarnings("ignore:PyDESeq2.*dispersion trend")
def test_no_adjusted_fit_when_not_asked_or_not_possible():
    counts, samples, listed = confounded_counts(n=4)
    options = de_options()
    table = de.run_de(counts, samples, CONTRAST, options).table
    index = pd.Series(np.nan, index=samples.index)
    cov = hemolysis.hemolysis_covariate("index", table, index, RED)
    for mode, differs, why in [
        ("auto", "no", "hemolysis does not differ"),
        ("auto", "NA", "could not be compared"),
        ("never", "yes", "hemolysis.adjust is never"),
        ("always", "yes", "fewer than 3 samples"),
    ]:
        result = hemolysis.sensitivity(
            counts, samples, CONTRAST, options, cov, table, mode, differs, listed
        )
        assert not result.run and why in result.note
        assert result.table.empty and list(result.table.columns) == list(table.columns)
    clash = samples.assign(hemolysis_index=1.0)
    with pytest.raises(hemolysis.HemolysisError, match="rename that column"):
        covariate = hemolysis.Covariate("index", index, {})
        hemolysis.adjusted_de(counts, clash, CONTRAST, options, covariate)


def test_significance_changes():
    before = pd.DataFrame({"feature": ["a", "b", "c", "d"], "padj": [0.01, 0.2, 0.03, np.nan]})
    after = pd.DataFrame({"feature": ["a", "b", "c", "d"], "padj": [0.5, 0.01, 0.04, 0.02]})
    changes = hemolysis.significance_changes(before, after, 0.05, {"a": "red_cell"})
    assert list(changes["feature"]) == ["b", "d", "a"]
    assert list(changes["change"]) == ["gained", "gained", "lost"]
    assert list(changes["blood_cell"]) == ["", "", "red_cell"]


def test_between_group_share():
    groups = np.array(["a", "a", "b", "b"])
    assert hemolysis.between_group_share(np.array([0.0, 0.0, 1.0, 1.0]), groups) == 1.0
    assert hemolysis.between_group_share(np.array([0.0, 1.0, 0.0, 1.0]), groups) == 0.0


# --------------------------------------------------------------------------
# Text, tables, settings, plots
# --------------------------------------------------------------------------


def test_summary_sentence():
    row = group_row("yes") | {"pvalue": 0.0022}
    assert (
        hemolysis.summary_sentence(row, 3, "resistant", "sensitive")
        == "hemolysis differs between resistant and sensitive (p = 0.0022): "
        "3 significant blood-cell miRNAs flagged"
    )
    row = group_row("no") | {"pvalue": 0.41, "note": "x"}
    assert hemolysis.summary_sentence(row, 1, "r", "s").startswith(
        "no evidence that hemolysis differs between r and s (p = 0.41): 1 significant "
        "blood-cell miRNA "
        "flagged (note: x)"
    )
    row = group_row("NA") | {"note": "not tested"}
    assert "could not be compared between r and s (not tested)" in hemolysis.summary_sentence(
        row, 0, "r", "s"
    )


def test_tables_are_written_with_fixed_decimals(tmp_path):
    table = pd.DataFrame([group_row("yes") | {"pvalue": 0.00216450216, "case_median": 1.19234}])
    path = tmp_path / "t.tsv"
    hemolysis.write_table(table, path)
    text = path.read_text().splitlines()
    assert text[1].split("\t")[1:5] == ["1.192", "1.000", "0.002165", "yes"]


def test_settings_from_config():
    block = {
        "blood_cell_list": "resources/blood_cell_mirnas.tsv",
        "cell_types": ["red_cell"],
        "alpha": 0.05,
        "min_rho": 0.5,
        "track_fdr": 0.05,
        "adjust": "auto",
        "covariate": "red_cell_score",
    }
    assert hemolysis.Settings.from_config(block).cell_types == ("red_cell",)
    with pytest.raises(hemolysis.HemolysisError, match="hemolysis.adjust"):
        hemolysis.Settings.from_config(block | {"adjust": "maybe"})
    with pytest.raises(hemolysis.HemolysisError, match="hemolysis.cell_types"):
        hemolysis.Settings.from_config(block | {"cell_types": ["rbc"]})


def _png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    with Image.open(path) as image:
        assert image.format == "PNG" and np.asarray(image.convert("L")).std() > 0


def test_volcano_marks_cautioned_features_and_is_unchanged_without(tmp_path):
    table, *_ = caution_case()
    table["pvalue"] = table["padj"] / 10
    plain = plots.volcano(table, tmp_path / "a.png", ["hsa-miR-21-5p"])
    empty = plots.volcano(table, tmp_path / "b.png", ["hsa-miR-21-5p"], caution=[])
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert plain == empty == ["hsa-miR-21-5p"]
    marked = plots.volcano(table, tmp_path / "c.png", ["hsa-miR-21-5p"], caution=["hsa-miR-16-5p"])
    assert set(marked) == {"hsa-miR-21-5p", "hsa-miR-16-5p"}
    assert (tmp_path / "c.png").read_bytes() != (tmp_path / "a.png").read_bytes()
    _png(tmp_path / "c.png")


def test_hemolysis_by_group_figure(tmp_path):
    samples = sheet(4, 4)
    index = pd.Series([3.0, 4, 5, np.nan, 1, 2, 2.5, 1.5], index=samples.index)
    levels = plots.hemolysis_by_group(index, samples, tmp_path / "h.png", CONTRAST, "p = 0.03", 7.0)
    assert levels == ["sensitive", "resistant"]
    _png(tmp_path / "h.png")
    nothing = plots.hemolysis_by_group(index * np.nan, samples, tmp_path / "e.png", CONTRAST, "", 7)
    assert nothing == []
    _png(tmp_path / "e.png")


# --------------------------------------------------------------------------
# The simulator
# --------------------------------------------------------------------------

#: sha256 of the example's FASTQ contents (decompressed) and truth tables, written by the
#: simulator before the hemolysis option existed (seed 20261122, 6 per group).
EXAMPLE_DIGEST = "ea89eafc3235325e652ea02aa4b7b05858d3dc0e45113a02ee6a2708a730de65"


def test_simulator_default_output_is_unchanged(example_dir):
    digest = hashlib.sha256()
    for path in sorted((example_dir / "fastq").glob("*.fastq.gz")):
        digest.update(gzip.decompress(path.read_bytes()))
    for name in ("samples.tsv", "truth_counts.tsv", "truth_de.tsv"):
        digest.update((example_dir / name).read_bytes())
    assert digest.hexdigest() == EXAMPLE_DIGEST
    assert not (example_dir / "truth_hemolysis.tsv").exists()


def test_simulator_hemolysis_option(tmp_path):
    simulate.main(["--outdir", str(tmp_path), "--hemolysis", "--per-group", "2"])
    factors = pd.read_csv(tmp_path / "truth_hemolysis.tsv", sep="\t")
    for condition, (low, high) in simulate.HEMOLYSIS_FACTORS.items():
        values = factors.loc[factors["condition"] == condition, "hemolysis_factor"]
        assert len(values) == 2 and values.between(low, high).all()
    scaled = set(factors["scaled_features"][0].split(";"))
    assert scaled == set(RED)
    truth = pd.read_csv(tmp_path / "truth_de.tsv", sep="\t", index_col=0)
    assert (truth.loc[[*RED, "hsa-miR-23a-3p"], "log2FoldChange"] == 0).all()
    assert (truth["log2FoldChange"] != 0).sum() == len(simulate.PLANTED_REVIEW) + 22


# --------------------------------------------------------------------------
# Acceptance (issue 12) on a simulated hemolysis-confounded cohort
# --------------------------------------------------------------------------

SETTINGS = {
    "blood_cell_list": str(LIST),
    "cell_types": ["red_cell"],
    "alpha": 0.05,
    "min_rho": 0.5,
    "track_fdr": 0.05,
    "adjust": "auto",
    "covariate": "red_cell_score",
}


@pytest.fixture(scope="module")
def confounded(tmp_path_factory) -> Path:
    """12 resistant and 12 sensitive plasma libraries, resistant more hemolysed."""
    out = tmp_path_factory.mktemp("confounded")
    simulate.simulate(MATURE, HAIRPIN, out, n_per_group=12, hemolysis=simulate.HEMOLYSIS_FACTORS)
    return out


def run_guard(counts, samples, index, features, blood) -> hemolysis.Guard:
    options = de_options()
    table = de.run_de(counts, samples, CONTRAST, options).table
    settings = hemolysis.Settings.from_config(SETTINGS)
    groups = hemolysis.hemolysis_by_group(index, samples, [CONTRAST], settings.alpha)
    row = groups.iloc[0].to_dict()
    return hemolysis.guard_contrast(
        counts, samples, CONTRAST, options, table, index, row, features, blood, settings, MIRNAS
    )


def assert_acceptance(guard: hemolysis.Guard, truth: pd.DataFrame, features, blood) -> None:
    red = set(hemolysis.listed_features(features, blood, ["red_cell"])) & set(truth.index)
    assert red == set(RED)
    assert guard.group_row["differs"] == "yes"
    table = guard.de.set_index("feature")
    unplanted_red = [f for f in red if truth.at[f, "log2FoldChange"] == 0]
    significant = [f for f in unplanted_red if table.at[f, "padj"] < 0.05]
    assert significant, "the confound made no red-cell miRNA significant: nothing was tested"
    assert (table.loc[significant, "blood_cell_caution"] == "yes").all()
    assert guard.sensitivity.run  # auto: hemolysis differs
    adjusted = guard.adjusted.set_index("feature")
    assert (adjusted.loc[unplanted_red, "padj"].fillna(1.0) >= 0.05).all()
    planted = [f for f in truth.index[truth["log2FoldChange"] != 0] if f not in red]
    kept = (adjusted.reindex(planted)["padj"].fillna(1.0) < 0.05).mean()
    assert kept >= 0.8, f"only {kept:.0%} of the planted non-red-cell miRNAs stay significant"


@pytest.mark.workflow
@pytest.mark.filterwarnings("ignore:PyDESeq2.*dispersion trend")
def test_acceptance_on_simulated_truth_counts(confounded, features, blood):
    """The truth counts used as a `counts:` matrix (index computed from the counts).

    Slow (about a minute: 24 libraries simulated, one DE fit and five adjusted
    fits), hence marked with the end-to-end tests.
    """
    counts = pd.read_csv(confounded / "truth_counts.tsv", sep="\t", index_col=0)
    samples = pd.read_csv(confounded / "samples.tsv", sep="\t", dtype=str).set_index("sample")
    truth = pd.read_csv(confounded / "truth_de.tsv", sep="\t", index_col=0)
    index, note = hemolysis.index_from_counts(counts, MIRNAS, 10)
    assert note == ""
    guard = run_guard(counts, samples[["condition"]], index, features, blood)
    assert_acceptance(guard, truth, features, blood)
    assert guard.sentence.startswith("hemolysis differs between resistant and sensitive (p = ")


@pytest.mark.workflow
@pytest.mark.filterwarnings("ignore:PyDESeq2.*dispersion trend")
def test_acceptance_on_the_workflow_counts_and_qc(confounded, features, blood, tmp_path):
    """The workflow's own counts and QC index of the simulated FASTQ."""
    run_snakemake(
        tmp_path, {"samples": str(confounded / "samples.tsv")}, "results/qc/sample_qc.tsv"
    )
    counts = de.read_count_matrix(tmp_path / "results" / "counts" / "mature_counts.tsv")
    samples = pd.read_csv(confounded / "samples.tsv", sep="\t", dtype=str).set_index("sample")
    index = hemolysis.index_from_qc_table(qc.read_qc_table(tmp_path / "results/qc/sample_qc.tsv"))
    truth = pd.read_csv(confounded / "truth_de.tsv", sep="\t", index_col=0)
    guard = run_guard(counts, samples[["condition"]], index, features, blood)
    assert_acceptance(guard, truth, features, blood)


@pytest.mark.workflow
def test_what_the_guard_says_on_the_bundled_example(example_run, example_dir, features, blood):
    """No hemolysis is planted, but the index's reference miR-23a-3p is (a random extra
    planted miRNA of the example): the index differs and the note says why; only the
    listed red-cell miRNA that changes in the index's direction is flagged."""
    truth = pd.read_csv(example_dir / "truth_de.tsv", sep="\t", index_col=0)
    assert truth.at["hsa-miR-23a-3p", "log2FoldChange"] > 1
    assert truth.at["hsa-miR-451a", "log2FoldChange"] == 0
    results = example_run / "results"
    table = pd.read_csv(results / "de" / "resistant_vs_sensitive.tsv", sep="\t")
    samples = pd.read_csv(example_dir / "samples.tsv", sep="\t", dtype=str).set_index("sample")
    samples = samples[["condition"]]
    index = hemolysis.index_from_qc_table(qc.read_qc_table(results / "qc" / "sample_qc.tsv"))
    settings = hemolysis.Settings.from_config(SETTINGS | {"adjust": "never"})
    row = hemolysis.compare_groups(index, samples, CONTRAST, [], settings.alpha)
    counts = de.read_count_matrix(results / "counts" / "mature_counts.tsv")
    options = de_options(size_factors="ratio", shrink=True)
    guard = hemolysis.guard_contrast(
        counts, samples, CONTRAST, options, table, index, row, features, blood, settings, MIRNAS
    )
    assert guard.group_row["differs"] == "yes"
    assert guard.group_row["case_median"] < guard.group_row["control_median"]
    assert "miR-23a-3p, the index's reference, itself differs" in guard.group_row["note"]
    flagged = guard.de["feature"][guard.de["blood_cell_caution"] == "yes"]
    assert list(flagged) == ["hsa-miR-92a-3p"]
    assert truth.at["hsa-miR-92a-3p", "log2FoldChange"] < 0
    assert not guard.sensitivity.run
