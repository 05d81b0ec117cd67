import pandas as pd
from exomir import plots
from exomir.wrapper import run


def main(smk):
    vst = pd.read_csv(smk.input.vst, sep="\t", index_col=0)
    de = pd.read_csv(smk.input.de, sep="\t")
    contrast = smk.params.contrast
    rows = plots.heatmap(
        vst,
        de,
        smk.params.sample_table,
        smk.output[0],
        condition=contrast["variable"],
        case=contrast["case"],
        control=contrast["control"],
        n=smk.params.top,
        alpha=smk.params.alpha,
    )
    with open(smk.log[0], "w") as log:
        log.write(f"{len(rows)} miRNAs: {', '.join(rows)}\n")


run(main, snakemake)
