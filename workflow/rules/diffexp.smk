rule select_de_samples:
    """Samples left out of DE and the biomarker panel: QC failures, every contrast checked on the rest."""
    input:
        qc_table=qc_table,
    output:
        excluded=report(
            "results/de/excluded_samples.tsv",
            caption="../report/excluded_samples.rst",
            category="QC",
            labels={"table": "samples left out of DE"},
        ),
    log:
        "logs/select_de_samples.log",
    conda:
        "../../envs/python.yaml"
    params:
        sample_table=RUN.design_table,
        contrasts=RUN.contrasts,
        exclude_failed=RUN.qc.exclude_failed_from_de,
    script:
        "../scripts/select_de_samples.py"


rule fit_diffexp:
    """Differential expression of every contrast with PyDESeq2, QC-failed samples left out."""
    input:
        counts=count_matrix,
        qc_table=qc_table,
        features="results/reference/features.tsv",
        blood_cell_list=RUN.blood_cell_list,
        excluded=rules.select_de_samples.output.excluded,
    output:
        main=report(
            f"results/de/{RUN.main.name}.tsv",
            caption="../report/de_table.rst",
            category="Differential expression",
            subcategory="Tables",
            labels={"table": "DE results", "contrast": RUN.main.name},
        ),
        extra=report(
            expand("results/de/{contrast}.tsv", contrast=CONTRASTS[1:]),
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
        index=report(
            "results/qc/hemolysis_index.tsv",
            caption="../report/hemolysis_index.rst",
            category="QC",
            labels={"table": "hemolysis index per sample"},
        ),
        by_group=report(
            "results/qc/hemolysis_by_group.tsv",
            caption="../report/hemolysis_by_group.rst",
            category="QC",
            labels={"table": "hemolysis by group"},
        ),
        figure=report(
            "results/plots/qc/hemolysis_by_group.png",
            caption="../report/hemolysis_by_group_plot.rst",
            category="QC",
            labels={"figure": "hemolysis by group"},
        ),
        caution=report(
            expand("results/de/{contrast}.blood_cell_caution.tsv", contrast=CONTRASTS),
            caption="../report/blood_cell_caution.rst",
            category="Differential expression",
            subcategory="Hemolysis",
        ),
        adjusted=report(
            expand("results/de/{contrast}.hemolysis_adjusted.tsv", contrast=CONTRASTS),
            caption="../report/hemolysis_adjusted.rst",
            category="Differential expression",
            subcategory="Hemolysis",
        ),
        changes=report(
            expand("results/de/{contrast}.hemolysis_changes.tsv", contrast=CONTRASTS),
            caption="../report/hemolysis_changes.rst",
            category="Differential expression",
            subcategory="Hemolysis",
        ),
    log:
        "logs/fit_diffexp.log",
    benchmark:
        "results/benchmarks/fit_diffexp/pydeseq2.tsv"
    conda:
        "../../envs/pydeseq2.yaml"
    threads: sizing.DE_THREADS
    resources:
        mem_mb=4000,
    params:
        sample_table=RUN.design_table,
        contrasts=RUN.contrasts,
        de=config["de"],
        counts_name_prefix=config["counts_name_prefix"],
        hemolysis=config["hemolysis"],
        hemolysis_index=(RUN.qc.hemolysis_mirnas, RUN.qc.hemolysis_min_reads),
        threshold=RUN.qc.hemolysis_threshold,
    script:
        "../scripts/fit_diffexp.py"


rule fit_diffexp_trna:
    """Differential expression of tRNA fragments (de.features: trna), as for the miRNAs."""
    input:
        counts=rules.merge_counts.output.trna,
        excluded=rules.select_de_samples.output.excluded,
    output:
        main=report(
            f"results/de/trna/{RUN.main.name}.tsv",
            caption="../report/de_table_trna.rst",
            category="Differential expression",
            subcategory="tRNA fragments",
            labels={"table": "tRNA fragment DE", "contrast": RUN.main.name},
        ),
        extra=expand("results/de/trna/{contrast}.tsv", contrast=CONTRASTS[1:]),
        vst="results/de/trna/vst.tsv",
        size_factors="results/de/trna/size_factors.tsv",
    log:
        "logs/fit_diffexp_trna.log",
    benchmark:
        "results/benchmarks/fit_diffexp_trna/pydeseq2.tsv"
    conda:
        "../../envs/pydeseq2.yaml"
    threads: sizing.DE_THREADS
    resources:
        mem_mb=4000,
    params:
        sample_table=RUN.design_table,
        contrasts=RUN.contrasts,
        de=config["de"],
        counts_name_prefix="",
        hemolysis=None,
    script:
        "../scripts/fit_diffexp.py"
