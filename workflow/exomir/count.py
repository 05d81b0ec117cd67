"""isomiR-aware counting of collapsed reads aligned by bowtie, paralog reads allocated by evidence.

Two alignment stages feed the counts:

* **mature stage** — unique inserts aligned end-to-end to the mature features
  (identical mature sequences are one feature, see :mod:`exomir.reference`);
  reads shorter than the mature (3' trimmed isomiRs) align here;
* **hairpin stage** — inserts aligned to the hairpins. A hit counts for a
  mature feature when its 5' end lies within ``tolerance_5p`` nt and its 3' end
  within ``tolerance_3p`` nt of that feature's ends in the hairpin (5'/3'
  shifted, extended or tailed isomiRs).

Ranking. Every candidate (insert, feature) is ranked by its *evidence*
``(internal mismatches, tail mismatches)`` — mismatches outside and inside the
read's last :data:`TAIL` nt, which may be non-templated additions — then by
stage, mature before hairpin. The insert belongs to the feature(s) of the best
rank. So an exact match beats a tail mismatch (a 23-nt exact miR-103a-3p read
does not go to miR-107, which it matches with a mismatch in its last 2 nt),
and a tail mismatch beats an internal one (miR-23a-3p+A has one internal
mismatch against miR-23b-3p but only a 3' mismatch against the mir-23a
hairpin, so it goes to miR-23a-3p).

Allocation (``counting.multimappers``). An insert whose best candidates are
one feature counts fully for it. An insert compatible with *k* features at the
best rank is

* ``em``: divided in proportion to the features' abundances, estimated per
  sample by expectation-maximisation over all inserts (as salmon and RSEM do
  for transcripts): :func:`em_weights`;
* ``split``: divided equally, ``count/k`` each.

Hairpin counts use the same allocation over the hairpins an insert aligns to
equally well. Per feature, the reads that came from ambiguous inserts are
kept: :func:`merge_ambiguity` turns them into the share of each feature's
count (``results/counts/mature_ambiguity.tsv``), and :func:`ambiguous_features`
flags features whose count is mostly ambiguous.

Per-sample totals are rounded half-up to integers at the very end, so a
sample's miRNA total is preserved to within rounding. Each insert's count is
its collapse multiplicity, parsed from the read name ``seq_<rank>_x<count>``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pysam

from .reference import MatureLocation

TAIL = 2  # last nt of a read whose mismatches may be non-templated additions
EM, SPLIT = "em", "split"
MULTIMAPPERS = (EM, SPLIT)
EM_MAX_ITERATIONS = 1000
EM_TOLERANCE = 1e-9  # stop when no abundance moves by more than this share of the reads
MATURE_STAGE, HAIRPIN_STAGE = 0, 1
STAGE_NAMES = ("mature", "hairpin")
ISOMIR_COLUMNS = (
    "sequence",
    "reads",
    "feature",
    "hairpin",
    "offset_5p",
    "offset_3p",
    "mismatches",
    "stage",
    "assigned",
)

MD_MISMATCH = re.compile("[A-Za-z]")  # a mismatched reference base in an MD tag
Evidence = tuple[int, int]  # (internal mismatches, tail mismatches): lower is better


@dataclass(frozen=True)
class Tolerance:
    """How far (nt) a hairpin hit's ends may lie from a mature miRNA's ends to count for it."""

    tolerance_5p: int
    tolerance_3p: int


@dataclass
class InsertHits:
    """One insert's best miRNA-stage candidates.

    ``features`` maps each best-rank mature feature to its isomiR record
    ``(hairpin, offset_5p, offset_3p, mismatches, stage)``; ``evidence`` is the
    best candidate's; ``hairpins`` are the hairpins the insert aligns to (bowtie's
    best stratum) and ``hairpin_evidence`` the best of those alignments.
    """

    sequence: str
    reads: int
    evidence: Evidence | None = None
    features: dict[str, tuple] = field(default_factory=dict)
    hairpins: tuple[str, ...] = ()
    hairpin_evidence: Evidence | None = None

    @property
    def best_evidence(self) -> Evidence | None:
        """The miRNA evidence that competes with other RNA classes."""
        return self.evidence if self.features else self.hairpin_evidence


@dataclass
class SampleCounts:
    """One sample's fractional counts, the reads from ambiguous inserts, the isomiR rows."""

    mature: dict[str, float]
    hairpin: dict[str, float]
    isomirs: list[tuple]  # ISOMIR_COLUMNS
    mature_ambiguous: dict[str, float] = field(default_factory=dict)
    hairpin_ambiguous: dict[str, float] = field(default_factory=dict)


class CountingError(ValueError):
    """Counting cannot go on: the message names the setting or file and the fix."""


def check_multimappers(multimappers: str) -> str:
    """The ``counting.multimappers`` value, or an error naming the allowed ones."""
    if multimappers not in MULTIMAPPERS:
        raise CountingError(
            f"counting.multimappers is '{multimappers}'; use one of {', '.join(MULTIMAPPERS)}"
        )
    return multimappers


def multiplicity(read_name: str) -> int:
    """Collapse multiplicity from ``seq_<rank>_x<count>``."""
    try:
        return int(read_name.rsplit("_x", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(
            f"read name '{read_name}' does not end in _x<count>; the aligned FASTA must come "
            "from exomir's collapse step"
        ) from None


def insert_order(read_name: str) -> tuple[int, str]:
    """Sort key of collapsed read names ``<prefix>_<rank>_x<count>``."""
    parts = read_name.split("_")
    return (int(parts[1]), read_name) if len(parts) > 2 and parts[1].isdigit() else (0, read_name)


def alignments_by_read(bam_path: str | Path):
    """Yield (read name, sequence, [aligned segments]) in file order."""
    with pysam.AlignmentFile(str(bam_path), "rb", check_sq=False) as bam:
        current, group = None, []
        for aln in bam.fetch(until_eof=True):
            if aln.is_unmapped:
                continue
            if aln.query_name != current:
                if group:
                    yield current, group[0].query_sequence, group
                current, group = aln.query_name, []
            group.append(aln)
        if group:
            yield current, group[0].query_sequence, group


def _mismatch_positions(aln: pysam.AlignedSegment) -> list[int]:
    """Read positions of mismatches (from the MD tag bowtie writes).

    bowtie 1 alignments are gapless and unclipped (one ``M`` operation), so the
    MD tag's runs of matches give the positions directly; anything else goes
    through pysam's aligned pairs.
    """
    if not aln.has_tag("MD") or aln.get_tag("NM") == 0:
        return []
    if aln.cigartuples != [(0, aln.query_length)]:
        pairs = aln.get_aligned_pairs(matches_only=True, with_seq=True)
        return [q for q, _, ref in pairs if ref.islower()]
    positions, position = [], -1
    for matches in MD_MISMATCH.split(aln.get_tag("MD"))[:-1]:
        position += int(matches) + 1
        positions.append(position)
    return positions


def evidence(aln: pysam.AlignedSegment) -> Evidence:
    """(mismatches outside the read's last TAIL nt, mismatches inside them)."""
    limit = aln.query_length - TAIL
    positions = _mismatch_positions(aln)
    internal = sum(1 for q in positions if q < limit)
    return internal, len(positions) - internal


def _mature_candidates(bam, candidates, sequences) -> None:
    for name, seq, alns in alignments_by_read(bam):
        sequences[name] = seq
        for a in alns:
            d3 = a.reference_end - a.header.get_reference_length(a.reference_name)
            record = ("", a.reference_start, d3, a.get_tag("NM"), "mature")
            candidates[name].append((*evidence(a), MATURE_STAGE, a.reference_name, record))


def _hairpin_candidates(bam, locations, tolerance, candidates, sequences, hairpins) -> None:
    for name, seq, alns in alignments_by_read(bam):
        sequences[name] = seq
        evidences = list(map(evidence, alns))
        hairpins[name] = (sorted({a.reference_name for a in alns}), min(evidences))
        for a, found in zip(alns, evidences):
            for loc in locations.get(a.reference_name, []):
                d5, d3 = a.reference_start - loc.start, a.reference_end - loc.end
                if abs(d5) <= tolerance.tolerance_5p and abs(d3) <= tolerance.tolerance_3p:
                    record = (a.reference_name, d5, d3, a.get_tag("NM"), "hairpin")
                    candidates[name].append((*found, HAIRPIN_STAGE, loc.feature, record))


def mirna_hits(
    mature_bam: str | Path,
    hairpin_bam: str | Path,
    locations: dict[str, list[MatureLocation]],
    tolerance: Tolerance,
) -> dict[str, InsertHits]:
    """Every aligned insert's best miRNA candidates (see the module docstring for the rank)."""
    candidates: dict[str, list[tuple]] = defaultdict(list)
    sequences: dict[str, str] = {}
    hairpins: dict[str, tuple[list[str], Evidence]] = {}
    _mature_candidates(mature_bam, candidates, sequences)
    _hairpin_candidates(hairpin_bam, locations, tolerance, candidates, sequences, hairpins)
    hits = {}
    for name in sorted(sequences, key=insert_order):
        insert = InsertHits(sequences[name], multiplicity(name))
        if name in hairpins:
            insert.hairpins = tuple(hairpins[name][0])
            insert.hairpin_evidence = hairpins[name][1]
        cands = candidates.get(name)
        if cands:
            best = min(c[:3] for c in cands)
            insert.evidence = best[:2]
            for c in sorted(cands, key=lambda c: (c[3], c[4])):
                if c[:3] == best:
                    insert.features.setdefault(c[3], c[4])
        hits[name] = insert
    return hits


def em_weights(
    classes: Mapping[tuple[str, ...], float], multimappers: str
) -> dict[tuple[str, ...], np.ndarray]:
    """Share of each class's reads that goes to each of its units (same order as the class).

    A class is the sorted tuple of units an insert is compatible with, mapped to
    its reads. ``split`` gives 1/k each. ``em`` starts the abundances from the
    unambiguous reads (a class none of whose units has any starts split
    equally), then repeats: give each class's reads to its units in proportion
    to their abundances, re-estimate the abundances as unambiguous plus given
    reads, until no abundance moves by more than ``EM_TOLERANCE`` × the reads
    or for ``EM_MAX_ITERATIONS`` rounds. Classes are processed in sorted order,
    so the result is the same at every run. A unit with no unambiguous read that
    only shares reads with expressed units keeps abundance 0.
    """
    check_multimappers(multimappers)
    shared = sorted(c for c in classes if len(c) > 1)
    weights = {c: np.ones(1) for c in classes if len(c) == 1}
    if multimappers == SPLIT or not shared:
        weights.update({c: np.full(len(c), 1 / len(c)) for c in shared})
        return weights
    units = sorted({u for c in classes for u in c})
    index = {u: i for i, u in enumerate(units)}
    unique = np.zeros(len(units))
    for c, reads in classes.items():
        if len(c) == 1:
            unique[index[c[0]]] += reads
    member = np.array([index[u] for c in shared for u in c])
    owner = np.repeat(np.arange(len(shared)), [len(c) for c in shared])
    reads = np.array([classes[c] for c in shared], dtype=float)
    sizes = np.array([len(c) for c in shared], dtype=float)
    blind = np.bincount(owner, unique[member], len(shared)) == 0
    theta = unique + np.bincount(member, (reads / sizes * blind)[owner], len(units))
    limit = EM_TOLERANCE * max(1.0, float(reads.sum() + unique.sum()))
    for _ in range(EM_MAX_ITERATIONS):
        share = theta[member] / np.bincount(owner, theta[member], len(shared))[owner]
        updated = unique + np.bincount(member, reads[owner] * share, len(units))
        moved = float(np.max(np.abs(updated - theta)))
        theta = updated
        if moved <= limit:
            break
    share = theta[member] / np.bincount(owner, theta[member], len(shared))[owner]
    bounds = np.concatenate([[0], np.cumsum(sizes).astype(int)])
    weights.update({c: share[bounds[k] : bounds[k + 1]] for k, c in enumerate(shared)})
    return weights


def allocate(
    units_of: Mapping[str, tuple[str, ...]], reads: Mapping[str, int], multimappers: str
) -> tuple[dict[str, float], dict[str, float], dict[str, dict[str, float]]]:
    """Counts, ambiguous reads per unit, and each insert's reads per unit.

    ``units_of`` maps insert name → its units (sorted tuple); ``reads`` its reads.
    Sums run over inserts in rank order, so the floats are the same at every run.
    """
    classes: dict[tuple[str, ...], float] = defaultdict(float)
    for name, units in units_of.items():
        classes[units] += reads[name]
    weights = em_weights(classes, multimappers)
    counts: dict[str, float] = defaultdict(float)
    ambiguous: dict[str, float] = defaultdict(float)
    given: dict[str, dict[str, float]] = {}
    for name in sorted(units_of, key=insert_order):
        units = units_of[name]
        given[name] = {}
        for unit, weight in zip(units, weights[units]):
            value = reads[name] * float(weight)
            counts[unit] += value
            given[name][unit] = value
            if len(units) > 1:
                ambiguous[unit] += value
    return dict(counts), dict(ambiguous), given


def count_mirnas(
    hits: Mapping[str, InsertHits], multimappers: str, excluded: Iterable[str] = ()
) -> SampleCounts:
    """Mature and hairpin counts of one sample from its inserts' hits.

    ``excluded`` inserts (given to another RNA class, e.g. tRNA) count for nothing.
    """
    skip = set(excluded)
    kept = {name: h for name, h in hits.items() if name not in skip}
    reads = {name: h.reads for name, h in kept.items()}
    mature, mature_amb, given = allocate(
        {n: tuple(sorted(h.features)) for n, h in kept.items() if h.features}, reads, multimappers
    )
    hairpin, hairpin_amb, _ = allocate(
        {n: h.hairpins for n, h in kept.items() if h.hairpins}, reads, multimappers
    )
    isomirs = []
    for name, h in kept.items():
        if not h.features:
            isomirs.append(
                (h.sequence, h.reads, "", ";".join(h.hairpins), 0, 0, 0, "hairpin_only", 0.0)
            )
        for feature, (hp, d5, d3, nm, stage) in h.features.items():
            isomirs.append(
                (h.sequence, h.reads, feature, hp, d5, d3, nm, stage, given[name][feature])
            )
    return SampleCounts(mature, hairpin, isomirs, mature_amb, hairpin_amb)


def count_sample(
    mature_bam: str | Path,
    hairpin_bam: str | Path,
    locations: dict[str, list[MatureLocation]],
    tolerance: Tolerance,
    multimappers: str,
    excluded: Iterable[str] = (),
) -> SampleCounts:
    """Mature and hairpin counts of one sample from its two alignment stages."""
    check_multimappers(multimappers)
    hits = mirna_hits(mature_bam, hairpin_bam, locations, tolerance)
    return count_mirnas(hits, multimappers, excluded)


def round_half_up(value: float) -> int:
    """Round to the nearest integer, halves up (0.5 → 1, 2.5 → 3)."""
    return int(math.floor(value + 0.5 + 1e-9))


def write_counts(
    counts: Mapping[str, float], ambiguous: Mapping[str, float], path: str | Path, key: str
) -> None:
    """Per-sample table: ``<key>, reads, ambiguous`` (fractional, 4 decimals), sorted by name."""
    with open(path, "w") as out:
        out.write(f"{key}\treads\tambiguous\n")
        for name, value in sorted(counts.items()):
            out.write(f"{name}\t{value:.4f}\t{ambiguous.get(name, 0.0):.4f}\n")


def write_sample_counts(counts: SampleCounts, mature_tsv, hairpin_tsv, isomirs_tsv) -> None:
    """Per-sample tables: fractional counts (4 decimals) and one row per insert alignment."""
    write_counts(counts.mature, counts.mature_ambiguous, mature_tsv, "feature")
    write_counts(counts.hairpin, counts.hairpin_ambiguous, hairpin_tsv, "hairpin")
    with open(isomirs_tsv, "w") as out:
        out.write("\t".join(ISOMIR_COLUMNS) + "\n")
        for row in sorted(counts.isomirs, key=lambda r: (-r[1], r[0], r[2], r[3])):
            out.write("\t".join(map(str, row[:-1])) + f"\t{row[-1]:.4f}\n")


def read_sample_counts(path: str | Path, names: list[str]):
    """(reads, ambiguous reads) of a per-sample table as two Series over ``names``."""
    import pandas as pd

    table = pd.read_csv(path, sep="\t", index_col=0)
    unknown = sorted(set(table.index) - set(names))
    if unknown:
        raise ValueError(f"{path}: names not in the reference: {', '.join(unknown[:5])}")
    if table.shape[1] < 2:
        raise ValueError(f"{path}: no ambiguous-reads column; rerun the per-sample count rule")
    table = table.reindex(names, fill_value=0.0)
    return table.iloc[:, 0], table.iloc[:, 1]


def merge_counts(per_sample: dict[str, str | Path], names: list[str]):
    """Integer matrix (names x samples) from per-sample fractional count tables."""
    import pandas as pd

    columns = {sample: read_sample_counts(path, names)[0] for sample, path in per_sample.items()}
    matrix = pd.DataFrame(columns, index=pd.Index(names, name="mirna"))
    return matrix.map(round_half_up).astype("int64")


def merge_ambiguity(per_sample: dict[str, str | Path], names: list[str]):
    """Share of each feature's count that came from ambiguous inserts (names x samples).

    NaN where the feature has no read in the sample (an empty cell in the file,
    see :func:`write_ambiguity`).
    """
    import pandas as pd

    shares = {}
    for sample, path in per_sample.items():
        reads, ambiguous = read_sample_counts(path, names)
        shares[sample] = (ambiguous / reads.where(reads > 0)).clip(upper=1.0)
    return pd.DataFrame(shares, index=pd.Index(names, name="feature"))


def write_ambiguity(shares, path: str | Path) -> None:
    """The ambiguity table with 4 decimals, empty cells where a feature has no read."""
    shares.to_csv(path, sep="\t", float_format="%.4f", na_rep="")


def ambiguous_features(
    per_sample: dict[str, str | Path], names: list[str], threshold: float
) -> dict[str, float]:
    """Features whose reads, pooled over samples, came from ambiguous inserts > ``threshold``.

    Returns feature → pooled ambiguous share, for the flagged features only
    (``threshold`` 0.5: the hits table and the report flag features above 50 %).
    """
    total, ambiguous = 0.0, 0.0
    for path in per_sample.values():
        reads, amb = read_sample_counts(path, names)
        total, ambiguous = total + reads, ambiguous + amb
    if not per_sample:
        return {}
    share = ambiguous[total > 0] / total[total > 0]
    return {name: float(value) for name, value in share[share > threshold].items()}
