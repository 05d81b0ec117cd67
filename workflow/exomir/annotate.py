"""Annotation of differential-expression results with the resistance-miRNA list.

The join is on MIMAT accessions, never on names: names change between miRBase
versions, and one count feature may stand for several mature miRNAs with
identical sequences. A finding whose miRNA arm the review left open lists every
arm, so it matches whichever arm was detected.

The contrast's *case* level is taken to be the resistant group: a positive
log2 fold change means "higher in resistance".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

LIST_COLUMNS = (
    "mirna_as_written",
    "mirbase_ids",
    "arm_resolved",
    "mimat",
    "role",
    "direction_in_resistance",
    "drugs",
    "cancer",
    "target_or_mechanism",
    "evidence",
    "source",
    "ref",
    "section",
)
ROLES = ("resistance", "sensitizing", "biomarker")
DE_COLUMNS = ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]


def read_resistance_list(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in LIST_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"resistance list {path}: missing column(s) {', '.join(missing)}")
    return table


def known_drugs(findings: pd.DataFrame) -> list[str]:
    return sorted({d for cell in findings["drugs"] for d in cell.split(";") if d})


def check_drug(drug: str, findings: pd.DataFrame) -> None:
    if drug and drug not in known_drugs(findings):
        raise ValueError(
            f"drug '{drug}' is not in the resistance list; known drugs: "
            + ", ".join(known_drugs(findings))
        )


def feature_accessions(features: pd.DataFrame) -> dict[str, set[str]]:
    """Count-row name → its MIMAT accessions (from the reference's features.tsv).

    A row matches by feature name (all accessions of a merged feature) or, for
    count matrices from other pipelines, by one member mature name (e.g.
    ``hsa-miR-199a-3p`` of ``hsa-miR-199a-3p/hsa-miR-199b-3p``), which maps to
    that mature miRNA's own accession. Feature names take precedence.
    """
    accessions: dict[str, set[str]] = {}
    names = features["mature_names"] if "mature_names" in features else features["feature"]
    for members, mimat in zip(names, features["mimat"]):
        member_names = [n for n in str(members).split(";") if n]
        member_accs = [a for a in str(mimat).split(";") if a]
        aligned = len(member_names) == len(member_accs)
        for i, name in enumerate(member_names):
            own = {member_accs[i]} if aligned else set(member_accs)
            accessions.setdefault(name, set()).update(own)
    accessions.update(
        {f: set(m.split(";")) for f, m in zip(features["feature"], features["mimat"])}
    )
    return accessions


def match_findings(
    de: pd.DataFrame, accessions: dict[str, set[str]], findings: pd.DataFrame
) -> dict[str, list[int]]:
    """DE feature → row positions of the findings sharing a MIMAT accession with it."""
    by_accession: dict[str, list[int]] = {}
    for pos, cell in enumerate(findings["mimat"]):
        for acc in cell.split(";"):
            by_accession.setdefault(acc, []).append(pos)
    matches = {}
    for feature in de["feature"]:
        rows = sorted(
            {pos for acc in accessions.get(feature, ()) for pos in by_accession.get(acc, [])}
        )
        if rows:
            matches[feature] = rows
    return matches


def direction_consistent(log2_fold_change: float, expected: set[str]) -> str:
    """yes / no / unknown: does the observed sign agree with the expected level in resistance?"""
    expected = {e for e in expected if e in ("up", "down")}
    if len(expected) != 1 or log2_fold_change is None or not np.isfinite(log2_fold_change):
        return "unknown"
    if log2_fold_change == 0:
        return "unknown"
    observed = "up" if log2_fold_change > 0 else "down"
    return "yes" if observed in expected else "no"


def _collapse(values) -> str:
    return "; ".join(dict.fromkeys(v for v in values if v))


def _describe(finding) -> str:
    return (
        f"{finding.mirna_as_written}: {finding.role}, {finding.direction_in_resistance} in "
        f"resistance, {finding.drugs}, {finding.cancer} [{finding.source} ref {finding.ref}]"
    )


def resistance_hits(
    de: pd.DataFrame,
    features: pd.DataFrame,
    findings: pd.DataFrame,
    alpha: float = 0.05,
    drug: str = "",
) -> pd.DataFrame:
    """One row per listed miRNA feature present in the DE table, findings collapsed."""
    check_drug(drug, findings)
    accessions = feature_accessions(features)
    matches = match_findings(de, accessions, findings)
    de_by_feature = de.set_index("feature")
    rows = []
    for feature, positions in matches.items():
        f = findings.iloc[positions]
        stats_row = de_by_feature.loc[feature]
        lfc = float(stats_row["log2FoldChange"])
        padj = stats_row["padj"]
        for_drug = f["drugs"].str.split(";").apply(lambda ds: drug in ds)
        ordered = pd.concat([f[for_drug], f[~for_drug]])
        rows.append(
            {
                "feature": feature,
                "mimat": ";".join(sorted(accessions[feature])),
                **{c: stats_row[c] for c in DE_COLUMNS},
                "significant": "yes" if pd.notna(padj) and padj < alpha else "no",
                "observed_direction": "up" if lfc > 0 else "down" if lfc < 0 else "none",
                "direction_in_resistance": _collapse(sorted(set(f["direction_in_resistance"]))),
                "direction_consistent": direction_consistent(
                    lfc, set(f["direction_in_resistance"])
                ),
                "drug_focus": "yes" if for_drug.any() else "no",
                "n_findings": len(f),
                "roles": _collapse(sorted(set(f["role"]))),
                "drugs": _collapse(sorted({d for cell in f["drugs"] for d in cell.split(";")})),
                "cancers": _collapse(sorted(set(f["cancer"]))),
                "mirna_as_written": _collapse(sorted(set(f["mirna_as_written"]))),
                "findings": " | ".join(_describe(r) for r in ordered.itertuples()),
            }
        )
    hits = pd.DataFrame(rows)
    if hits.empty:
        return pd.DataFrame(columns=["feature", "mimat", *DE_COLUMNS, "significant"])
    hits["_focus"] = hits["drug_focus"] != "yes"
    hits["_sig"] = hits["significant"] != "yes"
    hits = hits.sort_values(
        ["_focus", "_sig", "padj", "pvalue", "feature"], na_position="last", kind="mergesort"
    )
    hits = hits.drop(columns=["_focus", "_sig"])
    if not drug:
        hits = hits.drop(columns=["drug_focus"])
    return hits.reset_index(drop=True)


def enrichment(
    de: pd.DataFrame,
    features: pd.DataFrame,
    findings: pd.DataFrame,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Is the list over-represented among DE miRNAs? Fisher (cut-off) and rank (no cut-off) tests.

    Universe: features with a p-value. Fisher's exact test (one-sided, greater)
    on listed/not × significant/not, effect = odds ratio. Mann-Whitney U test
    (one-sided, greater) of |Wald statistic| of listed vs other features,
    effect = AUC = U / (n_listed · n_other), the chance that a listed miRNA has
    the larger |stat|. Overall and per role.
    """
    tested = de[de["pvalue"].notna()]
    accessions = feature_accessions(features)
    matches = match_findings(tested, accessions, findings)
    significant = (tested["padj"] < alpha).fillna(False).to_numpy()
    abs_stat = tested["stat"].abs().to_numpy()
    rows = []
    subsets = [("all", findings.index)] + [
        (role, findings.index[findings["role"] == role]) for role in ROLES
    ]
    for subset, index in subsets:
        positions = set(findings.index.get_indexer(index))
        listed = np.array([bool(set(matches.get(f, ())) & positions) for f in tested["feature"]])
        a = int((listed & significant).sum())
        b = int((listed & ~significant).sum())
        c = int((~listed & significant).sum())
        d = int((~listed & ~significant).sum())
        base = {
            "subset": subset,
            "n_tested": len(tested),
            "n_listed": int(listed.sum()),
            "n_significant": int(significant.sum()),
            "n_listed_significant": a,
        }
        odds, p_fisher = fisher_greater(a, b, c, d)
        rows.append(
            {
                "test": "fisher_exact",
                **base,
                "effect_measure": "odds_ratio",
                "effect_size": odds,
                "pvalue": p_fisher,
            }
        )
        auc, p_rank = rank_test(abs_stat[listed], abs_stat[~listed])
        rows.append(
            {
                "test": "mann_whitney_abs_stat",
                **base,
                "effect_measure": "auc",
                "effect_size": auc,
                "pvalue": p_rank,
            }
        )
    return pd.DataFrame(rows)


def fisher_greater(a: int, b: int, c: int, d: int) -> tuple[float, float]:
    """Odds ratio and one-sided p of [[a, b], [c, d]] (listed row first, significant column first)."""
    if (a + b) == 0 or (c + d) == 0:
        return math.nan, math.nan
    result = stats.fisher_exact([[a, b], [c, d]], alternative="greater")
    return float(result.statistic), float(result.pvalue)


def rank_test(listed: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """AUC and one-sided Mann-Whitney p that ``listed`` values are larger."""
    if len(listed) == 0 or len(other) == 0:
        return math.nan, math.nan
    result = stats.mannwhitneyu(listed, other, alternative="greater", method="auto")
    return float(result.statistic) / (len(listed) * len(other)), float(result.pvalue)


def add_count_flags(
    hits: pd.DataFrame, ambiguous: dict[str, float] | None, trna_flags: pd.DataFrame | None
) -> pd.DataFrame:
    """The hits with the counting caveats of each miRNA (``NA`` for a counts: run).

    ``ambiguous_share`` and ``paralog_ambiguous``: the share of the miRNA's reads that
    came from inserts compatible with several miRNAs, pooled over samples, and whether
    it is above ``counting.ambiguity_flag`` (``ambiguous`` maps the flagged features to
    their share; :func:`exomir.count.ambiguous_features`). ``mostly_trna``: its
    candidate reads were mostly tRNA-compatible
    (``results/counts/trna_compatible_mirnas.tsv``).
    """
    hits = hits.copy()
    if ambiguous is None or trna_flags is None:
        hits["paralog_ambiguous"] = "NA"
        hits["mostly_trna"] = "NA"
        return hits
    hits["paralog_ambiguous"] = ["yes" if f in ambiguous else "no" for f in hits["feature"]]
    flagged = set(trna_flags.loc[trna_flags["mostly_trna"] == "yes", "feature"])
    hits["mostly_trna"] = ["yes" if f in flagged else "no" for f in hits["feature"]]
    return hits
