from exomir import preprocess
from exomir.wrapper import run


def main(smk):
    trimming = smk.params.trimming
    preprocess.run(
        sample=smk.wildcards.sample,
        fastq=smk.input.fastq,
        protocol=smk.params.protocol,
        window=preprocess.LengthWindow(trimming["min_length"], trimming["max_length"]),
        quality_cutoff=trimming["quality_cutoff"],
        keep_untrimmed=trimming["keep_untrimmed"],
        threads=smk.threads,
        collapsed_fasta=smk.output.collapsed,
        adapter_json=smk.output.adapter_json,
        lengths_tsv=smk.output.lengths,
        summary_json=smk.output.summary,
        log=smk.log.cutadapt,
        detection_json=smk.output.protocol,
        umi_log=smk.log.umi,
        auto_reads=smk.params.auto_reads,
        auto_min_confidence=smk.params.auto_min_confidence,
        # trimming.error_rate is new in the schema; a config validated without it keeps
        # cutadapt's own default (the schema's default is the same 0.1)
        error_rate=trimming.get("error_rate"),
    )


run(main, snakemake)
