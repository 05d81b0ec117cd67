"""MultiQC custom content of exomir's QC: the sample table, insert lengths, the report config."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .qc import QCSettings

# column | title | description, one QC-table column of the MultiQC table per line
MQC_TABLE_COLUMNS = {
    column.strip(): (title.strip(), description.strip())
    for column, title, description in (
        line.split("|")
        for line in """
qc_status           | QC status     | pass / warn / fail from the config's qc thresholds
protocol            | Protocol      | Library kit preset used (auto: detected)
adapter_confidence  | Adapter conf. | auto: fraction of sampled reads with the adapter
raw_reads           | Raw reads     | Reads in the FASTQ
adapter_fraction    | With adapter  | Fraction of raw reads in which the 3' adapter was found
dimer_fraction      | Dimers        | Fraction of raw reads that are adapter dimers (insert <= 5 nt)
reads_kept          | Kept reads    | Reads inside the insert-length window
molecules_kept      | Molecules     | Kept reads after UMI deduplication (= kept reads without UMIs)
mirna_reads         | miRNA reads   | Reads (molecules with UMIs) assigned to mature miRNAs
mirna_fraction      | miRNA frac.   | miRNA reads / kept molecules
detected_mirnas     | miRNAs        | Mature miRNAs with at least qc.detection_min_reads reads
complexity          | Complexity    | Distinct miRNAs in qc.complexity_depth subsampled miRNA reads
hemolysis_index     | Hemolysis     | log2 (miR-451a + 1) / (miR-23a-3p + 1)
excluded_from_de    | Excluded      | Left out of differential expression
qc_reasons          | Reasons       | Checks that tripped
""".strip().splitlines()
    )
}


def multiqc_table(table: pd.DataFrame, t: QCSettings) -> dict[str, Any]:
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


def multiqc_config(t: QCSettings) -> dict[str, Any]:
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
            "inserts, so its counts are distinct sequences, not reads; its section shows the "
            "hairpin pass, which sees every insert of the miRNA length window."
        ),
        "use_filename_as_sample_name": ["cutadapt", "bowtie1", "umitools"],
        "extra_fn_clean_exts": [".cutadapt", ".extract"],
        "top_modules": ["custom_content"],
        "custom_content": {
            "order": ["exomir_sample_qc", "exomir_composition", "exomir_insert_lengths"]
        },
        "show_analysis_paths": False,
        "show_analysis_time": False,
        "no_version_check": True,
    }
