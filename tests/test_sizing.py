"""Memory and run time of the per-sample jobs follow their input."""

from __future__ import annotations

import gzip
import math
import os
import random
import zlib

from exomir import sizing
from exomir.protocols import PRESETS, resolve_protocol


def fastq_bytes(n: int, start: int = 0) -> bytes:
    return b"".join(
        b"@read%d\n%s\n+\n%s\n" % (i, b"ACGT" * 12 + b"AC", b"I" * 50)
        for i in range(start, start + n)
    )


def test_reads_are_estimated_from_size_and_first_bytes(tmp_path):
    plain, packed, members = tmp_path / "a.fastq", tmp_path / "a.fastq.gz", tmp_path / "b.fq.gz"
    plain.write_bytes(fastq_bytes(200_000))
    packed.write_bytes(gzip.compress(fastq_bytes(200_000), compresslevel=6))
    # bgzip-like: many independent gzip members
    blocks = [fastq_bytes(500, start) for start in range(0, 200_000, 500)]
    members.write_bytes(b"".join(gzip.compress(b) for b in blocks))
    # this repetitive file's first bytes hold far more text than is decompressed of them
    head = packed.read_bytes()[: sizing.SAMPLE_BYTES]
    assert len(zlib.decompressobj(31).decompress(head)) > 4 * sizing.TEXT_BYTES
    for path in (plain, packed, members):
        assert abs(sizing.estimate_reads(path) - 200_000) < 0.05 * 200_000, path
    empty = tmp_path / "empty.fastq.gz"
    empty.write_bytes(b"")
    assert sizing.estimate_reads(empty) == 0


def test_reads_of_a_poorly_compressed_fastq_are_estimated(tmp_path):
    """Random reads of varying length: the first bytes hold a few hundred reads."""
    rng = random.Random(7)
    records = []
    for i in range(100_000):
        n = rng.randint(40, 75)
        seq = "".join(rng.choices("ACGT", k=n))
        qual = "".join(rng.choices("#+5?FIJ", k=n))
        records.append(
            f"@A00123:8:H7:1:{i}:{rng.randint(1000, 32000)} 1:N:0:ACGT\n{seq}\n+\n{qual}\n"
        )
    path = tmp_path / "random.fastq.gz"
    path.write_bytes(gzip.compress("".join(records).encode(), compresslevel=6))
    assert os.path.getsize(path) > 10 * sizing.SAMPLE_BYTES
    assert abs(sizing.estimate_reads(path) - 100_000) < 0.05 * 100_000


def test_memory_grows_with_reads_and_retries(tmp_path):
    small, large = tmp_path / "s.fastq", tmp_path / "l.fastq"
    small.write_bytes(fastq_bytes(10_000))
    large.write_bytes(fastq_bytes(400_000))
    for kit in ("truseq", "nextflex", "qiaseq"):
        protocol = PRESETS[kit]
        assert sizing.trim_mem_mb(large, protocol, 1) > sizing.trim_mem_mb(small, protocol, 1)
        assert sizing.trim_mem_mb(small, protocol, 1, attempt=2) == 2 * sizing.trim_mem_mb(
            small, protocol, 1
        )
        assert sizing.trim_runtime(small, protocol) == sizing.MIN_RUNTIME
    # the UMI path holds GNU sort's buffer
    assert (
        sizing.trim_mem_mb(small, PRESETS["qiaseq"], 1)
        > sizing.trim_mem_mb(small, PRESETS["truseq"], 1) + sizing.SORT_BUFFER_MB
    )
    # every cutadapt worker of the per-read path is one more process; one-process paths
    # do not grow with the threads Snakemake grants
    nextflex = [sizing.trim_mem_mb(small, PRESETS["nextflex"], t) for t in (1, 2, 4)]
    assert nextflex[0] < nextflex[1] < nextflex[2]
    assert sizing.trim_mem_mb(small, PRESETS["truseq"], 4) == sizing.trim_mem_mb(
        small, PRESETS["truseq"], 1
    )
    assert sizing.trim_path(PRESETS["truseq"]) == "distinct"
    assert sizing.trim_path(PRESETS["nextflex"]) == "every"
    assert sizing.trim_threads(PRESETS["qiaseq"]) >= 1
    # auto is sized as the most demanding path: its kit is known only in the job
    assert sizing.trim_path(resolve_protocol("auto")) == "umi"


def test_runtime_follows_reads(tmp_path, monkeypatch):
    fastq = tmp_path / "x.fastq"
    fastq.write_bytes(fastq_bytes(10))
    monkeypatch.setattr(sizing, "estimate_reads", lambda path: 20e6)  # a 20 M-read library
    model = sizing.TRIM_MODELS["umi"]
    expected = model.cpu_s_per_unit * 20 / 60 * sizing.RUNTIME_MARGIN
    assert sizing.trim_runtime(fastq, PRESETS["qiaseq"]) == math.ceil(expected) > 30
    assert sizing.trim_runtime(fastq, PRESETS["truseq"]) < sizing.trim_runtime(
        fastq, PRESETS["qiaseq"]
    )


def test_align_and_count_follow_their_inputs(tmp_path):
    fasta = tmp_path / "c.fa"
    fasta.write_text("".join(f">seq_{i}_x1\nACGTACGTACGTACGTACGTAC\n" for i in range(100_000)))
    tiny = tmp_path / "t.fa"
    tiny.write_text(">seq_1_x1\nACGT\n")
    assert sizing.align_mem_mb(fasta) > sizing.align_mem_mb(tiny)
    assert sizing.align_runtime(tiny) == sizing.MIN_RUNTIME
    bam = tmp_path / "x.bam"
    bam.write_bytes(os.urandom(4 * 2**20))  # incompressible, as a BAM's blocks are
    # the counting job reads the stage BAMs (their aligned inserts), not the collapsed files
    assert sizing.count_mem_mb([tiny, bam]) > sizing.count_mem_mb([tiny, tiny])
    assert sizing.count_runtime([tiny]) == sizing.MIN_RUNTIME


def test_composition_memory_follows_the_index(tmp_path):
    fasta = tmp_path / "remaining.fa"
    fasta.write_text(">seq_1_x1\nACGTACGTACGTACGTACGTAC\n")
    indexes = {"yrna": 0.01, "pirna": 300}
    files = {name: [tmp_path / f"{name}.{i}.ebwt" for i in range(4)] for name in indexes}
    for name, mb in indexes.items():
        for path in files[name]:
            with open(path, "wb") as handle:
                handle.truncate(int(mb * 2**20 / 4))  # sparse: the size is what counts
    # bowtie held 298 MB with an index of 159 MB (see exomir.sizing)
    large_index, small_index = files["pirna"], files["yrna"]
    assert sizing.composition_mem_mb(fasta, large_index) > 2 * 300
    assert sizing.composition_mem_mb(fasta, small_index) == sizing.align_mem_mb(fasta)
    assert sizing.composition_mem_mb(fasta, large_index, attempt=2) == 2 * (
        sizing.composition_mem_mb(fasta, large_index)
    )
