"""mirtop on the distinct inserts of all samples: the distinct BAM and the per-sample spread."""

from __future__ import annotations

import pysam
import pytest

from exomir import isomirs

HEADER = {"HD": {"VN": "1.6"}, "SQ": [{"SN": "hsa-mir-a", "LN": 80}, {"SN": "hsa-mir-b", "LN": 80}]}


def _bam(path, reads):
    """``reads``: (name, sequence, [(reference index, start), ...]) in file order."""
    with pysam.AlignmentFile(str(path), "wb", header=HEADER) as out:
        for name, sequence, hits in reads:
            for reference_id, start in hits:
                record = pysam.AlignedSegment(out.header)
                record.query_name = name
                record.query_sequence = sequence
                record.reference_id = reference_id
                record.reference_start = start
                record.cigartuples = [(0, len(sequence))]
                record.mapping_quality = 255
                out.write(record)
    return str(path)


ONE, TWO, THREE = "TGAGGTAGTAGGTTGTATAGTT", "AACCCGTAGATCCGAACTTGTG", "TAGCTTATCAGACTGATGTTGA"


@pytest.fixture
def two_samples(tmp_path):
    first = _bam(
        tmp_path / "A.bam",
        [("seq_1_x5", ONE, [(0, 5), (1, 7)]), ("seq_2_x3", TWO, [(0, 40)])],
    )
    second = _bam(
        tmp_path / "B.bam",
        [("seq_1_x1", THREE, [(1, 50)]), ("seq_2_x7", ONE, [(0, 5), (1, 7)])],
    )
    return first, second


def test_each_distinct_insert_once_with_its_alignments_and_counts(two_samples, tmp_path):
    out = tmp_path / "distinct.bam"
    counts = isomirs.write_distinct_bam(two_samples, out)
    assert counts == {ONE: {0: 5, 1: 7}, TWO: {0: 3}, THREE: {1: 1}}
    with pysam.AlignmentFile(str(out)) as handle:
        records = [
            (r.query_name, r.query_sequence, r.reference_name, r.reference_start) for r in handle
        ]
    # sorted by sequence, named with the reads of all samples, alignments of the first sample
    assert records == [
        ("u1_x3", TWO, "hsa-mir-a", 40),
        ("u2_x1", THREE, "hsa-mir-b", 50),
        ("u3_x12", ONE, "hsa-mir-a", 5),
        ("u3_x12", ONE, "hsa-mir-b", 7),
    ]


def _gff_line(sequence, expression):
    return (
        f"hsa-mir-a\tmiRBasev22\tisomiR\t5\t26\t0\t+\t.\tRead {sequence}; UID iso-22-X; "
        f"Name hsa-let-7a-5p; Parent hsa-mir-a; Variant iso_3p:-1; Cigar 22M; "
        f"Expression {expression}; Filter Pass; Hits 1\n"
    )


def test_expression_spread_over_the_samples(tmp_path):
    gff = tmp_path / "distinct.gff"
    gff.write_text(
        "## mirGFF3. VERSION 1.2\n## COLDATA: distinct\n" + _gff_line(ONE, 12) + _gff_line(TWO, 3)
    )
    counts = {ONE: {0: 5, 1: 7}, TWO: {0: 3}}
    out = tmp_path / "mirtop.gff"
    assert isomirs.spread_expression(gff, counts, ["A", "B"], out) == 2
    lines = out.read_text().splitlines()
    assert lines[1] == "## COLDATA: A,B"
    assert "Expression 5,7; Filter Pass" in lines[2]
    assert "Expression 3,0; Filter Pass" in lines[3]


def test_a_count_that_does_not_add_up_stops(tmp_path):
    gff = tmp_path / "distinct.gff"
    gff.write_text("## COLDATA: distinct\n" + _gff_line(ONE, 11))
    with pytest.raises(ValueError, match="mirtop counted 11 reads"):
        isomirs.spread_expression(gff, {ONE: {0: 5, 1: 7}}, ["A", "B"], tmp_path / "out.gff")
