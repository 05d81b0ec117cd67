rule trim_reads:
    """Kit-specific trimming and collapsing: identical raw reads trimmed once (kits without
    random bases or UMIs), UMI molecules counted through an external sort."""
    input:
        fastq=lambda wildcards: RUN.fastq(wildcards.sample),
    output:
        collapsed="results/collapsed/{sample}.fa",
        collapsed_long="results/collapsed/{sample}.long.fa",
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
    threads: lambda wildcards: sizing.trim_threads(RUN.protocols[wildcards.sample])
    resources:
        mem_mb=lambda wildcards, input, threads, attempt: sizing.trim_mem_mb(
            input.fastq, RUN.protocols[wildcards.sample], threads, attempt
        ),
        runtime=lambda wildcards, input: sizing.trim_runtime(
            input.fastq, RUN.protocols[wildcards.sample]
        ),
    params:
        protocol=lambda wildcards: RUN.protocols[wildcards.sample],
        trimming=config["trimming"],
        qc=RUN.qc,
    script:
        "../scripts/trim_reads.py"
