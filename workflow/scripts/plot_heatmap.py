import pandas as pd

from exomir import plots
from exomir.wrapper import run


def main(smk, log):
    vst = pd.read_csv(smk.input.vst, sep="\t", index_col=0)
    de = pd.read_csv(smk.input.de, sep="\t")
    rows = plots.heatmap(
        vst,
        de,
        smk.params.sample_table,
        smk.output[0],
        smk.params.contrast,
        smk.params.top,
        smk.params.alpha,
    )
    log.write(f"{len(rows)} miRNAs: {', '.join(rows)}\n")


run(main, snakemake)
