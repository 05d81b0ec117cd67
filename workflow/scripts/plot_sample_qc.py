import pandas as pd
from exomir import plots
from exomir.de import read_count_matrix
from exomir.wrapper import run


def main(smk):
    if "qc_table" in smk.input.keys():
        qc = pd.read_csv(smk.input.qc_table, sep="\t")
        source = smk.input.qc_table
    else:  # a run from a count matrix: miRNA reads per sample only
        qc = plots.sample_qc_from_summaries([], read_count_matrix(smk.input.counts))
        source = f"column sums of {smk.input.counts}"
    contrast = smk.params.contrast
    panels = plots.qc_bars(
        qc,
        smk.output[0],
        smk.params.sample_table,
        contrast["variable"],
        contrast["case"],
        contrast["control"],
        hemolysis_threshold=smk.params.hemolysis_threshold,
    )
    with open(smk.log[0], "w") as log:
        log.write(f"QC values from {source}; panels: {', '.join(panels) or 'none'}\n")


run(main, snakemake)
