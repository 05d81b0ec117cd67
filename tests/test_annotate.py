"""Annotation of DE results with the resistance list: join by accession, direction, enrichment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from exomir import annotate

FEATURES = pd.DataFrame(
    {
        "feature": [
            "hsa-miR-21-5p",
            "hsa-miR-21-3p",
            "hsa-miR-199a-3p/hsa-miR-199b-3p",
            "hsa-miR-151a-3p",
            "hsa-miR-16-5p",
        ],
        "mature_names": [
            "hsa-miR-21-5p",
            "hsa-miR-21-3p",
            "hsa-miR-199a-3p;hsa-miR-199b-3p",
            "hsa-miR-151a-3p",
            "hsa-miR-16-5p",
        ],
        "mimat": [
            "MIMAT0000076",
            "MIMAT0004494",
            "MIMAT0000232;MIMAT0004563",
            "MIMAT0000757",
            "MIMAT0000069",
        ],
    }
)


def _finding(**values):
    row = {c: "" for c in annotate.LIST_COLUMNS}
    row.update(role="resistance", direction_in_resistance="unknown", source="s.txt", ref="1")
    row.update(values)
    return row


FINDINGS = pd.DataFrame(
    [
        # arm not resolved: both arms listed
        _finding(
            mirna_as_written="miR-21",
            mirbase_ids="hsa-miR-21-5p;hsa-miR-21-3p",
            mimat="MIMAT0000076;MIMAT0004494",
            direction_in_resistance="up",
            drugs="cisplatin",
            cancer="ovarian cancer",
            ref="10",
        ),
        # one paralog named; the merged feature carries both accessions
        _finding(
            mirna_as_written="miR-199b-3p",
            mirbase_ids="hsa-miR-199b-3p",
            mimat="MIMAT0004563",
            direction_in_resistance="down",
            drugs="doxorubicin",
            role="sensitizing",
            ref="11",
        ),
        # renamed between miRBase versions (miR-151 → miR-151a-3p): the accession still matches
        _finding(
            mirna_as_written="miR-151",
            mirbase_ids="hsa-miR-151-3p",
            mimat="MIMAT0000757",
            drugs="gemcitabine",
            role="biomarker",
            ref="12",
        ),
    ]
)

DE = pd.DataFrame(
    {
        "feature": [
            "hsa-miR-21-5p",
            "hsa-miR-21-3p",
            "hsa-miR-199a-3p/hsa-miR-199b-3p",
            "hsa-miR-151a-3p",
            "hsa-miR-16-5p",
        ],
        "baseMean": [100.0, 5.0, 50.0, 30.0, 1000.0],
        "log2FoldChange": [2.0, -0.5, 1.5, 0.1, 0.0],
        "lfcSE": [0.3] * 5,
        "stat": [6.0, -1.0, 5.0, 0.3, 0.0],
        "pvalue": [1e-9, 0.3, 1e-6, 0.7, 1.0],
        "padj": [5e-9, 0.5, 2e-6, 0.9, 1.0],
    }
)


def test_join_by_accession():
    hits = annotate.resistance_hits(DE, FEATURES, FINDINGS).set_index("feature")
    assert set(hits.index) == {
        "hsa-miR-21-5p",
        "hsa-miR-21-3p",
        "hsa-miR-199a-3p/hsa-miR-199b-3p",
        "hsa-miR-151a-3p",
    }
    assert hits.loc["hsa-miR-151a-3p", "mirna_as_written"] == "miR-151"
    assert hits.loc["hsa-miR-199a-3p/hsa-miR-199b-3p", "roles"] == "sensitizing"
    assert "hsa-miR-16-5p" not in hits.index


def test_direction_consistency_in_hits():
    hits = annotate.resistance_hits(DE, FEATURES, FINDINGS).set_index("feature")
    assert hits.loc["hsa-miR-21-5p", "direction_consistent"] == "yes"
    assert hits.loc["hsa-miR-21-3p", "direction_consistent"] == "no"
    assert hits.loc["hsa-miR-199a-3p/hsa-miR-199b-3p", "direction_consistent"] == "no"
    assert hits.loc["hsa-miR-151a-3p", "direction_consistent"] == "unknown"


@pytest.mark.parametrize(
    "lfc, expected, answer",
    [
        (1.0, {"up"}, "yes"),
        (-1.0, {"up"}, "no"),
        (-1.0, {"down", "unknown"}, "yes"),
        (1.0, {"unknown"}, "unknown"),
        (1.0, {"up", "down"}, "unknown"),
        (float("nan"), {"up"}, "unknown"),
        (0.0, {"down"}, "unknown"),
    ],
)
def test_direction_consistent(lfc, expected, answer):
    assert annotate.direction_consistent(lfc, expected) == answer


def test_significant_first_and_drug_focus():
    hits = annotate.resistance_hits(DE, FEATURES, FINDINGS, drug="gemcitabine")
    assert hits.iloc[0]["feature"] == "hsa-miR-151a-3p"
    assert hits.iloc[0]["drug_focus"] == "yes"
    assert list(hits["significant"][1:]) == ["yes", "yes", "no"]


def test_unknown_drug_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"drug 'aspirin'.*known drugs: cisplatin, doxorubicin, gemcitabine"
    ):
        annotate.resistance_hits(DE, FEATURES, FINDINGS, drug="aspirin")


def test_fisher_matches_scipy_and_hand_computation():
    odds, p = annotate.fisher_greater(3, 1, 2, 10)
    assert odds == pytest.approx(15.0)  # (3*10)/(1*2)
    # hypergeometric tail by hand: P(X >= 3), 16 miRNAs, 5 significant, 4 listed
    total = math.comb(16, 4)
    tail = sum(math.comb(5, k) * math.comb(11, 4 - k) for k in (3, 4)) / total
    assert p == pytest.approx(tail)
    assert p == pytest.approx(stats.fisher_exact([[3, 1], [2, 10]], alternative="greater").pvalue)


def test_rank_test_auc_by_hand():
    listed = np.array([5.0, 4.0])
    other = np.array([1.0, 2.0, 4.5])
    auc, p = annotate.rank_test(listed, other)
    # pairs where listed > other: 5>{1,2,4.5}=3, 4>{1,2}=2 → 5 of 6
    assert auc == pytest.approx(5 / 6)
    # exact one-sided p: rank sums of 2 of 5 values at least as large as {4, 5}'s (ranks 3 and 5)
    assert p == pytest.approx(2 / 10)


def test_enrichment_table():
    table = annotate.enrichment(DE, FEATURES, FINDINGS, alpha=0.05)
    overall = table[table["subset"] == "all"].set_index("test")
    assert overall.loc["fisher_exact", "n_tested"] == 5
    assert overall.loc["fisher_exact", "n_listed"] == 4
    assert overall.loc["fisher_exact", "n_listed_significant"] == 2
    assert set(table["subset"]) == {"all", "resistance", "sensitizing", "biomarker"}
