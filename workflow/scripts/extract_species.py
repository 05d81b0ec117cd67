import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))
from exomir import reference  # noqa: E402
from exomir.wrapper import run  # noqa: E402


def main(smk):
    outdir = Path(smk.output.mature).parent
    paths = reference.bundle_species(smk.input.table, smk.wildcards.species, outdir)
    with open(smk.log[0], "w") as log:
        log.writelines(f"{p}\tsha256:{reference.sha256(p)}\n" for p in paths)


run(main, snakemake)
