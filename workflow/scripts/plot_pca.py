import pandas as pd

from exomir import plots
from exomir.wrapper import run


def main(smk, log):
    vst = pd.read_csv(smk.input.vst, sep="\t", index_col=0)
    coords = plots.pca_plot(
        vst,
        smk.params.sample_table,
        smk.output[0],
        smk.params.contrast,
        smk.params.covariate,
        smk.params.ntop,
    )
    log.write(coords.iloc[:, :2].to_csv(sep="\t", float_format="%.4g"))


run(main, snakemake)
