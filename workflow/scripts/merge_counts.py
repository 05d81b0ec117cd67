import pandas as pd

from exomir import count, reference
from exomir.wrapper import run


def main(smk, log):
    features = list(pd.read_csv(smk.input.features, sep="\t")["feature"])
    hairpins = [name for name, _ in reference.read_fasta(smk.input.hairpins)]
    samples = smk.params.samples
    for key, names in (("mature", features), ("hairpin", hairpins)):
        matrix = count.merge_counts(dict(zip(samples, smk.input[key])), sorted(names))
        matrix.to_csv(smk.output[key], sep="\t")
    log.write(f"{len(features)} features, {len(hairpins)} hairpins, {len(samples)} samples\n")


run(main, snakemake)
