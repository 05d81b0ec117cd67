rule pydeseq2_diffexp:
    """Differential expression case vs control with PyDESeq2 (design and contrast from the config)."""
    input:
        counts=count_matrix(),
        samples=resolve_path(config["samples"]),
        qc_table=de_qc_table,
    output:
        table=report(
            f"results/de/{CONTRAST_NAME}.tsv",
            caption="../report/de_table.rst",
            category="Differential expression",
            subcategory="Tables",
            labels={"table": "DE results", "contrast": CONTRAST_NAME},
        ),
        extra=report(
            expand("results/de/{contrast}.tsv", contrast=EXTRA_CONTRASTS),
            caption="../report/de_table_extra.rst",
            category="Differential expression",
            subcategory="Tables",
        ),
        vst=report(
            "results/de/vst.tsv",
            caption="../report/vst.rst",
            category="Counts",
            labels={"table": "variance-stabilised counts"},
        ),
        size_factors=report(
            "results/de/size_factors.tsv",
            caption="../report/size_factors.rst",
            category="Counts",
            labels={"table": "size factors"},
        ),
        excluded=report(
            "results/de/excluded_samples.tsv",
            caption="../report/excluded_samples.rst",
            category="QC",
            labels={"table": "samples left out of DE"},
        ),
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
        sample_table=DE_SAMPLES,
        extra_contrasts=config["de"]["extra_contrasts"],
        exclude_failed=config["qc"]["exclude_failed_from_de"],
    script:
        "../scripts/pydeseq2_diffexp.py"
