"""isomiR-aware counting, on real bowtie alignments of hand-made inserts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pysam
import pytest

from conftest import write_reference_files
from exomir import count, reference

MIRBASE = Path(__file__).resolve().parents[1] / "resources" / "mirbase"
HAIRPINS = ("hsa-mir-23a", "hsa-mir-23b", "hsa-mir-199a-1", "hsa-mir-199b", "hsa-mir-21")

pytestmark = pytest.mark.skipif(
    shutil.which("bowtie") is None, reason="bowtie 1.x not installed (make setup installs it)"
)


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory):
    """A slice of the bundled reference: a few hairpins and their mature miRNAs."""
    out = tmp_path_factory.mktemp("ref")
    hairpins = [
        (n, s) for n, s in reference.read_fasta(MIRBASE / "hsa_hairpin.fa") if n in HAIRPINS
    ]
    mature = reference.mature_from_fasta(MIRBASE / "hsa_mature.fa")
    hairpin_text = "".join(s for _, s in hairpins)
    mature = [m for m in mature if m.sequence in hairpin_text]
    paths = write_reference_files(mature, hairpins, out)
    for key, fasta in paths.items():
        subprocess.run(["bowtie-build", "-q", str(fasta), str(out / key)], check=True)
    return out, dict(hairpins), reference.read_locations(out / "loc.tsv")


def _count(small_reference, tmp_path, inserts):
    out, _, locations = small_reference
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
    return count.count_sample(
        bams["mature"], bams["hairpin"], locations, count.Tolerance(2, 5), count.EM
    )


def _mature(small_reference, name):
    _, hairpins, locations = small_reference
    for hp, locs in locations.items():
        for loc in locs:
            if loc.feature == name:
                return hairpins[hp], loc
    raise KeyError(name)


def test_exact_trimmed_and_extended_isomirs_count_for_their_mature(small_reference, tmp_path):
    hp, loc = _mature(small_reference, "hsa-miR-21-5p")
    inserts = [
        (hp[loc.start : loc.end], 100),  # canonical
        (hp[loc.start : loc.end - 2], 10),  # 3' trimmed: aligns to the mature
        (hp[loc.start : loc.end + 2], 7),  # templated 3' extension: hairpin stage
        (hp[loc.start + 1 : loc.end], 5),  # 5' shifted
        (hp[loc.start : loc.end] + "A", 3),  # non-templated A
    ]
    result = _count(small_reference, tmp_path, inserts)
    assert result.mature == {"hsa-miR-21-5p": 125.0}
    assert result.hairpin == {"hsa-mir-21": 125.0}


def test_tailed_mir23a_is_not_given_to_mir23b(small_reference, tmp_path):
    hp, loc = _mature(small_reference, "hsa-miR-23a-3p")
    tailed = hp[loc.start : loc.end] + ("A" if hp[loc.end] != "A" else "T")
    # one internal mismatch against miR-23b-3p, only a 3' tail against the mir-23a hairpin
    result = _count(small_reference, tmp_path, [(tailed, 40)])
    assert result.mature == {"hsa-miR-23a-3p": 40.0}


def test_equally_good_features_share_the_count(small_reference, tmp_path):
    a = _mature(small_reference, "hsa-miR-23a-3p")
    b = _mature(small_reference, "hsa-miR-23b-3p")
    shared = a[0][a[1].start : a[1].start + 18]
    assert shared == b[0][b[1].start : b[1].start + 18]
    result = _count(small_reference, tmp_path, [(shared, 9)])
    assert result.mature == {"hsa-miR-23a-3p": 4.5, "hsa-miR-23b-3p": 4.5}


def test_identical_paralogs_are_one_feature_counted_once(small_reference, tmp_path):
    hp, loc = _mature(small_reference, "hsa-miR-199a-3p/hsa-miR-199b-3p")
    result = _count(
        small_reference, tmp_path, [(hp[loc.start : loc.end], 12), (hp[loc.start : loc.end + 2], 3)]
    )
    assert result.mature == {"hsa-miR-199a-3p/hsa-miR-199b-3p": 15.0}
    assert sum(result.hairpin.values()) == pytest.approx(15.0)


def test_loop_reads_count_for_the_hairpin_only(small_reference, tmp_path):
    _, hairpins, locations = small_reference
    hp = hairpins["hsa-mir-21"]
    starts = sorted(loc.start for loc in locations["hsa-mir-21"])
    loop = hp[starts[0] + 24 : starts[0] + 44]
    result = _count(small_reference, tmp_path, [(loop, 6)])
    assert result.mature == {}
    assert result.hairpin == {"hsa-mir-21": 6.0}
    assert result.isomirs[0][7] == "hairpin_only"


def test_multiplicity_and_rounding():
    assert count.multiplicity("seq_12_x345") == 345
    with pytest.raises(ValueError, match="does not end in _x<count>"):
        count.multiplicity("read1")
    assert [count.round_half_up(v) for v in (0.5, 1.49999, 2.5, 4.5)] == [1, 1, 3, 5]


def test_merge_counts_fills_zeros(tmp_path):
    a = tmp_path / "a.tsv"
    a.write_text("feature\treads\tambiguous\nm1\t2.5000\t2.5000\n")
    b = tmp_path / "b.tsv"
    b.write_text("feature\treads\tambiguous\nm2\t1.0000\t0.0000\n")
    matrix = count.merge_counts({"A": a, "B": b}, ["m1", "m2", "m3"])
    assert matrix.to_dict() == {"A": {"m1": 3, "m2": 0, "m3": 0}, "B": {"m1": 0, "m2": 1, "m3": 0}}


@pytest.mark.parametrize(
    ("md", "expected"), [("22", []), ("0A21", [0]), ("5A0C14G", [5, 6, 21]), ("10T11", [10])]
)
def test_mismatch_positions_from_md_equal_pysams_aligned_pairs(md, expected):
    header = pysam.AlignmentHeader.from_dict({"SQ": [{"SN": "ref", "LN": 100}]})
    aln = pysam.AlignedSegment(header)
    aln.query_name, aln.query_sequence = "seq_1_x1", "A" * 22
    aln.reference_id, aln.reference_start, aln.cigarstring = 0, 3, "22M"
    aln.set_tags([("NM", len(expected)), ("MD", md)])
    pairs = aln.get_aligned_pairs(matches_only=True, with_seq=True)
    assert count._mismatch_positions(aln) == expected
    assert [q for q, _, ref in pairs if ref.islower()] == expected
    aln.cigarstring = "1S21M"  # not bowtie's: goes through the aligned pairs
    aln.set_tags([("NM", 1), ("MD", "9T11")])
    assert count._mismatch_positions(aln) == [10]
