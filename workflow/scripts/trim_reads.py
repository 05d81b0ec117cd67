from exomir import preprocess
from exomir.wrapper import run


def main(smk, log):
    trimming, qc = smk.params.trimming, smk.params.qc
    preprocess.run(
        sample=smk.wildcards.sample,
        fastq=smk.input.fastq,
        protocol=smk.params.protocol,
        window=preprocess.LengthWindow(trimming["min_length"], trimming["max_length"]),
        quality_cutoff=trimming["quality_cutoff"],
        keep_untrimmed=trimming["keep_untrimmed"],
        threads=smk.threads,
        collapsed_fasta=smk.output.collapsed,
        adapter_json=smk.output.cutadapt_report,
        lengths_tsv=smk.output.lengths,
        summary_json=smk.output.read_fates,
        log=smk.log.cutadapt,
        detection_json=smk.output.kit_record,
        umi_log=smk.log.umi_tools,
        auto_reads=qc.auto_reads,
        auto_min_confidence=qc.auto_min_confidence,
    )


run(main, snakemake)
