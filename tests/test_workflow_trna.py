"""End to end on the example with 30 % tRNA fragments: composition, miRNA accuracy, leakage.

The simulator adds 5' halves (31-38 nt), 5'-tRFs and 3'-tRFs ending in CCA to every
library (reads of 75 nt) and writes their truth per ``family|type``; the miRNA library
and its truth are those of the example.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, run_snakemake
from exomir.simulate import TrnaReads, simulate

pytestmark = pytest.mark.workflow

TRNA_TABLE = REPO / "resources" / "trna" / "hg38_mature_trnas.tsv"
TARGETS = (
    "results/qc/composition.tsv",
    "results/counts/mature_counts.tsv",
    "results/counts/trna_counts.tsv",
    "results/de/resistant_vs_sensitive.tsv",
    "results/de/trna/resistant_vs_sensitive.tsv",
)


@pytest.fixture(scope="module")
def trna_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("trna_example")
    simulate(
        REPO / "resources" / "mirbase" / "hsa_mature.fa",
        REPO / "resources" / "mirbase" / "hsa_hairpin.fa",
        data,
        trna=TrnaReads(TRNA_TABLE, 0.3, 20261122),
    )
    workdir = tmp_path_factory.mktemp("trna_run")
    config = {"samples": str(data / "samples.tsv"), "de": {"features": ["mirna", "trna"]}}
    run_snakemake(workdir, config, *TARGETS)
    return data, workdir


def _table(path):
    return pd.read_csv(path, sep="\t", index_col=0)


def test_trna_reads_in_composition_within_two_percent(trna_run):
    data, run = trna_run
    composition = _table(run / "results/qc/composition.tsv")
    truth = _table(data / "truth_trna.tsv").sum()
    fates = composition.drop(columns="raw_reads")
    assert (fates.sum(axis=1) == composition["raw_reads"]).all()
    error = (composition.loc[truth.index, "trna"] - truth).abs() / truth
    assert (error <= 0.02).all(), error.to_dict()


def test_trna_fragments_counted_by_type(trna_run):
    data, run = trna_run
    counts = _table(run / "results/counts/trna_counts.tsv")
    truth = _table(data / "truth_trna.tsv")
    by_type = counts.groupby(lambda unit: unit.split("|")[1]).sum().sum(axis=1)
    true_by_type = truth.groupby(lambda unit: unit.split("|")[1]).sum().sum(axis=1)
    for kind, expected in true_by_type.items():
        assert abs(by_type[kind] - expected) <= 0.02 * expected, (kind, by_type[kind], expected)


def test_mirna_counts_as_accurate_with_trna_fragments(trna_run):
    data, run = trna_run
    counts = _table(run / "results/counts/mature_counts.tsv")
    truth = _table(data / "truth_counts.tsv")
    observed = counts.reindex(index=truth.index, columns=truth.columns)
    enough = truth >= 50
    assert np.nanmedian(((observed - truth).abs() / truth)[enough].values) <= 0.02
    assert counts[truth.columns].to_numpy().sum() / truth.to_numpy().sum() >= 0.98
    leaked = counts.drop(index=truth.index).to_numpy().sum()
    assert leaked / counts.to_numpy().sum() <= 1e-4, leaked


def test_trna_de_table_has_the_mirna_columns(trna_run):
    _, run = trna_run
    mirna = pd.read_csv(run / TARGETS[3], sep="\t", nrows=1)
    trna = pd.read_csv(run / TARGETS[4], sep="\t")
    # blood_cell_caution is the hemolysis guard's, on miRNA tables only
    assert list(trna.columns) == [c for c in mirna.columns if c != "blood_cell_caution"]
    assert trna["feature"].str.contains("|", regex=False).all()
