from exomir import isomirs
from exomir.wrapper import run


def main(smk, log):
    isomirs.run_mirtop(
        smk.input.bams, smk.input.hairpin, smk.input.gff, smk.params.species, smk.output, log
    )


run(main, snakemake)
