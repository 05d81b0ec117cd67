rule annotate_resistance:
    """Join DE results to the review's resistance-miRNA list by MIMAT; enrichment tests."""
    input:
        de=f"results/de/{RUN.main.name}.tsv",
        features="results/reference/features.tsv",
        resistance_list=RUN.resistance_list,
        per_sample=(
            []
            if RUN.from_counts
            else expand(
                "results/counts/per_sample/{sample}.mature.tsv", sample=SAMPLES
            )
        ),
        trna_derived=(
            [] if RUN.from_counts else "results/counts/trna_compatible_mirnas.tsv"
        ),
    output:
        hits=report(
            "results/annotation/resistance_hits.tsv",
            caption="../report/resistance_hits.rst",
            category="Resistance annotation",
            labels={"table": "review-list miRNAs detected"},
        ),
        enrichment=report(
            "results/annotation/enrichment.tsv",
            caption="../report/enrichment.rst",
            category="Resistance annotation",
            labels={"table": "enrichment tests"},
        ),
    log:
        "logs/annotate_resistance.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    params:
        alpha=config["de"]["alpha"],
        drug=config["drug"],
        ambiguity_flag=config["counting"]["ambiguity_flag"],
    script:
        "../scripts/annotate_resistance.py"
