"""Library composition: every read of a sample given exactly one fate.

The cascade, per sample, on collapsed unique inserts:

1. trimming fates from the preprocessing summary: reads without a UMI
   (``umi_dropped``), without the 3' adapter (``no_adapter``), adapter dimers,
   too short, too long (only when the long inserts were not kept), and, for UMI
   kits, the reads that were PCR copies of a molecule (``umi_duplicates``);
2. **miRNA stage**: inserts in the miRNA length window aligned to the mature
   miRNAs and hairpins (:mod:`exomir.count`): ``mirna`` (a mature miRNA or an
   isomiR of one) or ``mirna_hairpin`` (elsewhere on a hairpin: loop, precursor);
3. **tRNA stage**: every insert, window and longer (5' tRNA halves are 30-40
   nt), aligned to the mature tRNAs (:mod:`exomir.trna`): ``trna``;
4. each configured reference ``{name, fasta, spike_in}`` in the listed order
   (Y RNA, rRNA, piRNA, snoRNA, spike-ins): inserts still unassigned that align
   to it take its name;
5. what is left is ``unassigned``.

miRNA or tRNA. Several miRBase entries are tRNA fragments (miR-1260b,
miR-4286, miR-7977). An insert compatible with both classes goes to the tRNA
unless its miRNA evidence is strictly better: evidence is ``(internal
mismatches, mismatches in the last 2 nt)``, compared in that order, over its
best miRNA candidates (mature, else hairpin) and its best tRNA alignments. So
an exact tRNA match takes a read that is an exact or tailed match of a miRNA,
and a miRNA read with one mismatch against a tRNA stays a miRNA. Per mature
feature, the reads that were tRNA-compatible are tallied, and
:func:`trna_derived_mirnas` flags miRNAs whose candidate reads were mostly so.

The fate columns add up to ``raw_reads`` exactly; :func:`sample_fates` raises
when they do not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from . import count, trna
from .reference import MatureLocation, read_fasta, to_dna, write_fasta

BASE_COLUMNS = ("sample", "raw_reads", "adapter_dimers", "too_short", "mirna", "trna")
EXTRA_FATES = ("mirna_hairpin", "too_long", "no_adapter", "umi_dropped", "umi_duplicates")
UNASSIGNED = "unassigned"
RESERVED = (*BASE_COLUMNS, UNASSIGNED, *EXTRA_FATES)
STAGE_KEYS = ("inserts", "mirna", "mirna_hairpin", "trna", "remaining")
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class CompositionError(ValueError):
    """The composition cannot be built; the message names the sample or key and the fix."""


class Reference(NamedTuple):
    """One entry of ``composition.references`` (a named tuple: Snakemake params see it)."""

    name: str
    fasta: str
    spike_in: bool


def references_from_config(entries: Sequence[Mapping[str, Any]]) -> list[Reference]:
    """Validated ``composition.references`` (names usable as column names, unique)."""
    references, seen = [], set()
    for i, entry in enumerate(entries):
        name = str(entry.get("name", ""))
        where = f"composition.references[{i}]"
        if not NAME_PATTERN.match(name):
            raise CompositionError(
                f"{where}.name '{name}' must start with a letter and hold only letters, digits "
                "and '_' (it becomes a column of results/qc/composition.tsv)"
            )
        if name in RESERVED or name in seen:
            raise CompositionError(
                f"{where}.name '{name}' is already a composition column; choose another name"
            )
        if not entry.get("fasta"):
            raise CompositionError(f"{where} ('{name}') has no fasta; give the path of a FASTA")
        seen.add(name)
        references.append(Reference(name, str(entry["fasta"]), bool(entry.get("spike_in"))))
    return references


@dataclass
class Resolution:
    """Which inserts the miRNA and tRNA stages take, and the miRNA/tRNA tallies."""

    mirna: set[str] = field(default_factory=set)
    mirna_hairpin: set[str] = field(default_factory=set)
    trna: set[str] = field(default_factory=set)
    # mature feature → [reads of inserts with it among the best candidates, of which tRNA-compatible]
    compatibility: dict[str, list[int]] = field(default_factory=dict)


def resolve(
    mirna_hits: Mapping[str, count.InsertHits], trna_hits: Mapping[str, trna.TrnaHits]
) -> Resolution:
    """Decide miRNA vs tRNA for every aligned insert (rule in the module docstring)."""
    result = Resolution()
    for name in sorted(set(mirna_hits) | set(trna_hits), key=count.insert_order):
        mirna, trna_hit = mirna_hits.get(name), trna_hits.get(name)
        mirna_evidence = mirna.best_evidence if mirna else None
        trna_wins = trna_hit is not None and (
            mirna_evidence is None or trna_hit.evidence <= mirna_evidence
        )
        if mirna is not None and mirna.features:
            for feature in mirna.features:
                tally = result.compatibility.setdefault(feature, [0, 0])
                tally[0] += mirna.reads
                tally[1] += mirna.reads if trna_wins else 0
        if trna_wins:
            result.trna.add(name)
        elif mirna is not None:
            (result.mirna if mirna.features else result.mirna_hairpin).add(name)
    return result


@dataclass
class SampleStages:
    """The miRNA and tRNA stages of one sample.

    ``insert_reads`` is the reads (molecules) of all the sample's collapsed
    inserts, window and long, from its read fates: the stages take some, the
    composition cascade gets the rest (:mod:`exomir.align` writes those inserts).
    """

    mirna: count.SampleCounts
    trna_counts: dict[str, float]
    trna_ambiguous: dict[str, float]
    resolution: Resolution
    insert_reads: int

    def summary(self, sample: str, long_inserts: bool) -> dict[str, Any]:
        """Reads per stage (integers) and the tRNA-compatibility tallies."""
        r = self.resolution
        taken = {"mirna": r.mirna, "mirna_hairpin": r.mirna_hairpin, "trna": r.trna}
        reads = {key: sum(map(count.multiplicity, names)) for key, names in taken.items()}
        stages = {
            "inserts": self.insert_reads,
            **reads,
            "remaining": self.insert_reads - sum(reads.values()),
        }
        compatible = {f: t for f, t in sorted(r.compatibility.items()) if t[1]}
        return {
            "sample": sample,
            "long_inserts": long_inserts,
            **stages,
            "trna_compatible": compatible,
        }


def insert_reads(read_fates: str | Path) -> int:
    """Reads (molecules) in a sample's collapsed inserts, window and long, from its read fates."""
    fates = load_json(read_fates)
    return int(fates["molecules_kept"]) + int(fates["long_molecules"])


def classify_sample(
    reads: int,
    mature_bam: str | Path,
    hairpin_bam: str | Path,
    trna_bam: str | Path | None,
    locations: dict[str, list[MatureLocation]],
    tolerance: count.Tolerance,
    trna_features: dict[str, trna.TrnaFeature],
    multimappers: str,
) -> SampleStages:
    """miRNA and tRNA stages of one sample: counts and the inserts each stage took.

    ``reads`` is :func:`insert_reads`. Without ``trna_bam`` (no tRNA reference
    for the species) no insert is tRNA.
    """
    hits = count.mirna_hits(mature_bam, hairpin_bam, locations, tolerance)
    trna_hits = trna.trna_hits(trna_bam, trna_features) if trna_bam else {}
    resolution = resolve(hits, trna_hits)
    mirna = count.count_mirnas(hits, multimappers, excluded=resolution.trna)
    trna_counts, trna_ambiguous = trna.count_fragments(
        trna_hits, sorted(resolution.trna, key=count.insert_order), multimappers
    )
    return SampleStages(mirna, trna_counts, trna_ambiguous, resolution, reads)


def write_sample_stages(
    stages: SampleStages,
    sample: str,
    long_inserts: bool,
    outputs: Mapping[str, str | Path],
) -> dict[str, Any]:
    """Write one sample's stage outputs; returns the stage summary.

    ``outputs`` keys: ``mature``, ``hairpin`` (per-sample miRNA tables),
    ``isomirs``, ``trna`` (per-sample ``family|type`` table) and ``stages`` (JSON
    summary).
    """
    count.write_sample_counts(
        stages.mirna, outputs["mature"], outputs["hairpin"], outputs["isomirs"]
    )
    count.write_counts(stages.trna_counts, stages.trna_ambiguous, outputs["trna"], "unit")
    summary = stages.summary(sample, long_inserts)
    write_json(summary, outputs["stages"])
    return summary


def write_json(obj: Any, path: str | Path) -> None:
    """JSON with a trailing newline, keys in insertion order."""
    with open(path, "w") as out:
        json.dump(obj, out, indent=1, sort_keys=False)
        out.write("\n")


def load_json(path: str | Path) -> dict:
    """A JSON file's content."""
    with open(path) as handle:
        return json.load(handle)


# --- references --------------------------------------------------------------------------


def prepare_reference(source: str | Path, path: str | Path, key: str) -> int:
    """Copy a configured reference FASTA for bowtie-build (U→T, upper case); its records.

    ``key`` names the config entry in the error for an empty or unreadable file.
    """
    try:
        records = [(name, to_dna(seq)) for name, seq in read_fasta(source)]
    except (OSError, UnicodeDecodeError) as error:
        raise CompositionError(f"{key}: cannot read FASTA {source} ({error})") from None
    bad = [name for name, seq in records if not seq or set(seq) - set("ACGTN")]
    if not records or bad:
        detail = (
            f"records with other letters than ACGTUN: {', '.join(bad[:3])}" if bad else "no records"
        )
        raise CompositionError(f"{key}: {source} has {detail}; give a nucleotide FASTA")
    write_fasta(records, path)
    return len(records)


def aligned_reads(bams: Sequence[str | Path]) -> list[int]:
    """Reads of the inserts first aligned by each BAM of the cascade, in order."""
    seen: set[str] = set()
    totals = []
    for bam in bams:
        names = {name for name, _, _ in count.alignments_by_read(bam)} - seen
        totals.append(sum(count.multiplicity(n) for n in names))
        seen |= names
    return totals


def reference_counts(bam: str | Path, multimappers: str) -> dict[str, float]:
    """Reads per feature of one reference (spike-ins), best alignments allocated."""
    units, reads = {}, {}
    for name, _, alns in count.alignments_by_read(bam):
        ranked = [(count.evidence(a), a.reference_name) for a in alns]
        best = min(e for e, _ in ranked)
        units[name] = tuple(sorted({ref for e, ref in ranked if e == best}))
        reads[name] = count.multiplicity(name)
    counts, _, _ = count.allocate(units, reads, multimappers)
    return counts


# --- the table ---------------------------------------------------------------------------


def columns(reference_names: Sequence[str]) -> list[str]:
    """Composition table columns: the base fates, one per reference, unassigned, extras."""
    return [*BASE_COLUMNS, *reference_names, UNASSIGNED, *EXTRA_FATES]


def sample_fates(
    sample: str,
    summary: Mapping[str, Any],
    stages: Mapping[str, Any],
    reference_reads: Mapping[str, int],
) -> dict[str, int]:
    """One row of the composition table; raises unless the fates add up to ``raw_reads``.

    ``summary`` is the sample's preprocessing summary, ``stages`` the miRNA/tRNA
    stage summary (:meth:`SampleStages.summary`), ``reference_reads`` the reads
    each reference took, in cascade order.
    """
    raw = int(summary["raw_reads"])
    kept, too_long = int(summary["reads_kept"]), int(summary["too_long"])
    dimers, short = int(summary["adapter_dimers"]), int(summary["too_short"])
    extracted = summary.get("umi_extracted_reads")
    umi_dropped = raw - int(extracted) if extracted is not None else 0
    long_kept = bool(stages["long_inserts"])
    if not long_kept and int(stages["inserts"]) != int(summary["molecules_kept"]):
        raise CompositionError(
            f"sample '{sample}': the collapsed FASTA holds {stages['inserts']} molecules, the "
            f"preprocessing summary {summary['molecules_kept']}; rerun the sample's trimming "
            "and counting so that both come from the same run"
        )
    reads_in_inserts = kept + (too_long if long_kept else 0)
    fates = {
        "sample": sample,
        "raw_reads": raw,
        "adapter_dimers": dimers,
        "too_short": short,
        "mirna": int(stages["mirna"]),
        "trna": int(stages["trna"]),
        **{name: int(reads) for name, reads in reference_reads.items()},
        UNASSIGNED: int(stages["remaining"]) - sum(int(r) for r in reference_reads.values()),
        "mirna_hairpin": int(stages["mirna_hairpin"]),
        "too_long": 0 if long_kept else too_long,
        "no_adapter": raw - umi_dropped - (dimers + short + too_long + kept),
        "umi_dropped": umi_dropped,
        "umi_duplicates": reads_in_inserts - int(stages["inserts"]),
    }
    _check_fates(sample, fates)
    return fates


def _check_fates(sample: str, fates: Mapping[str, Any]) -> None:
    values = {k: v for k, v in fates.items() if k not in ("sample", "raw_reads")}
    negative = [f"{k}={v}" for k, v in values.items() if v < 0]
    if negative or sum(values.values()) != fates["raw_reads"]:
        raise CompositionError(
            f"sample '{sample}': read fates {', '.join(negative) or 'do not'} "
            f"{'are negative' if negative else 'add up'} (sum {sum(values.values())}, raw_reads "
            f"{fates['raw_reads']}); the per-sample files come from different runs: rerun them"
        )


def composition_rows(
    samples: Sequence[str],
    summaries: Sequence[str | Path],
    stages: Sequence[str | Path],
    reference_bams: Mapping[str, Sequence[str | Path]],
) -> list[dict[str, int]]:
    """Composition rows from the per-sample files (all lists in ``samples`` order).

    ``reference_bams`` maps each reference name, in cascade order, to its
    per-sample BAMs.
    """
    rows = []
    for i, sample in enumerate(samples):
        bams = [paths[i] for paths in reference_bams.values()]
        taken = dict(zip(reference_bams, aligned_reads(bams)))
        rows.append(sample_fates(sample, load_json(summaries[i]), load_json(stages[i]), taken))
    return rows


def build_table(rows: Sequence[Mapping[str, Any]], reference_names: Sequence[str]) -> pd.DataFrame:
    """Composition table (one row per sample, integer fates) in the documented column order."""
    table = pd.DataFrame(list(rows), columns=columns(reference_names))
    for column in table.columns[1:]:
        table[column] = table[column].astype("int64")
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """``results/qc/composition.tsv``: tab-separated, integers."""
    table.to_csv(path, sep="\t", index=False)


FATE_LABELS = {
    "mirna": "miRNA",
    "mirna_hairpin": "miRNA hairpin (not mature)",
    "trna": "tRNA",
    UNASSIGNED: "unassigned",
    "too_long": "too long",
    "too_short": "too short",
    "adapter_dimers": "adapter dimers",
    "no_adapter": "no adapter",
    "umi_dropped": "no UMI",
    "umi_duplicates": "UMI duplicates",
}


def plot_order(table: pd.DataFrame) -> list[str]:
    """Fates in plotting order: RNA classes, unassigned, then trimming losses."""
    fates = [c for c in table.columns if c not in ("sample", "raw_reads")]
    rna = ["mirna", "mirna_hairpin", "trna"]
    refs = [c for c in fates if c not in RESERVED]
    losses = [
        "too_long",
        "too_short",
        "adapter_dimers",
        "no_adapter",
        "umi_dropped",
        "umi_duplicates",
    ]
    return [*rna, *refs, UNASSIGNED, *losses]


def multiqc_composition(table: pd.DataFrame) -> dict[str, Any]:
    """MultiQC custom-content JSON (``*_mqc.json``): a stacked bar of read fates per sample."""
    order = plot_order(table)
    return {
        "id": "exomir_composition",
        "section_name": "exomir library composition",
        "description": (
            "Fate of every raw read (results/qc/composition.tsv): miRNA, tRNA fragments, each "
            "configured reference in cascade order, unassigned, and the reads lost in trimming. "
            "The fates add up to the raw reads."
        ),
        "plot_type": "bargraph",
        "pconfig": {
            "id": "exomir_composition_plot",
            "title": "exomir: library composition",
            "ylab": "Reads",
            "cpswitch_counts_label": "Reads",
        },
        "categories": {fate: {"name": FATE_LABELS.get(fate, fate)} for fate in order},
        "data": {
            row["sample"]: {fate: int(row[fate]) for fate in order} for _, row in table.iterrows()
        },
    }


def plot_composition(table: pd.DataFrame, path: str | Path) -> None:
    """Stacked horizontal bars: share of raw reads per fate, one bar per sample."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = plot_order(table)
    shares = table.set_index("sample")[order].div(table.set_index("sample")["raw_reads"], axis=0)
    height = max(2.5, 0.35 * len(shares) + 1.5)
    fig, ax = plt.subplots(figsize=(8, height))
    left = pd.Series(0.0, index=shares.index)
    colours = plt.get_cmap("tab20").colors
    for i, fate in enumerate(order):
        ax.barh(
            shares.index,
            shares[fate],
            left=left,
            color=colours[i % len(colours)],
            label=FATE_LABELS.get(fate, fate),
        )
        left += shares[fate]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of raw reads")
    ax.invert_yaxis()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    ax.set_title("Library composition")
    fig.tight_layout()
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)


def trna_derived_mirnas(
    stage_summaries: Iterable[Mapping[str, Any]], features: Iterable[str], threshold: float
) -> pd.DataFrame:
    """Listed miRNA features whose candidate reads were mostly tRNA-compatible.

    Columns ``feature, candidate_reads, trna_compatible_reads, trna_share,
    mostly_trna`` (``yes`` when the share, pooled over samples, exceeds
    ``threshold``); only features with at least one tRNA-compatible read.
    """
    pooled: dict[str, list[int]] = {}
    for summary in stage_summaries:
        for feature, (candidate, compatible) in summary["trna_compatible"].items():
            tally = pooled.setdefault(feature, [0, 0])
            tally[0], tally[1] = tally[0] + candidate, tally[1] + compatible
    rows = []
    for feature in sorted(set(features) & set(pooled)):
        candidate, compatible = pooled[feature]
        share = compatible / candidate
        rows.append(
            (feature, candidate, compatible, round(share, 4), "yes" if share > threshold else "no")
        )
    return pd.DataFrame(
        rows,
        columns=[
            "feature",
            "candidate_reads",
            "trna_compatible_reads",
            "trna_share",
            "mostly_trna",
        ],
    )


def spikein_matrix(
    per_sample_bams: Mapping[str, str | Path], fasta: str | Path, multimappers: str
) -> pd.DataFrame:
    """``results/counts/spikein_counts.tsv``: reads per spike-in (every FASTA record) × sample."""
    names = sorted(name for name, _ in read_fasta(fasta))
    counts = {s: reference_counts(bam, multimappers) for s, bam in per_sample_bams.items()}
    return merge_feature_counts(counts, names, "spike_in")


def merge_feature_counts(
    per_sample: Mapping[str, Mapping[str, float]], names: Sequence[str], index_name: str
) -> pd.DataFrame:
    """Integer matrix (names x samples) from per-sample fractional counts (spike-ins, tRNA)."""
    unknown = sorted({n for counts in per_sample.values() for n in counts} - set(names))
    if unknown:
        raise CompositionError(f"features not in the reference: {', '.join(unknown[:5])}")
    matrix = pd.DataFrame(
        {s: [counts.get(n, 0.0) for n in names] for s, counts in per_sample.items()},
        index=pd.Index(list(names), name=index_name),
    )
    return matrix.map(count.round_half_up).astype("int64")
