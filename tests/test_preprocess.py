"""Collapsing and read-fate bookkeeping (the cutadapt passes are tested per kit elsewhere)."""

from __future__ import annotations

import io
from collections import Counter

from exomir import preprocess


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
