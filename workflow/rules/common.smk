# Snakemake glue: the checked run (exomir.settings) and the input functions of the rules.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from exomir import sizing
from exomir.align import alignment_options
from exomir.settings import SettingsError, load_run, name_pattern, sample_pattern
from exomir.wrapper import prepare_job_environment

prepare_job_environment()
try:
    RUN = load_run(config, Path(workflow.current_basedir).parents[1])
except SettingsError as error:
    raise WorkflowError(f"exomir: {error}") from None
for note in RUN.notes if workflow.is_main_process else ():
    logger.warning(f"exomir: {note}")

SAMPLES, CONTRASTS = RUN.samples, [contrast.name for contrast in RUN.contrasts]
REFERENCES = [reference.name for reference in RUN.references]
STAGES = ["mature", "hairpin"] + (["trna"] if RUN.trna_table else [])
QC_TABLE = "results/qc/sample_qc.tsv"
# the files of a bowtie 1 index, after its prefix
BOWTIE_INDEX = [f".{part}.ebwt" for part in ("1", "2", "3", "4", "rev.1", "rev.2")]


wildcard_constraints:
    sample=sample_pattern(SAMPLES),
    contrast=name_pattern(CONTRASTS),
    target="mature|hairpin|trna",
    reference=name_pattern(REFERENCES),


def count_matrix(wildcards=None):
    """The mature count matrix: the workflow's own, or the user's (config 'counts')."""
    return RUN.count_matrix or rules.merge_counts.output.mature


def counted_files(input):
    """What the counting job of a sample reads, for its memory and run time (exomir.sizing)."""
    return [input[f"{target}_bam"] for target in STAGES]


def cascade_reads(wildcards):
    """The inserts a composition reference sees: those the stage before it left."""
    i = REFERENCES.index(wildcards.reference)
    before = f"after_{REFERENCES[i - 1]}" if i else "remaining"
    return f"results/composition/{wildcards.sample}/{before}.fa"


def qc_table(wildcards):
    """The QC table of a FASTQ run; none from a count matrix."""
    return [] if RUN.from_counts else QC_TABLE


def final_outputs():
    """Every table, figure and report of the run (rule all)."""
    outputs = [
        path for name in RUN.final_rules() for path in getattr(rules, name).output
    ]
    if RUN.apply_model:  # a run that scores new samples compares no groups
        return outputs
    figures = ["volcano", "ma"] + (
        ["volcano/trna"] if "trna" in config["de"]["features"] else []
    )
    outputs += expand(
        "results/plots/{kind}/{contrast}.png", kind=figures, contrast=CONTRASTS
    )
    return outputs + expand("results/de/{contrast}.tsv", contrast=CONTRASTS)
