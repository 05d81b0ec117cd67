rule extract_species_reference:
    """Mature and hairpin FASTA of a non-human species from the bundled miRBase v22 table."""
    input:
        table=RUN.root / "resources" / "mirbase" / "miRBase_v22_all.csv.gz",
    output:
        mature="results/reference/source/{species}_mature.fa",
        hairpin="results/reference/source/{species}_hairpin.fa",
    log:
        "logs/extract_species_reference/{species}.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/extract_species_reference.py"


rule prepare_reference:
    """Count features (identical mature sequences merged) and mature positions in hairpins."""
    input:
        mature=RUN.reference["mature"],
        hairpin=RUN.reference["hairpin"],
    output:
        mature="results/reference/mature.fa",
        hairpin="results/reference/hairpin.fa",
        features="results/reference/features.tsv",
        locations="results/reference/mature_in_hairpin.tsv",
        mirtop_gff="results/reference/hairpin_coordinates.gff3",
    log:
        "logs/prepare_reference.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    script:
        "../scripts/prepare_reference.py"


rule prepare_trna_reference:
    """Mature tRNAs for bowtie from the feature table (composition.trna_table)."""
    input:
        table=RUN.trna_table or [],
    output:
        fasta="results/reference/trna.fa",
        table="results/reference/trna.tsv",
    log:
        "logs/prepare_trna_reference.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=500,
    script:
        "../scripts/prepare_trna_reference.py"


rule prepare_composition_reference:
    """A composition reference (composition.references) as a DNA FASTA for bowtie-build."""
    input:
        lambda wildcards: RUN.references[REFERENCES.index(wildcards.reference)].fasta,
    output:
        "results/reference/composition_{reference}.fa",
    log:
        "logs/prepare_composition_reference/{reference}.log",
    conda:
        "../../envs/python.yaml"
    resources:
        mem_mb=1000,
    params:
        key=lambda wildcards: f"composition.references[{REFERENCES.index(wildcards.reference)}]",
    script:
        "../scripts/prepare_composition_reference.py"


rule build_bowtie_index:
    """bowtie 1 index of the mature features, hairpins or tRNAs (a few MB, under a second)."""
    input:
        "results/reference/{target}.fa",
    output:
        multiext("results/reference/bowtie/{target}", *BOWTIE_INDEX),
    log:
        "logs/build_bowtie_index/{target}.log",
    benchmark:
        "results/benchmarks/build_bowtie_index/{target}.tsv"
    conda:
        "../../envs/bowtie.yaml"
    threads: 2
    resources:
        mem_mb=lambda wildcards, input: 2000 + 20 * input.size_mb,
    params:
        prefix=lambda wildcards, output: output[0].removesuffix(BOWTIE_INDEX[0]),
    shell:
        "bowtie-build --threads {threads} --seed 1 {input} {params.prefix} > {log} 2>&1"


# A composition reference can be large (piRNAs: hundreds of MB): its own rule, so that a
# cluster run submits it while the small indexes above are built on the submit host.
use rule build_bowtie_index as build_composition_index with:
    input:
        "results/reference/composition_{reference}.fa",
    output:
        multiext("results/reference/bowtie/composition_{reference}", *BOWTIE_INDEX),
    log:
        "logs/build_bowtie_index/composition_{reference}.log",
    benchmark:
        "results/benchmarks/build_bowtie_index/composition_{reference}.tsv"
