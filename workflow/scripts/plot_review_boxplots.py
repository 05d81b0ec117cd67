import pandas as pd

from exomir import plots
from exomir.wrapper import run


def main(smk, log):
    de = pd.read_csv(smk.input.de, sep="\t")
    hits = pd.read_csv(smk.input.hits, sep="\t")
    drawn = plots.review_boxplots(
        de, hits, smk.params.sample_table, smk.output[0], smk.params.contrast, smk.params.alpha
    )
    log.write(f"{len(drawn)} significant review-list miRNAs: {', '.join(drawn) or 'none'}\n")


run(main, snakemake)
