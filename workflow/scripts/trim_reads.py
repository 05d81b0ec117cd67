from exomir import preprocess
from exomir.wrapper import run


def main(smk, log):
    trimming, qc = smk.params.trimming, smk.params.qc
    files = preprocess.SampleFiles(
        **{
            key: smk.output[key]
            for key in preprocess.SampleFiles._fields
            if key in smk.output.keys()
        },
        log=smk.log.cutadapt,
        umi_log=smk.log.umi_tools,
    )
    summary = preprocess.run(
        smk.wildcards.sample,
        smk.input.fastq,
        smk.params.protocol,
        preprocess.LengthWindow(trimming["min_length"], trimming["max_length"]),
        preprocess.Trimming.from_config(trimming, smk.threads),
        (qc.auto_reads, qc.auto_min_confidence),
        files,
    )
    log.write(f"{summary['raw_reads']} raw reads, {summary['reads_kept']} kept\n")


run(main, snakemake)
