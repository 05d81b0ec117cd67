"""protocol auto: adapter and random-base detection on simulated kit layouts."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from conftest import DEFAULTS, preprocess_in
from exomir import adapters
from exomir.protocols import PRESETS, kit_read, resolve_protocol
from exomir.reference import read_fasta

AUTO_READS = DEFAULTS["qc"]["auto_reads"]

REPO = Path(__file__).resolve().parents[1]

HEPG2_3P = "ACGGGCTAATATTTATCGGTGGAGCATCACGATCTCGTAT"


def library(protocol, n=3000, seed=1, read_length=50, n5=0, n3=0, n_umi=0, dimers=0.1):
    """Reads of a plasma-like library: a few dominant miRNAs over a tail, some dimers."""
    rng = random.Random(seed)
    pool = [s for _, s in read_fasta(REPO / "resources" / "mirbase" / "hsa_mature.fa")]
    pool = sorted(s for s in pool if 19 <= len(s) <= 24)
    expressed = rng.sample(pool, 150)
    weights = [50, 30, 20, 10, 10] + [1] * 145
    reads = []
    for _ in range(n):
        insert = "" if rng.random() < dimers else rng.choices(expressed, weights)[0]
        if insert and rng.random() < 0.3:
            insert = insert[: -rng.randint(1, 2)]  # 3' isomiRs
        rnd = lambda k: "".join(rng.choice("ACGT") for _ in range(k))  # noqa: E731
        reads.append(kit_read(protocol, insert, read_length, rnd(n5), rnd(n3), rnd(n_umi)))
    return reads


def write_fastq(path: Path, reads: list[str]) -> Path:
    with gzip.open(path, "wt") as out:
        for i, read in enumerate(reads):
            out.write(f"@r{i}\n{read}\n+\n{'I' * len(read)}\n")
    return path


@pytest.mark.parametrize(
    "kit, read_length, n5, n3, n_umi, expected",
    [
        ("truseq", 50, 0, 0, 0, "truseq"),
        ("illumina_v1", 36, 0, 0, 0, "illumina_v1"),
        ("nebnext", 50, 0, 0, 0, "nebnext"),
        ("qiaseq", 75, 0, 0, 12, "qiaseq"),
        ("nextflex", 50, 4, 4, 0, "nextflex"),
        ("cats", 50, 3, 0, 0, "cats"),
    ],
)
def test_known_kits_are_recognised(tmp_path, kit, read_length, n5, n3, n_umi, expected):
    reads = library(PRESETS[kit], read_length=read_length, n5=n5, n3=n3, n_umi=n_umi)
    detection = adapters.detect(write_fastq(tmp_path / "r.fastq.gz", reads), AUTO_READS)
    assert detection.method == "known"
    assert detection.adapter == PRESETS[kit].adapter_3p
    assert detection.confidence > 0.8
    protocol = adapters.protocol_from_detection(detection)
    if kit != "cats":  # template-switch bases are not random: cats is named by its poly(A)
        assert (detection.random_5p, detection.random_3p) == (n5, n3)
    assert protocol.name == expected
    assert protocol == PRESETS[expected]


def test_qiaseq_wins_over_the_readthrough_adapter(tmp_path):
    """After the QIAseq UMI comes Illumina read-through that holds the NEBNext adapter:
    the adapter that comes first in the read is the library's."""
    reads = library(PRESETS["qiaseq"], read_length=75, n_umi=12)
    assert sum(PRESETS["nebnext"].adapter_3p[:10] in r for r in reads) > 0.5 * len(reads)
    detection = adapters.detect(write_fastq(tmp_path / "r.fastq.gz", reads), AUTO_READS)
    assert detection.adapter_name == "qiaseq"
    assert detection.known_support["nebnext"] < 0.05


def test_unknown_adapter_found_by_kmers(tmp_path):
    custom = resolve_protocol("custom", {"adapter": HEPG2_3P})
    reads = library(custom, read_length=43)
    detection = adapters.detect(write_fastq(tmp_path / "r.fastq.gz", reads), AUTO_READS)
    assert detection.method == "kmer"
    assert HEPG2_3P.startswith(detection.adapter)
    assert len(detection.adapter) >= 15
    assert detection.confidence > 0.8
    protocol = adapters.protocol_from_detection(detection)
    assert protocol.name == "auto" and protocol.adapter_3p == detection.adapter


def test_random_bases_need_both_ends_for_nextflex(tmp_path):
    reads = library(PRESETS["truseq"], n5=4)  # 4 random nt at the 5' end only
    detection = adapters.detect(write_fastq(tmp_path / "r.fastq.gz", reads), AUTO_READS)
    assert (detection.random_5p, detection.random_3p) == (4, 0)
    protocol = adapters.protocol_from_detection(detection)
    assert protocol.name == "auto" and (protocol.clip_5p, protocol.clip_3p) == (4, 0)


def test_low_confidence_stops_and_suggests_custom(tmp_path):
    rng = random.Random(2)
    reads = ["".join(rng.choice("ACGT") for _ in range(50)) for _ in range(2000)]  # no adapter
    fastq = write_fastq(tmp_path / "trimmed_already.fastq.gz", reads)
    detection = adapters.detect(fastq, AUTO_READS)
    assert detection.confidence < 0.25
    with pytest.raises(adapters.DetectionError) as error:
        adapters.check_confidence(detection, 0.25, "P7", fastq)
    message = str(error.value)
    assert "sample 'P7'" in message and "trimmed_already.fastq.gz" in message
    assert "protocol: custom" in message


def test_empty_file_is_a_clear_error(tmp_path):
    fastq = write_fastq(tmp_path / "empty.fastq.gz", [])
    detection = adapters.detect(fastq, AUTO_READS)
    assert detection.reads_sampled == 0
    with pytest.raises(adapters.DetectionError, match="no read of at least"):
        adapters.check_confidence(detection, 0.25, "E", fastq)


def test_auto_trims_with_the_detected_protocol(tmp_path):
    reads = library(PRESETS["truseq"], n=1500, n5=4, n3=4)
    fastq = write_fastq(tmp_path / "nf.fastq.gz", reads)
    summary = preprocess_in(tmp_path, "NF", fastq, resolve_protocol("auto"))
    record = json.loads((tmp_path / "protocol.json").read_text())
    assert record["detected"] is True
    assert record["protocol"] == "nextflex"
    assert record["adapter_3p"] == PRESETS["truseq"].adapter_3p
    assert (record["random_5p"], record["random_3p"]) == (4, 4)
    assert record["confidence"] > 0.9
    assert summary["protocol"] == "nextflex"
    expected = {seq for _, seq in read_fasta(REPO / "resources" / "mirbase" / "hsa_mature.fa")}
    kept = [seq for _, seq in read_fasta(tmp_path / "collapsed.fa")]
    # the random bases are gone: the inserts are (3' trimmed) mature miRNAs
    assert all(any(m.startswith(seq) for m in expected) for seq in kept)


@pytest.mark.workflow
def test_low_confidence_stops_the_workflow(tmp_path):
    from conftest import run_snakemake

    rng = random.Random(4)
    fastq = write_fastq(
        tmp_path / "no_adapter.fastq.gz",
        ["".join(rng.choice("ACGT") for _ in range(50)) for _ in range(1000)],
    )
    sheet = tmp_path / "samples.tsv"
    rows = [f"{s}\t{c}\t{fastq}" for s, c in (("A1", "resistant"), ("A2", "resistant"))]
    rows += [f"{s}\t{c}\t{fastq}" for s, c in (("B1", "sensitive"), ("B2", "sensitive"))]
    sheet.write_text("sample\tcondition\tfastq\n" + "\n".join(rows) + "\n")
    proc = run_snakemake(
        tmp_path / "run",
        {"samples": str(sheet), "protocol": "auto", "allow_duplicate_fastq": True},
        "results/qc/sample_qc.tsv",
        check=False,
    )
    assert proc.returncode != 0
    assert "protocol auto cannot identify the 3' adapter" in proc.stdout
    assert "no_adapter.fastq.gz" in proc.stdout and "protocol: custom" in proc.stdout
    assert not (tmp_path / "run" / "results" / "collapsed").exists() or not any(
        (tmp_path / "run" / "results" / "collapsed").iterdir()
    )
