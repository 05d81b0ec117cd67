rule plot_sample_qc:
    """Per-sample bars: library size, miRNA fraction and hemolysis index where available."""
    input:
        unpack(sample_qc_inputs),
    output:
        report(
            "results/plots/qc/sample_qc.png",
            caption="../report/sample_qc.rst",
            category="QC",
            labels={"figure": "per-sample QC"},
        ),
    log:
        "logs/plots/sample_qc.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=DE_SAMPLES,
        contrast=CONTRAST,
        hemolysis_threshold=config["qc"]["hemolysis_threshold"],
    script:
        "../scripts/plot_sample_qc.py"


rule plot_pca:
    """PCA of the variance-stabilised counts, coloured by condition."""
    input:
        vst="results/de/vst.tsv",
    output:
        report(
            "results/plots/pca.png",
            caption="../report/pca.rst",
            category="QC",
            labels={"figure": "PCA"},
        ),
    log:
        "logs/plots/pca.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=DE_SAMPLES,
        contrast=CONTRAST,
        covariate=plot_covariate(),
        ntop=config["plots"]["pca_top"],
    script:
        "../scripts/plot_pca.py"


rule plot_de_contrast:
    """Volcano plot (review-list miRNAs labelled) and MA plot of one contrast."""
    input:
        de="results/de/{contrast}.tsv",
        hits="results/annotation/resistance_hits.tsv",
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
        "logs/plots/de_{contrast}.log",
    wildcard_constraints:
        contrast="|".join(map(re.escape, ALL_CONTRASTS)),
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        alpha=config["de"]["alpha"],
        max_labels=config["plots"]["max_labels"],
    script:
        "../scripts/plot_de.py"


rule plot_heatmap:
    """Heatmap of the z-scored VST values of the top DE miRNAs of the main contrast."""
    input:
        vst="results/de/vst.tsv",
        de=f"results/de/{CONTRAST_NAME}.tsv",
    output:
        report(
            "results/plots/heatmap_top_de.png",
            caption="../report/heatmap.rst",
            category="Differential expression",
            subcategory="Figures",
            labels={"figure": "heatmap", "contrast": CONTRAST_NAME},
        ),
    log:
        "logs/plots/heatmap.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=DE_SAMPLES,
        contrast=CONTRAST,
        top=config["plots"]["heatmap_top"],
        alpha=config["de"]["alpha"],
    script:
        "../scripts/plot_heatmap.py"


rule plot_review_boxplots:
    """Normalised counts by condition of each significant review-list miRNA."""
    input:
        de=f"results/de/{CONTRAST_NAME}.tsv",
        hits="results/annotation/resistance_hits.tsv",
    output:
        report(
            "results/plots/review_mirnas_boxplots.png",
            caption="../report/review_boxplots.rst",
            category="Resistance annotation",
            labels={"figure": "boxplots", "contrast": CONTRAST_NAME},
        ),
    log:
        "logs/plots/review_boxplots.log",
    conda:
        "../../envs/matplotlib.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=DE_SAMPLES,
        contrast=CONTRAST,
        alpha=config["de"]["alpha"],
    script:
        "../scripts/plot_review_boxplots.py"


rule report_provenance:
    """Software versions and sha256 of the reference, list, sheet and count files used."""
    input:
        unpack(provenance_inputs),
    output:
        report(
            "results/report/provenance.tsv",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"table": "versions and checksums"},
        ),
    log:
        "logs/report/provenance.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=500,
    params:
        from_counts=FROM_COUNTS,
        reference=config["reference"],
    script:
        "../scripts/report_provenance.py"
