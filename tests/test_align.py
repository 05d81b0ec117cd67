"""bowtie passes of one sample (exomir.align): stage BAMs and the inserts no stage aligned."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from exomir import align, reference

pytestmark = pytest.mark.skipif(
    shutil.which("bowtie") is None or shutil.which("samtools") is None,
    reason="bowtie 1.x and samtools not installed",
)
HAIRPIN = "GGATCCTTGACTGAGCTAGCTTATCAGACTGATGTTGACTGTTGAATCTCATGGCAACACCAGTCGATGGGCTGTCC"
INSIDE = HAIRPIN[10:32]  # a mature arm of the hairpin
OUTSIDE = "TTTGCGATACGTCAGGCATTAC"  # a mature sequence found in no hairpin
LOOP = HAIRPIN[34:54]
NOWHERE = "CCGTAACGGTTACGCATAGCAG"
LONG = "ACGTTGCAAGCTTGCAATGCATGCCATGGTACCGTA"


def _index(tmp_path: Path, name: str, records: dict[str, str]) -> str:
    fasta = tmp_path / f"{name}.fa"
    reference.write_fasta(list(records.items()), fasta)
    subprocess.run(["bowtie-build", "-q", str(fasta), str(tmp_path / name)], check=True)
    return str(tmp_path / name)


def _reads(bam: str) -> list[str]:
    out = subprocess.run(["samtools", "view", bam], capture_output=True, text=True, check=True)
    return sorted({line.split("\t")[0] for line in out.stdout.splitlines()})


def _run(tmp_path: Path, mature_in_hairpins: bool, with_trna: bool) -> dict[str, str]:
    indexes = {
        "mature": _index(tmp_path, "mature", {"miR-in": INSIDE, "miR-out": OUTSIDE}),
        "hairpin": _index(tmp_path, "hairpin", {"mir-1": HAIRPIN}),
    }
    if with_trna:
        indexes["trna"] = _index(tmp_path, "trna", {"tRNA-x": "GG" + LONG + "CCA"})
    window = tmp_path / "S.fa"
    window.write_text(
        f">seq_1_x9\n{INSIDE}\n>seq_2_x5\n{OUTSIDE}\n>seq_3_x3\n{LOOP}\n>seq_4_x2\n{NOWHERE}\n"
    )
    long = tmp_path / "S.long.fa"
    long.write_text(f">long_1_x4\n{LONG}\n")
    outputs = {"remaining": str(tmp_path / "remaining.fa")}
    for stage in indexes:
        outputs |= {f"{stage}_bam": str(tmp_path / f"{stage}.bam")}
        outputs |= {f"{stage}_log": str(tmp_path / f"{stage}.log")}
    with open(tmp_path / "job.log", "w") as log:
        alignment = (1, 1)
        align.align_sample(
            (str(window), str(long)), indexes, outputs, mature_in_hairpins, alignment, log
        )
    return outputs


def test_every_mature_alignment_is_kept_when_a_mature_lies_outside_the_hairpins(tmp_path):
    outputs = _run(tmp_path, mature_in_hairpins=False, with_trna=False)
    assert _reads(outputs["mature_bam"]) == ["seq_1_x9", "seq_2_x5"]
    assert _reads(outputs["hairpin_bam"]) == ["seq_1_x9", "seq_3_x3"]
    remaining = list(reference.read_fasta(outputs["remaining"]))
    assert remaining == [("seq_4_x2", NOWHERE), ("long_1_x4", LONG)]  # no tRNA stage


def test_the_trna_stage_sees_every_insert_and_leaves_the_rest(tmp_path):
    outputs = _run(tmp_path, mature_in_hairpins=True, with_trna=True)
    # only hairpin hits go through the mature pass: the outside mature is not seen
    assert _reads(outputs["mature_bam"]) == ["seq_1_x9"]
    assert _reads(outputs["trna_bam"]) == ["long_1_x4"]
    remaining = list(reference.read_fasta(outputs["remaining"]))
    assert remaining == [("seq_2_x5", OUTSIDE), ("seq_4_x2", NOWHERE)]
    assert "reads processed: 4" in Path(outputs["hairpin_log"]).read_text()


def test_two_runs_write_byte_identical_bams_and_leave_no_split_folder(tmp_path):
    stale = tmp_path / "hairpin.tmp"  # as a killed job would leave it
    stale.mkdir()
    (stale / "hairpin_hits.fa").write_text(f">stale_x1\n{OUTSIDE}\n")
    bams = [f"{stage}_bam" for stage in ("hairpin", "mature", "trna")]
    first = _run(tmp_path, mature_in_hairpins=True, with_trna=True)
    first_bytes = [Path(first[key]).read_bytes() for key in bams]
    assert _reads(first["mature_bam"]) == ["seq_1_x9"]
    assert not stale.exists()
    second = _run(tmp_path, mature_in_hairpins=True, with_trna=True)
    # bowtie writes its command line, split files included, into each BAM's header
    assert [Path(second[key]).read_bytes() for key in bams] == first_bytes
    view = ["samtools", "view", "-H", second["trna_bam"]]
    header = subprocess.run(view, capture_output=True, text=True, check=True).stdout
    assert "hairpin.tmp/hairpin_hits.fa" in header


def test_mature_within_hairpins(tmp_path):
    features = tmp_path / "features.tsv"
    features.write_text("feature\tmature_names\tmimat\tsequence\nmiR-in\tmiR-in\tM1\tA\n")
    locations = tmp_path / "loc.tsv"
    locations.write_text("hairpin\tfeature\tstart\tend\nmir-1\tmiR-in\t10\t32\n")
    assert align.mature_within_hairpins(features, locations)
    with open(features, "a") as out:
        out.write("miR-out\tmiR-out\tM2\tC\n")
    assert not align.mature_within_hairpins(features, locations)


def test_a_failing_pass_names_its_log(tmp_path):
    outputs = {"remaining": str(tmp_path / "r.fa")}
    for stage in ("mature", "hairpin"):
        outputs |= {f"{stage}_bam": str(tmp_path / f"{stage}.bam")}
        outputs |= {f"{stage}_log": str(tmp_path / f"{stage}.log")}
    (tmp_path / "S.fa").write_text(f">seq_1_x1\n{INSIDE}\n")
    missing = {"mature": str(tmp_path / "none"), "hairpin": str(tmp_path / "none")}
    with (
        open(tmp_path / "job.log", "w") as log,
        pytest.raises(align.AlignmentError, match="hairpin.log"),
    ):
        align.align_sample(
            (str(tmp_path / "S.fa"), str(tmp_path / "S.fa")), missing, outputs, True, (1, 1), log
        )
