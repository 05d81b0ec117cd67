import pandas as pd

from exomir import annotate, count, hemolysis
from exomir.wrapper import run


def main(smk, log):
    de = pd.read_csv(smk.input.de, sep="\t")
    features = pd.read_csv(smk.input.features, sep="\t", dtype=str)
    findings = annotate.read_resistance_list(smk.input.resistance_list)
    alpha = smk.params.alpha
    hits = annotate.resistance_hits(de, features, findings, alpha, smk.params.drug)
    ambiguous, trna_flags = None, None
    if smk.input.get("per_sample"):
        names = list(features["feature"])
        per_sample = dict(enumerate(smk.input.per_sample))
        ambiguous = count.ambiguous_features(per_sample, names, smk.params.ambiguity_flag)
        trna_flags = pd.read_csv(smk.input.trna_derived, sep="\t")
    hits = annotate.add_count_flags(hits, ambiguous, trna_flags)
    hits = hemolysis.add_caution_to_hits(hits, de)
    hits.to_csv(smk.output.hits, sep="\t", index=False, float_format="%.6g")
    enrichment = annotate.enrichment(de, features, findings, alpha)
    enrichment.to_csv(smk.output.enrichment, sep="\t", index=False, float_format="%.6g")
    log.write(f"{len(findings)} findings; {len(hits)} listed miRNAs detected\n")


run(main, snakemake)
