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
STAGES = ["mature", "hairpin"] + (["trna"] if RUN.trna_table else [])


REFERENCES = [reference.name for reference in RUN.references]


wildcard_constraints:
    sample="|".join(map(re.escape, SAMPLES)),
    contrast="|".join(map(re.escape, CONTRASTS)),
    target="mature|hairpin|trna|composition_[A-Za-z][A-Za-z0-9_]*",
    reference="|".join(map(re.escape, REFERENCES)) or "-",


def get_fastq(wildcards):
    return RUN.fastq(wildcards.sample)


def count_matrix(wildcards=None):
    """The mature count matrix: the workflow's own, or the user's (config 'counts')."""
    return RUN.count_matrix or rules.merge_counts.output.mature


def stage_inputs(wildcards):
    """Alignments the counting of one sample reads: miRNA stages, and tRNAs when configured."""
    inputs = {f"{t}_bam": f"results/align/{t}/{wildcards.sample}.bam" for t in STAGES}
    return inputs | (
        {"trna_table": "results/reference/trna.tsv"} if RUN.trna_table else {}
    )


def cascade_reads(wildcards):
    """The inserts a composition reference sees: those the stage before it left."""
    i = REFERENCES.index(wildcards.reference)
    before = f"after_{REFERENCES[i - 1]}" if i else "remaining"
    return f"results/composition/{wildcards.sample}/{before}.fa"


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
        *expand(
            "results/plots/{kind}/{contrast}.png",
            kind=["volcano", "ma"],
            contrast=CONTRASTS,
        ),
        *rules.plot_sample_qc.output,
        *rules.plot_pca.output,
        *rules.plot_heatmap.output,
        *rules.plot_review_boxplots.output,
        *rules.record_provenance.output,
    ]
    if RUN.from_counts:
        return outputs
    trna = "trna" in config["de"]["features"]
    return outputs + [
        *rules.merge_counts.output,
        *rules.summarise_composition.output,
        *rules.measure_complexity.output,
        QC_TABLE,
        rules.build_multiqc_report.output.html,
        rules.annotate_isomirs.output.gff,
        *(rules.count_spikeins.output if RUN.spike_ins else []),
        *(
            expand("results/plots/volcano/trna/{contrast}.png", contrast=CONTRASTS)
            if trna
            else []
        ),
    ]
