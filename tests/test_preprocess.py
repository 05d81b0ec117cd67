"""Collapsing and read-fate bookkeeping (the cutadapt passes are tested per kit elsewhere)."""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter

import pytest

from conftest import preprocess_in
from exomir import preprocess
from exomir.fastq import inspect
from exomir.protocols import PRESETS, kit_read, resolve_protocol


def test_count_sequences_reads_every_fourth_line():
    fastq = b"@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIIII\n@r3\nTTTT\n+\nIIII\n"
    assert preprocess.count_sequences(io.BytesIO(fastq)) == Counter({b"ACGT": 2, b"TTTT": 1})


def test_collapsed_records_are_windowed_and_ordered(tmp_path):
    counts = Counter({b"A" * 20: 5, b"C" * 20: 5, b"G" * 18: 9, b"T" * 40: 100, b"": 50})
    records = preprocess.collapsed_records(counts, preprocess.LengthWindow(16, 30))
    assert records == [("G" * 18, 9), ("A" * 20, 5), ("C" * 20, 5)]
    path = tmp_path / "c.fa"
    preprocess.write_collapsed(records, path)
    assert path.read_text().splitlines()[:2] == [">seq_1_x9", "G" * 18]


def test_summary_splits_read_fates():
    hist = {0: 30, 3: 2, 10: 5, 20: 50, 35: 4}
    report = {"read_counts": {"input": 100, "read1_with_adapter": 91}}
    summary = preprocess.summarise(report, hist, preprocess.LengthWindow(16, 30), 12)
    assert summary == {
        "raw_reads": 100,
        "reads_with_adapter": 91,
        "adapter_dimers": 32,
        "too_short": 5,
        "too_long": 4,
        "reads_kept": 50,
        "unique_inserts": 12,
    }


def test_truncated_fastq_is_a_clear_error_naming_sample_and_file(tmp_path):
    import gzip

    import pytest

    from conftest import preprocess_in
    from exomir.protocols import PRESETS

    good = b"".join(
        b"@r%d\nACGTACGTACGTACGTACGTTGGAATTCTCGGGTGCCAAGG\n+\n%s\n" % (i, b"I" * 41)
        for i in range(2000)
    )
    fastq = tmp_path / "broken.fastq.gz"
    fastq.write_bytes(gzip.compress(good)[:1500])
    with pytest.raises(
        preprocess.InputError,
        match=r"(?s)sample 'P07': cannot trim .*broken\.fastq\.gz: .*ended.*Fix:",
    ):
        preprocess_in(tmp_path, "P07", fastq, PRESETS["truseq"])


def _kit_fastq_text(kit: str, n: int = 400, quality: str = "I") -> str:
    inserts = ["TAGCTTATCAGACTGATGTTGA", "TGAGGTAGTAGGTTGTATAGTT", "AACCCGTAGATCCGAACTTGTG"]
    protocol = PRESETS[kit]
    length = 75 if protocol.umi_length else 50
    lines = []
    for i in range(n):
        umi = "".join("ACGT"[(i >> (2 * k)) & 3] for k in range(protocol.umi_length))
        five = "ACGT"[i % 4] * protocol.clip_5p
        three = "TGCA"[i % 4] * protocol.clip_3p
        read = kit_read(protocol, inserts[i % 3], length, five, three, umi)
        lines.append(f"@r{i}\n{read}\n+\n{quality * len(read)}\n")
    return "".join(lines)


def test_fasta_given_as_fastq_is_a_clear_error(tmp_path):

    fasta = tmp_path / "P03.fastq.gz"
    records = _kit_fastq_text("truseq").splitlines()
    fasta.write_bytes(
        gzip.compress(
            "".join(f">{h[1:]}\n{s}\n" for h, s in zip(records[::4], records[1::4])).encode()
        )
    )
    with pytest.raises(
        preprocess.InputError, match=r"(?s)sample 'P03'.*P03\.fastq\.gz.*FASTA.*Fix:"
    ):
        preprocess_in(tmp_path, "P03", fasta, PRESETS["truseq"])


def test_not_fastq_is_a_clear_error(tmp_path):

    table = tmp_path / "counts.fastq"
    table.write_text("gene\tcount\nmiR-21\t5\n")
    with pytest.raises(preprocess.InputError, match=r"(?s)sample 'P04'.*not FASTQ.*Fix:"):
        preprocess_in(tmp_path, "P04", table, PRESETS["truseq"])


def test_phred64_is_a_clear_error_and_phred33_is_not(tmp_path):

    phred64 = tmp_path / "old.fastq"
    phred64.write_text(_kit_fastq_text("truseq", quality="h"))  # Q40 in Phred+64
    with pytest.raises(preprocess.InputError, match=r"(?s)sample 'P05'.*Phred\+64.*Fix: convert"):
        preprocess_in(tmp_path, "P05", phred64, PRESETS["truseq"])
    # all qualities between ';' and 'J' (Q26-41 in Phred+33) stay Phred+33
    good = tmp_path / "good.fastq"
    good.write_text(_kit_fastq_text("truseq", quality="F"))
    assert inspect("P05", good).highest_quality == "F"
    low = tmp_path / "low.fastq"
    low.write_text(
        _kit_fastq_text("truseq", quality="#").replace("\n+\n" + "#" * 5, "\n+\nh" + "#" * 4)
    )
    assert inspect("P05", low).lowest_quality == "#"


def test_gzip_named_fastq_is_read_for_every_kit_and_auto(tmp_path):

    for kit in ("truseq", "nextflex", "qiaseq", "auto"):
        text = _kit_fastq_text("truseq" if kit == "auto" else kit)
        plain, hidden = tmp_path / f"{kit}.fastq", tmp_path / f"{kit}_gz.fastq"
        plain.write_text(text)
        hidden.write_bytes(gzip.compress(text.encode()))
        protocol = resolve_protocol("auto") if kit == "auto" else PRESETS[kit]
        runs = []
        for path in (plain, hidden):
            folder = tmp_path / path.stem
            folder.mkdir()
            runs.append((preprocess_in(folder, "P06", path, protocol), folder))
        (first, a), (second, b) = runs
        assert first == second and first["reads_kept"] > 0
        assert (a / "collapsed.fa").read_text() == (b / "collapsed.fa").read_text()


def test_kit_record_carries_the_detection_for_every_kit(tmp_path):

    fastq = tmp_path / "truseq.fastq"
    fastq.write_text(_kit_fastq_text("truseq", n=2000))
    summary = preprocess_in(tmp_path, "P08", fastq, PRESETS["nextflex"])  # wrong kit
    record = json.loads((tmp_path / "protocol.json").read_text())
    assert record["protocol"] == "nextflex" and record["detected"] is False
    assert record["detection"]["adapter_name"] == "truseq"
    assert record["detection"]["confidence"] == 1.0
    assert (record["detection"]["random_5p"], record["detection"]["random_3p"]) == (0, 0)
    assert summary["reads_kept"] == 0  # 8 nt clipped from 22-nt inserts: all too short
