from exomir import trna
from exomir.wrapper import run


def main(smk, log):
    features = trna.read_features(smk.input.table)
    trna.write_reference(list(features.values()), smk.output.fasta, smk.output.table)
    log.write(f"{len(features)} mature tRNA features from {smk.input.table}\n")


run(main, snakemake)
