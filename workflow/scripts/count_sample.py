from exomir import count, reference
from exomir.wrapper import run


def main(smk):
    # counting.multimappers reaches the rule as params.multimappers (schema default: em);
    # a rule without that parameter keeps the 1/k split of earlier releases
    multimappers = smk.params.get("multimappers", count.SPLIT)
    counts = count.count_sample(
        smk.input.mature_bam,
        smk.input.hairpin_bam,
        reference.read_locations(smk.input.locations),
        count.Tolerance(smk.params.tolerance_5p, smk.params.tolerance_3p),
        multimappers,
    )
    count.write_sample_counts(counts, smk.output.mature, smk.output.hairpin, smk.output.isomirs)
    with open(smk.log[0], "w") as log:
        log.write(f"multimappers: {multimappers}\n")
        log.write(f"mature reads: {sum(counts.mature.values()):.1f}\n")
        log.write(f"hairpin reads: {sum(counts.hairpin.values()):.1f}\n")


run(main, snakemake)
