from exomir import provenance
from exomir.wrapper import run


def main(smk, log):
    table = provenance.table(smk.input, smk.params.from_counts, smk.params.reference)
    table.to_csv(smk.output[0], sep="\t", index=False)
    log.write(f"{len(table)} provenance rows\n")


run(main, snakemake)
