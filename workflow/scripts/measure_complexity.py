import pandas as pd

from exomir import complexity
from exomir.wrapper import run


def main(smk, log):
    matrix = pd.read_csv(smk.input.counts, sep="\t", index_col=0)
    table = complexity.curves(matrix, smk.params.depth)
    complexity.write_curves(table, smk.output.curves)
    complexity.plot_curves(table, smk.params.depth, smk.output.plot)
    log.write(f"{table['sample'].nunique()} samples, depth {smk.params.depth}\n")


run(main, snakemake)
