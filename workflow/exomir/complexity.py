"""Library complexity, miRTrace-like: distinct miRNAs detected as a function of miRNA reads.

A sample's miRNA reads are its column of the mature count matrix: every
collapsed insert's reads, allocated to the mature features (EM or split, see
:mod:`exomir.count`), rounded per feature. No read is re-aligned: at each
depth *d* the curve draws *d* of those reads without replacement
(multivariate hypergeometric, ``numpy``) and counts the miRNAs with at least
one read, :data:`REPLICATES` times with a generator seeded from
:data:`SEED` and the sample name, so the numbers are the same at every run.
Drawing reads from features is drawing them from inserts, each insert's
reads already being given to features.

``complexity`` is the mean number of distinct miRNAs detected at a fixed depth
(``qc.complexity_depth`` miRNA reads; NA for a sample with fewer miRNA
reads), with ``complexity_sd`` over the replicate draws. A fixed depth makes
samples of different depths comparable: a library dominated by a few miRNAs
(hemolysis, degradation, low input) detects fewer miRNAs in the same number of
reads. The expectation has a closed form (rarefaction,
:func:`expected_detected`), which the tests check the draws against.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaln

SEED = 20261122
REPLICATES = 5
CURVE_POINTS = 16  # depths per curve, geometric from FIRST_DEPTH to the sample's reads
FIRST_DEPTH = 100
CURVE_COLUMNS = ("sample", "depth", "detected_mean", "detected_sd")


def sample_rng(sample: str) -> np.random.Generator:
    """A generator seeded from :data:`SEED` and the sample name (not Python's salted hash)."""
    digest = hashlib.sha256(f"{SEED}:{sample}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def curve_depths(total: int, depth: int) -> list[int]:
    """Geometric grid of depths up to ``total``, with the complexity depth included."""
    if total <= 0:
        return []
    grid = np.geomspace(min(FIRST_DEPTH, total), total, CURVE_POINTS)
    points = {int(round(x)) for x in grid}
    if depth <= total:
        points.add(depth)
    return sorted(points)


def detected(counts: np.ndarray, depth: int, rng: np.random.Generator) -> np.ndarray:
    """Distinct features with ≥ 1 read in :data:`REPLICATES` draws of ``depth`` reads."""
    draws = rng.multivariate_hypergeometric(counts, depth, size=REPLICATES, method="marginals")
    return (draws > 0).sum(axis=1)


def expected_detected(counts: np.ndarray, depth: int) -> float:
    """Rarefaction: expected distinct features in ``depth`` reads drawn without replacement."""
    counts = counts[counts > 0].astype(float)
    total = counts.sum()

    def log_choose(n, k):
        return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)

    absent = np.where(
        total - counts >= depth,
        np.exp(log_choose(total - counts, depth) - log_choose(total, depth)),
        0.0,
    )
    return float(np.sum(1.0 - absent))


def sample_curve(sample: str, counts: Sequence[int], depth: int) -> pd.DataFrame:
    """One sample's curve: mean and sd of the miRNAs detected at each depth."""
    values = np.asarray(counts, dtype=np.int64)
    rng = sample_rng(sample)
    rows = []
    for d in curve_depths(int(values.sum()), depth):
        found = detected(values, d, rng)
        rows.append((sample, d, float(found.mean()), float(found.std(ddof=1))))
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def curves(matrix: pd.DataFrame, depth: int) -> pd.DataFrame:
    """Curves of every sample (columns of the mature count matrix)."""
    parts = [sample_curve(str(s), matrix[s].to_numpy(), depth) for s in matrix.columns]
    if not parts:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    return pd.concat(parts, ignore_index=True)


def complexity(curve_table: pd.DataFrame, samples: Sequence[str], depth: int) -> pd.DataFrame:
    """``complexity`` and ``complexity_sd`` per sample: miRNAs detected at ``depth`` reads."""
    at_depth = curve_table[curve_table["depth"] == depth].set_index("sample")
    table = pd.DataFrame(index=pd.Index(list(samples), name="sample"))
    table["complexity"] = at_depth["detected_mean"].reindex(table.index)
    table["complexity_sd"] = at_depth["detected_sd"].reindex(table.index)
    return table


def write_curves(curve_table: pd.DataFrame, path: str | Path) -> None:
    """``results/qc/complexity.tsv``: one row per sample and depth, 2 decimals."""
    curve_table.to_csv(path, sep="\t", index=False, float_format="%.2f")


def plot_curves(curve_table: pd.DataFrame, depth: int, path: str | Path) -> None:
    """One line per sample, a vertical mark at the complexity depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for sample, part in curve_table.groupby("sample", sort=True):
        ax.plot(part["depth"], part["detected_mean"], marker=".", lw=1, label=str(sample))
    ax.axvline(depth, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("miRNA reads (subsampled)")
    ax.set_ylabel("distinct miRNAs detected")
    ax.set_title(f"Library complexity (complexity = miRNAs at {depth:,} reads)")
    if curve_table["sample"].nunique() <= 24:
        ax.legend(fontsize="x-small", ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)
