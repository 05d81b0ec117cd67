from exomir import align
from exomir.wrapper import run


def main(smk, log):
    stages = smk.params.stages
    outputs = {"remaining": smk.output.remaining}
    for stage, bam, stage_log in zip(stages, smk.output.bams, smk.log.stages):
        outputs |= {f"{stage}_bam": bam, f"{stage}_log": stage_log}
    align.align_sample(
        (smk.input.reads, smk.input.long),
        {stage: index.removesuffix(".1.ebwt") for stage, index in zip(stages, smk.input.index)},
        outputs,
        align.mature_within_hairpins(smk.input.features, smk.input.locations),
        (smk.params.mismatches, smk.threads),
        log,
    )


run(main, snakemake)
