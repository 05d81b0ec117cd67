rule fit_biomarker:
    """Nested cross-validated miRNA panel for the main contrast, permutation test, final model."""
    input:
        counts=count_matrix,
        excluded=rules.select_de_samples.output.excluded,
        features="results/reference/features.tsv",
        resistance_list=RUN.resistance_list,
    output:
        performance=report(
            "results/biomarker/performance.tsv",
            caption="../report/biomarker_performance.rst",
            category="Biomarker",
            labels={"table": "cross-validated performance"},
        ),
        signature=report(
            "results/biomarker/signature.tsv",
            caption="../report/biomarker_signature.rst",
            category="Biomarker",
            labels={"table": "signature"},
        ),
        predictions=report(
            "results/biomarker/predictions.tsv",
            caption="../report/biomarker_predictions.rst",
            category="Biomarker",
            labels={"table": "out-of-fold predictions"},
        ),
        permutations="results/biomarker/permutations.tsv",
        roc="results/biomarker/roc.tsv",
        summary="results/biomarker/summary.txt",
        model="results/biomarker/model.joblib",
        model_metadata="results/biomarker/model.json",
        roc_plot=report(
            "results/biomarker/roc.png",
            caption="../report/biomarker_roc.rst",
            category="Biomarker",
            labels={"figure": "ROC"},
        ),
        calibration_plot=report(
            "results/biomarker/calibration.png",
            caption="../report/biomarker_calibration.rst",
            category="Biomarker",
            labels={"figure": "calibration"},
        ),
        signature_plot=report(
            "results/biomarker/signature.png",
            caption="../report/biomarker_signature_plot.rst",
            category="Biomarker",
            labels={"figure": "signature"},
        ),
        permutation_plot=report(
            "results/biomarker/permutations.png",
            caption="../report/biomarker_permutations.rst",
            category="Biomarker",
            labels={"figure": "permutation test"},
        ),
    log:
        "logs/fit_biomarker.log",
    benchmark:
        "results/benchmarks/fit_biomarker/fit.tsv"
    conda:
        "../../envs/biomarker.yaml"
    threads: sizing.biomarker_threads(RUN.biomarker_may_run)
    resources:
        mem_mb=2000,
    params:
        settings=config["biomarker"],
        contrast=RUN.main,
        sample_table=RUN.design_table,
        categorical=config["categorical"],
        counts_name_prefix=config["counts_name_prefix"],
    script:
        "../scripts/fit_biomarker.py"


rule apply_biomarker:
    """Score this run's samples with a saved biomarker model (biomarker.apply_model)."""
    input:
        counts=count_matrix,
        qc_table=qc_table,
        model=RUN.apply_model or [],
    output:
        predictions=report(
            "results/biomarker/new_predictions.tsv",
            caption="../report/biomarker_new_predictions.rst",
            category="Biomarker",
            labels={"table": "new samples scored"},
        ),
    log:
        "logs/apply_biomarker.log",
    conda:
        "../../envs/biomarker.yaml"
    resources:
        mem_mb=1000,
    params:
        sample_table=RUN.design_table,
        counts_name_prefix=config["counts_name_prefix"],
        exclude_failed=RUN.qc.exclude_failed_from_de,
    script:
        "../scripts/apply_biomarker.py"
