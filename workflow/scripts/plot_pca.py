import pandas as pd
from exomir import plots
from exomir.wrapper import run


def main(smk):
    vst = pd.read_csv(smk.input.vst, sep="\t", index_col=0)
    contrast = smk.params.contrast
    coords = plots.pca_plot(
        vst,
        smk.params.sample_table,
        smk.output[0],
        condition=contrast["variable"],
        covariate=smk.params.covariate or None,
        case=contrast["case"],
        control=contrast["control"],
        ntop=smk.params.ntop,
    )
    with open(smk.log[0], "w") as log:
        log.write(coords.iloc[:, :2].to_csv(sep="\t", float_format="%.4g"))


run(main, snakemake)
