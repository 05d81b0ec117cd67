"""Evidence-based allocation of paralog reads (EM), ranking, and the ambiguity tables."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import write_reference_files
from exomir import count, reference

MIRBASE = Path(__file__).resolve().parents[1] / "resources" / "mirbase"
HAIRPINS = ("hsa-mir-103a-1", "hsa-mir-103a-2", "hsa-mir-107", "hsa-mir-23a", "hsa-mir-23b")
MIR103A = "AGCAGCATTGTACAGGGCTATGA"  # hsa-miR-103a-3p
MIR107 = "AGCAGCATTGTACAGGGCTATCA"  # hsa-miR-107
SHARED = "AGCAGCATTGTACAGGGCTAT"  # 3'-trimmed miR-103a-3p, an exact match of miR-107 too
TOLERANCE = count.Tolerance(2, 5)

needs_bowtie = pytest.mark.skipif(
    shutil.which("bowtie") is None, reason="bowtie 1.x not installed (make setup installs it)"
)


@pytest.fixture(scope="module")
def paralogs(tmp_path_factory):
    """mir-103a-1/-2, mir-107 and mir-23a/b with their mature miRNAs, indexed by bowtie."""
    out = tmp_path_factory.mktemp("ref")
    hairpins = [
        (n, s) for n, s in reference.read_fasta(MIRBASE / "hsa_hairpin.fa") if n in HAIRPINS
    ]
    text = "".join(s for _, s in hairpins)
    mature = [
        m for m in reference.mature_from_fasta(MIRBASE / "hsa_mature.fa") if m.sequence in text
    ]
    paths = write_reference_files(mature, hairpins, out)
    for key, fasta in paths.items():
        subprocess.run(["bowtie-build", "-q", str(fasta), str(out / key)], check=True)
    return out, reference.read_locations(out / "loc.tsv")


def _align(paralogs, tmp_path, inserts) -> dict[str, Path]:
    out, _ = paralogs
    reads = tmp_path / "reads.fa"
    reads.write_text("".join(f">seq_{i}_x{n}\n{seq}\n" for i, (seq, n) in enumerate(inserts, 1)))
    bams = {}
    for key in ("mature", "hairpin"):
        bams[key] = tmp_path / f"{key}.bam"
        cmd = (
            f"bowtie -f -v 1 -a --best --strata --norc --sam --no-unal -x {out / key} {reads} "
            f"2>/dev/null | samtools view -b -o {bams[key]} -"
        )
        subprocess.run(cmd, shell=True, check=True)
    return bams


def _count(paralogs, tmp_path, inserts, mode):
    bams = _align(paralogs, tmp_path, inserts)
    return count.count_sample(bams["mature"], bams["hairpin"], paralogs[1], TOLERANCE, mode)


@needs_bowtie
def test_trimmed_mir103a_read_goes_to_mir103a_when_mir107_is_not_expressed(paralogs, tmp_path):
    assert MIR103A.startswith(SHARED) and MIR107.startswith(SHARED)
    inserts = [(MIR103A, 500), (SHARED, 200)]
    em = _count(paralogs, tmp_path, inserts, count.EM)
    assert em.mature["hsa-miR-103a-3p"] == pytest.approx(700.0)
    assert em.mature.get("hsa-miR-107", 0.0) == pytest.approx(0.0, abs=1e-6)
    assert em.mature_ambiguous["hsa-miR-103a-3p"] == pytest.approx(200.0)
    assert em.hairpin.get("hsa-mir-107", 0.0) == pytest.approx(0.0, abs=1e-3)
    assert sum(em.hairpin.values()) == pytest.approx(700.0)
    split = _count(paralogs, tmp_path, inserts, count.SPLIT)
    assert split.mature == pytest.approx({"hsa-miR-103a-3p": 600.0, "hsa-miR-107": 100.0})


@needs_bowtie
def test_both_paralogs_expressed_share_in_proportion(paralogs, tmp_path):
    inserts = [(MIR103A, 300), (MIR107, 100), (SHARED, 80)]
    em = _count(paralogs, tmp_path, inserts, count.EM)
    assert em.mature["hsa-miR-103a-3p"] == pytest.approx(360.0, rel=1e-6)
    assert em.mature["hsa-miR-107"] == pytest.approx(120.0, rel=1e-6)


@needs_bowtie
def test_exact_match_beats_a_tail_mismatch(paralogs, tmp_path):
    # the 23-nt miR-103a-3p matches miR-107 with one mismatch in its last 2 nt
    result = _count(paralogs, tmp_path, [(MIR103A, 40)], count.SPLIT)
    assert result.mature == {"hsa-miR-103a-3p": 40.0}
    assert result.mature_ambiguous == {}
    rows = [r for r in result.isomirs if r[2]]
    assert [(r[2], r[-1]) for r in rows] == [("hsa-miR-103a-3p", 40.0)]


@needs_bowtie
def test_tail_mismatch_still_beats_an_internal_mismatch(paralogs, tmp_path):
    hairpin = dict(reference.read_fasta(MIRBASE / "hsa_hairpin.fa"))["hsa-mir-23a"]
    mature = "ATCACATTGCCAGGGATTTCC"  # hsa-miR-23a-3p
    following = hairpin[hairpin.index(mature) + len(mature)]
    tailed = mature + ("A" if following != "A" else "T")  # a non-templated tail
    hits = count.mirna_hits(
        *_align(paralogs, tmp_path, [(tailed, 12)]).values(),
        paralogs[1],
        TOLERANCE,
    )
    (insert,) = hits.values()
    assert list(insert.features) == ["hsa-miR-23a-3p"]
    assert insert.evidence == (0, 1)


def test_em_weights_start_from_unambiguous_reads():
    classes = {("a",): 90.0, ("b",): 10.0, ("a", "b"): 50.0, ("c", "d"): 8.0, ("b", "e"): 4.0}
    weights = count.em_weights(classes, count.EM)
    # fixed point: a = 90 + 50 x, a + b = 154 (b also keeps b|e's 4 reads) → x = 90 / 104
    assert weights[("a", "b")] == pytest.approx([90 / 104, 14 / 104], rel=1e-6)
    assert weights[("c", "d")] == pytest.approx([0.5, 0.5])  # no evidence: equal split
    assert weights[("b", "e")] == pytest.approx([1.0, 0.0])  # e has no read of its own
    again = count.em_weights(dict(reversed(list(classes.items()))), count.EM)
    assert all(np.array_equal(weights[c], again[c]) for c in classes)
    split = count.em_weights(classes, count.SPLIT)
    assert split[("a", "b")] == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError, match="counting.multimappers is 'rsem'"):
        count.em_weights(classes, "rsem")


def test_em_is_the_maximum_likelihood_allocation():
    """On a class structure with a unique interior optimum, EM reaches the MLE."""
    classes = {("a",): 30.0, ("b",): 10.0, ("c",): 5.0, ("a", "b"): 40.0, ("b", "c"): 20.0}
    weights = count.em_weights(classes, count.EM)
    theta = {"a": 30.0, "b": 10.0, "c": 5.0}
    for c, w in weights.items():
        for unit, share in zip(c, w):
            if len(c) > 1:
                theta[unit] += classes[c] * share
    # fixed point: each shared class is divided in proportion to the final abundances
    assert weights[("a", "b")][0] == pytest.approx(theta["a"] / (theta["a"] + theta["b"]), 1e-6)
    assert weights[("b", "c")][0] == pytest.approx(theta["b"] / (theta["b"] + theta["c"]), 1e-6)
    assert sum(theta.values()) == pytest.approx(105.0)


def test_ambiguity_tables_and_flags(tmp_path):
    a, b = tmp_path / "A.tsv", tmp_path / "B.tsv"
    count.write_counts({"m1": 10.0, "m2": 4.0}, {"m1": 1.0, "m2": 3.0}, a, "feature")
    count.write_counts({"m1": 20.0}, {}, b, "feature")
    shares = count.merge_ambiguity({"A": a, "B": b}, ["m1", "m2", "m3"])
    assert shares.loc["m1", "A"] == pytest.approx(0.1)
    assert shares.loc["m2", "A"] == pytest.approx(0.75)
    assert np.isnan(shares.loc["m2", "B"]) and np.isnan(shares.loc["m3", "A"])
    out = tmp_path / "ambiguity.tsv"
    count.write_ambiguity(shares, out)
    assert out.read_text().splitlines()[2] == "m2\t0.7500\t"
    flagged = count.ambiguous_features({"A": a, "B": b}, ["m1", "m2", "m3"], 0.5)
    assert flagged == {"m2": pytest.approx(0.75)}
