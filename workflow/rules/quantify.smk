rule bowtie_align_mature:
    """Unique inserts, end to end, to the mature features (identical sequences merged)."""
    input:
        reads="results/collapsed/{sample}.fa",
        index=multiext(
            "results/reference/bowtie/mature_features", ".1.ebwt", ".rev.1.ebwt"
        ),
    output:
        bam="results/align/mature/{sample}.bam",
    log:
        "logs/bowtie/{sample}.mature.log",
    benchmark:
        "results/benchmarks/bowtie/{sample}.mature.tsv"
    conda:
        "../../envs/bowtie.yaml"
    threads: 2
    resources:
        mem_mb=1000,
    params:
        index=lambda wildcards, input: input.index[0].removesuffix(".1.ebwt"),
        mismatches=config["alignment"]["mismatches"],
    shell:
        "bowtie --threads {threads} -f -v {params.mismatches} -a --best --strata "
        "--norc --sam --no-unal -x {params.index} {input.reads} 2> {log} "
        "| samtools view --no-PG -b -o {output.bam} - 2>> {log}"


rule bowtie_align_hairpin:
    """Unique inserts to the hairpins: isomiRs that extend past the mature, and precursor reads."""
    input:
        reads="results/collapsed/{sample}.fa",
        index=multiext("results/reference/bowtie/hairpin", ".1.ebwt", ".rev.1.ebwt"),
    output:
        bam="results/align/hairpin/{sample}.bam",
    log:
        "logs/bowtie/{sample}.hairpin.log",
    benchmark:
        "results/benchmarks/bowtie/{sample}.hairpin.tsv"
    conda:
        "../../envs/bowtie.yaml"
    threads: 2
    resources:
        mem_mb=1000,
    params:
        index=lambda wildcards, input: input.index[0].removesuffix(".1.ebwt"),
        mismatches=config["alignment"]["mismatches"],
    shell:
        "bowtie --threads {threads} -f -v {params.mismatches} -a --best --strata "
        "--norc --sam --no-unal -x {params.index} {input.reads} 2> {log} "
        "| samtools view --no-PG -b -o {output.bam} - 2>> {log}"


rule pysam_count_sample:
    """isomiR-aware mature and hairpin counts of one sample, weighted by collapse multiplicity."""
    input:
        mature_bam="results/align/mature/{sample}.bam",
        hairpin_bam="results/align/hairpin/{sample}.bam",
        locations="results/reference/mature_in_hairpin.tsv",
    output:
        mature="results/counts/per_sample/{sample}.mature.tsv",
        hairpin="results/counts/per_sample/{sample}.hairpin.tsv",
        isomirs="results/isomirs/{sample}.tsv",
    log:
        "logs/counts/{sample}.log",
    benchmark:
        "results/benchmarks/counts/{sample}.tsv"
    conda:
        "../../envs/pysam.yaml"
    resources:
        mem_mb=1000,
    params:
        tolerance_5p=config["alignment"]["tolerance_5p"],
        tolerance_3p=config["alignment"]["tolerance_3p"],
    script:
        "../scripts/count_sample.py"


rule count_matrix:
    """Integer miRNA x sample matrices (every reference feature, zeros included)."""
    input:
        mature=expand("results/counts/per_sample/{sample}.mature.tsv", sample=SAMPLES),
        hairpin=expand("results/counts/per_sample/{sample}.hairpin.tsv", sample=SAMPLES),
        features="results/reference/features.tsv",
        hairpins="results/reference/hairpin.fa",
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
    log:
        "logs/counts/matrix.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    params:
        samples=SAMPLES,
    script:
        "../scripts/count_matrix.py"


rule mirtop_isomirs:
    """isomiR annotation in the mirGFF3 standard (mirtop) from the hairpin alignments of all samples."""
    input:
        bams=expand("results/align/hairpin/{sample}.bam", sample=SAMPLES),
        hairpin="results/reference/hairpin.fa",
        gff="results/reference/hairpin_coordinates.gff3",
    output:
        gff="results/isomirs/mirtop/mirtop.gff",
        stats="results/isomirs/mirtop/mirtop_stats.txt",
        stats_multiqc="results/isomirs/mirtop/isomirs_mirtop_stats.log",
    log:
        "logs/mirtop/mirtop.log",
    benchmark:
        "results/benchmarks/mirtop/mirtop.tsv"
    conda:
        "../../envs/mirtop.yaml"
    resources:
        mem_mb=2000,
    params:
        outdir=lambda wildcards, output: Path(output.gff).parent,
        species=config["reference"]["species"],
    shell:
        "(mirtop gff --format BAM --sps {params.species} --hairpin {input.hairpin} "
        "--gtf {input.gff} -o {params.outdir} {input.bams} "
        "&& mirtop stats -o {params.outdir} {output.gff} "
        # MultiQC's mirtop module looks for *_mirtop_stats.log
        "&& cp {params.outdir}/mirtop_stats.log {output.stats_multiqc}) > {log} 2>&1"
