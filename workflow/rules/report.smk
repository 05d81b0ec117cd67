rule record_provenance:
    """Software versions and sha256 of the reference, list, sheet and count files used."""
    input:
        unpack(lambda wildcards: RUN.checksummed_files()),
    output:
        report(
            "results/report/provenance.tsv",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"table": "versions and checksums"},
        ),
    log:
        "logs/record_provenance.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=500,
    params:
        from_counts=RUN.from_counts,
        reference=config["reference"],
    script:
        "../scripts/record_provenance.py"
