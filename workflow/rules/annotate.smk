rule annotate_resistance:
    """Join DE results to the review's resistance-miRNA list by MIMAT; enrichment tests."""
    input:
        de=f"results/de/{RUN.main.name}.tsv",
        features=rules.prepare_reference.output.features,
        resistance_list=RUN.resistance_list,
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
    script:
        "../scripts/annotate_resistance.py"
