rule align_composition:
    """Inserts still unassigned, to one composition reference; what it leaves goes to the next."""
    input:
        reads=cascade_reads,
        index=multiext(
            "results/reference/bowtie/composition_{reference}", *BOWTIE_INDEX
        ),
    output:
        bam="results/align/composition/{reference}/{sample}.bam",
        unaligned=temp("results/composition/{sample}/after_{reference}.fa"),
    log:
        "logs/align_composition/{sample}.{reference}.log",
    benchmark:
        "results/benchmarks/align_composition/{sample}.{reference}.tsv"
    conda:
        "../../envs/bowtie.yaml"
    # one thread: bowtie writes --un in input order (the next reference sees the same order)
    threads: sizing.ALIGN_MODEL.threads
    resources:
        mem_mb=lambda wildcards, input, attempt: sizing.composition_mem_mb(
            input.reads, input.index, attempt
        ),
        runtime=lambda wildcards, input: sizing.align_runtime(input.reads),
    params:
        index=lambda wildcards, input: input.index[0].removesuffix(BOWTIE_INDEX[0]),
        options=" ".join(alignment_options(config["alignment"]["mismatches"])),
    shell:
        # bowtie writes no --un file when every read aligns (or there is none): touch it
        "bowtie --threads {threads} {params.options} --un {output.unaligned} "
        "-x {params.index} {input.reads} 2> {log} "
        "| samtools view --no-PG -b -o {output.bam} - 2>> {log}; touch {output.unaligned}"


rule summarise_composition:
    """Fate of every raw read per sample (they add up), stacked bars, tRNA-derived miRNAs."""
    input:
        read_fates=expand("results/qc/read_fates/{sample}.json", sample=SAMPLES),
        stages=expand("results/composition/{sample}/stages.json", sample=SAMPLES),
        references=expand(
            "results/align/composition/{reference}/{sample}.bam",
            reference=REFERENCES,
            sample=SAMPLES,
        ),
        features="results/reference/features.tsv",
    output:
        table=report(
            "results/qc/composition.tsv",
            caption="../report/composition_table.rst",
            category="QC",
            labels={"table": "library composition"},
        ),
        plot=report(
            "results/plots/composition.png",
            caption="../report/composition.rst",
            category="QC",
            labels={"figure": "library composition"},
        ),
        mqc="results/qc/multiqc/exomir_composition_mqc.json",
        trna_derived="results/counts/trna_compatible_mirnas.tsv",
    log:
        "logs/summarise_composition.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        samples=SAMPLES,
        references=REFERENCES,
        threshold=config["composition"]["trna_derived_share"],
    script:
        "../scripts/summarise_composition.py"


rule count_spikeins:
    """Reads per spike-in record (composition references with spike_in: true) and sample."""
    input:
        bams=expand(
            "results/align/composition/{reference}/{sample}.bam",
            reference=RUN.spike_ins,
            sample=SAMPLES,
        ),
        fastas=expand(
            "results/reference/composition_{reference}.fa", reference=RUN.spike_ins
        ),
    output:
        report(
            "results/counts/spikein_counts.tsv",
            caption="../report/spikein_counts.rst",
            category="Counts",
            labels={"table": "spike-in counts"},
        ),
    log:
        "logs/count_spikeins.log",
    conda:
        "../../envs/pysam.yaml"
    resources:
        mem_mb=1000,
    params:
        samples=SAMPLES,
        spike_ins=RUN.spike_ins,
        multimappers=config["counting"]["multimappers"],
    script:
        "../scripts/count_spikeins.py"


rule measure_complexity:
    """miRNA detection curves by subsampling each sample's miRNA reads; the complexity score."""
    input:
        counts=rules.merge_counts.output.mature,
    output:
        curves="results/qc/complexity.tsv",
        plot=report(
            "results/plots/complexity.png",
            caption="../report/complexity.rst",
            category="QC",
            labels={"figure": "library complexity"},
        ),
    log:
        "logs/measure_complexity.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        depth=config["qc"]["complexity_depth"],
    script:
        "../scripts/measure_complexity.py"
