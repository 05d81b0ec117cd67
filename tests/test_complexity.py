"""Library complexity: subsampled miRNA detection curves and the per-sample score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from exomir import complexity


def _matrix() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    even = rng.multinomial(20_000, np.full(400, 1 / 400))
    weights = rng.lognormal(0, 2.5, 400)
    skewed = rng.multinomial(20_000, weights / weights.sum())
    shallow = rng.multinomial(600, np.full(400, 1 / 400))
    names = [f"m{i}" for i in range(400)]
    return pd.DataFrame({"even": even, "skewed": skewed, "shallow": shallow}, index=names)


def test_depth_grid():
    depths = complexity.curve_depths(20_000, 1000)
    assert depths[0] == 100 and depths[-1] == 20_000 and 1000 in depths
    assert depths == sorted(set(depths))
    assert complexity.curve_depths(50, 1000) == [50]
    assert complexity.curve_depths(0, 1000) == []


def test_curves_are_deterministic_and_match_rarefaction():
    matrix = _matrix()
    first, second = complexity.curves(matrix, 1000), complexity.curves(matrix, 1000)
    pd.testing.assert_frame_equal(first, second)
    for sample in ("even", "skewed"):
        row = first[(first["sample"] == sample) & (first["depth"] == 1000)].iloc[0]
        expected = complexity.expected_detected(matrix[sample].to_numpy(), 1000)
        margin = 4 * max(row["detected_sd"], 1.0) / np.sqrt(complexity.REPLICATES)
        assert abs(row["detected_mean"] - expected) < margin
    full = first[(first["sample"] == "even") & (first["depth"] == 20_000)].iloc[0]
    assert full["detected_mean"] == (matrix["even"] > 0).sum() and full["detected_sd"] == 0


def test_complexity_score_orders_libraries_and_is_na_when_too_shallow():
    matrix = _matrix()
    scores = complexity.complexity(complexity.curves(matrix, 1000), list(matrix.columns), 1000)
    assert scores.loc["even", "complexity"] > scores.loc["skewed", "complexity"] + 50
    assert np.isnan(scores.loc["shallow", "complexity"])
    assert list(scores.index) == ["even", "skewed", "shallow"]


def test_expected_detected_edge_cases():
    counts = np.array([5, 0, 1])
    assert complexity.expected_detected(counts, 6) == pytest.approx(2.0)
    assert complexity.expected_detected(counts, 1) == pytest.approx(1.0)
    assert complexity.expected_detected(counts, 2) == pytest.approx(1 + 1 / 3)


def test_curve_table_and_plot(tmp_path):
    table = complexity.curves(_matrix(), 1000)
    complexity.write_curves(table, tmp_path / "complexity.tsv")
    text = (tmp_path / "complexity.tsv").read_text().splitlines()
    assert text[0] == "sample\tdepth\tdetected_mean\tdetected_sd"
    complexity.plot_curves(table, 1000, tmp_path / "complexity.png")
    assert (tmp_path / "complexity.png").stat().st_size > 1000
