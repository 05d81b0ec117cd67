"""Figures and caption of the biomarker analysis, drawn from its TSV tables.

ROC curve with its bootstrap band, calibration of the out-of-fold
probabilities, the signature's selection frequencies, and the permutation
null distribution with the observed AUC. PNGs are reproducible as in
:mod:`exomir.plots` (Agg backend, fixed DPI, no timestamp).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .design import Contrast
from .plots import CASE_COLOUR, CONTROL_COLOUR, NOT_SIGNIFICANT, REVIEW, save_figure  # noqa: E402

__all__ = [
    "EVIDENCE_CI_LOW",
    "metric",
    "caption_text",
    "roc_plot",
    "calibration_plot",
    "signature_plot",
    "permutation_plot",
]

#: Below this lower confidence bound of the AUC the caption says the panel is not yet evidence.
EVIDENCE_CI_LOW = 0.6
CALIBRATION_BINS = 5
SIGNATURE_BARS = 30


def metric(performance: pd.DataFrame, name: str) -> float:
    """One value of the performance table (NaN when the row is absent)."""
    rows = performance.loc[performance["metric"] == name, "value"]
    return float(rows.iloc[0]) if len(rows) else float("nan")


def caption_text(performance: pd.DataFrame, contrast: Contrast) -> str:
    """Plain-language summary: sample sizes, AUC with CI, permutation p, and a verdict."""
    variable, case, control = contrast.variable, contrast.case, contrast.control
    get = lambda name: metric(performance, name)  # noqa: E731
    text = (
        f"Cross-validated AUC {get('auc'):.2f} (95% CI {get('auc_ci_low'):.2f}-"
        f"{get('auc_ci_high'):.2f}) for {variable} {case} ({get('n_case'):.0f} samples) vs "
        f"{control} ({get('n_control'):.0f} samples), {get('outer_folds'):.0f}-fold nested "
        f"cross-validation repeated {get('repeats'):.0f} times; permutation p = "
        f"{get('permutation_pvalue'):.3g} ({get('permutations'):.0f} label shuffles)."
    )
    if np.isfinite(get("auc_covariates_only")):
        text += f" Covariates alone: AUC {get('auc_covariates_only'):.2f}."
    if get("median_panel_size") == 0:
        text += " Most outer models selected no miRNA at all."
    if get("auc_ci_low") < EVIDENCE_CI_LOW:
        text += (
            f" The CI's lower bound is below {EVIDENCE_CI_LOW}: this panel is not yet evidence "
            "of prediction."
        )
    else:
        text += " An estimate from one cohort: an independent cohort is the real test."
    return text


def roc_plot(roc: pd.DataFrame, performance: pd.DataFrame, path: str | Path) -> None:
    """Mean out-of-fold ROC curve of the repeats with its 95 % bootstrap band."""
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.fill_between(
        roc["fpr"],
        roc["tpr_low"],
        roc["tpr_high"],
        color=CASE_COLOUR,
        alpha=0.18,
        lw=0,
        label="95% bootstrap band",
    )
    auc, low, high = (metric(performance, m) for m in ("auc", "auc_ci_low", "auc_ci_high"))
    label = f"cross-validated ROC, AUC {auc:.2f} ({low:.2f}-{high:.2f})"
    ax.plot(roc["fpr"], roc["tpr"], color=CASE_COLOUR, lw=2, label=label)
    ax.plot([0, 1], [0, 1], color=NOT_SIGNIFICANT, ls="--", lw=1, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    n_case, n_control = metric(performance, "n_case"), metric(performance, "n_control")
    ax.set_title(
        f"Out-of-fold ROC ({n_case:.0f} case, {n_control:.0f} control samples)", fontsize=10
    )
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)


def calibration_bins(predictions: pd.DataFrame, case: str, variable: str) -> pd.DataFrame:
    """Samples in quantile bins of the probability: mean probability vs observed case share."""
    table = predictions.assign(is_case=(predictions[variable].astype(str) == case).astype(float))
    table = table.sort_values(["probability", "sample"], kind="mergesort").reset_index(drop=True)
    n_bins = max(1, min(CALIBRATION_BINS, len(table) // 5))
    table["bin"] = np.arange(len(table)) * n_bins // len(table)
    grouped = table.groupby("bin")
    return pd.DataFrame(
        {
            "mean_probability": grouped["probability"].mean(),
            "case_fraction": grouped["is_case"].mean(),
            "n": grouped.size(),
        }
    ).reset_index(drop=True)


def calibration_plot(
    predictions: pd.DataFrame, path: str | Path, contrast: Contrast
) -> pd.DataFrame:
    """Observed share of cases against the mean out-of-fold probability, in quantile bins."""
    variable, case, control = contrast.variable, contrast.case, contrast.control
    bins = calibration_bins(predictions, case, variable)
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.plot([0, 1], [0, 1], color=NOT_SIGNIFICANT, ls="--", lw=1, label="perfect calibration")
    sizes = (
        f"{bins['n'].min()}" if bins["n"].nunique() == 1 else f"{bins['n'].min()}-{bins['n'].max()}"
    )
    ax.plot(
        bins["mean_probability"],
        bins["case_fraction"],
        "o-",
        color=CASE_COLOUR,
        label=f"quantile bins of {sizes} samples",
    )
    is_case = predictions[variable].astype(str) == case
    ax.plot(
        predictions.loc[is_case, "probability"],
        np.full(is_case.sum(), 1.02),
        "|",
        color=CASE_COLOUR,
        ms=8,
        label=case,
    )
    ax.plot(
        predictions.loc[~is_case, "probability"],
        np.full((~is_case).sum(), -0.02),
        "|",
        color=CONTROL_COLOUR,
        ms=8,
        label=control,
    )
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.06, 1.06)
    ax.set_xlabel(f"mean out-of-fold probability of {case}")
    ax.set_ylabel(f"observed share of {case}")
    ax.set_title("Calibration of out-of-fold predictions", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
    return bins


def signature_plot(signature: pd.DataFrame, path: str | Path, contrast: Contrast) -> list[str]:
    """Selection frequency of the most often selected miRNAs, coloured by direction."""
    top = signature.head(SIGNATURE_BARS)
    if top.empty:
        fig, ax = plt.subplots(figsize=(6.0, 2.5))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No miRNA was selected by any outer model.", ha="center", va="center")
        save_figure(fig, path)
        return []
    case = contrast.case
    height = 0.28 * len(top) + 1.4
    fig, ax = plt.subplots(figsize=(6.5, height))
    positions = np.arange(len(top))[::-1]
    colours = [CASE_COLOUR if v > 0 else CONTROL_COLOUR for v in top["log2_fold_change"]]
    ax.barh(positions, top["selection_frequency"], color=colours, height=0.7)
    listed = top.get("in_review_list", pd.Series(["no"] * len(top))).to_numpy() == "yes"
    labels = [f"{f} *" if flag else f for f, flag in zip(top["feature"], listed)]
    ax.set_yticks(positions)
    ax.set_yticklabels(labels, fontsize=7)
    for tick, flag in zip(ax.get_yticklabels(), listed):
        if flag:
            tick.set_color(REVIEW)
    ax.axvline(0.5, color=NOT_SIGNIFICANT, ls="--", lw=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("selection frequency over outer cross-validation models")
    ax.set_title(f"Signature: red higher, blue lower in {case}; * review-list miRNA", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
    return list(top["feature"])


def permutation_plot(
    permutations: pd.DataFrame, performance: pd.DataFrame, path: str | Path
) -> None:
    """Histogram of the AUCs of the label-shuffled reruns, with the observed AUC."""
    auc, p = metric(performance, "auc"), metric(performance, "permutation_pvalue")
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    bins = np.linspace(0, 1, 41)
    ax.hist(
        permutations["auc"],
        bins=bins,
        color=NOT_SIGNIFICANT,
        edgecolor="white",
        label=f"{len(permutations)} label shuffles",
    )
    ax.axvline(auc, color=CASE_COLOUR, lw=2, label=f"observed AUC {auc:.2f} (p = {p:.3g})")
    ax.axvline(0.5, color="#555555", ls=":", lw=1)
    ax.set_xlabel("cross-validated AUC")
    ax.set_ylabel("permutations")
    ax.set_title("Permutation test: the whole nested CV on shuffled labels", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
