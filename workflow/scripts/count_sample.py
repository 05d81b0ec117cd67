from exomir import count, reference
from exomir.wrapper import run


def main(smk, log):
    alignment = smk.params.alignment
    counts = count.count_sample(
        smk.input.mature_bam,
        smk.input.hairpin_bam,
        reference.read_locations(smk.input.locations),
        count.Tolerance(alignment["tolerance_5p"], alignment["tolerance_3p"]),
        count.SPLIT,
    )
    count.write_sample_counts(counts, smk.output.mature, smk.output.hairpin, smk.output.isomirs)
    log.write(f"mature reads: {sum(counts.mature.values()):.1f}\n")
    log.write(f"hairpin reads: {sum(counts.hairpin.values()):.1f}\n")


run(main, snakemake)
