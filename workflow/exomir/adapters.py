"""Detection of a library's 3' adapter and random insert-end bases from its first reads.

``protocol: auto`` runs :func:`detect` on each sample's first reads (a sample
of a few ten thousand reads, scanned in Python) before trimming it:

1. **Known adapters first.** For every read, the leftmost occurrence of the
   first 10 nt of any known small-RNA adapter (or a prefix of at least 6 nt
   of it at the read's end) is noted. Leftmost matters: Illumina read-through
   after the QIAseq UMI contains the NEBNext adapter, and the read-through
   after the TruSeq adapter contains the v1 adapter. The adapter that comes
   first in most reads wins.
2. **Most frequent k-mers otherwise.** When no known adapter is frequent
   enough, the most frequent 12-mer whose position varies between reads (an
   adapter follows inserts of many lengths; a k-mer of an abundant miRNA sits
   at one position) is taken and extended base by base while one base
   dominates the reads that contain it.
3. **Random insert-end bases.** Inserts of one molecule species start at the
   same base, so the first bases of the distinct inserts are concentrated on
   a few sequences. NEXTflex puts 4 random nt before the insert and after it:
   the read's first 8 nt are then spread over many sequences while the 8 nt
   from position 4 on are concentrated. The concentration (fraction of the
   distinct inserts covered by the 20 most frequent 8-mers) is computed at
   offsets 0-6 from both insert ends; when it rises at least ``RANDOM_RATIO``-
   fold from offset 0, the offset where it reaches its plateau is the number
   of random bases.

The confidence of a detection is the fraction of the sampled reads (at least
``MIN_READ_LENGTH`` nt) that contain the adapter. Below the configured minimum
(``qc.auto_min_confidence``) the sample stops with an error that suggests the
``custom`` protocol.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path

from xopen import xopen

from .protocols import (
    CATS_POLY_A,
    ILLUMINA_V1_3P,
    NEBNEXT_3P,
    PRESETS,
    QIASEQ_3P,
    TRUSEQ_3P,
    Protocol,
)

KNOWN_ADAPTERS: dict[str, str] = {
    "truseq": TRUSEQ_3P,
    "illumina_v1": ILLUMINA_V1_3P,
    "qiaseq": QIASEQ_3P,
    "nebnext": NEBNEXT_3P,
    "cats": CATS_POLY_A,
}
PREFIX = 10  # adapter bases searched for (exact)
MIN_PARTIAL = 6  # adapter prefix at the read end that still counts
KMER = 12
MAX_ADAPTER = 21  # longest adapter reported by the k-mer search
MIN_READ_LENGTH = 15
RANDOM_RATIO = 3.0
RANDOM_WINDOW = 8
RANDOM_TOP = 20
MAX_RANDOM = 6
MIN_INSERTS_FOR_RANDOM = 200
MIN_KNOWN_SUPPORT = 0.10  # a known adapter in fewer reads hands over to the k-mer search


class DetectionError(ValueError):
    """The adapter of a sample could not be detected with enough confidence."""


@dataclass
class Detection:
    """What :func:`detect` found in one sample's first reads."""

    adapter: str  # 3' adapter ("" when nothing was found)
    adapter_name: str  # known adapter name, or "kmer"
    method: str  # "known" or "kmer"
    confidence: float  # fraction of sampled reads containing the adapter
    reads_sampled: int
    random_5p: int = 0  # random bases before the insert
    random_3p: int = 0  # random bases between insert and adapter
    concentration_5p: list[float] = field(default_factory=list)
    concentration_3p: list[float] = field(default_factory=list)
    known_support: dict[str, float] = field(default_factory=dict)
    runner_up: str = ""
    runner_up_confidence: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def read_sequences(fastq: str | Path, n_reads: int) -> list[str]:
    """The first ``n_reads`` sequences of a plain or gzipped FASTQ."""
    try:  # xopen recognises gzip by its magic bytes, whatever the file is named
        with xopen(fastq, "rt", threads=0) as handle:
            return [line.strip().upper() for line in islice(handle, 1, 4 * n_reads, 4)]
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {fastq}: {error}") from None


def _adapter_position(read: str, adapter: str) -> int:
    """Start of the adapter in ``read`` (-1 if absent): full prefix, or partial at the end."""
    pos = read.find(adapter[:PREFIX])
    if pos >= 0:
        return pos
    for k in range(min(PREFIX - 1, len(read)), MIN_PARTIAL - 1, -1):
        if read.endswith(adapter[:k]):
            return len(read) - k
    return -1


def known_adapter_support(reads: list[str]) -> Counter:
    """Per known adapter, the number of reads in which it is the leftmost known adapter."""
    firsts: Counter = Counter()
    for read in reads:
        best_name, best_pos = "", len(read) + 1
        for name, adapter in KNOWN_ADAPTERS.items():
            pos = _adapter_position(read, adapter)
            if 0 <= pos < best_pos:
                best_name, best_pos = name, pos
        if best_name:
            firsts[best_name] += 1
    return firsts


def _low_complexity(kmer: str) -> bool:
    return max(Counter(kmer).values()) > 0.75 * len(kmer)


def kmer_adapter(reads: list[str]) -> tuple[str, int]:
    """The most frequent position-variable k-mer, extended; and its read count."""
    counts: Counter = Counter()
    for read in reads:
        counts.update({read[i : i + KMER] for i in range(len(read) - KMER + 1)})
    # ties broken by sequence: set order varies between Python processes
    for kmer, n in heapq.nsmallest(50, counts.items(), key=lambda item: (-item[1], item[0])):
        if _low_complexity(kmer):
            continue
        hits = [(read, read.find(kmer)) for read in reads if kmer in read]
        where = Counter(pos for _, pos in hits)
        if where.most_common(1)[0][1] > 0.7 * len(hits):
            continue  # one position: an abundant insert, not an adapter
        return _extend(kmer, hits), n
    return "", 0


def _extend(seed: str, hits: list[tuple[str, int]]) -> str:
    """Extend ``seed`` left and right while one base dominates the reads holding it."""
    adapter, start = seed, 0  # start: offset of the adapter's first base relative to seed
    while True:  # left: stops at the insert, whose last base varies
        bases = Counter(read[pos + start - 1] for read, pos in hits if pos + start > 0)
        if sum(bases.values()) < 20:
            break
        base, n = bases.most_common(1)[0]
        if n < 0.8 * sum(bases.values()):
            break
        adapter, start = base + adapter, start - 1
    while len(adapter) < MAX_ADAPTER:  # right: up to the read ends
        end = start + len(adapter)
        bases = Counter(read[pos + end] for read, pos in hits if pos + end < len(read))
        if sum(bases.values()) < 20:
            break
        base, n = bases.most_common(1)[0]
        if n < 0.8 * sum(bases.values()):
            break
        adapter += base
    return adapter


def concentration(fragments: list[str]) -> float:
    """Fraction of ``fragments`` covered by their ``RANDOM_TOP`` most frequent values."""
    if not fragments:
        return 0.0
    return sum(n for _, n in Counter(fragments).most_common(RANDOM_TOP)) / len(fragments)


def random_bases(inserts: list[str]) -> tuple[int, int, list[float], list[float]]:
    """Random bases at the 5' and 3' insert ends, from the concentration profiles.

    ``inserts`` are read prefixes up to the adapter (random bases included).
    Distinct inserts are used, so that PCR duplicates (which repeat the
    random bases too) do not look like a concentrated insert end.
    """
    distinct = sorted({s for s in inserts if len(s) >= 2 * MAX_RANDOM + RANDOM_WINDOW})
    if len(distinct) < MIN_INSERTS_FOR_RANDOM:
        return 0, 0, [], []
    w = RANDOM_WINDOW
    five = [concentration([s[o : o + w] for s in distinct]) for o in range(MAX_RANDOM + 1)]
    three = [
        concentration([s[len(s) - o - w : len(s) - o] for s in distinct])
        for o in range(MAX_RANDOM + 1)
    ]
    return _random_offset(five), _random_offset(three), five, three


def _random_offset(profile: list[float]) -> int:
    """Where the concentration reaches its plateau, if it rises ``RANDOM_RATIO``-fold from offset 0."""
    top = max(profile)
    if top < RANDOM_RATIO * max(profile[0], 1e-9):
        return 0
    return next(o for o, value in enumerate(profile) if value >= 0.9 * top)


def detect(fastq: str | Path, n_reads: int) -> Detection:
    """Detect the 3' adapter and random insert-end bases of a FASTQ from its first reads."""
    reads = [r for r in read_sequences(fastq, n_reads) if len(r) >= MIN_READ_LENGTH]
    n = len(reads)
    if n == 0:
        return Detection("", "", "none", 0.0, 0)
    firsts = known_adapter_support(reads)
    support = {name: round(firsts[name] / n, 4) for name in KNOWN_ADAPTERS}
    ranked = sorted(KNOWN_ADAPTERS, key=lambda name: (-firsts[name], name))
    best, second = ranked[0], ranked[1]
    if firsts[best] >= MIN_KNOWN_SUPPORT * n and firsts[best] >= 2 * firsts[second]:
        adapter, name, method = KNOWN_ADAPTERS[best], best, "known"
    else:
        adapter, _ = kmer_adapter(reads)
        name, method = "kmer", "kmer"
        for known, seq in KNOWN_ADAPTERS.items():  # a k-mer hit may be a known adapter
            if adapter and adapter[:PREFIX] in seq:
                adapter, name = seq, known
    starts = [_adapter_position(read, adapter) if adapter else -1 for read in reads]
    inserts = [read[:pos] for read, pos in zip(reads, starts) if pos >= 0]
    hits = len(inserts)
    r5, r3, c5, c3 = random_bases(inserts)
    runner = second if method == "known" else best
    return Detection(
        adapter=adapter,
        adapter_name=name,
        method=method,
        confidence=round(hits / n, 4),
        reads_sampled=n,
        random_5p=r5,
        random_3p=r3,
        concentration_5p=[round(c, 4) for c in c5],
        concentration_3p=[round(c, 4) for c in c3],
        known_support=support,
        runner_up=runner,
        runner_up_confidence=support.get(runner, 0.0),
    )


def protocol_from_detection(detection: Detection) -> Protocol:
    """The trimming protocol a detection implies.

    QIAseq's adapter brings its UMI, poly(A) the CATS layout; the TruSeq
    adapter with 4 random nt at both ends is NEXTflex; any other adapter is
    trimmed as found, with the detected random bases clipped.
    """
    name, r5, r3 = detection.adapter_name, detection.random_5p, detection.random_3p
    if name == "qiaseq":
        return PRESETS["qiaseq"]
    if name == "cats":
        return PRESETS["cats"]
    if name == "truseq" and (r5, r3) == (4, 4):
        return PRESETS["nextflex"]
    if name in PRESETS and (r5, r3) == (0, 0):
        return PRESETS[name]
    return Protocol(
        "auto",
        detection.adapter,
        clip_5p=r5,
        clip_3p=r3,
        description="Detected adapter and random insert-end bases.",
    )


def check_confidence(
    detection: Detection, min_confidence: float, sample: str, fastq: str | Path
) -> None:
    """Stop with a clear message when the detection is not trustworthy."""
    if detection.adapter and detection.confidence >= min_confidence:
        return
    if detection.reads_sampled == 0:
        found = f"no read of at least {MIN_READ_LENGTH} nt among its first reads"
    else:
        found = (
            f"best candidate '{detection.adapter or 'none'}' ({detection.method}) is in "
            f"{detection.confidence:.1%} of the first {detection.reads_sampled} reads, "
            f"below qc.auto_min_confidence = {min_confidence:.0%}"
        )
    raise DetectionError(
        f"sample '{sample}': protocol auto cannot identify the 3' adapter of {fastq}: {found}.\n"
        "Fix: name the kit (protocol: truseq, illumina_v1, nextflex, qiaseq, nebnext or cats, "
        "in the config or the sheet's protocol column), or set protocol: custom with "
        "adapter: <3' adapter> (and adapter_5p / clip_5p / clip_3p as the kit needs); "
        "see config/README.md, section 'Library kits'."
    )
