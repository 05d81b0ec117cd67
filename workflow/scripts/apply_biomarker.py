import sys

from exomir import biomarker_apply, qc
from exomir.biomarker_tables import write_table
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk, log):
    samples, _ = qc.exclude_failed_samples(
        smk.params.sample_table, smk.input.get("qc_table"), smk.params.exclude_failed, []
    )
    counts = read_count_matrix(smk.input.counts)
    counts.index = smk.params.counts_name_prefix + counts.index
    table, warnings = biomarker_apply.score_new_cohort(smk.input.model, counts, samples)
    write_table(table, smk.output.predictions)
    for message in warnings:
        log.write(f"warning: {message}\n")
        print(f"exomir warning: {message}", file=sys.stderr)
    validation = biomarker_apply.validation_auc(table, smk.input.model)
    log.write(f"scored {len(table)} samples with {smk.input.model}; {validation}\n")
    print(f"exomir biomarker: {validation}", file=sys.stderr)


run(main, snakemake)
