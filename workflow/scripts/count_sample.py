from exomir import composition, count, reference, trna
from exomir.wrapper import run


def main(smk, log):
    alignment = smk.params.alignment
    stages = composition.classify_sample(
        composition.insert_reads(smk.input.read_fates),
        smk.input.mature_bam,
        smk.input.hairpin_bam,
        smk.input.trna_bam or None,
        reference.read_locations(smk.input.locations),
        count.Tolerance(alignment["tolerance_5p"], alignment["tolerance_3p"]),
        trna.read_features(smk.input.trna_table) if smk.input.trna_table else {},
        smk.params.multimappers,
    )
    summary = composition.write_sample_stages(stages, smk.wildcards.sample, True, smk.output)
    log.write(f"multimappers: {smk.params.multimappers}\n")
    log.write(", ".join(f"{key}: {summary[key]}" for key in composition.STAGE_KEYS) + "\n")


run(main, snakemake)
