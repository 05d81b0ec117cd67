"""Tables of the biomarker analysis: performance, signature, predictions, ROC band.

Functions here take arrays of out-of-fold probabilities (repeats × samples)
and labels (1 = case) and return tidy pandas tables; :func:`write_table`
writes them with fixed number formats so the same run gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from . import annotate
from .design import Contrast

__all__ = [
    "BOOTSTRAP_REPLICATES",
    "ROC_BAND_REPLICATES",
    "THRESHOLD",
    "mean_auc",
    "pairwise_wins",
    "auc_bootstrap",
    "permutation_pvalue",
    "threshold_metrics",
    "performance_table",
    "signature_table",
    "predictions_table",
    "roc_table",
    "annotate_signature",
    "write_table",
]

BOOTSTRAP_REPLICATES = 2000
ROC_BAND_REPLICATES = 500
CONFIDENCE = 0.95
#: Probability at or above which a sample is called a case.
THRESHOLD = 0.5
_TIE = 1e-12
_FPR_GRID = np.linspace(0.0, 1.0, 101)


def mean_auc(y: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over repeats (rows) of the AUC of the pooled out-of-fold probabilities."""
    return float(np.mean([roc_auc_score(y, p) for p in probabilities]))


def pairwise_wins(case_scores: np.ndarray, control_scores: np.ndarray) -> np.ndarray:
    """1 where a case outscores a control, 0.5 on ties, 0 otherwise (cases × controls)."""
    diff = case_scores[:, None] - control_scores[None, :]
    return (diff > 0) + 0.5 * (diff == 0)


def auc_bootstrap(
    y: np.ndarray, probabilities: np.ndarray, replicates: int, seed: int
) -> np.ndarray:
    """Repeat-averaged AUC of ``replicates`` stratified bootstrap resamples of the patients.

    Cases and controls are resampled separately (the group sizes stay fixed);
    each replicate re-weights the case × control pairs by how often both were
    drawn, which equals recomputing every repeat's AUC on the resample.
    """
    case, control = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    rng = np.random.default_rng(seed)
    draw_case = rng.multinomial(len(case), np.full(len(case), 1 / len(case)), size=replicates)
    draw_control = rng.multinomial(
        len(control), np.full(len(control), 1 / len(control)), size=replicates
    )
    total = np.zeros(replicates)
    for scores in probabilities:
        wins = pairwise_wins(scores[case], scores[control])
        total += np.einsum("bi,ij,bj->b", draw_case, wins, draw_control)
    return total / (len(probabilities) * len(case) * len(control))


def permutation_pvalue(observed: float, permuted: np.ndarray) -> float:
    """(1 + #{permuted ≥ observed}) / (B + 1); ties count against the model."""
    return float((1 + np.sum(permuted >= observed - _TIE)) / (len(permuted) + 1))


def threshold_metrics(y: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Sensitivity, specificity, balanced accuracy (at :data:`THRESHOLD`) and Brier score."""
    called = probabilities >= THRESHOLD
    sensitivity = called[:, y == 1].mean(axis=1)
    specificity = (~called[:, y == 0]).mean(axis=1)
    return {
        "balanced_accuracy": float(np.mean((sensitivity + specificity) / 2)),
        "sensitivity": float(np.mean(sensitivity)),
        "specificity": float(np.mean(specificity)),
        "brier": float(np.mean((probabilities - y) ** 2)),
    }


def performance_table(
    y: np.ndarray,
    probabilities: np.ndarray,
    permuted: np.ndarray,
    covariates_only: np.ndarray | None,
    seed: int,
    panel_sizes: Sequence[int],
    outer_folds: int,
) -> pd.DataFrame:
    """Two columns, ``metric`` and ``value``; rows as in :mod:`exomir.biomarker`."""
    auc = mean_auc(y, probabilities)
    boot = auc_bootstrap(y, probabilities, BOOTSTRAP_REPLICATES, seed)
    tail = (1 - CONFIDENCE) / 2
    per_repeat = [roc_auc_score(y, p) for p in probabilities]
    rows: list[tuple[str, float | int]] = [
        ("auc", auc),
        ("auc_ci_low", float(np.quantile(boot, tail))),
        ("auc_ci_high", float(np.quantile(boot, 1 - tail))),
        ("auc_sd_repeats", float(np.std(per_repeat, ddof=1)) if len(per_repeat) > 1 else 0.0),
    ]
    rows += list(threshold_metrics(y, probabilities).items())
    rows += [
        ("permutation_pvalue", permutation_pvalue(auc, permuted)),
        ("permutation_auc_mean", float(np.mean(permuted))),
        ("permutations", len(permuted)),
        ("n_case", int(y.sum())),
        ("n_control", int(len(y) - y.sum())),
        ("outer_folds", outer_folds),
        ("repeats", len(probabilities)),
        ("median_panel_size", float(np.median(panel_sizes)) if len(panel_sizes) else 0.0),
    ]
    if covariates_only is not None:
        rows.append(("auc_covariates_only", mean_auc(y, covariates_only)))
    return pd.DataFrame(rows, columns=["metric", "value"])


def signature_table(
    fold_weights: Sequence[tuple[np.ndarray, np.ndarray]],
    final: Mapping[int, float],
    features: Sequence[str],
    log2_fold_changes: np.ndarray,
    linear: bool,
) -> pd.DataFrame:
    """One row per feature weighted by any outer model, most often selected first.

    ``mean_coefficient`` is the mean log-odds coefficient (per standard
    deviation of log2 normalised counts) over the outer models that selected
    the feature; it is empty for a random forest. ``mean_importance`` is the
    mean |coefficient|, or the forest's impurity importance.
    """
    chosen: dict[int, list[float]] = {}
    for index, weights in fold_weights:
        for i, w in zip(index.tolist(), weights.tolist()):
            chosen.setdefault(i, []).append(w)
    rows = [
        {
            "feature": features[i],
            "selection_frequency": len(w) / len(fold_weights),
            "mean_coefficient": float(np.mean(w)) if linear else np.nan,
            "mean_importance": float(np.mean(np.abs(w))),
            "in_final_model": "yes" if i in final else "no",
            "final_weight": final.get(i, 0.0),
            "log2_fold_change": float(log2_fold_changes[i]),
        }
        for i, w in chosen.items()
    ]
    columns = [
        "feature",
        "selection_frequency",
        "mean_coefficient",
        "mean_importance",
        "in_final_model",
        "final_weight",
        "log2_fold_change",
    ]
    table = pd.DataFrame(rows, columns=columns)
    table = table.sort_values(
        ["selection_frequency", "mean_importance", "feature"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    return table.reset_index(drop=True)


def predictions_table(
    samples: Sequence[str],
    y: np.ndarray,
    contrast: Contrast,
    probabilities: np.ndarray,
) -> pd.DataFrame:
    """Per sample: its group, the mean out-of-fold case probability, the call, each repeat."""
    variable, case, control = contrast.variable, contrast.case, contrast.control
    mean = probabilities.mean(axis=0)
    table = pd.DataFrame(
        {
            "sample": list(samples),
            variable: np.where(y == 1, case, control),
            "probability": mean,
            "predicted": np.where(mean >= THRESHOLD, case, control),
        }
    )
    for r, values in enumerate(probabilities, start=1):
        table[f"probability_repeat_{r}"] = values
    return table


def roc_table(y: np.ndarray, probabilities: np.ndarray, seed: int) -> pd.DataFrame:
    """Vertically averaged ROC of the repeats with a 95 % stratified bootstrap band.

    ``tpr`` at each false-positive rate of a 0.01 grid is the mean over
    repeats of each repeat's interpolated ROC curve (its area is the reported
    AUC); ``tpr_low``/``tpr_high`` are percentiles of that mean over patient
    resamples.
    """
    rng = np.random.default_rng(seed)
    case, control = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    curve = _mean_tpr(y, probabilities, np.arange(len(y)))
    band = np.empty((ROC_BAND_REPLICATES, len(_FPR_GRID)))
    for b in range(ROC_BAND_REPLICATES):
        picked = np.concatenate(
            [rng.choice(case, len(case), replace=True), rng.choice(control, len(control))]
        )
        band[b] = _mean_tpr(y, probabilities, picked)
    tail = (1 - CONFIDENCE) / 2
    return pd.DataFrame(
        {
            "fpr": _FPR_GRID,
            "tpr": curve,
            "tpr_low": np.quantile(band, tail, axis=0),
            "tpr_high": np.quantile(band, 1 - tail, axis=0),
        }
    )


def _mean_tpr(y: np.ndarray, probabilities: np.ndarray, rows: np.ndarray) -> np.ndarray:
    curves = []
    for scores in probabilities:
        fpr, tpr, _ = roc_curve(y[rows], scores[rows])
        curves.append(np.interp(_FPR_GRID, fpr, tpr))
    mean = np.mean(curves, axis=0)
    mean[0] = 0.0
    return mean


def annotate_signature(
    signature: pd.DataFrame, features: pd.DataFrame, findings: pd.DataFrame
) -> pd.DataFrame:
    """Add the review list by MIMAT accession: listed or not, roles, drugs, direction.

    ``features`` is the reference's ``features.tsv`` (feature, mature_names,
    mimat); ``findings`` the resistance list. ``direction_consistent`` compares
    the sign of ``log2_fold_change`` with the review's direction in resistance
    (the contrast's case level is taken as the resistant group).
    """
    accessions = annotate.feature_accessions(features)
    matches = annotate.match_findings(signature, accessions, findings)
    listed, roles, drugs, directions, consistent = [], [], [], [], []
    for feature, lfc in zip(signature["feature"], signature["log2_fold_change"]):
        rows = findings.iloc[matches.get(feature, [])]
        listed.append("yes" if len(rows) else "no")
        roles.append("; ".join(sorted(set(rows["role"]))))
        drugs.append("; ".join(sorted({d for cell in rows["drugs"] for d in cell.split(";") if d})))
        expected = set(rows["direction_in_resistance"])
        directions.append("; ".join(sorted(expected)))
        consistent.append(annotate.direction_consistent(lfc, expected) if len(rows) else "")
    return signature.assign(
        in_review_list=listed,
        review_roles=roles,
        review_drugs=drugs,
        review_direction=directions,
        direction_consistent=consistent,
    )


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """TSV with six significant digits, integers as integers, NA for missing values."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = table.copy()
    if list(out.columns) == ["metric", "value"]:
        out["value"] = [_format_value(v) for v in out["value"]]
    out.to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def _format_value(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if not np.isfinite(value):
        return "NA"
    return f"{value:.6g}"
