rule mirbase_extract_species:
    """Mature and hairpin FASTA of a non-human species from the bundled miRBase v22 table."""
    input:
        table=WORKFLOW_ROOT / "resources" / "mirbase" / "miRBase_v22_all.csv.gz",
    output:
        mature="results/reference/source/{species}_mature.fa",
        hairpin="results/reference/source/{species}_hairpin.fa",
    log:
        "logs/reference/extract_{species}.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/extract_species.py"


rule reference_prepare:
    """Count features (identical mature sequences merged) and mature positions in hairpins."""
    input:
        unpack(reference_sources),
    output:
        mature="results/reference/mature_features.fa",
        hairpin="results/reference/hairpin.fa",
        features="results/reference/features.tsv",
        locations="results/reference/mature_in_hairpin.tsv",
        mirtop_gff="results/reference/hairpin_coordinates.gff3",
    log:
        "logs/reference/prepare.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/prepare_reference.py"


rule bowtie_build:
    input:
        "results/reference/{target}.fa",
    output:
        multiext(
            "results/reference/bowtie/{target}",
            ".1.ebwt",
            ".2.ebwt",
            ".3.ebwt",
            ".4.ebwt",
            ".rev.1.ebwt",
            ".rev.2.ebwt",
        ),
    log:
        "logs/reference/bowtie_build_{target}.log",
    benchmark:
        "results/benchmarks/reference/bowtie_build_{target}.tsv"
    wildcard_constraints:
        target="mature_features|hairpin",
    conda:
        "../../envs/bowtie.yaml"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        prefix=lambda wildcards, output: output[0].removesuffix(".1.ebwt"),
    shell:
        "bowtie-build --threads {threads} --seed 1 {input} {params.prefix} > {log} 2>&1"
