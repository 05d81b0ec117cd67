"""Snakemake's own cost of a dry run on this host, for comparison with exomir's.

The files of exomir's three per-sample jobs (trimming, bowtie, counting: same
inputs, outputs, logs and benchmark files per sample) and a merge of the
counts, with nothing else: no settings, checks, resource functions, groups or
environments. ``benchmarks/workflow_benchmark.py`` dry-runs it on the same
sample sheet as exomir; the difference is what exomir adds.
"""

import csv

with open(config["samples"]) as handle:
    FASTQ = {
        row["sample"]: row["fastq"] for row in csv.DictReader(handle, delimiter="\t")
    }
SAMPLES = sorted(FASTQ)
STAGES = ["mature", "hairpin", "trna"]


rule all:
    input:
        expand("results/counts/per_sample/{sample}.mature.tsv", sample=SAMPLES),
        "results/counts/mature_counts.tsv",


rule trim_reads:
    input:
        fastq=lambda wildcards: FASTQ[wildcards.sample],
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
    shell:
        "touch {output} {log}"


rule align_reads:
    input:
        reads="results/collapsed/{sample}.fa",
        long="results/collapsed/{sample}.long.fa",
    output:
        bams=expand("results/align/{target}/{{sample}}.bam", target=STAGES),
        remaining="results/composition/{sample}/remaining.fa",
    log:
        "logs/align_reads/{sample}.log",
        stages=expand("logs/align_reads/{{sample}}.{target}.log", target=STAGES),
    benchmark:
        "results/benchmarks/align_reads/{sample}.tsv"
    shell:
        "touch {output} {log}"


rule count_sample:
    input:
        bams=expand("results/align/{target}/{{sample}}.bam", target=STAGES),
        read_fates="results/qc/read_fates/{sample}.json",
    output:
        mature="results/counts/per_sample/{sample}.mature.tsv",
        hairpin="results/counts/per_sample/{sample}.hairpin.tsv",
        trna="results/counts/per_sample/{sample}.trna.tsv",
        isomirs="results/isomirs/{sample}.tsv",
        stages="results/composition/{sample}/stages.json",
    log:
        "logs/count_sample/{sample}.log",
    benchmark:
        "results/benchmarks/count_sample/{sample}.tsv"
    shell:
        "touch {output} {log}"


rule merge_counts:
    input:
        expand(
            "results/counts/per_sample/{sample}.{target}.tsv",
            sample=SAMPLES,
            target=STAGES,
        ),
    output:
        "results/counts/mature_counts.tsv",
    shell:
        "touch {output}"
