from pathlib import Path

from exomir import reference
from exomir.wrapper import run


def main(smk, log):
    outdir = Path(smk.output.mature).parent
    for path in reference.bundle_species(smk.input.table, smk.wildcards.species, outdir):
        log.write(f"{path}\tsha256:{reference.sha256(path)}\n")


run(main, snakemake)
