import pandas as pd

from exomir import count, reference, trna
from exomir.wrapper import run


def main(smk, log):
    features = sorted(pd.read_csv(smk.input.features, sep="\t")["feature"])
    hairpins = sorted(name for name, _ in reference.read_fasta(smk.input.hairpins))
    samples = smk.params.samples
    for key, names in (("mature", features), ("hairpin", hairpins)):
        per_sample = dict(zip(samples, smk.input[key]))
        count.merge_counts(per_sample, names).to_csv(smk.output[key], sep="\t")
        shares = count.merge_ambiguity(per_sample, names)
        count.write_ambiguity(shares, smk.output[f"{key}_ambiguity"])
    units = trna.read_features(smk.input.trna_table) if smk.input.trna_table else {}
    trna.count_matrix(dict(zip(samples, smk.input.trna)), units).to_csv(smk.output.trna, sep="\t")
    log.write(f"{len(features)} features, {len(hairpins)} hairpins, {len(samples)} samples\n")


run(main, snakemake)
