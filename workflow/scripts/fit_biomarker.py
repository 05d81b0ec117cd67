import pandas as pd
from exomir import biomarker, biomarker_report, qc
from exomir.annotate import read_resistance_list
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk):
    settings = biomarker.BiomarkerSettings.from_config(smk.params.settings)
    contrast = smk.params.contrast
    levels = (contrast["variable"], contrast["case"], contrast["control"])
    samples, _ = qc.exclude_failed_samples(
        smk.params.sample_table, smk.input.get("qc_table"), smk.params.exclude_failed, contrast
    )
    groups = samples[levels[0]].astype(str)
    n_case, n_control = int((groups == levels[1]).sum()), int((groups == levels[2]).sum())
    enabled, reason = biomarker.decide_enabled(settings, n_case, n_control)
    with open(smk.log[0], "w") as log:
        log.write(f"biomarker: {reason}\n")
    if not enabled:
        biomarker_report.write_skipped(reason, smk.output, levels)
        return
    counts = read_count_matrix(smk.input.counts)
    result = biomarker.fit_biomarker(
        counts, samples, levels, settings, smk.params.categorical, smk.threads
    )
    features = pd.read_csv(smk.input.features, sep="\t", dtype=str)
    caption = biomarker_report.write_outputs(
        result, smk.output, features, read_resistance_list(smk.input.resistance_list)
    )
    with open(smk.log[0], "a") as log:
        log.write(caption + "\n")


run(main, snakemake)
