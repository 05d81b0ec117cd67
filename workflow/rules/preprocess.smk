rule trim_reads:
    """Kit-specific trimming (UMI extraction, cutadapt; streamed), collapsing of identical inserts."""
    input:
        fastq=lambda wildcards: RUN.fastq(wildcards.sample),
    output:
        collapsed="results/collapsed/{sample}.fa",
        cutadapt_report="results/qc/cutadapt/{sample}.cutadapt.json",
        lengths="results/qc/lengths/{sample}.tsv",
        read_fates="results/qc/read_fates/{sample}.json",
        kit_record="results/qc/kit/{sample}.json",
    log:
        "logs/trim_reads/{sample}.log",
        cutadapt="logs/trim_reads/{sample}.cutadapt.log",
        umi_tools="logs/trim_reads/{sample}.extract.log",
    benchmark:
        "results/benchmarks/trim_reads/{sample}.tsv"
    conda:
        "../../envs/umi_tools.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        protocol=lambda wildcards: RUN.protocols[wildcards.sample],
        trimming=config["trimming"],
        qc=RUN.qc,
    script:
        "../scripts/trim_reads.py"
