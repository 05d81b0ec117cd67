import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from exomir import plots  # noqa: E402
from exomir.wrapper import run  # noqa: E402


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
