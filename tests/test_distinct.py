"""Distinct-read trimming: the same inserts, read fates and cutadapt report as trimming every
read, on reads with low-quality 3' ends, sequencing errors, partial adapters and no adapter."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from conftest import preprocess_in
from exomir import distinct, fastq, preprocess
from exomir.protocols import (
    PRESETS,
    Protocol,
    adapter_pass_args,
    kit_read,
    trims_distinct_reads,
)
from exomir.reference import read_fasta

REPO = Path(__file__).resolve().parents[1]


def mature_pool() -> list[str]:
    pool = [s for _, s in read_fasta(REPO / "resources" / "mirbase" / "hsa_mature.fa")]
    return sorted({s for s in pool if 16 <= len(s) <= 26 and "N" not in s})


def qualities(rng: random.Random, length: int) -> str:
    """Mostly high qualities; some reads end low, dip inside, or sit at the cutoff (Q20)."""
    quals = [rng.choice([30, 35, 38, 40]) for _ in range(length)]
    shape = rng.random()
    if shape < 0.25:  # low 3' tail
        for i in range(length - rng.randint(1, 25), length):
            quals[i] = rng.choice([2, 5, 10, 15, 20, 25])
    elif shape < 0.35:  # a dip inside the read, good end
        start = rng.randrange(length - 5)
        for i in range(start, start + 4):
            quals[i] = 2
    elif shape < 0.45:  # values around the cutoff at the end
        for i in range(length - 6, length):
            quals[i] = rng.choice([19, 20, 21])
    return "".join(chr(33 + q) for q in quals)


def mutate(rng: random.Random, read: str, rate: float) -> str:
    return "".join(
        rng.choice([b for b in "ACGTN" if b != c]) if rng.random() < rate else c for c in read
    )


def kit_reads(protocol: Protocol, n: int, seed: int, read_length: int = 50) -> list[str]:
    """Reads with duplicates (few distinct inserts), errors, dimers, partial and no adapter."""
    rng = random.Random(seed)
    inserts = rng.sample(mature_pool(), 30)
    reads = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.08:
            insert = ""  # dimer
        elif kind < 0.12:
            insert = "".join(rng.choice("ACGT") for _ in range(rng.randint(32, 46)))  # long
        elif kind < 0.15:
            reads.append("".join(rng.choice("ACGT") for _ in range(read_length)))  # no adapter
            continue
        else:
            insert = rng.choice(inserts)
        random_5p = "".join(rng.choice("ACGT") for _ in range(protocol.clip_5p))
        read = kit_read(protocol, insert, read_length, random_5p=random_5p)
        reads.append(mutate(rng, read, 0.01) if rng.random() < 0.3 else read)
    return reads


def write_fastq(path: Path, reads: list[str], seed: int) -> None:
    rng = random.Random(seed)
    with gzip.open(path, "wt") as out:
        for i, read in enumerate(reads):
            out.write(f"@r{i} 1:N:0:ACGT\n{read}\n+\n{qualities(rng, len(read))}\n")


def run_both(tmp_path: Path, protocol: Protocol, reads: list[str], monkeypatch, **settings):
    """Outputs of the distinct-read path and of the per-read path on the same reads."""
    fastq_path = tmp_path / "reads.fastq.gz"
    write_fastq(fastq_path, reads, seed=len(reads))
    return run_both_on(tmp_path, fastq_path, protocol, monkeypatch, **settings)


def run_both_on(tmp_path: Path, fastq_path: Path, protocol: Protocol, monkeypatch, **settings):
    """The two paths on one FASTQ file: {path name: (folder, read fates)}."""
    results = {}
    for name, distinct_path in (("distinct", True), ("every", False)):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setattr(preprocess, "trims_distinct_reads", lambda p, d=distinct_path: d)
        results[name] = (folder, preprocess_in(folder, "S1", fastq_path, protocol, **settings))
    return results


def report_numbers(path: Path) -> dict:
    """The numbers of a cutadapt JSON report (what MultiQC and the QC table read)."""
    report = json.loads(path.read_text())
    end = report["adapters_read1"][0]["three_prime_end"]
    return {
        "read_counts": report["read_counts"],
        "basepair_counts": report["basepair_counts"],
        "total_matches": report["adapters_read1"][0]["total_matches"],
        "end": {k: end[k] for k in ("matches", "adjacent_bases", "trimmed_lengths")},
        "dominant": end["dominant_adjacent_base"],
    }


def assert_same(results: dict) -> None:
    (d_dir, d_sum), (e_dir, e_sum) = results["distinct"], results["every"]
    for name in ("collapsed.fa", "lengths.tsv"):
        assert (d_dir / name).read_text() == (e_dir / name).read_text(), name
    assert {k: v for k, v in d_sum.items() if k != "distinct_reads"} == {
        k: v for k, v in e_sum.items() if k != "distinct_reads"
    }
    assert d_sum["distinct_reads"] and not e_sum["distinct_reads"]
    assert report_numbers(d_dir / "cutadapt.json") == report_numbers(e_dir / "cutadapt.json")


@pytest.mark.parametrize("sample", ["R01", "S06"])
def test_example_libraries_give_the_per_read_results(tmp_path, monkeypatch, example_dir, sample):
    """Real-size check: the example's libraries (TruSeq, ~50,000 reads) through both paths."""
    fastq_path = example_dir / "fastq" / f"{sample}.fastq.gz"
    assert_same(run_both_on(tmp_path, fastq_path, PRESETS["truseq"], monkeypatch))


FIVE_PRIME = "GTTCAGAGTTCTACAGTCCGACGATC"  # a custom 5' adapter: the 5' pass after matching
KITS = {
    **{kit: PRESETS[kit] for kit in ("truseq", "nebnext", "illumina_v1", "cats")},
    "custom_5p": Protocol("custom", PRESETS["truseq"].adapter_3p, adapter_5p=FIVE_PRIME),
}


@pytest.mark.parametrize("kit", KITS)
def test_distinct_reads_give_the_per_read_results(tmp_path, monkeypatch, kit):
    protocol = KITS[kit]
    length = 36 if kit == "illumina_v1" else 50
    reads = kit_reads(protocol, 3000, seed=len(kit), read_length=length)
    results = run_both(tmp_path, protocol, reads, monkeypatch)
    assert_same(results)
    summary = results["distinct"][1]
    assert summary["raw_reads"] == len(reads)
    assert 0 < summary["reads_kept"] < summary["raw_reads"]
    report = json.loads((results["distinct"][0] / "cutadapt.json").read_text())
    assert report["basepair_counts"]["quality_trimmed"] > 0  # low-quality ends were trimmed
    assert report["exomir"]["distinct_sequences"] < len(reads)
    # no temporary path: the same reads give the same report file
    json_at = report["command_line_arguments"].index("--json") + 1
    assert report["command_line_arguments"][json_at] == str(
        results["distinct"][0] / "cutadapt.json"
    )


def test_keep_untrimmed_and_error_rate_keep_their_meaning(tmp_path, monkeypatch):
    reads = kit_reads(PRESETS["truseq"], 2000, seed=3)
    results = run_both(
        tmp_path, PRESETS["truseq"], reads, monkeypatch, keep_untrimmed=True, error_rate=0.2
    )
    assert_same(results)
    report = json.loads((results["distinct"][0] / "cutadapt.json").read_text())
    assert report["read_counts"]["output"] == len(reads)  # nothing discarded
    assert report["adapters_read1"][0]["three_prime_end"]["error_rate"] == 0.2


def test_counting_pass_trims_qualities_as_cutadapt(tmp_path):
    """The trimming position of every read equals what ``cutadapt -q 20`` leaves."""
    rng = random.Random(5)
    reads = ["".join(rng.choice("ACGT") for _ in range(rng.randint(1, 60))) for _ in range(4000)]
    path = tmp_path / "q.fastq"
    with open(path, "w") as out:
        for i, read in enumerate(reads):
            quals = "".join(chr(33 + rng.choice([2, 10, 19, 20, 21, 30, 40])) for _ in read)
            out.write(f"@r{i}\n{read}\n+\n{quals}\n")
    trimmed = subprocess.run(
        ["cutadapt", "--quiet", "--quality-cutoff", "20", "--output", "-", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()[1::4]
    expected = Counter(trimmed)
    raw = fastq.count_raw_reads("S1", path, 20)
    assert dict(zip(raw.sequences, raw.counts)) == expected
    assert raw.raw_reads == len(reads)
    assert raw.raw_bp == sum(map(len, reads))
    assert raw.quality_trimmed_bp == raw.raw_bp - sum(map(len, trimmed))


def test_random_base_and_umi_kits_trim_every_read():
    assert trims_distinct_reads(PRESETS["truseq"])
    assert trims_distinct_reads(PRESETS["cats"])
    assert not trims_distinct_reads(PRESETS["nextflex"])
    assert not trims_distinct_reads(PRESETS["qiaseq"])
    custom = Protocol("custom", "ACGTACGTACGT", clip_3p=4)
    assert not trims_distinct_reads(custom)


@pytest.mark.parametrize(
    "extra",
    [
        ["--times", "2"],  # a second adapter search
        ["--adapter", "ACGTACGTACGT"],  # two adapters
        ["--minimum-length", "18"],  # a filter of the pass
        ["--action", "mask"],
    ],
)
def test_the_in_process_adapter_pass_refuses_what_it_does_not_reproduce(extra):
    args = adapter_pass_args(PRESETS["truseq"], None, False, 0.1, 1)
    with pytest.raises(ValueError, match="one 3' adapter and nothing else"):
        distinct.adapter_from_args([*args, *extra])


def test_the_in_process_adapter_is_cutadapts_for_the_arguments():
    args = adapter_pass_args(PRESETS["truseq"], None, True, 0.2, 1)
    adapter = distinct.adapter_from_args([*args, "--overlap", "5", "--no-indels"])
    assert adapter.sequence == PRESETS["truseq"].adapter_3p
    assert (adapter.max_error_rate, adapter.min_overlap, adapter.indels) == (0.2, 5, False)


def test_fastq_chunks_name_records_by_index():
    chunks = list(distinct.fastq_chunks(["ACGT", "", "GG"], [2, 0]))
    assert b"".join(chunks) == b"@2\nGG\n+\nII\n@0\nACGT\n+\nIIII\n"


def test_reads_without_any_adapter_and_empty_files(tmp_path, monkeypatch):
    rng = random.Random(9)
    reads = ["".join(rng.choice("ACG") for _ in range(50)) for _ in range(200)] * 2
    (tmp_path / "none").mkdir()
    results = run_both(tmp_path / "none", PRESETS["truseq"], reads, monkeypatch)
    assert_same(results)
    assert results["distinct"][1]["reads_with_adapter"] == 0
    empty = tmp_path / "empty.fastq.gz"
    empty.write_bytes(gzip.compress(b""))
    summary = preprocess_in(tmp_path, "S1", empty, PRESETS["truseq"])
    assert summary["raw_reads"] == 0 and summary["reads_kept"] == 0


def test_error_rate_decides_which_adapters_are_found(tmp_path):
    insert = "TAGCTTATCAGACTGATGTTGA"
    adapter = list(PRESETS["truseq"].adapter_3p)
    for i in (3, 10, 17):  # three substitutions: 0.14 errors per adapter base
        adapter[i] = "A" if adapter[i] != "A" else "C"
    read = (insert + "".join(adapter) + "AGATCGGAAGAGCACACGTCTGAACTCCAGTC")[:50]
    fastq = tmp_path / "r.fastq"
    fastq.write_text("".join(f"@r{i}\n{read}\n+\n{'I' * 50}\n" for i in range(20)))
    kept = {}
    for rate in (0.1, 0.15):
        folder = tmp_path / str(rate)
        folder.mkdir()
        kept[rate] = preprocess_in(folder, "S1", fastq, PRESETS["truseq"], error_rate=rate)
    assert kept[0.1]["reads_with_adapter"] == 0 and kept[0.1]["reads_kept"] == 0
    assert kept[0.15]["reads_with_adapter"] == 20 and kept[0.15]["reads_kept"] == 20
