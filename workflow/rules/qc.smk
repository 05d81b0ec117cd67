rule exomir_sample_qc:
    """exRNA QC table: read fates, miRNA yield, hemolysis index, pass/warn/fail per sample."""
    input:
        summaries=expand("results/qc/preprocess/{sample}.json", sample=SAMPLES),
        protocols=expand("results/qc/adapter/{sample}.json", sample=SAMPLES),
        lengths=expand("results/qc/lengths/{sample}.tsv", sample=SAMPLES),
        counts="results/counts/mature_counts.tsv",
    output:
        table=report(
            "results/qc/sample_qc.tsv",
            caption="../report/sample_qc_table.rst",
            category="QC",
            labels={"table": "sample QC"},
        ),
        mqc_table="results/qc/multiqc/exomir_sample_qc_mqc.json",
        mqc_lengths="results/qc/multiqc/exomir_insert_lengths_mqc.json",
        mqc_config="results/qc/multiqc/multiqc_config.yaml",
    log:
        "logs/qc/sample_qc.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    params:
        samples=SAMPLES,
        qc=config["qc"],
    script:
        "../scripts/sample_qc.py"


rule multiqc_report:
    """One MultiQC report: cutadapt, bowtie, umi_tools and the exomir QC table (custom content)."""
    input:
        cutadapt=expand("results/qc/cutadapt/{sample}.cutadapt.json", sample=SAMPLES),
        bowtie=expand(
            "logs/bowtie/{sample}.{target}.log",
            sample=SAMPLES,
            target=["mature", "hairpin"],
        ),
        umi=expand("logs/umi_tools/{sample}.extract.log", sample=SAMPLES),
        mirtop="results/isomirs/mirtop/isomirs_mirtop_stats.log",
        custom=[
            "results/qc/multiqc/exomir_sample_qc_mqc.json",
            "results/qc/multiqc/exomir_insert_lengths_mqc.json",
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
        "logs/qc/multiqc.log",
    benchmark:
        "results/benchmarks/multiqc/multiqc.tsv"
    conda:
        "../../envs/multiqc.yaml"
    resources:
        mem_mb=2000,
    params:
        outdir=lambda wildcards, output: Path(output.html).parent,
    shell:
        "multiqc --force --config {input.config} --outdir {params.outdir} "
        "--filename multiqc_report.html {input.cutadapt} {input.bowtie} {input.umi} {input.mirtop} "
        "{input.custom} > {log} 2>&1"
