rule plot_sample_qc:
    """Per-sample bars: library size, miRNA fraction and hemolysis index where available."""
    input:
        counts=count_matrix,
        qc_table=qc_table,
    output:
        report(
            "results/plots/qc/sample_qc.png",
            caption="../report/sample_qc.rst",
            category="QC",
            labels={"figure": "per-sample QC"},
        ),
    log:
        "logs/plot_sample_qc.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=RUN.design_table,
        contrast=RUN.main,
        hemolysis_threshold=RUN.qc.hemolysis_threshold,
    script:
        "../scripts/plot_sample_qc.py"


rule plot_pca:
    """PCA of the variance-stabilised counts, coloured by condition."""
    input:
        vst=rules.fit_diffexp.output.vst,
    output:
        report(
            "results/plots/pca.png",
            caption="../report/pca.rst",
            category="QC",
            labels={"figure": "PCA"},
        ),
    log:
        "logs/plot_pca.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=RUN.design_table,
        contrast=RUN.main,
        covariate=RUN.plot_covariate,
        ntop=config["plots"]["pca_top"],
    script:
        "../scripts/plot_pca.py"


rule plot_contrast:
    """Volcano plot (review-list miRNAs labelled) and MA plot of one contrast."""
    input:
        de="results/de/{contrast}.tsv",
        hits=rules.annotate_resistance.output.hits,
    output:
        volcano=report(
            "results/plots/volcano/{contrast}.png",
            caption="../report/volcano.rst",
            category="Differential expression",
            subcategory="Figures",
            labels={"figure": "volcano", "contrast": "{contrast}"},
        ),
        ma=report(
            "results/plots/ma/{contrast}.png",
            caption="../report/ma.rst",
            category="Differential expression",
            subcategory="Figures",
            labels={"figure": "MA", "contrast": "{contrast}"},
        ),
    log:
        "logs/plot_contrast/{contrast}.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        alpha=config["de"]["alpha"],
        max_labels=config["plots"]["max_labels"],
    script:
        "../scripts/plot_contrast.py"


rule plot_contrast_trna:
    """Volcano and MA plot of the tRNA fragments of one contrast (de.features: trna)."""
    input:
        de="results/de/trna/{contrast}.tsv",
    output:
        volcano=report(
            "results/plots/volcano/trna/{contrast}.png",
            caption="../report/volcano_trna.rst",
            category="Differential expression",
            subcategory="tRNA fragments",
            labels={"figure": "volcano (tRNA)", "contrast": "{contrast}"},
        ),
        ma="results/plots/ma/trna/{contrast}.png",
    log:
        "logs/plot_contrast_trna/{contrast}.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        alpha=config["de"]["alpha"],
        max_labels=config["plots"]["max_labels"],
    script:
        "../scripts/plot_contrast.py"


rule plot_heatmap:
    """Heatmap of the z-scored VST values of the top DE miRNAs of the main contrast."""
    input:
        vst=rules.fit_diffexp.output.vst,
        de=rules.fit_diffexp.output.main,
    output:
        report(
            "results/plots/heatmap_top_de.png",
            caption="../report/heatmap.rst",
            category="Differential expression",
            subcategory="Figures",
            labels={"figure": "heatmap", "contrast": RUN.main.name},
        ),
    log:
        "logs/plot_heatmap.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=RUN.design_table,
        contrast=RUN.main,
        top=config["plots"]["heatmap_top"],
        alpha=config["de"]["alpha"],
    script:
        "../scripts/plot_heatmap.py"


rule plot_review_boxplots:
    """Normalised counts by condition of each significant review-list miRNA."""
    input:
        de=rules.fit_diffexp.output.main,
        hits=rules.annotate_resistance.output.hits,
    output:
        report(
            "results/plots/review_mirnas_boxplots.png",
            caption="../report/review_boxplots.rst",
            category="Resistance annotation",
            labels={"figure": "boxplots", "contrast": RUN.main.name},
        ),
    log:
        "logs/plot_review_boxplots.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=RUN.design_table,
        contrast=RUN.main,
        alpha=config["de"]["alpha"],
    script:
        "../scripts/plot_review_boxplots.py"
