rule align_reads:
    """Unique inserts of one sample, end to end, to the hairpins, the mature features (hairpin
    hits) and the tRNAs; the inserts no stage aligned go to the composition cascade."""
    input:
        reads="results/collapsed/{sample}.fa",
        long="results/collapsed/{sample}.long.fa",
        index=expand("results/reference/bowtie/{target}.1.ebwt", target=STAGES),
        features="results/reference/features.tsv",
        locations="results/reference/mature_in_hairpin.tsv",
    output:
        bams=expand("results/align/{target}/{{sample}}.bam", target=STAGES),
        remaining="results/composition/{sample}/remaining.fa",
    log:
        "logs/align_reads/{sample}.log",
        stages=expand("logs/align_reads/{{sample}}.{target}.log", target=STAGES),
    benchmark:
        "results/benchmarks/align_reads/{sample}.tsv"
    conda:
        "../../envs/bowtie.yaml"
    threads: sizing.ALIGN_MODEL.threads
    resources:
        mem_mb=lambda wildcards, input, attempt: sizing.align_mem_mb(
            input.reads, attempt
        ),
        runtime=lambda wildcards, input: len(STAGES) * sizing.align_runtime(input.reads),
    params:
        stages=STAGES,
        mismatches=config["alignment"]["mismatches"],
    script:
        "../scripts/align_reads.py"


rule count_sample:
    """miRNA (isomiR-aware) and tRNA-fragment counts of one sample, from its stage alignments."""
    input:
        mature_bam="results/align/mature/{sample}.bam",
        hairpin_bam="results/align/hairpin/{sample}.bam",
        trna_bam="results/align/trna/{sample}.bam" if RUN.trna_table else [],
        read_fates=rules.trim_reads.output.read_fates,
        locations=rules.prepare_reference.output.locations,
        trna_table="results/reference/trna.tsv" if RUN.trna_table else [],
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
    conda:
        "../../envs/pysam.yaml"
    resources:
        mem_mb=lambda wildcards, input, attempt: sizing.count_mem_mb(
            counted_files(input), attempt
        ),
        runtime=lambda wildcards, input: sizing.count_runtime(counted_files(input)),
    params:
        alignment=config["alignment"],
        multimappers=config["counting"]["multimappers"],
    script:
        "../scripts/count_sample.py"


rule merge_counts:
    """Integer miRNA x sample matrices (every reference feature, zeros included)."""
    input:
        mature=expand("results/counts/per_sample/{sample}.mature.tsv", sample=SAMPLES),
        hairpin=expand("results/counts/per_sample/{sample}.hairpin.tsv", sample=SAMPLES),
        trna=expand("results/counts/per_sample/{sample}.trna.tsv", sample=SAMPLES),
        features="results/reference/features.tsv",
        hairpins="results/reference/hairpin.fa",
        trna_table="results/reference/trna.tsv" if RUN.trna_table else [],
    output:
        mature=report(
            "results/counts/mature_counts.tsv",
            caption="../report/mature_counts.rst",
            category="Counts",
            labels={"table": "mature miRNA counts"},
        ),
        hairpin=report(
            "results/counts/hairpin_counts.tsv",
            caption="../report/hairpin_counts.rst",
            category="Counts",
            labels={"table": "hairpin counts"},
        ),
        mature_ambiguity=report(
            "results/counts/mature_ambiguity.tsv",
            caption="../report/ambiguity.rst",
            category="Counts",
            labels={"table": "mature ambiguity"},
        ),
        hairpin_ambiguity="results/counts/hairpin_ambiguity.tsv",
        trna=report(
            "results/counts/trna_counts.tsv",
            caption="../report/trna_counts.rst",
            category="Counts",
            labels={"table": "tRNA fragment counts"},
        ),
    log:
        "logs/merge_counts.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    params:
        samples=SAMPLES,
    script:
        "../scripts/merge_counts.py"


rule annotate_isomirs:
    """isomiR annotation in the mirGFF3 standard (mirtop): each distinct hairpin-aligned insert once, counts per sample."""
    input:
        bams=expand("results/align/hairpin/{sample}.bam", sample=SAMPLES),
        hairpin="results/reference/hairpin.fa",
        gff="results/reference/hairpin_coordinates.gff3",
    output:
        gff="results/isomirs/mirtop/mirtop.gff",
        stats="results/isomirs/mirtop/mirtop_stats.txt",
        stats_multiqc="results/isomirs/mirtop/isomirs_mirtop_stats.log",
    log:
        "logs/annotate_isomirs.log",
    benchmark:
        "results/benchmarks/annotate_isomirs/mirtop.tsv"
    conda:
        "../../envs/mirtop.yaml"
    resources:
        mem_mb=2000,
    params:
        species=config["reference"]["species"],
    script:
        "../scripts/annotate_isomirs.py"
