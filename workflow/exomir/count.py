"""isomiR-aware counting of collapsed reads aligned by bowtie.

Two alignment stages feed the counts:

* **mature stage** — unique inserts aligned end-to-end to the mature features
  (identical mature sequences are one feature, see :mod:`exomir.reference`);
  reads shorter than the mature (3' trimmed isomiRs) align here;
* **hairpin stage** — inserts aligned to the hairpins. A hit counts for a
  mature feature when its 5' end lies within ``tolerance_5p`` nt and its 3' end
  within ``tolerance_3p`` nt of that feature's ends in the hairpin (5'/3'
  shifted, extended or tailed isomiRs). The mature stage has priority: see
  :func:`count_sample` for how an insert seen by both stages is resolved.

Multimapper policy: bowtie reports every alignment of the best stratum
(``-a --best --strata``). An insert whose best candidates point to one feature
counts fully for it; one whose best alignments point to *k* different features
adds ``count/k`` to each. Per-sample totals are rounded half-up to integers at
the very end, so a sample's miRNA total is preserved to within rounding.
Hairpin counts are every insert's hairpin-stage alignments, split the same way
over the precursors it aligns to equally well.

Each insert's count is its collapse multiplicity, parsed from the read name
``seq_<rank>_x<count>``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pysam

from .reference import MatureLocation


@dataclass(frozen=True)
class Tolerance:
    tolerance_5p: int = 2
    tolerance_3p: int = 5


@dataclass
class SampleCounts:
    mature: dict[str, float]
    hairpin: dict[str, float]
    isomirs: list[
        tuple
    ]  # (sequence, reads, feature, hairpin, offset_5p, offset_3p, mismatches, stage)


def multiplicity(read_name: str) -> int:
    """Collapse multiplicity from ``seq_<rank>_x<count>``."""
    try:
        return int(read_name.rsplit("_x", 1)[1])
    except (IndexError, ValueError):
        raise ValueError(
            f"read name '{read_name}' does not end in _x<count>; the aligned FASTA must come "
            "from exomir's collapse step"
        ) from None


def _rank(read_name: str) -> tuple[int, str]:
    """Sort key of collapsed read names ``seq_<rank>_x<count>``."""
    parts = read_name.split("_")
    return (int(parts[1]), read_name) if len(parts) > 2 and parts[1].isdigit() else (0, read_name)


def _alignments_by_read(bam_path: str | Path):
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
    """Read positions of mismatches (from the MD tag bowtie writes)."""
    if not aln.has_tag("MD") or aln.get_tag("NM") == 0:
        return []
    return [
        q for q, _, ref in aln.get_aligned_pairs(matches_only=True, with_seq=True) if ref.islower()
    ]


def _internal_mismatches(aln: pysam.AlignedSegment, tail: int) -> int:
    """Mismatches outside the read's last ``tail`` nt (which may be non-templated additions)."""
    limit = aln.query_length - tail
    return sum(1 for q in _mismatch_positions(aln) if q < limit)


def count_sample(
    mature_bam: str | Path,
    hairpin_bam: str | Path,
    locations: dict[str, list[MatureLocation]],
    tolerance: Tolerance = Tolerance(),
    tail: int = 2,
) -> SampleCounts:
    """Mature and hairpin counts of one sample from its two alignment stages.

    Every insert is aligned to both the mature features and the hairpins. Its
    candidates are ranked by internal mismatches (mismatches in the last
    ``tail`` nt are free: they may be non-templated additions), then by stage,
    mature before hairpin. The insert counts for the feature(s) of the best
    rank. So an exact mature match always wins, and a tailed isomiR such as
    miR-23a-3p+A (one internal mismatch against miR-23b-3p, but only a 3'
    mismatch against the mir-23a hairpin) goes to the miRNA it came from.
    """
    mature: dict[str, float] = defaultdict(float)
    hairpin_counts: dict[str, float] = defaultdict(float)
    isomirs: list[tuple] = []
    # candidates[read] = list of (internal mismatches, stage rank, feature, isomiR record)
    candidates: dict[str, list[tuple]] = defaultdict(list)
    sequences: dict[str, str] = {}

    for name, seq, alns in _alignments_by_read(mature_bam):
        sequences[name] = seq
        for a in alns:
            d3 = a.reference_end - a.header.get_reference_length(a.reference_name)
            record = (seq, a.reference_name, "", a.reference_start, d3, a.get_tag("NM"), "mature")
            candidates[name].append((_internal_mismatches(a, tail), 0, a.reference_name, record))

    hairpins_of: dict[str, list[str]] = {}
    for name, seq, alns in _alignments_by_read(hairpin_bam):
        sequences[name] = seq
        hairpins_of[name] = sorted({a.reference_name for a in alns})
        for a in alns:
            for loc in locations.get(a.reference_name, []):
                d5 = a.reference_start - loc.start
                d3 = a.reference_end - loc.end
                if abs(d5) <= tolerance.tolerance_5p and abs(d3) <= tolerance.tolerance_3p:
                    record = (
                        seq,
                        loc.feature,
                        a.reference_name,
                        d5,
                        d3,
                        a.get_tag("NM"),
                        "hairpin",
                    )
                    candidates[name].append((_internal_mismatches(a, tail), 1, loc.feature, record))

    # bowtie's threads may write reads in any order: add up in rank order, so that
    # floating-point sums, and so the tables, are the same at every run.
    for name in sorted(hairpins_of, key=_rank):
        n, hps = multiplicity(name), hairpins_of[name]
        for hp in hps:
            hairpin_counts[hp] += n / len(hps)
        if name not in candidates:
            isomirs.append((sequences[name], n, "", ";".join(hps), 0, 0, 0, "hairpin_only"))

    for name in sorted(candidates, key=_rank):
        cands, n = candidates[name], multiplicity(name)
        best = min(c[:2] for c in cands)
        chosen: dict[str, tuple] = {}
        for c in sorted(cands, key=lambda c: (c[2], c[3])):
            if c[:2] == best:
                chosen.setdefault(c[2], c[3])
        for feature, record in chosen.items():
            mature[feature] += n / len(chosen)
            seq, feat, hp, d5, d3, nm, stage = record
            isomirs.append((seq, n, feat, hp, d5, d3, nm, stage))
    return SampleCounts(dict(mature), dict(hairpin_counts), isomirs)


def round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5 + 1e-9))


def write_sample_counts(counts: SampleCounts, mature_tsv, hairpin_tsv, isomirs_tsv) -> None:
    """Per-sample tables: fractional counts (4 decimals) and one row per insert alignment."""
    for table, path, key in (
        (counts.mature, mature_tsv, "feature"),
        (counts.hairpin, hairpin_tsv, "hairpin"),
    ):
        with open(path, "w") as out:
            out.write(f"{key}\treads\n")
            out.writelines(f"{name}\t{value:.4f}\n" for name, value in sorted(table.items()))
    with open(isomirs_tsv, "w") as out:
        out.write("sequence\treads\tfeature\thairpin\toffset_5p\toffset_3p\tmismatches\tstage\n")
        for row in sorted(counts.isomirs, key=lambda r: (-r[1], r[0], r[2], r[3])):
            out.write("\t".join(map(str, row)) + "\n")


def merge_counts(per_sample: dict[str, str | Path], names: list[str]):
    """Integer matrix (names x samples) from per-sample fractional count tables."""
    import pandas as pd

    columns = {}
    for sample, path in per_sample.items():
        table = pd.read_csv(path, sep="\t", index_col=0)
        columns[sample] = table.iloc[:, 0].reindex(names, fill_value=0.0)
        unknown = sorted(set(table.index) - set(names))
        if unknown:
            raise ValueError(f"{path}: names not in the reference: {', '.join(unknown[:5])}")
    matrix = pd.DataFrame(columns, index=pd.Index(names, name="mirna"))
    return matrix.map(round_half_up).astype("int64")
