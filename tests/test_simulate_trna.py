"""Simulated tRNA fragments: their truth, read length, and the miRNA library left as it was."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from exomir import trna
from exomir.simulate import TRNA_READ_LENGTH, TRNA_TYPES, TrnaReads, simulate

REPO = Path(__file__).resolve().parents[1]
MIRBASE = REPO / "resources" / "mirbase"
TRNA_TABLE = REPO / "resources" / "trna" / "hg38_mature_trnas.tsv"
SMALL = {"n_per_group": 1, "reads_per_sample": 12_000, "n_expressed": 80, "n_planted_extra": 2}


def _simulate(folder: Path, with_trna: bool) -> Path:
    simulate(
        MIRBASE / "hsa_mature.fa",
        MIRBASE / "hsa_hairpin.fa",
        folder,
        trna=TrnaReads(TRNA_TABLE, 0.25, 7) if with_trna else None,
        **SMALL,
    )
    return folder


def _reads(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [line.strip() for i, line in enumerate(handle) if i % 4 == 1]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    plain = _simulate(tmp_path_factory.mktemp("plain"), False)
    return plain, _simulate(tmp_path_factory.mktemp("trna"), True)


def test_trna_reads_are_added_without_touching_the_mirna_library(pair):
    plain, with_trna = pair
    for name in ("truth_counts.tsv", "truth_de.tsv", "samples.tsv"):
        assert (plain / name).read_bytes() == (with_trna / name).read_bytes()
    assert not (plain / "truth_trna.tsv").exists()
    truth = pd.read_csv(with_trna / "truth_trna.tsv", sep="\t", index_col=0)
    for sample in ("R01", "S01"):
        before = _reads(plain / "fastq" / f"{sample}.fastq.gz")
        after = _reads(with_trna / "fastq" / f"{sample}.fastq.gz")
        assert {len(r) for r in before} == {50} and {len(r) for r in after} == {TRNA_READ_LENGTH}
        added = len(after) - len(before)
        assert added == truth[sample].sum() and abs(added - 0.25 * len(before)) <= 2
        # the miRNA library's reads keep their order
        kept = [r[:50] for r in after]
        it = iter(kept)
        assert all(any(r == k for k in it) for r in before)


def test_truth_types_and_fragments(pair):
    _, with_trna = pair
    truth = pd.read_csv(with_trna / "truth_trna.tsv", sep="\t", index_col=0)
    kinds = {u.split("|")[1] for u in truth.index}
    assert kinds == set(TRNA_TYPES)
    by_kind = truth.groupby(lambda u: u.split("|")[1]).sum().sum(axis=1)
    assert by_kind[trna.FIVE_HALF] > by_kind[trna.FIVE_TRF] > 0
    assert truth.loc["tRNA-Gly-GCC|5'-half"].sum() > 0


def test_fragment_shapes():
    sim = TrnaReads(TRNA_TABLE, 0.5, 1)
    features = trna.read_features(TRNA_TABLE)
    gly = features["tRNA-Glu-CTC-1"]
    for _ in range(200):
        start, end = sim.fragment(gly, trna.FIVE_HALF)
        assert start == 0 and end > 30
        start, end = sim.fragment(gly, trna.THREE_TRF)
        assert gly.sequence[start:end].endswith("CCA") and 18 <= end - start <= 22
        start, end = sim.fragment(gly, trna.FIVE_TRF)
        assert 16 <= end <= 30
