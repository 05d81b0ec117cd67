rule cutadapt_trim_collapse:
    """Adapter and kit-specific trimming (cutadapt, streamed), then collapsing of identical inserts."""
    input:
        fastq=get_fastq,
    output:
        collapsed="results/collapsed/{sample}.fa",
        adapter_json="results/qc/cutadapt/{sample}.cutadapt.json",
        lengths="results/qc/lengths/{sample}.tsv",
        summary="results/qc/preprocess/{sample}.json",
    log:
        "logs/cutadapt/{sample}.log",
    benchmark:
        "results/benchmarks/cutadapt/{sample}.tsv"
    conda:
        "../../envs/cutadapt.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        protocol=PROTOCOL,
        trimming=config["trimming"],
    script:
        "../scripts/trim_collapse.py"
