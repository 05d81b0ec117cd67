import pandas as pd

from exomir import composition
from exomir.wrapper import run


def main(smk, log):
    samples, n = smk.params.samples, len(smk.params.samples)
    tables = [
        composition.spikein_matrix(
            dict(zip(samples, smk.input.bams[i * n : (i + 1) * n])),
            fasta,
            smk.params.multimappers,
        )
        for i, fasta in enumerate(smk.input.fastas)
    ]
    matrix = pd.concat(tables) if tables else pd.DataFrame(columns=samples)
    matrix.rename_axis("spike_in").to_csv(smk.output[0], sep="\t")
    log.write(f"{len(matrix)} spike-ins from {', '.join(smk.params.spike_ins) or 'none'}\n")


run(main, snakemake)
