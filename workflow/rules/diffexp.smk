rule pydeseq2_diffexp:
    """Differential expression case vs control with PyDESeq2 (design and contrast from the config)."""
    input:
        counts=count_matrix(),
        samples=resolve_path(config["samples"]),
    output:
        table=f"results/de/{CONTRAST_NAME}.tsv",
        vst="results/de/vst.tsv",
        size_factors="results/de/size_factors.tsv",
    log:
        "logs/de/pydeseq2.log",
    benchmark:
        "results/benchmarks/de/pydeseq2.tsv"
    conda:
        "../../envs/pydeseq2.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        design=config["design"],
        contrast=CONTRAST,
        de=config["de"],
        sample_table=samples.drop(columns=["fastq"], errors="ignore"),
    script:
        "../scripts/pydeseq2_diffexp.py"
