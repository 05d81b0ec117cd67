import sys

import pandas as pd
from exomir import de, hemolysis, plots, qc
from exomir.wrapper import run


def sample_index(smk, counts):
    """The hemolysis index per sample: from the QC table, or from the count matrix."""
    if smk.input.get("qc_table"):
        return hemolysis.index_from_qc_table(qc.read_qc_table(smk.input.qc_table)), "qc", ""
    index, note = hemolysis.index_from_counts(
        counts, smk.params.hemolysis_mirnas, smk.params.min_reads
    )
    return index, "counts", note


def base_options(smk):
    settings, contrast = smk.params.de, smk.params.contrast
    return de.DEOptions(
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


def main(smk):
    settings = hemolysis.Settings.from_config(smk.params.hemolysis)
    counts = de.read_count_matrix(smk.input.counts)
    samples = smk.params.sample_table
    index, source, note = sample_index(smk, counts)
    features = pd.read_csv(smk.input.features, sep="\t", dtype=str)
    blood = hemolysis.read_blood_cell_list(smk.input.blood_cell_list)
    variable = smk.params.contrast["variable"]
    hemolysis.write_table(hemolysis.index_table(index, samples, variable, source), smk.output.index)
    options = hemolysis.contrast_options(base_options(smk), smk.params.de["extra_contrasts"])
    mirnas = smk.params.hemolysis_mirnas
    tables = [smk.output.table, *smk.output.extra]
    rows, log = [], [f"hemolysis index from the {source}" + (f": {note}" if note else "")]
    for i, name in enumerate(smk.params.contrasts):
        fit = pd.read_csv(smk.input.fits[i], sep="\t")
        used = hemolysis.fitted_samples(fit)
        subset, opts = samples.loc[used], options[name]
        strata = hemolysis.design_strata(opts.design, opts.contrast[0], subset)
        row = hemolysis.compare_groups(index, subset, opts.contrast, strata, settings.alpha, name)
        guard = hemolysis.guard_contrast(
            counts[used], subset, opts, fit, index, row, features, blood, settings, mirnas
        )
        guard.de.to_csv(tables[i], sep="\t", index=False, float_format="%.6g")
        hemolysis.write_table(guard.caution, smk.output.caution[i])
        guard.adjusted.to_csv(smk.output.adjusted[i], sep="\t", index=False, float_format="%.6g")
        hemolysis.write_table(guard.sensitivity.changes, smk.output.changes[i])
        rows.append(guard.group_row)
        log += [f"{name}: {text}" for text in (guard.sentence, guard.covariate.note)]
        log.append(f"{name}: {guard.sensitivity.note}")
        if guard.group_row["differs"] != "no":
            print(f"exomir: {name}: {guard.sentence}", file=sys.stderr)
    hemolysis.write_table(pd.DataFrame(rows, columns=hemolysis.GROUP_COLUMNS), smk.output.by_group)
    _, case, control = options[smk.params.contrasts[0]].contrast
    first = rows[0]
    subtitle = f"{first['method']}: p = {first['pvalue']:.2g}" if first["method"] else first["note"]
    plots.hemolysis_by_group(
        index, samples, smk.output.figure, variable, case, control, subtitle, smk.params.threshold
    )
    with open(smk.log[0], "w") as handle:
        handle.write("\n".join(log) + "\n")


run(main, snakemake)
