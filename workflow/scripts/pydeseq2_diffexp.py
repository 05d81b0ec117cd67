import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from exomir import de  # noqa: E402
from exomir.wrapper import run  # noqa: E402


def main(smk):
    counts = de.read_count_matrix(smk.input.counts)
    sample_table = smk.params.sample_table
    de.check_samples_match(counts, sample_table, smk.input.counts, smk.input.samples)
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
    result = de.run_de(counts[list(sample_table.index)], sample_table, options)
    result.table.to_csv(smk.output.table, sep="\t", index=False, float_format="%.6g")
    result.vst.to_csv(smk.output.vst, sep="\t", float_format="%.6g")
    result.size_factors.rename("size_factor").to_csv(
        smk.output.size_factors, sep="\t", float_format="%.6g"
    )
    with open(smk.log[0], "w") as log:
        log.write(f"design {result.formula}; contrast {result.contrast}\n")
        log.write(f"tested {result.n_tested}, filtered {result.n_filtered}\n")


run(main, snakemake)
