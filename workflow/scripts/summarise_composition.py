import pandas as pd

from exomir import composition
from exomir.wrapper import run


def main(smk, log):
    samples, names = smk.params.samples, smk.params.references
    bams, n = list(smk.input.references), len(samples)
    by_reference = {name: bams[i * n : (i + 1) * n] for i, name in enumerate(names)}
    rows = composition.composition_rows(
        samples, smk.input.read_fates, smk.input.stages, by_reference
    )
    table = composition.build_table(rows, names)
    composition.write_table(table, smk.output.table)
    composition.write_json(composition.multiqc_composition(table), smk.output.mqc)
    composition.plot_composition(table, smk.output.plot)
    stages = [composition.load_json(path) for path in smk.input.stages]
    features = list(pd.read_csv(smk.input.features, sep="\t")["feature"])
    flags = composition.trna_derived_mirnas(stages, features, smk.params.threshold)
    flags.to_csv(smk.output.trna_derived, sep="\t", index=False)
    log.write(f"{len(table)} samples; {int((flags['mostly_trna'] == 'yes').sum())} mostly tRNA\n")


run(main, snakemake)
