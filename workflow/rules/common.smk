# Snakemake glue: the checked run (exomir.settings) and the input functions of the rules.
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from exomir.qc import console_summary
from exomir.settings import SettingsError, load_run
from exomir.wrapper import prepare_job_environment

prepare_job_environment()
try:
    RUN = load_run(config, Path(workflow.current_basedir).parents[1])
except SettingsError as error:
    raise WorkflowError(f"exomir: {error}") from None
if workflow.is_main_process:
    for note in RUN.notes:
        logger.warning(f"exomir: {note}")

SAMPLES = RUN.samples
CONTRASTS = [contrast.name for contrast in RUN.contrasts]
QC_TABLE = "results/qc/sample_qc.tsv"


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLES)),
    contrast="|".join(map(re.escape, CONTRASTS)),
    target="mature|hairpin",


def get_fastq(wildcards):
    return RUN.fastq(wildcards.sample)


def count_matrix(wildcards=None):
    """The mature count matrix: the workflow's own, or the user's (config 'counts')."""
    return RUN.count_matrix or rules.merge_counts.output.mature


def qc_table(wildcards):
    """The QC table of a FASTQ run; none from a count matrix."""
    return [] if RUN.from_counts else QC_TABLE


def provenance_inputs(wildcards):
    """Files whose checksums go into the provenance table."""
    inputs = {
        **{f"{key}_fasta": path for key, path in RUN.reference.items()},
        "resistance_list": RUN.resistance_list,
        "samples": RUN.sheet_path,
    }
    if RUN.from_counts:
        inputs["counts"] = RUN.count_matrix
    return inputs


def final_outputs():
    outputs = [
        *expand("results/de/{contrast}.tsv", contrast=CONTRASTS),
        "results/annotation/resistance_hits.tsv",
        "results/plots/qc/sample_qc.png",
        "results/plots/pca.png",
        "results/plots/heatmap_top_de.png",
        "results/plots/review_mirnas_boxplots.png",
        *expand(
            "results/plots/{kind}/{contrast}.png",
            kind=["volcano", "ma"],
            contrast=CONTRASTS,
        ),
        "results/report/provenance.tsv",
    ]
    if not RUN.from_counts:
        outputs += [
            *rules.merge_counts.output,
            QC_TABLE,
            "results/qc/multiqc_report.html",
            "results/isomirs/mirtop/mirtop.gff",
        ]
    return outputs
