"""Unit tests of exomir.plots: every figure is a readable, non-empty PNG, the same
input gives the same bytes, and the choices behind the figures (labels, PCA,
z-scores, QC table, top features) are right."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import make_contrast
from exomir import plots

CASE, CONTROL = "resistant", "sensitive"
CONTRAST = make_contrast()


def _png_ok(path: Path) -> tuple[int, int]:
    """Size of a valid, non-empty PNG (PIL verifies the file's structure)."""
    assert path.is_file() and path.stat().st_size > 1000, path
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"))
    assert width > 100 and height > 100
    assert pixels.std() > 0, "blank image"
    return width, height


@pytest.fixture(scope="module")
def data():
    """A small DE result, VST matrix, sample table and review hits with known structure."""
    rng = np.random.default_rng(1)
    samples = pd.DataFrame(
        {
            "condition": [CASE] * 4 + [CONTROL] * 4,
            "batch": ["A", "B"] * 4,
        },
        index=[f"R{i}" for i in range(1, 5)] + [f"S{i}" for i in range(1, 5)],
    )
    features = [f"hsa-miR-{i}-5p" for i in range(1, 61)] + ["hsa-miR-199a-3p/hsa-miR-199b-3p"]
    n = len(features)
    lfc = np.zeros(n)
    lfc[:8] = [2, -2, 1.5, -1.5, 2.5, -1, 1, -2.5]
    base = rng.lognormal(4, 1.5, n)
    vst = pd.DataFrame(
        np.log2(base)[:, None]
        + np.outer(lfc, (samples["condition"] == CASE).to_numpy(float))
        + rng.normal(0, 0.3, (n, len(samples))),
        index=pd.Index(features, name="feature"),
        columns=samples.index,
    )
    pvalue = np.where(lfc != 0, 10.0 ** -(3 + 5 * np.abs(lfc)), rng.uniform(0.05, 1, n))
    pvalue[10] = 0.0  # underflow, as PyDESeq2 reports for huge effects
    padj = np.minimum(pvalue * n / (np.argsort(np.argsort(pvalue)) + 1), 1)
    padj[-3] = np.nan  # independent filtering
    de = pd.DataFrame(
        {
            "feature": features,
            "baseMean": base,
            "log2FoldChange": lfc + rng.normal(0, 0.1, n),
            "lfcSE": 0.2,
            "stat": lfc / 0.2,
            "pvalue": pvalue,
            "padj": padj,
            "log2FoldChange_shrunk": lfc * 0.9,
        }
    )
    for sample in samples.index:
        de[f"norm_{sample}"] = 2 ** vst[sample].to_numpy()
    hits = pd.DataFrame(
        {
            "feature": [features[0], features[1], features[20], features[-1]],
            "padj": [padj[0], padj[1], padj[20], padj[-1]],
        }
    )
    return {"samples": samples, "vst": vst, "de": de, "hits": hits}


def test_volcano_writes_png_and_labels_review_mirnas(tmp_path, data):
    labels = plots.volcano(data["de"], tmp_path / "v.png", data["hits"]["feature"], 0.05, "t")
    _png_ok(tmp_path / "v.png")
    assert set(labels) == set(data["hits"]["feature"])
    assert labels[0] in {data["de"]["feature"][0], data["de"]["feature"][1]}


def test_labelled_features_caps_and_orders_by_pvalue(data):
    de, review = data["de"], list(data["de"]["feature"][:8])
    chosen = plots.labelled_features(de, review + ["not-in-table"], max_labels=3)
    listed = de[de["feature"].isin(review)]
    expected = listed.sort_values(["pvalue", "feature"])["feature"].head(3)
    assert chosen == list(expected)


def test_ma_plot_prefers_shrunk_fold_changes(tmp_path, data):
    assert plots.ma_plot(data["de"], tmp_path / "ma.png", 0.05) == "log2FoldChange_shrunk"
    _png_ok(tmp_path / "ma.png")
    unshrunk = data["de"].assign(log2FoldChange_shrunk=np.nan)
    assert plots.ma_plot(unshrunk, tmp_path / "ma2.png") == "log2FoldChange"
    _png_ok(tmp_path / "ma2.png")


def test_pca_separates_conditions_and_is_sign_stable(tmp_path, data):
    coords = plots.pca_plot(
        data["vst"], data["samples"], tmp_path / "pca.png", CONTRAST, "batch", 500
    )
    _png_ok(tmp_path / "pca.png")
    case = data["samples"]["condition"] == CASE
    pc1 = coords["PC1"]
    assert (pc1[case].max() < pc1[~case].min()) or (pc1[case].min() > pc1[~case].max())
    again, explained = plots.pca_coordinates(data["vst"].copy())
    pd.testing.assert_frame_equal(coords, again)
    assert explained[0] > explained[1] > 0 and explained.sum() == pytest.approx(1)


def test_heatmap_rows_are_top_features_zscored(tmp_path, data):
    rows = plots.heatmap(
        data["vst"],
        data["de"],
        data["samples"],
        tmp_path / "h.png",
        CONTRAST,
        n=10,
        alpha=0.05,
    )
    _png_ok(tmp_path / "h.png")
    assert set(rows) == set(plots.top_features(data["de"], 10))
    z = plots.zscore_rows(data["vst"].loc[rows])
    np.testing.assert_allclose(z.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=1, ddof=1), 1)
    constant = plots.zscore_rows(pd.DataFrame([[3.0, 3.0, 3.0]]))
    assert (constant == 0).all().all()


def test_top_features_order():
    de = pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d", "e"],
            "pvalue": [0.01, 0.001, np.nan, 0.2, 0.001],
            "padj": [0.04, 0.01, np.nan, np.nan, 0.01],
        }
    )
    assert plots.top_features(de, 10) == ["b", "e", "a", "d"]
    assert plots.top_features(de, 2) == ["b", "e"]


def test_review_boxplots_draw_significant_hits(tmp_path, data):
    drawn = plots.review_boxplots(
        data["de"], data["hits"], data["samples"], tmp_path / "b.png", CONTRAST, 0.05
    )
    _png_ok(tmp_path / "b.png")
    assert drawn == plots.significant_review_features(data["hits"], 0.05)
    assert set(drawn) == {data["de"]["feature"][0], data["de"]["feature"][1]}


def test_review_boxplots_without_significant_hits_still_write_a_figure(tmp_path, data):
    none = data["hits"].assign(padj=0.9)
    args = (data["de"], none, data["samples"], tmp_path / "b.png", CONTRAST, 0.05)
    assert plots.review_boxplots(*args) == []
    _png_ok(tmp_path / "b.png")


def test_sample_qc_from_summaries(tmp_path):
    summary = tmp_path / "S1.json"
    summary.write_text(json.dumps({"sample": "S1", "raw_reads": 1000, "reads_kept": 800}))
    counts = pd.DataFrame({"S1": [300, 100], "S2": [50, 50]}, index=["m1", "m2"])
    qc = plots.sample_qc_from_summaries(
        [summary, {"sample": "S2", "raw_reads": 500, "reads_kept": 200}], counts
    )
    assert list(qc["sample"]) == ["S1", "S2"]
    assert list(qc["mirna_reads"]) == [400, 100]
    assert list(qc["mirna_fraction"]) == pytest.approx([0.5, 0.5])
    only_counts = plots.sample_qc_from_summaries([], counts)
    assert list(only_counts.columns) == ["sample", "mirna_reads"]


def test_qc_bars_use_qc_table_columns(tmp_path, data):
    samples = data["samples"]
    qc = pd.DataFrame(
        {
            "sample": samples.index,
            "raw_reads": np.linspace(2e6, 5e6, len(samples)),
            "reads_kept": np.linspace(1.5e6, 4e6, len(samples)),
            "mirna_reads": np.linspace(1e6, 3e6, len(samples)),
            "mirna_fraction": np.linspace(0.5, 0.8, len(samples)),
            "hemolysis_index": np.linspace(0.1, 2.0, len(samples)),
            "qc_status": ["pass"] * (len(samples) - 2) + ["warn", "fail"],
        }
    )
    panels = plots.qc_bars(qc, tmp_path / "qc.png", samples, CONTRAST, 7.0)
    assert panels == ["library", "mirna_fraction", "hemolysis_index"]
    _png_ok(tmp_path / "qc.png")
    counts_only = qc[["sample", "mirna_reads"]]
    assert plots.qc_bars(counts_only, tmp_path / "qc2.png", samples, None, None) == ["library"]
    _png_ok(tmp_path / "qc2.png")


def test_figures_are_byte_identical_when_redrawn(tmp_path, data):
    for name in ("a", "b"):
        plots.volcano(data["de"], tmp_path / f"v_{name}.png", data["hits"]["feature"])
        args = (data["de"], data["hits"], data["samples"], tmp_path / f"b_{name}.png")
        plots.review_boxplots(*args, CONTRAST, 0.05)
        args = (data["vst"], data["de"], data["samples"], tmp_path / f"h_{name}.png")
        plots.heatmap(*args, CONTRAST, 30, 0.05)
    for kind in ("v", "b", "h"):
        first, second = tmp_path / f"{kind}_a.png", tmp_path / f"{kind}_b.png"
        assert first.read_bytes() == second.read_bytes(), kind
    assert b"Software" not in (tmp_path / "v_a.png").read_bytes()


def test_empty_inputs_give_explanatory_figures(tmp_path, data):
    no_pvalues = data["de"].assign(pvalue=np.nan, padj=np.nan)
    assert plots.volcano(no_pvalues, tmp_path / "v.png") == []
    _png_ok(tmp_path / "v.png")
    tiny = data["vst"].iloc[:, :2]
    assert plots.pca_plot(tiny, data["samples"], tmp_path / "p.png", CONTRAST, "", 500).empty
    _png_ok(tmp_path / "p.png")


def test_pca_of_identical_or_unfitted_samples_is_a_message_not_a_crash(tmp_path):
    from exomir import plots

    vst = pd.DataFrame(
        {"A": [1.0, 2.0, np.nan], "B": [1.0, 2.0, np.nan], "C": [1.0, 2.0, np.nan]},
        index=["m1", "m2", "m3"],
    )
    samples = pd.DataFrame(
        {"condition": ["resistant", "sensitive", "sensitive"]}, index=["A", "B", "C"]
    )
    coords = plots.pca_plot(vst, samples, tmp_path / "pca.png", CONTRAST, "", 500)
    assert coords.empty
    assert (tmp_path / "pca.png").stat().st_size > 0
