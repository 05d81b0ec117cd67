from pathlib import Path

from exomir import reference
from exomir.wrapper import run


def main(smk):
    outdir = Path(smk.output.mature).parent
    paths = reference.bundle_species(smk.input.table, smk.wildcards.species, outdir)
    with open(smk.log[0], "w") as log:
        log.writelines(f"{p}\tsha256:{reference.sha256(p)}\n" for p in paths)


run(main, snakemake)
