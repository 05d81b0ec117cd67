from exomir import reference
from exomir.wrapper import run


def main(smk, log):
    mature, hairpins = reference.read_sources(smk.input.mature, smk.input.hairpin)
    out = smk.output
    reference.write_reference(
        mature,
        hairpins,
        mature_fasta=out.mature,
        hairpin_fasta=out.hairpin,
        features=out.features,
        locations=out.locations,
        mirtop_gff=out.mirtop_gff,
    )
    log.write(f"{len(mature)} mature miRNAs, {len(hairpins)} hairpins\n")
    for key in ("mature", "hairpin"):
        log.write(f"{smk.input[key]}\tsha256:{reference.sha256(smk.input[key])}\n")


run(main, snakemake)
