from exomir import reference
from exomir.wrapper import run


def main(smk):
    mature = reference.mature_from_fasta(smk.input.mature)
    hairpins = sorted(
        (name, reference.to_dna(seq)) for name, seq in reference.read_fasta(smk.input.hairpin)
    )
    if not mature or not hairpins:
        raise ValueError(
            f"reference FASTA {smk.input.mature if not mature else smk.input.hairpin} has no "
            "records; give miRBase-style FASTA files"
        )
    reference.write_reference(
        mature,
        hairpins,
        smk.output.mature,
        smk.output.hairpin,
        smk.output.features,
        smk.output.locations,
    )
    reference.write_mirtop_gff(
        smk.output.features, smk.output.locations, smk.output.hairpin, smk.output.mirtop_gff
    )
    with open(smk.log[0], "w") as log:
        log.write(f"{len(mature)} mature miRNAs, {len(hairpins)} hairpins\n")
        for key in ("mature", "hairpin"):
            log.write(f"{smk.input[key]}\tsha256:{reference.sha256(smk.input[key])}\n")


run(main, snakemake)
