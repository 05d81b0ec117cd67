import pandas as pd

from exomir import biomarker, biomarker_report, qc
from exomir.annotate import read_resistance_list
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk, log):
    settings = biomarker.BiomarkerSettings.from_config(smk.params.settings)
    contrast = smk.params.contrast
    samples, _ = qc.drop_excluded(smk.params.sample_table, smk.input.excluded)
    enabled, reason = biomarker.decide_enabled(settings, *biomarker.group_sizes(samples, contrast))
    log.write(f"biomarker: {reason}\n")
    if not enabled:
        biomarker_report.write_skipped(reason, smk.output, contrast)
        return
    counts = read_count_matrix(smk.input.counts)
    counts.index = smk.params.counts_name_prefix + counts.index
    result = biomarker.fit_biomarker(
        counts, samples, contrast, settings, smk.params.categorical, smk.threads
    )
    features = pd.read_csv(smk.input.features, sep="\t", dtype=str)
    findings = read_resistance_list(smk.input.resistance_list)
    log.write(biomarker_report.write_outputs(result, smk.output, features, findings) + "\n")


run(main, snakemake)
