from exomir import de, hemolysis, qc
from exomir.wrapper import run


def main(smk, log):
    counts = de.read_count_matrix(smk.input.counts)
    counts.index = smk.params.counts_name_prefix + counts.index
    contrasts = smk.params.contrasts
    samples, excluded = qc.drop_excluded(smk.params.sample_table, smk.input.excluded)
    options = de.DEOptions.from_config(smk.params.de, smk.threads)
    results = de.run_contrasts(counts, samples, contrasts, options)
    if smk.params.hemolysis:  # miRNAs: the hemolysis guard adds blood_cell_caution
        hemolysis.guard_job(smk, counts, samples, results, options, log)
    de.write_results(results, smk.output)
    log.write(qc.exclusion_sentence(excluded) + "\n" + de.summary_lines(results, samples))


run(main, snakemake)
