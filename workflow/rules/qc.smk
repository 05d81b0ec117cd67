rule summarise_qc:
    """exRNA QC table: read fates, miRNA yield, kit check, hemolysis index, pass/warn/fail."""
    input:
        read_fates=expand("results/qc/read_fates/{sample}.json", sample=SAMPLES),
        kit_records=expand("results/qc/kit/{sample}.json", sample=SAMPLES),
        lengths=expand("results/qc/lengths/{sample}.tsv", sample=SAMPLES),
        counts="results/counts/mature_counts.tsv",
        complexity="results/qc/complexity.tsv",
    output:
        table=report(
            QC_TABLE,
            caption="../report/sample_qc_table.rst",
            category="QC",
            labels={"table": "sample QC"},
        ),
        mqc_table="results/qc/multiqc/exomir_sample_qc_mqc.json",
        mqc_lengths="results/qc/multiqc/exomir_insert_lengths_mqc.json",
        mqc_config="results/qc/multiqc/multiqc_config.yaml",
    log:
        "logs/summarise_qc.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    params:
        samples=SAMPLES,
        qc=RUN.qc,
    script:
        "../scripts/summarise_qc.py"


rule build_multiqc_report:
    """One MultiQC report: cutadapt, bowtie, umi_tools, mirtop and the exomir QC (custom content)."""
    input:
        cutadapt=expand("results/qc/cutadapt/{sample}.cutadapt.json", sample=SAMPLES),
        bowtie=expand("logs/align_reads/{sample}.hairpin.log", sample=SAMPLES),
        umi_tools=expand("logs/trim_reads/{sample}.extract.log", sample=RUN.umi_samples),
        mirtop="results/isomirs/mirtop/isomirs_mirtop_stats.log",
        custom=[
            "results/qc/multiqc/exomir_sample_qc_mqc.json",
            "results/qc/multiqc/exomir_insert_lengths_mqc.json",
            "results/qc/multiqc/exomir_composition_mqc.json",
        ],
        config="results/qc/multiqc/multiqc_config.yaml",
    output:
        html=report(
            "results/qc/multiqc_report.html",
            caption="../report/multiqc.rst",
            category="QC",
            labels={"report": "MultiQC"},
        ),
        data=directory("results/qc/multiqc_report_data"),
    log:
        "logs/build_multiqc_report.log",
    benchmark:
        "results/benchmarks/build_multiqc_report/multiqc.tsv"
    conda:
        "../../envs/multiqc.yaml"
    resources:
        mem_mb=2000,
    params:
        outdir=lambda wildcards, output: Path(output.html).parent,
    shell:
        "multiqc --force --config {input.config} --outdir {params.outdir} "
        "--filename multiqc_report.html {input.cutadapt} {input.bowtie} {input.umi_tools} "
        "{input.mirtop} {input.custom} > {log} 2>&1"
