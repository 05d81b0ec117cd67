import pandas as pd

from exomir import plots
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk, log):
    if smk.input.get("qc_table"):
        qc, source = pd.read_csv(smk.input.qc_table, sep="\t"), smk.input.qc_table
    else:  # a run from a count matrix: miRNA reads per sample only
        qc = plots.sample_qc_from_summaries([], read_count_matrix(smk.input.counts))
        source = f"column sums of {smk.input.counts}"
    panels = plots.qc_bars(
        qc,
        smk.output[0],
        smk.params.sample_table,
        smk.params.contrast,
        smk.params.hemolysis_threshold,
    )
    log.write(f"QC values from {source}; panels: {', '.join(panels) or 'none'}\n")


run(main, snakemake)
