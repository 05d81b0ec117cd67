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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .reference import FEATURE_SEPARATOR

STATUS_ORDER = ("pass", "warn", "fail")

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
    "mir451a_cpm",
    "mir23a_cpm",
    "hemolysis_index",
    "hemolysed",
    "median_length",
    "length_histogram",
]


@dataclass(frozen=True)
class Thresholds:
    """The config's ``qc`` block (see config/README.md)."""

    min_raw_reads: int = 1000
    min_mirna_reads: int = 1000
    min_mirna_fraction: float = 0.05
    min_detected_mirnas: int = 20
    warn_raw_reads: int = 0
    warn_mirna_reads: int = 10000
    warn_mirna_fraction: float = 0.2
    warn_detected_mirnas: int = 50
    warn_dimer_fraction: float = 0.5
    warn_adapter_fraction: float = 0.5
    detection_min_reads: int = 5
    hemolysis_mirnas: tuple[str, str] = ("miR-451a", "miR-23a-3p")
    hemolysis_threshold: float = 7.0
    hemolysis_min_reads: int = 10
    hemolysis_status: str = "warn"
    exclude_failed_from_de: bool = True
    auto_reads: int = 50000
    auto_min_confidence: float = 0.25

    @classmethod
    def from_config(cls, qc: Mapping[str, Any] | None) -> Thresholds:
        qc = dict(qc or {})
        known = {k: v for k, v in qc.items() if k in cls.__dataclass_fields__}
        if "hemolysis_mirnas" in known:
            pair = list(known["hemolysis_mirnas"])
            if len(pair) != 2:
                raise ValueError(
                    "qc.hemolysis_mirnas needs exactly two names: the red-cell miRNA and the "
                    f"reference miRNA (default [miR-451a, miR-23a-3p]), got {pair}"
                )
            known["hemolysis_mirnas"] = tuple(pair)
        if known.get("hemolysis_status", "warn") not in ("warn", "fail"):
            raise ValueError("qc.hemolysis_status must be 'warn' or 'fail'")
        return cls(**known)


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


def evaluate(row: Mapping[str, Any], t: Thresholds) -> tuple[str, list[str]]:
    """``pass``/``warn``/``fail`` and the reasons, from one sample's numbers."""
    fails, warns = [], []

    def below(key: str, value, threshold, bucket: list[str], fmt: str = "{:g}") -> None:
        if threshold and (value is None or value < threshold):
            shown = "NA" if value is None else fmt.format(value)
            bucket.append(f"{key} {shown} < {fmt.format(threshold)}")

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
    adapter: Mapping[str, Any],
    hist: Mapping[int, int],
    mature: pd.Series,
    t: Thresholds,
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
    return {
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
    t: Thresholds,
) -> pd.DataFrame:
    """The QC table, one row per sample in the given order."""
    rows = []
    for sample in samples:
        if sample not in mature_counts.columns:
            raise ValueError(
                f"sample '{sample}' is missing from the mature count matrix; rerun the counting "
                "steps (snakemake --forcerun count_matrix)"
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
            "rerun the rule exomir_sample_qc"
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


# --- MultiQC custom content ----------------------------------------------------------------

MQC_TABLE_COLUMNS = {
    "qc_status": ("QC status", "pass / warn / fail from the config's qc thresholds"),
    "protocol": ("Protocol", "Library kit preset used (auto: detected)"),
    "adapter_confidence": ("Adapter conf.", "auto: fraction of sampled reads with the adapter"),
    "raw_reads": ("Raw reads", "Reads in the FASTQ"),
    "adapter_fraction": ("With adapter", "Fraction of raw reads in which the 3' adapter was found"),
    "dimer_fraction": ("Dimers", "Fraction of raw reads that are adapter dimers (insert <= 5 nt)"),
    "reads_kept": ("Kept reads", "Reads inside the insert-length window"),
    "molecules_kept": (
        "Molecules",
        "Kept reads after UMI deduplication (= kept reads without UMIs)",
    ),
    "mirna_reads": ("miRNA reads", "Reads (molecules with UMIs) assigned to mature miRNAs"),
    "mirna_fraction": ("miRNA frac.", "miRNA reads / kept molecules"),
    "detected_mirnas": ("miRNAs", "Mature miRNAs with at least qc.detection_min_reads reads"),
    "hemolysis_index": ("Hemolysis", "log2 (miR-451a + 1) / (miR-23a-3p + 1)"),
    "excluded_from_de": ("Excluded", "Left out of differential expression"),
    "qc_reasons": ("Reasons", "Checks that tripped"),
}


def multiqc_table(table: pd.DataFrame, t: Thresholds) -> dict[str, Any]:
    """MultiQC custom-content JSON (``*_mqc.json``) of the QC table."""
    policy = (
        "Samples with status <b>fail</b> are <b>excluded</b> from differential expression "
        "(qc.exclude_failed_from_de: true); see results/de/excluded_samples.tsv."
        if t.exclude_failed_from_de
        else "Samples with status fail are kept in differential expression "
        "(qc.exclude_failed_from_de: false)."
    )
    data: dict[str, dict[str, Any]] = {}
    for _, row in table.iterrows():
        values = {}
        for column in MQC_TABLE_COLUMNS:
            value = row[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            values[column] = round(value, 4) if isinstance(value, float) else value
        data[row["sample"]] = values
    headers = {
        column: {"title": title, "description": description}
        for column, (title, description) in MQC_TABLE_COLUMNS.items()
    }
    for column in ("adapter_fraction", "dimer_fraction", "mirna_fraction", "adapter_confidence"):
        headers[column].update({"min": 0, "max": 1, "format": "{:,.3f}"})
    for column in ("raw_reads", "reads_kept", "molecules_kept", "mirna_reads"):
        headers[column]["format"] = "{:,.0f}"
    return {
        "id": "exomir_sample_qc",
        "section_name": "exomir sample QC",
        "description": (
            "Per-sample exRNA QC from results/qc/sample_qc.tsv: read fates, miRNA yield, "
            f"hemolysis index (threshold {t.hemolysis_threshold:g}) and status. " + policy
        ),
        "plot_type": "table",
        "pconfig": {"id": "exomir_sample_qc_table", "title": "exomir: sample QC"},
        "headers": headers,
        "data": data,
    }


def multiqc_lengths(histograms: Mapping[str, Mapping[int, int]]) -> dict[str, Any]:
    """MultiQC custom-content JSON of the insert-length histograms (after trimming)."""
    return {
        "id": "exomir_insert_lengths",
        "section_name": "exomir insert lengths",
        "description": (
            "Insert length after adapter trimming and clipping, all reads (0-5 nt: adapter "
            "dimers). Plasma miRNA libraries peak at 21-23 nt."
        ),
        "plot_type": "linegraph",
        "pconfig": {
            "id": "exomir_insert_lengths_plot",
            "title": "exomir: insert length",
            "xlab": "Insert length (nt)",
            "ylab": "Reads",
        },
        "data": {
            sample: {int(k): int(v) for k, v in sorted(hist.items())}
            for sample, hist in histograms.items()
        },
    }


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
    contrast: Mapping[str, str],
    min_per_group: int = 2,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The DE sample table without the QC ``fail`` samples, and the excluded samples.

    Without a QC table (DE from a count matrix) nothing is excluded. Raises
    ``ValueError`` when a contrast group keeps fewer than ``min_per_group``
    samples.
    """
    empty = pd.DataFrame(columns=["sample", "qc_status", "reason"])
    if not qc_table_path:
        return sample_table, empty
    qc_table = read_qc_table(qc_table_path)
    missing = sorted(set(sample_table.index) - set(qc_table.index))
    if missing:
        raise ValueError(
            f"{qc_table_path} has no row for sample(s) {', '.join(missing)}; rerun the rule "
            "exomir_sample_qc"
        )
    excluded = excluded_samples(qc_table.loc[list(sample_table.index)], exclude_failed)
    kept = sample_table.drop(index=list(excluded["sample"]))
    variable = contrast["variable"]
    for level in (contrast["case"], contrast["control"]):
        n = int((kept[variable].astype(str) == str(level)).sum())
        if n < min_per_group:
            gone = [
                s for s in excluded["sample"] if str(sample_table.loc[s, variable]) == str(level)
            ]
            raise ValueError(
                f"after leaving out the samples that failed QC ({', '.join(gone) or 'none'} in "
                f"{variable} '{level}'), {variable} '{level}' keeps {n} sample(s); differential "
                f"expression needs at least {min_per_group} per group. Fix: look at the reasons "
                f"in {qc_table_path}, sequence more libraries, relax the qc thresholds, or set "
                "qc.exclude_failed_from_de: false to keep failed samples"
            )
    return kept, excluded


def multiqc_config(t: Thresholds) -> dict[str, Any]:
    """MultiQC settings: title, sample names from file names, section order."""
    policy = (
        "QC 'fail' samples are excluded from differential expression"
        if t.exclude_failed_from_de
        else "QC 'fail' samples are kept in differential expression"
    )
    return {
        "title": "exomir QC",
        "subtitle": "Plasma-exosome small-RNA-seq: trimming, alignment, exRNA QC",
        "report_comment": (
            f"{policy} (config qc.exclude_failed_from_de). bowtie aligns collapsed unique "
            "inserts, so its counts are distinct sequences, not reads."
        ),
        "use_filename_as_sample_name": ["cutadapt", "bowtie1", "umitools"],
        "extra_fn_clean_exts": [".cutadapt", ".extract"],
        "top_modules": ["custom_content"],
        "custom_content": {"order": ["exomir_sample_qc", "exomir_insert_lengths"]},
        "show_analysis_paths": False,
        "show_analysis_time": False,
        "no_version_check": True,
    }
