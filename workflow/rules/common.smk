import re
import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

WORKFLOW_ROOT = Path(workflow.current_basedir).parents[1]
sys.path.insert(0, str(WORKFLOW_ROOT / "workflow"))

from exomir.protocols import resolve_protocol  # noqa: E402
from exomir.samplesheet import load_sample_sheet  # noqa: E402

validate(config, schema="../schemas/config.schema.yaml")


def resolve_path(path):
    """A config path: absolute, else relative to the working directory, else to the workflow."""
    if not path:
        return ""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return str(candidate)
    bundled = WORKFLOW_ROOT / candidate
    return str(bundled) if bundled.exists() else str(candidate)


CONTRAST = config["contrast"]
CONTRAST_NAME = f"{CONTRAST['case']}_vs_{CONTRAST['control']}"
FROM_COUNTS = bool(config["counts"])

try:
    samples = load_sample_sheet(
        resolve_path(config["samples"]),
        CONTRAST,
        config["design"],
        require_fastq=not FROM_COUNTS,
    )
    PROTOCOL = resolve_protocol(
        config["protocol"],
        {k: config[k] for k in ("adapter", "adapter_5p", "clip_5p", "clip_3p")},
    )
except ValueError as error:
    raise WorkflowError(f"exomir: {error}") from None

SAMPLES = list(samples.index)


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLES)) if SAMPLES else "[^/]+",


def reference_sources(wildcards=None):
    """Mature and hairpin FASTA the reference is built from."""
    ref = config["reference"]
    if ref["mature_fasta"] or ref["hairpin_fasta"]:
        if not (ref["mature_fasta"] and ref["hairpin_fasta"]):
            raise WorkflowError(
                "exomir: reference.mature_fasta and reference.hairpin_fasta go together; "
                "set both or neither"
            )
        return {
            "mature": resolve_path(ref["mature_fasta"]),
            "hairpin": resolve_path(ref["hairpin_fasta"]),
        }
    species = ref["species"]
    bundled = WORKFLOW_ROOT / "resources" / "mirbase"
    if species == "hsa":
        return {
            "mature": str(bundled / "hsa_mature.fa"),
            "hairpin": str(bundled / "hsa_hairpin.fa"),
        }
    return {
        "mature": f"results/reference/source/{species}_mature.fa",
        "hairpin": f"results/reference/source/{species}_hairpin.fa",
    }


def get_fastq(wildcards):
    return samples.loc[wildcards.sample, "fastq"]


def count_matrix():
    """The mature count matrix: the workflow's own, or the user's (config 'counts')."""
    if FROM_COUNTS:
        return resolve_path(config["counts"])
    return "results/counts/mature_counts.tsv"


def final_outputs():
    outputs = [
        f"results/de/{CONTRAST_NAME}.tsv",
        "results/annotation/resistance_hits.tsv",
    ]
    if not FROM_COUNTS:
        outputs += [
            "results/counts/mature_counts.tsv",
            "results/counts/hairpin_counts.tsv",
        ]
    return outputs
