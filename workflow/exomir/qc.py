"""exRNA QC table: read fates, miRNA yield, hemolysis index, pass/warn/fail per sample.

One row per sample, built from the trimming summaries (read fates, UMIs), the
adapter records (protocol used, auto-detection confidence), the read-length
histograms and the mature count matrix.

Status. Each check compares one number with a threshold from the config's
``qc`` block; a sample ``fail`` s when any fail check trips, else ``warn`` s when
any warn check trips, else ``pass`` es. ``qc_reasons`` lists the checks that
tripped. ``fail`` samples are left out of differential expression when
``qc.exclude_failed_from_de`` is true (the default).

Hemolysis index. Red blood cells carry miR-451a; miR-23a-3p is stable in
plasma. The qPCR rule ΔCq(miR-23a − miR-451a) > 7 (Blondal et al. 2013,
Shah et al. 2016) flags hemolysed samples; ΔCq is a log2 ratio (one cycle
doubles), so the sequencing analogue is

    hemolysis_index = log2((CPM(miR-451a) + c) / (CPM(miR-23a-3p) + c)),

with counts per million miRNA reads (library-size normalisation) and ``c``
the CPM of one read, i.e. log2((reads miR-451a + 1) / (reads miR-23a-3p + 1)):
the normalisation cancels within a sample and the pseudocount of one read
keeps a sample without miR-23a-3p finite. The index is not computed (NA) when
the two miRNAs have fewer than ``hemolysis_min_reads`` reads together.
Ligation bias differs between kits, so a sequencing ratio is not a qPCR
ratio: the default threshold 7 mirrors the qPCR rule, compare samples within
a study and calibrate it when hemolysis standards are at hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from .design import Contrast, DesignError, check_contrast
from .reference import FEATURE_SEPARATOR

STATUS_ORDER = ("pass", "warn", "fail")
# The kit check judges only detections from enough reads with the adapter in enough of them.
MIN_KIT_READS = 1000
MIN_KIT_SUPPORT = 0.25
RANDOM_BASE_KITS = ("truseq", "illumina", "illumina_v1", "nebnext", "nextflex")

COLUMNS = [
    "sample",
    "qc_status",
    "qc_reasons",
    "excluded_from_de",
    "protocol",
    "adapter",
    "adapter_detected",
    "adapter_confidence",
    "random_5p",
    "random_3p",
    "raw_reads",
    "reads_with_adapter",
    "adapter_fraction",
    "adapter_dimers",
    "dimer_fraction",
    "too_short",
    "too_long",
    "reads_kept",
    "molecules_kept",
    "duplicate_fraction",
    "mirna_reads",
    "mirna_fraction",
    "detected_mirnas",
    "complexity",
    "complexity_sd",
    "mir451a_cpm",
    "mir23a_cpm",
    "hemolysis_index",
    "hemolysed",
    "median_length",
    "length_histogram",
]


class QCSettings(NamedTuple):
    """The config's ``qc`` block (meanings and defaults: the schema, config/README.md).

    A named tuple, so that Snakemake sees changed settings in a rule's params and reruns it.
    """

    min_raw_reads: int
    min_mirna_reads: int
    min_mirna_fraction: float
    min_detected_mirnas: int
    warn_raw_reads: int
    warn_mirna_reads: int
    warn_mirna_fraction: float
    warn_detected_mirnas: int
    warn_dimer_fraction: float
    warn_adapter_fraction: float
    detection_min_reads: int
    complexity_depth: int
    hemolysis_mirnas: tuple[str, str]
    hemolysis_threshold: float
    hemolysis_min_reads: int
    hemolysis_status: str
    exclude_failed_from_de: bool
    auto_reads: int
    auto_min_confidence: float

    @classmethod
    def from_config(cls, qc: Mapping[str, Any]) -> QCSettings:
        """From the validated config's ``qc`` block (every key present)."""
        values = {name: qc[name] for name in cls._fields}
        values["hemolysis_mirnas"] = tuple(values["hemolysis_mirnas"])
        return cls(**values)


def find_feature(features: list[str], name: str) -> str | None:
    """The count feature holding the miRNA ``name`` (with or without species prefix)."""
    for feature in sorted(features):
        for member in feature.split(FEATURE_SEPARATOR):
            if member == name or member.endswith("-" + name):
                return feature
    return None


def hemolysis_index(red: float, reference: float, min_reads: int) -> float | None:
    """log2((red + 1) / (reference + 1)), or None with fewer than ``min_reads`` together."""
    if red + reference < min_reads:
        return None
    return math.log2((red + 1) / (reference + 1))


def read_lengths(path: str | Path) -> dict[int, int]:
    table = pd.read_csv(path, sep="\t")
    return {int(length): int(n) for length, n in zip(table["length"], table["reads"])}


def median_length(hist: Mapping[int, int]) -> float | None:
    total = sum(hist.values())
    if total == 0:
        return None
    half, running = total / 2, 0
    for length in sorted(hist):
        running += hist[length]
        if running >= half:
            return float(length)
    return None  # pragma: no cover


def _fraction(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def kit_mismatch(kit_record: Mapping[str, Any], read_fates: Mapping[str, Any]) -> str | None:
    """Why a sample's reads do not fit the kit it was trimmed as, naming the likely kit.

    The kit record holds the adapter detection of the sample's first reads
    (:func:`exomir.adapters.detect`). Two signatures are compared with the kit used:
    the 3' adapter found in most reads, and random bases at both insert ends
    (NEXTflex: 4 + 4). ``None`` when they agree, when the detection is too weak to
    judge, and for ``protocol: auto`` samples (trimmed with the detection itself).
    """
    detection = kit_record.get("detection")
    if kit_record.get("detected") or not detection or not detection.get("adapter"):
        return None
    if detection["reads_sampled"] < MIN_KIT_READS or detection["confidence"] < MIN_KIT_SUPPORT:
        return None
    from .adapters import Detection, protocol_from_detection

    likely = protocol_from_detection(Detection(**detection))
    used = kit_record["protocol"]
    adapter_differs = likely.adapter_3p[:10] != kit_record["adapter_3p"][:10]
    random_known = bool(detection.get("concentration_5p"))  # enough distinct inserts to judge
    random_differs = (
        random_known
        and used in RANDOM_BASE_KITS
        and (likely.clip_5p, likely.clip_3p) != (kit_record["clip_5p"], kit_record["clip_3p"])
    )
    if not (adapter_differs or random_differs):
        return None
    suggestion = likely.name if likely.name != "auto" else "custom"
    kept = _fraction(read_fates["reads_kept"], read_fates["raw_reads"]) or 0.0
    return (
        f"kit: trimmed as {used} (3' adapter {kit_record['adapter_3p']}, "
        f"{kit_record['clip_5p']} + {kit_record['clip_3p']} nt clipped) but the first "
        f"{detection['reads_sampled']} reads carry {detection['adapter']} in "
        f"{detection['confidence']:.0%} of them with {detection['random_5p']} + "
        f"{detection['random_3p']} random nt at the insert ends; {kept:.0%} of the reads were "
        f"kept: set protocol: {suggestion}"
        + (f" (adapter: {likely.adapter_3p})" if suggestion == "custom" else "")
    )


def evaluate(row: Mapping[str, Any], t: QCSettings) -> tuple[str, list[str]]:
    """``pass``/``warn``/``fail`` and the reasons, from one sample's numbers."""
    fails, warns = [], []

    def below(key: str, value, threshold, bucket: list[str], fmt: str = "{:g}") -> None:
        if threshold and (value is None or value < threshold):
            shown = "NA" if value is None else fmt.format(value)
            bucket.append(f"{key} {shown} < {fmt.format(threshold)}")

    if row.get("_kit"):
        fails.append(row["_kit"])
    below("raw_reads", row["raw_reads"], t.min_raw_reads, fails)
    below("mirna_reads", row["mirna_reads"], t.min_mirna_reads, fails)
    below("mirna_fraction", row["mirna_fraction"], t.min_mirna_fraction, fails, "{:.3f}")
    below("detected_mirnas", row["detected_mirnas"], t.min_detected_mirnas, fails)
    below("raw_reads", row["raw_reads"], t.warn_raw_reads, warns)
    below("mirna_reads", row["mirna_reads"], t.warn_mirna_reads, warns)
    below("mirna_fraction", row["mirna_fraction"], t.warn_mirna_fraction, warns, "{:.3f}")
    below("detected_mirnas", row["detected_mirnas"], t.warn_detected_mirnas, warns)
    below("adapter_fraction", row["adapter_fraction"], t.warn_adapter_fraction, warns, "{:.3f}")
    dimers = row["dimer_fraction"]
    if t.warn_dimer_fraction and dimers is not None and dimers > t.warn_dimer_fraction:
        warns.append(f"dimer_fraction {dimers:.3f} > {t.warn_dimer_fraction:.3f}")
    index = row["hemolysis_index"]
    if index is not None and index > t.hemolysis_threshold:
        bucket = fails if t.hemolysis_status == "fail" else warns
        bucket.append(f"hemolysis_index {index:.2f} > {t.hemolysis_threshold:g}")
    # a warn check that repeats a failed one adds nothing
    failed_keys = {reason.split(" ", 1)[0] for reason in fails}
    warns = [w for w in warns if w.split(" ", 1)[0] not in failed_keys]
    if fails:
        return "fail", [f"fail: {r}" for r in fails] + [f"warn: {r}" for r in warns]
    if warns:
        return "warn", [f"warn: {r}" for r in warns]
    return "pass", []


def sample_row(
    sample: str,
    summary: Mapping[str, Any],
    kit_record: Mapping[str, Any],
    hist: Mapping[int, int],
    mature: pd.Series,
    t: QCSettings,
) -> dict[str, Any]:
    """The QC numbers of one sample (status not yet set)."""
    raw = int(summary["raw_reads"])
    kept = int(summary["reads_kept"])
    molecules = int(summary.get("molecules_kept", kept))
    umi = bool(summary.get("umi", False))
    mirna = int(mature.sum())
    features = list(mature.index)
    red_name, ref_name = t.hemolysis_mirnas
    red_feature, ref_feature = find_feature(features, red_name), find_feature(features, ref_name)
    red = float(mature[red_feature]) if red_feature else 0.0
    ref = float(mature[ref_feature]) if ref_feature else 0.0
    index = hemolysis_index(red, ref, t.hemolysis_min_reads)
    adapter = kit_record
    return {
        "_kit": kit_mismatch(kit_record, summary),
        "sample": sample,
        "protocol": adapter.get("protocol", summary.get("protocol", "")),
        "adapter": adapter.get("adapter_3p", ""),
        "adapter_detected": "yes" if adapter.get("detected") else "no",
        "adapter_confidence": adapter.get("confidence"),
        "random_5p": adapter.get("clip_5p") if adapter.get("detected") else None,
        "random_3p": adapter.get("clip_3p") if adapter.get("detected") else None,
        "raw_reads": raw,
        "reads_with_adapter": int(summary["reads_with_adapter"]),
        "adapter_fraction": _fraction(summary["reads_with_adapter"], raw),
        "adapter_dimers": int(summary["adapter_dimers"]),
        "dimer_fraction": _fraction(summary["adapter_dimers"], raw),
        "too_short": int(summary["too_short"]),
        "too_long": int(summary["too_long"]),
        "reads_kept": kept,
        "molecules_kept": molecules,
        "duplicate_fraction": (1 - molecules / kept) if umi and kept else None,
        "mirna_reads": mirna,
        "mirna_fraction": _fraction(mirna, molecules),
        "detected_mirnas": int((mature >= t.detection_min_reads).sum()),
        "mir451a_cpm": red / mirna * 1e6 if mirna else None,
        "mir23a_cpm": ref / mirna * 1e6 if mirna else None,
        "hemolysis_index": index,
        "hemolysed": "NA" if index is None else ("yes" if index > t.hemolysis_threshold else "no"),
        "median_length": median_length(hist),
        "length_histogram": ";".join(f"{length}:{n}" for length, n in sorted(hist.items())),
    }


def build_table(
    samples: list[str],
    summaries: Mapping[str, Mapping[str, Any]],
    adapters: Mapping[str, Mapping[str, Any]],
    histograms: Mapping[str, Mapping[int, int]],
    mature_counts: pd.DataFrame,
    t: QCSettings,
) -> pd.DataFrame:
    """The QC table, one row per sample in the given order."""
    rows = []
    for sample in samples:
        if sample not in mature_counts.columns:
            raise ValueError(
                f"sample '{sample}' is missing from the mature count matrix; rerun the counting "
                "steps (snakemake --forcerun merge_counts)"
            )
        row = sample_row(
            sample,
            summaries[sample],
            adapters[sample],
            histograms[sample],
            mature_counts[sample],
            t,
        )
        status, reasons = evaluate(row, t)
        row["qc_status"] = status
        row["qc_reasons"] = "; ".join(reasons)
        row["excluded_from_de"] = "yes" if status == "fail" and t.exclude_failed_from_de else "no"
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


FLOAT_FORMATS = {
    "adapter_confidence": "{:.4f}",
    "adapter_fraction": "{:.4f}",
    "dimer_fraction": "{:.4f}",
    "duplicate_fraction": "{:.4f}",
    "mirna_fraction": "{:.4f}",
    "mir451a_cpm": "{:.1f}",
    "mir23a_cpm": "{:.1f}",
    "hemolysis_index": "{:.3f}",
    "complexity": "{:.1f}",
    "complexity_sd": "{:.2f}",
    "median_length": "{:.1f}",
}


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Text form with fixed decimals and NA for missing values (byte-identical reruns)."""
    out = table.copy().astype(object)
    for column in out.columns:
        out[column] = [_text(value, FLOAT_FORMATS.get(column)) for value in out[column]]
    return out


def _text(value: Any, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    if fmt:
        return fmt.format(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # integer columns with NA are float in pandas
    return str(value)


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    format_table(table).to_csv(path, sep="\t", index=False)


def read_qc_table(path: str | Path) -> pd.DataFrame:
    """The QC table as written by :func:`write_table` (NA kept as text)."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = {"sample", "qc_status", "qc_reasons"} - set(table.columns)
    if missing:
        raise ValueError(
            f"{path} is not an exomir QC table (missing {', '.join(sorted(missing))}); "
            "rerun the rule summarise_qc"
        )
    return table.set_index("sample", drop=False)


def excluded_samples(qc_table: pd.DataFrame, exclude_failed: bool) -> pd.DataFrame:
    """Samples to leave out of DE: sample, qc_status, reason."""
    rows = qc_table[qc_table["qc_status"] == "fail"] if exclude_failed else qc_table.iloc[0:0]
    return pd.DataFrame(
        {
            "sample": list(rows["sample"]),
            "qc_status": list(rows["qc_status"]),
            "reason": list(rows["qc_reasons"]),
        },
        columns=["sample", "qc_status", "reason"],
    )


def write_json(obj: Any, path: str | Path) -> None:
    with open(path, "w") as out:
        json.dump(obj, out, indent=1)
        out.write("\n")


def load_json(path: str | Path) -> dict:
    with open(path) as handle:
        return json.load(handle)


def exclude_failed_samples(
    sample_table: pd.DataFrame,
    qc_table_path: str | Path | None,
    exclude_failed: bool,
    contrasts: Sequence[Contrast],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DE sample table without the QC ``fail`` samples, and the excluded samples.

    Without a QC table (DE from a count matrix) nothing is excluded. Every contrast
    is checked again on the samples kept (groups of at least two, a full-rank
    design); a contrast that no longer holds is an error naming the excluded
    samples, their reasons and the ways out.
    """
    empty = pd.DataFrame(columns=["sample", "qc_status", "reason"])
    if not qc_table_path:
        return sample_table, empty
    qc_table = read_qc_table(qc_table_path)
    missing = sorted(set(sample_table.index) - set(qc_table.index))
    if missing:
        raise ValueError(
            f"{qc_table_path} has no row for sample(s) {', '.join(missing)}; rerun the rule "
            "summarise_qc"
        )
    excluded = excluded_samples(qc_table.loc[list(sample_table.index)], exclude_failed)
    kept = sample_table.drop(index=list(excluded["sample"]))
    for contrast in contrasts:
        try:
            check_contrast(contrast, kept)
        except DesignError as error:
            raise ValueError(
                f"{exclusion_sentence(excluded)}; then {error}. Fix: look at the reasons in "
                f"{qc_table_path}, sequence more libraries, relax the qc thresholds, or set "
                "qc.exclude_failed_from_de: false to keep failed samples"
            ) from None
    return kept, excluded


def drop_excluded(
    sample_table: pd.DataFrame, excluded_path: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sample table without the samples of the run's exclusion table, and that table.

    The table (``results/de/excluded_samples.tsv``) is written once per run by
    :func:`exclude_failed_samples`; DE, tRNA DE and the biomarker panel all read it.
    """
    excluded = pd.read_csv(excluded_path, sep="\t", dtype=str, keep_default_na=False)
    return sample_table.drop(index=list(excluded["sample"])), excluded


def exclusion_sentence(excluded: pd.DataFrame) -> str:
    """One line: which samples failed QC and were left out of DE, and why."""
    if excluded.empty:
        return "no sample left out of differential expression by QC"
    listed = "; ".join(f"{r.sample} ({r.reason})" for r in excluded.itertuples())
    return f"{len(excluded)} sample(s) failed QC and are left out of DE: {listed}"


def console_summary(qc_table_path: str | Path, say: Callable[[str], None]) -> None:
    """Print the QC outcome of a run: counts per status, every failed sample and its reasons."""
    if not Path(qc_table_path).is_file():
        return
    table = read_qc_table(qc_table_path)
    counts = ", ".join(f"{(table['qc_status'] == s).sum()} {s}" for s in STATUS_ORDER)
    say(f"exomir QC ({qc_table_path}): {counts}")
    for row in table[table["qc_status"] == "fail"].itertuples():
        out = " (left out of DE)" if row.excluded_from_de == "yes" else ""
        say(f"exomir QC: sample {row.sample} failed{out}: {row.qc_reasons}")
    if len(table) and (table["qc_status"] == "fail").all():
        say("exomir QC: every sample failed QC; the reasons above say what to change")


def build_table_from_files(
    samples: list[str], inputs: Any, settings: QCSettings
) -> tuple[pd.DataFrame, dict[str, dict[int, int]]]:
    """The QC table and length histograms from a rule's inputs (read_fates, kit_records,
    lengths, counts), one file per sample in ``samples`` order."""
    from .complexity import complexity
    from .de import read_count_matrix

    fates = {s: load_json(p) for s, p in zip(samples, inputs.read_fates)}
    kits = {s: load_json(p) for s, p in zip(samples, inputs.kit_records)}
    lengths = {s: read_lengths(p) for s, p in zip(samples, inputs.lengths)}
    counts = read_count_matrix(inputs.counts)
    table = build_table(samples, fates, kits, lengths, counts, settings)
    curves = pd.read_csv(inputs.complexity, sep="\t")
    scores = complexity(curves, samples, settings.complexity_depth)
    for column in ("complexity", "complexity_sd"):
        table[column] = scores[column].to_numpy()
    return table, lengths


def write_outputs(
    table: pd.DataFrame, lengths: Mapping[str, Mapping[int, int]], settings: QCSettings, output
) -> None:
    """The QC table and its MultiQC custom content (``output``: table, mqc_* files)."""
    from . import multiqc

    write_table(table, output.table)
    write_json(multiqc.multiqc_table(table, settings), output.mqc_table)
    write_json(multiqc.multiqc_lengths(lengths), output.mqc_lengths)
    # JSON is YAML: MultiQC reads it as its config file
    write_json(multiqc.multiqc_config(settings), output.mqc_config)


def status_lines(table: pd.DataFrame) -> str:
    """``pass: N names`` etc., one line per status."""
    lines = []
    for status in STATUS_ORDER:
        names = list(table.loc[table["qc_status"] == status, "sample"])
        lines.append(f"{status}: {len(names)} {' '.join(names)}\n")
    return "".join(lines)
