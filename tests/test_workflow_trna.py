"""End to end on the example with 30 % tRNA fragments: composition, miRNA accuracy, leakage.

The simulator adds 5' halves (31-38 nt), 5'-tRFs and 3'-tRFs ending in CCA to every
library (reads of 75 nt) and writes their truth per ``family|type``; the miRNA library
and its truth are those of the example. One composition reference (a spike-in set) holds
some of the random non-miRNA inserts of one library, so the cascade after the tRNA stage
runs too.
"""

from __future__ import annotations

import dnaio
import numpy as np
import pandas as pd
import pytest

from conftest import REPO, run_snakemake
from exomir.reference import read_fasta
from exomir.simulate import TRUSEQ_READTHROUGH, TrnaReads, simulate

pytestmark = pytest.mark.workflow

TRNA_TABLE = REPO / "resources" / "trna" / "hg38_mature_trnas.tsv"
TARGETS = (
    "results/qc/composition.tsv",
    "results/counts/mature_counts.tsv",
    "results/counts/trna_counts.tsv",
    "results/de/resistant_vs_sensitive.tsv",
    "results/de/trna/resistant_vs_sensitive.tsv",
    "results/counts/spikein_counts.tsv",
)
SPIKED = "R01"  # the library whose random inserts make the composition reference


def _random_inserts(fastq, known: list[str], n: int = 20, k: int = 12) -> list[str]:
    """The first ``n`` distinct 20-30 nt inserts of ``fastq`` sharing no ``k``-mer with ``known``.

    Inserts end where the simulator's adapter read-through starts. miRNA reads with an
    error or an isomiR change share long stretches with a hairpin; the simulator's
    random non-miRNA inserts share none, so they align to no miRNA or tRNA.
    """
    kmers = {seq[i : i + k] for seq in known for i in range(len(seq) - k + 1)}
    found: list[str] = []
    with dnaio.open(fastq) as reader:
        for record in reader:
            insert = record.sequence[: record.sequence.find(TRUSEQ_READTHROUGH[:15])]
            shared = any(insert[i : i + k] in kmers for i in range(len(insert) - k + 1))
            if 20 <= len(insert) <= 30 and not shared and insert not in found:
                found.append(insert)
                if len(found) == n:
                    return found
    raise AssertionError(f"fewer than {n} random inserts in {fastq}")


@pytest.fixture(scope="module")
def trna_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("trna_example")
    simulate(
        REPO / "resources" / "mirbase" / "hsa_mature.fa",
        REPO / "resources" / "mirbase" / "hsa_hairpin.fa",
        data,
        trna=TrnaReads(TRNA_TABLE, 0.3, 20261122),
    )
    known = [seq for _, seq in read_fasta(REPO / "resources" / "mirbase" / "hsa_hairpin.fa")]
    known += pd.read_csv(TRNA_TABLE, sep="\t")["sequence"].tolist()
    inserts = _random_inserts(data / "fastq" / f"{SPIKED}.fastq.gz", known)
    spikes = data / "spikes.fa"
    spikes.write_text("".join(f">spike_{i}\n{seq}\n" for i, seq in enumerate(inserts, 1)))
    workdir = tmp_path_factory.mktemp("trna_run")
    config = {
        "samples": str(data / "samples.tsv"),
        "de": {"features": ["mirna", "trna"]},
        "composition": {"references": [{"name": "spikes", "fasta": str(spikes), "spike_in": True}]},
    }
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


def test_composition_reference_takes_what_the_trna_stage_left(trna_run):
    _, run = trna_run
    composition = _table(run / "results/qc/composition.tsv")
    spikes = _table(run / "results/counts/spikein_counts.tsv")
    # every spike is an insert of the spiked library, seen at least once there
    assert (spikes[SPIKED] >= 1).all() and len(spikes) == 20
    # the spike-ins are the reference's records: its column is their reads, sample by sample
    assert composition["spikes"].to_dict() == spikes.sum().to_dict()
    assert composition.loc[SPIKED, "spikes"] >= 20
    assert (composition.drop(columns="raw_reads").sum(axis=1) == composition["raw_reads"]).all()


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
