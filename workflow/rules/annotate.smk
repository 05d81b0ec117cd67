rule annotate_resistance:
    """Join DE results to the review's resistance-miRNA list by MIMAT; enrichment tests."""
    input:
        de=f"results/de/{CONTRAST_NAME}.tsv",
        features="results/reference/features.tsv",
        resistance_list=resolve_path(config["resistance_list"]),
    output:
        hits="results/annotation/resistance_hits.tsv",
        enrichment="results/annotation/enrichment.tsv",
    log:
        "logs/annotation/resistance.log",
    conda:
        "../../envs/python.yaml"
    params:
        alpha=config["de"]["alpha"],
        drug=config["drug"],
    script:
        "../scripts/annotate_resistance.py"
