rule cutadapt_trim_collapse:
    """Kit-specific trimming (UMI extraction, cutadapt; streamed), collapsing of identical inserts."""
    input:
        fastq=get_fastq,
    output:
        collapsed="results/collapsed/{sample}.fa",
        adapter_json="results/qc/cutadapt/{sample}.cutadapt.json",
        lengths="results/qc/lengths/{sample}.tsv",
        summary="results/qc/preprocess/{sample}.json",
        protocol="results/qc/adapter/{sample}.json",
    log:
        cutadapt="logs/cutadapt/{sample}.log",
        umi="logs/umi_tools/{sample}.extract.log",
    benchmark:
        "results/benchmarks/cutadapt/{sample}.tsv"
    conda:
        "../../envs/umi_tools.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        protocol=lambda wildcards: SAMPLE_PROTOCOLS[wildcards.sample],
        trimming=config["trimming"],
        auto_reads=config["qc"]["auto_reads"],
        auto_min_confidence=config["qc"]["auto_min_confidence"],
    script:
        "../scripts/trim_collapse.py"
