import sys

from exomir import biomarker_apply, qc
from exomir.biomarker_tables import write_table
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk):
    samples, _ = qc.exclude_failed_samples(
        smk.params.sample_table,
        smk.input.get("qc_table"),
        smk.params.exclude_failed,
        smk.params.contrast,
        min_per_group=0,
    )
    counts = read_count_matrix(smk.input.counts)
    table, warnings = biomarker_apply.score_new_cohort(smk.params.model, counts, samples)
    write_table(table, smk.output.predictions)
    with open(smk.log[0], "w") as log:
        for message in warnings:
            log.write(f"warning: {message}\n")
            print(f"exomir warning: {message}", file=sys.stderr)
        log.write(f"scored {len(table)} samples with {smk.params.model}\n")


run(main, snakemake)
