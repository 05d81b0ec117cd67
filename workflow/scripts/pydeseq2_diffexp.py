import pandas as pd
from exomir import de, qc
from exomir.wrapper import run


def main(smk):
    counts = de.read_count_matrix(smk.input.counts)
    sample_table = smk.params.sample_table
    de.check_samples_match(counts, sample_table, smk.input.counts, smk.input.samples)
    sample_table, excluded = qc.exclude_failed_samples(
        sample_table, smk.input.get("qc_table"), smk.params.exclude_failed, smk.params.contrast
    )
    excluded.to_csv(smk.output.excluded, sep="\t", index=False)
    settings = smk.params.de
    contrast = smk.params.contrast
    options = de.DEOptions(
        design=smk.params.design,
        contrast=(contrast["variable"], contrast["case"], contrast["control"]),
        size_factors=settings["size_factors"],
        control_features=tuple(settings["control_features"]),
        min_count=settings["min_count"],
        cooks_refit=settings["cooks_refit"],
        independent_filter=settings["independent_filter"],
        alpha=settings["alpha"],
        shrink=settings["shrink"],
        n_cpus=smk.threads,
    )
    results = de.run_contrasts(
        counts[list(sample_table.index)], sample_table, options, smk.params.extra_contrasts
    )
    result = results[de.contrast_name(options.contrast)]
    result.table.to_csv(smk.output.table, sep="\t", index=False, float_format="%.6g")
    for spec, path in zip(smk.params.extra_contrasts, smk.output.extra):
        results[spec["name"]].table.to_csv(path, sep="\t", index=False, float_format="%.6g")
    result.vst.to_csv(smk.output.vst, sep="\t", float_format="%.6g")
    result.size_factors.rename("size_factor").to_csv(
        smk.output.size_factors, sep="\t", float_format="%.6g"
    )
    with open(smk.log[0], "w") as log:
        log.write(
            f"excluded by QC (qc.exclude_failed_from_de: {smk.params.exclude_failed}): "
            + ("; ".join(f"{r.sample} ({r.reason})" for r in excluded.itertuples()) or "none")
            + "\n"
        )
        log.write(f"design {result.formula}; contrast {result.contrast}\n")
        log.write(f"tested {result.n_tested}, filtered {result.n_filtered}\n")
        continuous = [c for c in sample_table if pd.api.types.is_numeric_dtype(sample_table[c])]
        log.write(f"continuous covariates: {', '.join(continuous) or 'none'}\n")
        for spec in smk.params.extra_contrasts:
            extra = results[spec["name"]]
            log.write(
                f"extra contrast {spec['name']}: design {extra.formula}; {extra.contrast}; "
                f"tested {extra.n_tested}, significant {extra.n_significant}\n"
            )


run(main, snakemake)
