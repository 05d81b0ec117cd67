import pandas as pd

from exomir import plots
from exomir.wrapper import run


def main(smk, log):
    de = pd.read_csv(smk.input.de, sep="\t")
    hits = pd.read_csv(smk.input.hits, sep="\t") if smk.input.get("hits") else pd.DataFrame()
    review = list(hits["feature"]) if "feature" in hits else []
    alpha, name = smk.params.alpha, smk.wildcards.contrast.replace("_vs_", " vs ")
    flagged = de["blood_cell_caution"] == "yes" if "blood_cell_caution" in de else False
    caution = de.loc[flagged, "feature"] if "blood_cell_caution" in de else []
    labelled = plots.volcano(
        de,
        smk.output.volcano,
        review,
        alpha,
        f"Volcano plot: {name}",
        smk.params.max_labels,
        list(caution),
    )
    column = plots.ma_plot(de, smk.output.ma, alpha, f"MA plot: {name}", review)
    log.write(f"labelled: {', '.join(labelled) or 'none'}\nMA plot of {column}\n")


run(main, snakemake)
