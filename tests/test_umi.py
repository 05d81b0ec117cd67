"""QIAseq UMIs: taken from the raw read before trimming, molecules deduplicated as
``umi_tools dedup --method directional`` does."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pysam
import pytest

from conftest import preprocess_in
from exomir import preprocess, umi
from exomir.protocols import (
    PRESETS,
    QIASEQ_3P,
    adapter_pass_args,
    kit_read,
    umi_extract_args,
)
from exomir.reference import read_fasta

REPO = Path(__file__).resolve().parents[1]

QIASEQ = PRESETS["qiaseq"]


def hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))


def random_seq(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def simulate_qiaseq(seed: int = 7, n_inserts: int = 40):
    """QIAseq reads with PCR duplicates and UMI sequencing errors, and the true molecules.

    Each molecule has its own UMI (at least 3 mismatches from the other UMIs of its
    insert) and is read 1-8 times; a molecule read at least 3 times gets one more read
    whose UMI carries one substitution (a sequencing error that umi_tools' directional
    method folds back into its molecule). Some reads carry a substitution in the adapter.
    Returns (reads, molecules per insert, the (insert, UMI) pair of every read).
    """
    rng = random.Random(seed)
    pool = sorted({s for _, s in read_fasta(REPO / "resources" / "mirbase" / "hsa_mature.fa")})
    inserts = rng.sample([s for s in pool if 18 <= len(s) <= 24], n_inserts)
    reads, truth, pairs = [], Counter(), []
    for insert in inserts:
        umis: list[str] = []
        for _ in range(rng.randint(1, 30)):
            while True:
                candidate = random_seq(rng, 12)
                if all(hamming(candidate, u) >= 3 for u in umis):
                    break
            umis.append(candidate)
        truth[insert] = len(umis)
        for code in umis:
            copies = rng.randint(1, 8)
            observed = [code] * copies
            if copies >= 3:
                i = rng.randrange(12)
                observed.append(
                    code[:i] + rng.choice([b for b in "ACGT" if b != code[i]]) + code[i + 1 :]
                )
            for u in observed:
                read = kit_read(QIASEQ, insert, read_length=75, umi=u)
                if rng.random() < 0.1:  # one substitution in the adapter
                    j = len(insert) + rng.randrange(len(QIASEQ_3P))
                    read = read[:j] + ("A" if read[j] != "A" else "C") + read[j + 1 :]
                reads.append(read)
                pairs.append((insert, u))
    for _ in range(25):  # dimers: adapter + UMI right at the read start
        reads.append(kit_read(QIASEQ, "", read_length=75, umi=random_seq(rng, 12)))
    order = list(range(len(reads)))
    rng.shuffle(order)
    return [reads[i] for i in order], truth, Counter(pairs)


def write_fastq(path: Path, reads: list[str]) -> None:
    with gzip.open(path, "wt") as out:
        for i, read in enumerate(reads):
            out.write(f"@r{i} 1:N:0:ACGT\n{read}\n+\n{'I' * len(read)}\n")


def _run_qiaseq(fastq: Path, tmp: Path) -> dict:
    return preprocess_in(tmp, "Q1", fastq, QIASEQ)


@pytest.fixture(scope="module")
def qiaseq_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qiaseq")
    reads, truth, pairs = simulate_qiaseq()
    fastq = tmp / "qiaseq.fastq.gz"
    write_fastq(fastq, reads)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
        summary = _run_qiaseq(fastq, tmp)
    collapsed = Counter()
    for name, seq in read_fasta(tmp / "collapsed.fa"):
        collapsed[seq] += int(name.rsplit("_x", 1)[1])
    return {
        "tmp": tmp,
        "fastq": fastq,
        "reads": reads,
        "truth": truth,
        "pairs": pairs,
        "summary": summary,
        "collapsed": collapsed,
    }


def test_deduplicated_counts_equal_true_molecules(qiaseq_run):
    truth, summary = qiaseq_run["truth"], qiaseq_run["summary"]
    assert qiaseq_run["collapsed"] == truth
    n_reads = sum(qiaseq_run["pairs"].values())
    assert summary["raw_reads"] == len(qiaseq_run["reads"])
    assert summary["reads_kept"] == n_reads  # raw reads in the window ...
    assert summary["molecules_kept"] == sum(truth.values())  # ... and molecules after dedup
    assert summary["molecules_kept"] < summary["reads_kept"]
    assert summary["adapter_dimers"] == 25
    assert summary["umi_extracted_reads"] == len(qiaseq_run["reads"])


def test_umis_come_from_the_raw_read(qiaseq_run, tmp_path):
    """The UMI on every read name is the one simulated after that read's adapter."""
    commands = [
        umi_extract_args(QIASEQ, str(qiaseq_run["fastq"]), str(tmp_path / "umi.log")),
        [*adapter_pass_args(QIASEQ, 20, False, 0.1, 1), "--quiet", "--output", "-", "-"],
    ]
    with open(tmp_path / "log.txt", "w") as log:
        pairs = preprocess._run_chain(commands, log, "Q1", "x", umi.count_umi_sequences)
    decoded = Counter({(i.decode(), u.decode()): n for (i, u), n in pairs.items() if i})
    assert decoded == qiaseq_run["pairs"]


def test_umi_taken_after_trimming_would_miss_the_truth(qiaseq_run, tmp_path):
    """Control: trimming first throws the UMI away with the adapter. The 12 nt left at the
    end of the trimmed read are insert bases, so all molecules of an insert collapse into
    one and the counts above could not be met."""
    trimmed = subprocess.run(
        [
            *adapter_pass_args(QIASEQ, 20, False, 0.1, 1),
            "--quiet",
            "--output",
            "-",
            str(qiaseq_run["fastq"]),
        ],
        check=True,
        capture_output=True,
    ).stdout.splitlines()[1::4]
    assert not any(QIASEQ_3P[:10].encode() in seq for seq in trimmed)  # the UMI is gone
    late = Counter((seq, seq[-12:]) for seq in trimmed if len(seq) >= 16)
    molecules, _ = umi.deduplicate(late)
    wrong = Counter({s.decode(): n for s, n in molecules.items()})
    assert wrong != qiaseq_run["truth"]
    assert all(n == 1 for n in wrong.values())


def test_directional_clusters():
    # AAAA..(10) absorbs its 1-mismatch neighbour seen 3 times (10 >= 2*3-1);
    # CCCC..(5) absorbs one seen 3 times (5 >= 5) but not one seen 4 times (5 < 7).
    pairs = Counter(
        {
            (b"INS", b"AAAAAAAAAAAA"): 10,
            (b"INS", b"AAAAAAAAAAAT"): 3,
            (b"INS", b"CCCCCCCCCCCC"): 5,
            (b"INS", b"CCCCCCCCCCCA"): 3,
            (b"INS", b"CCCCCCCCCCCG"): 4,
            (b"OTHER", b"AAAAAAAAAAAT"): 3,
        }
    )
    molecules, reads = umi.deduplicate(pairs)
    assert molecules == Counter({b"INS": 3, b"OTHER": 1})
    assert reads == Counter({b"INS": 25, b"OTHER": 3})


def _write_bam(path: Path, pairs: Counter) -> list[bytes]:
    """One contig per insert, every read at position 0, UMI at the end of the read name."""
    inserts = sorted({insert for insert, _ in pairs})
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": f"ins{i}", "LN": 100} for i in range(len(inserts))],
    }
    unsorted = path.with_suffix(".unsorted.bam")
    with pysam.AlignmentFile(str(unsorted), "wb", header=header) as bam:
        n = 0
        for i, insert in enumerate(inserts):
            for (ins, code), count in sorted(pairs.items()):
                if ins != insert:
                    continue
                for _ in range(count):
                    read = pysam.AlignedSegment(bam.header)
                    read.query_name = f"r{n}_{code.decode()}"
                    read.query_sequence = insert.decode()
                    read.query_qualities = pysam.qualitystring_to_array("I" * len(insert))
                    read.reference_id, read.reference_start = i, 0
                    read.cigartuples = [(0, len(insert))]
                    read.mapping_quality, read.flag = 255, 0
                    bam.write(read)
                    n += 1
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return inserts


def test_deduplication_matches_umi_tools_dedup(tmp_path):
    """Per insert, the molecules equal the reads kept by ``umi_tools dedup`` (directional),
    on UMI sets dense in 1-mismatch neighbours with uneven counts."""
    rng = random.Random(11)
    pairs: Counter = Counter()
    for _ in range(60):
        insert = random_seq(rng, 22).encode()
        stem = random_seq(rng, 9)
        for _ in range(rng.randint(1, 25)):
            code = (stem + "".join(rng.choice("ACGT") for _ in range(3))).encode()
            pairs[(insert, code)] += rng.choice([1, 1, 1, 2, 3, 5, 8, 20])
    bam = tmp_path / "reads.bam"
    inserts = _write_bam(bam, pairs)
    out = tmp_path / "dedup.bam"
    subprocess.run(
        [
            "umi_tools",
            "dedup",
            "--method=directional",
            "--stdin",
            str(bam),
            "--stdout",
            str(out),
            "--log",
            str(tmp_path / "dedup.log"),
        ],
        check=True,
    )
    kept = Counter()
    with pysam.AlignmentFile(str(out)) as handle:
        for read in handle.fetch(until_eof=True):
            kept[inserts[read.reference_id]] += 1
    molecules, _ = umi.deduplicate(pairs)
    assert molecules == kept
    assert sum(molecules.values()) < sum(pairs.values())


def test_parse_extract_log(tmp_path):
    log = tmp_path / "extract.log"
    log.write_text(
        "# UMI-tools version: 1.1.6\n"
        "2026-01-01 00:00:00,000 INFO Input Reads: 120\n"
        "2026-01-01 00:00:00,000 INFO regex matches read1: 100\n"
        "2026-01-01 00:00:00,000 INFO regex does not match read1: 20\n"
    )
    assert umi.parse_extract_log(str(log)) == {
        "umi_input_reads": 120,
        "umi_extracted_reads": 100,
        "umi_not_found": 20,
    }


def test_umi_length_is_checked():
    with pytest.raises(ValueError, match="expected 12"):
        umi.umi_length_check(Counter({(b"ACGT", b"ACG"): 1}), 12)


def test_reads_without_adapter_or_complete_umi_are_dropped(tmp_path):
    rng = random.Random(3)
    insert = "TAGCTTATCAGACTGATGTTGA"
    good = [kit_read(QIASEQ, insert, 75, umi=random_seq(rng, 12)) for _ in range(20)]
    long_insert = [random_seq(rng, 60) + QIASEQ_3P[:15] for _ in range(5)]  # UMI not sequenced
    no_adapter = [random_seq(rng, 75) for _ in range(5)]
    fastq = tmp_path / "q.fastq.gz"
    write_fastq(fastq, good + long_insert + no_adapter)
    summary = preprocess_in(tmp_path, "Q2", fastq, QIASEQ)
    assert summary["raw_reads"] == 30
    assert summary["umi_extracted_reads"] == 20
    assert summary["molecules_kept"] == 20


def test_external_sort_counts_every_pair(tmp_path):
    """``sort | uniq -c`` with a 1 MB buffer (so that it spills to temporary files) gives the
    pair counts of an in-memory table, insert by insert in byte order."""
    rng = random.Random(23)
    inserts = [random_seq(rng, rng.randint(0, 24)).encode() for _ in range(300)]
    lines = [
        b"%s\t%s\n" % (rng.choice(inserts), random_seq(rng, 4).encode()) for _ in range(120_000)
    ]
    rows = list(umi.sorted_pair_counts(iter(lines), str(tmp_path), buffer_mb=1))
    expected = Counter(tuple(line.rstrip(b"\n").split(b"\t")) for line in lines)
    assert {(i, u): n for i, u, n in rows} == expected
    assert [(i, u) for i, u, _ in rows] == sorted(expected)
    assert len({i for i, _, _ in rows}) == len({i for i, _ in expected})


def test_hamming_clusterer_is_umi_tools_directional_clustering():
    """Same clusters as umi_tools' own UMIClusterer, on dense UMI sets of 3 to 400 UMIs
    (umi_tools switches to its substring index above 25), N included."""
    network = umi._umi_tools_network()
    rng = random.Random(17)
    for _ in range(150):
        stem = random_seq(rng, rng.choice([6, 8, 9, 10]))
        counts: dict[bytes, int] = {}
        for _ in range(rng.choice([3, 10, 30, 100, 400])):
            tail = "".join(rng.choice("ACGTN" if rng.random() < 0.05 else "ACGT") for _ in stem)
            code = (stem + tail)[:12].encode()
            counts[code] = counts.get(code, 0) + rng.choice([1, 1, 1, 2, 3, 5, 8, 20, 50])
        counts = dict(sorted(counts.items()))
        ours = umi.HammingClusterer().clusterer(counts, 1)
        theirs = network.UMIClusterer(cluster_method="directional")(counts, 1)
        assert sorted(map(sorted, ours)) == sorted(map(sorted, theirs))


def test_streamed_deduplication_equals_the_in_memory_table(qiaseq_run, tmp_path):
    pairs = Counter({(i.encode(), u.encode()): n for (i, u), n in qiaseq_run["pairs"].items()})
    lines = [b"%s\t%s\n" % pair for pair, n in pairs.items() for _ in range(n)]
    random.Random(2).shuffle(lines)
    streamed = umi.deduplicate_sorted(umi.sorted_pair_counts(iter(lines), str(tmp_path)))
    assert streamed == umi.deduplicate(pairs)
