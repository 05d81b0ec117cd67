import pandas as pd
from exomir import plots
from exomir.wrapper import run


def main(smk):
    de = pd.read_csv(smk.input.de, sep="\t")
    hits = pd.read_csv(smk.input.hits, sep="\t")
    contrast = smk.params.contrast
    drawn = plots.review_boxplots(
        de,
        hits,
        smk.params.sample_table,
        smk.output[0],
        condition=contrast["variable"],
        case=contrast["case"],
        control=contrast["control"],
        alpha=smk.params.alpha,
    )
    with open(smk.log[0], "w") as log:
        log.write(f"{len(drawn)} significant review-list miRNAs: {', '.join(drawn) or 'none'}\n")


run(main, snakemake)
