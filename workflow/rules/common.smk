import re
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

WORKFLOW_ROOT = Path(workflow.current_basedir).parents[1]

from exomir.annotate import check_drug, read_resistance_list
from exomir.de import check_samples_match, read_count_matrix
from exomir.protocols import OVERRIDE_KEYS, resolve_protocol
from exomir.wrapper import prepare_job_environment
from exomir.samplesheet import design_variables, load_sample_sheet

prepare_job_environment()
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
    # the config's own kit must be valid even where the sheet names another for every sample
    resolve_protocol(config["protocol"], {k: config[k] for k in OVERRIDE_KEYS})
    if config["drug"]:
        check_drug(
            config["drug"],
            read_resistance_list(resolve_path(config["resistance_list"])),
        )
except ValueError as error:
    raise WorkflowError(f"exomir: {error}") from None

SAMPLES = list(samples.index)
QC_TABLE = "results/qc/sample_qc.tsv"

if FROM_COUNTS:
    # Checked when the workflow is parsed, so a mismatch stops the run before any job.
    if not Path(resolve_path(config["counts"])).is_file():
        raise WorkflowError(
            f"exomir: count matrix {config['counts']} (config 'counts') does not exist"
        )
    try:
        check_samples_match(
            read_count_matrix(resolve_path(config["counts"])),
            samples,
            config["counts"],
            config["samples"],
        )
    except ValueError as error:
        raise WorkflowError(f"exomir: {error}") from None

EXTRA_CONTRASTS = [spec["name"] for spec in config["de"]["extra_contrasts"]]
for _name in EXTRA_CONTRASTS:
    if (
        _name == CONTRAST_NAME
        or EXTRA_CONTRASTS.count(_name) > 1
        or _name in ("vst", "size_factors")
    ):
        raise WorkflowError(
            f"exomir: de.extra_contrasts name '{_name}' is used twice or clashes with the main "
            f"contrast '{CONTRAST_NAME}' or results/de/{_name}.tsv; give each contrast a unique name"
        )
ALL_CONTRASTS = [CONTRAST_NAME] + EXTRA_CONTRASTS


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


def design_sample_table():
    """Sample table for the DE model, covariates typed.

    The sheet is read as text. A design variable whose values all parse as
    numbers is a continuous covariate, unless it is listed under 'categorical'
    in the config; every other variable, and always the contrast variable of
    the main contrast, is categorical.
    """
    table = samples.drop(columns=["fastq"], errors="ignore").copy()
    designs = [config["design"]] + [
        spec.get("design") or config["design"]
        for spec in config["de"]["extra_contrasts"]
    ]
    variables = dict.fromkeys(v for d in designs for v in design_variables(d))
    unknown = [c for c in config["categorical"] if c not in table.columns]
    if unknown:
        raise WorkflowError(
            f"exomir: 'categorical' lists {', '.join(unknown)}, not column(s) of the sample sheet "
            f"(columns: {', '.join(table.columns)})"
        )
    for name in variables:
        if (
            name == CONTRAST["variable"]
            or name in config["categorical"]
            or name not in table
        ):
            continue
        numbers = pd.to_numeric(table[name], errors="coerce")
        if numbers.notna().all():
            table[name] = numbers
    return table


DE_SAMPLES = design_sample_table()
CONTINUOUS = [c for c in DE_SAMPLES if pd.api.types.is_numeric_dtype(DE_SAMPLES[c])]
if CONTINUOUS:
    logger.warning(
        f"exomir: design variable(s) {', '.join(CONTINUOUS)} hold only numbers and are modelled "
        "as continuous covariates; list them under 'categorical' in the config to model them "
        "as factors (e.g. numeric batch or patient codes)"
    )


def plot_covariate():
    """First categorical covariate of the design other than the contrast variable, or ''."""
    for name in design_variables(config["design"]):
        if (
            name != CONTRAST["variable"]
            and name in DE_SAMPLES
            and name not in CONTINUOUS
        ):
            return name
    return ""


def sample_qc_inputs(wildcards):
    """The QC table (runs from FASTQ) and the count matrix (miRNA reads of any run)."""
    inputs = {"counts": count_matrix()}
    if not FROM_COUNTS:
        inputs["qc_table"] = QC_TABLE
    return inputs


def provenance_inputs(wildcards):
    """Files whose checksums go into the provenance table."""
    inputs = {
        **{f"{k}_fasta": v for k, v in reference_sources().items()},
        "resistance_list": resolve_path(config["resistance_list"]),
        "samples": resolve_path(config["samples"]),
    }
    if FROM_COUNTS:
        inputs["counts"] = count_matrix()
    return inputs


def plot_outputs():
    """Figures of the report (QC bars need the FASTQ steps or a count matrix: always there)."""
    return [
        "results/plots/qc/sample_qc.png",
        "results/plots/pca.png",
        "results/plots/heatmap_top_de.png",
        "results/plots/review_mirnas_boxplots.png",
        *expand("results/plots/volcano/{contrast}.png", contrast=ALL_CONTRASTS),
        *expand("results/plots/ma/{contrast}.png", contrast=ALL_CONTRASTS),
    ]


def final_outputs():
    outputs = [
        f"results/de/{CONTRAST_NAME}.tsv",
        "results/annotation/resistance_hits.tsv",
        *expand("results/de/{contrast}.tsv", contrast=EXTRA_CONTRASTS),
        *plot_outputs(),
        "results/report/provenance.tsv",
    ]
    if not FROM_COUNTS:
        outputs += [
            "results/counts/mature_counts.tsv",
            "results/counts/hairpin_counts.tsv",
            QC_TABLE,
            "results/qc/multiqc_report.html",
            "results/isomirs/mirtop/mirtop.gff",
        ]
    return outputs


def de_qc_table(wildcards):
    """The QC table for the DE rule, which drops QC 'fail' samples; none from a count matrix."""
    return [] if FROM_COUNTS else QC_TABLE


def sample_protocols_of_sheet():
    """Library kit of every sample: the sheet's 'protocol' column, else the config's."""
    from exomir.protocols import sample_protocols

    if FROM_COUNTS:
        return {}
    column = "protocol" in samples.columns
    per_sample = {s: samples.loc[s, "protocol"] if column else "" for s in SAMPLES}
    try:
        return sample_protocols(
            config["protocol"], {k: config[k] for k in OVERRIDE_KEYS}, per_sample
        )
    except ValueError as error:
        raise WorkflowError(f"exomir: {error}") from None


SAMPLE_PROTOCOLS = sample_protocols_of_sheet()
