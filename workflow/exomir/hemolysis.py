"""Hemolysis guard: is a differentially expressed miRNA a red-cell artefact?

Red blood cells carry large amounts of a few miRNAs (miR-451a, miR-486-5p,
miR-16-5p, miR-92a-3p). Plasma that is more hemolysed in one group makes them
look differentially expressed. This module answers, for every contrast, whether
the groups differ in hemolysis and which hits may be red-cell artefacts; the
numbered points are its rules.

1. **The index.** The per-sample hemolysis index is the one of :mod:`exomir.qc`,
   log2((miR-451a + 1) / (miR-23a-3p + 1)), NA when the two miRNAs have fewer
   than ``qc.hemolysis_min_reads`` reads together. It is read from the QC table,
   or computed from the count matrix in a ``counts:`` run with the same
   functions (:func:`exomir.qc.find_feature`, :func:`exomir.qc.hemolysis_index`);
   when the matrix lacks either miRNA the index is NA with a note.

2. **Does hemolysis differ between the groups?** Two-sided Mann-Whitney U test
   of the index, case vs control (exact p-value for small groups without ties).
   With categorical covariates (``strata``: e.g. batch, site), the van Elteren
   test instead: Wilcoxon rank sums within each stratum, weighted by
   1/(n_stratum + 1) and combined (normal approximation, mid-ranks with tie
   correction), so that a difference in hemolysis *between* batches is not
   mistaken for a difference between the groups. Continuous covariates are not
   used by this test (a rank adjustment for them needs a model; they rarely
   drive in-vitro hemolysis); the adjusted DE fit below includes them. Samples
   with an NA index are left out and counted (``n_missing``). ``differs`` is
   ``yes``/``no`` at ``alpha``, ``NA`` when a group has fewer than two indexed
   samples.

3. **The hemolysis covariate** of tracking and of the adjusted fit
   (``hemolysis.covariate``). ``red_cell_score``: per sample, the mean
   log2(normalised count + 1) of the red-cell miRNAs of the list among the
   tested features; each red-cell feature is related to the score of the
   *other* red-cell features (leave-one-out), never to its own counts.
   ``index``: the hemolysis index itself. The index is a ratio of two single
   miRNAs and carries both their biological noise, so as a covariate it
   removes only part of a hemolysis confound (regression dilution: the slope
   on a noisy covariate is attenuated by its reliability) and it contains
   miR-451a itself; the score averages several red-cell miRNAs and needs no
   reference miRNA. With fewer than two red-cell miRNAs tested, the index is
   used and the note says so.

4. **Caution on hits.** ``blood_cell_caution`` is ``yes`` for a feature with
   ``padj < alpha`` (the DE alpha) when

   * it is on the blood-cell list (cell types ``cell_types``, matched by MIMAT
     accession) and hemolysis differs between the groups (``differs`` is ``yes``,
     or ``NA``: hemolysis could not be compared, so it cannot be ruled out); or
   * its normalised counts *track the hemolysis covariate within the groups*:
     the stratified Spearman correlation (:func:`stratified_spearman`: samples
     ranked within each group, ranks centred per group, Pearson correlation of
     the centred ranks, i.e. a partial rank correlation on the group; t test
     with n - k - 1 degrees of freedom for k groups) is at least ``min_rho`` and
     its Benjamini-Hochberg adjusted p-value over the significant features is
     below ``track_fdr``. Ranking within groups removes the group difference
     itself, so a truly DE miRNA does not "track" hemolysis merely because both
     differ between the groups; only a positive correlation counts, as lysed
     red cells add miRNA and never remove it. This branch also catches
     red-cell miRNAs missing from the list, whichever group difference the
     index test could or could not detect.

5. **Sensitivity analysis.** DE refitted by :func:`exomir.de.run_de` with the
   centred covariate as a continuous covariate, ``~ hemolysis_index + <design>``
   (the column is named ``hemolysis_index`` whichever covariate it holds); the
   contrast is unchanged. Each red-cell feature's row comes from a fit with its
   leave-one-out score. ``hemolysis.adjust`` decides when: ``always``,
   ``never``, or ``auto`` (when ``differs`` is ``yes``). The features that lose
   or gain significance are listed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from . import de as de_mod
from . import qc
from .annotate import feature_accessions
from .design import Contrast, design_variables, is_continuous, normalise_formula
from .hemolysis_settings import (  # noqa: F401 (the guard's settings, re-exported)
    ADJUST_MODES,
    BLOOD_CELL_TYPES,
    COVARIATES,
    LIST_COLUMNS,
    HemolysisError,
    Settings,
    check_cell_types,
    read_blood_cell_list,
    should_adjust,
)

INDEX_COLUMN = "hemolysis_index"
CAUTION_COLUMN = "blood_cell_caution"
GROUP_COLUMNS = [
    "contrast",
    "case_median",
    "control_median",
    "pvalue",
    "differs",
    "n_case",
    "n_control",
    "n_missing",
    "method",
    "note",
]
CAUTION_COLUMNS = [
    "feature",
    "padj",
    "significant",
    "blood_cell",
    "hemolysis_rho",
    "hemolysis_rho_pvalue",
    "hemolysis_rho_padj",
    "tracks_hemolysis",
    CAUTION_COLUMN,
    "reason",
]
CHANGE_COLUMNS = ["feature", "padj", "padj_adjusted", "change", "blood_cell"]


# --------------------------------------------------------------------------
# The blood-cell list
# --------------------------------------------------------------------------


def listed_features(
    features: pd.DataFrame, blood_list: pd.DataFrame, cell_types: Sequence[str]
) -> dict[str, str]:
    """Count-row name → cell type(s) (``;``-joined) of the listed miRNAs it holds.

    Matching is by MIMAT accession through the reference's ``features.tsv``
    (:func:`exomir.annotate.feature_accessions`), so a merged feature such as
    ``hsa-miR-199a-3p/hsa-miR-199b-3p`` is listed when either member is.
    """
    wanted = set(check_cell_types(cell_types))
    by_accession: dict[str, set[str]] = {}
    for mimat, cell_type in zip(blood_list["mimat"], blood_list["cell_type"]):
        if cell_type in wanted:
            by_accession.setdefault(mimat, set()).add(cell_type)
    listed = {}
    for name, accessions in feature_accessions(features).items():
        types = set().union(*(by_accession.get(a, set()) for a in accessions))
        if types:
            listed[name] = ";".join(sorted(types, key=BLOOD_CELL_TYPES.index))
    return listed


# --------------------------------------------------------------------------
# The per-sample index
# --------------------------------------------------------------------------


def index_from_counts(
    counts: pd.DataFrame, mirnas: Sequence[str], min_reads: int
) -> tuple[pd.Series, str]:
    """Hemolysis index per sample from a features x samples count matrix, and a note.

    Same definition as the QC table (``exomir.qc``). When the matrix has no row
    for either miRNA the index is NA for every sample and the note says why.
    """
    red_name, ref_name = mirnas
    features = [str(f) for f in counts.index]
    red, ref = qc.find_feature(features, red_name), qc.find_feature(features, ref_name)
    samples = pd.Index([str(s) for s in counts.columns], name="sample")
    absent = [name for name, feature in ((red_name, red), (ref_name, ref)) if feature is None]
    if absent:
        note = (
            f"hemolysis index not computed: {' and '.join(absent)} not in the count matrix "
            "(rows named e.g. hsa-miR-451a, or a merged feature holding it); set "
            "qc.hemolysis_mirnas to names the matrix uses"
        )
        return pd.Series(np.nan, index=samples, name=INDEX_COLUMN), note
    values = [
        qc.hemolysis_index(float(counts.at[red, s]), float(counts.at[ref, s]), min_reads)
        for s in counts.columns
    ]
    index = pd.Series([np.nan if v is None else v for v in values], index=samples, dtype=float)
    n_na = int(index.isna().sum())
    note = (
        f"{n_na} sample(s) with fewer than {min_reads} reads of {red_name} and {ref_name} "
        "together: index NA"
        if n_na
        else ""
    )
    return index.rename(INDEX_COLUMN), note


def index_from_qc_table(qc_table: pd.DataFrame) -> pd.Series:
    """The ``hemolysis_index`` column of the QC table (``NA`` text → NaN), by sample."""
    if INDEX_COLUMN not in qc_table.columns:
        raise HemolysisError(
            "the QC table has no hemolysis_index column; rerun the rule exomir_sample_qc"
        )
    values = pd.to_numeric(qc_table[INDEX_COLUMN].replace("NA", np.nan), errors="coerce")
    return pd.Series(
        values.to_numpy(dtype=float),
        index=pd.Index(qc_table["sample"].astype(str), name="sample"),
        name=INDEX_COLUMN,
    )


# --------------------------------------------------------------------------
# Does hemolysis differ between the groups?
# --------------------------------------------------------------------------


def van_elteren(values: np.ndarray, is_case: np.ndarray, strata: np.ndarray) -> tuple[float, float]:
    """Van Elteren's stratified Wilcoxon test: z statistic and two-sided p-value.

    Within each stratum holding both groups, the rank sum of the cases (mid-ranks)
    is compared with its expectation; strata are weighted by 1/(n + 1) and the
    tie-corrected variances combined. NaN when no stratum holds both groups.
    """
    total = expected = variance = 0.0
    for stratum in np.unique(strata):
        inside = strata == stratum
        x, case = values[inside], is_case[inside]
        n, n1 = len(x), int(case.sum())
        n2 = n - n1
        if n1 == 0 or n2 == 0:
            continue
        ranks = stats.rankdata(x)
        _, ties = np.unique(x, return_counts=True)
        tie_term = float((ties**3 - ties).sum()) / (n * (n - 1)) if n > 1 else 0.0
        weight = 1.0 / (n + 1)
        total += weight * float(ranks[case].sum())
        expected += weight * n1 * (n + 1) / 2
        variance += weight**2 * n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return math.nan, math.nan
    z = (total - expected) / math.sqrt(variance)
    return z, float(2 * stats.norm.sf(abs(z)))


def compare_groups(
    index: pd.Series,
    samples: pd.DataFrame,
    contrast: Contrast,
    strata: Sequence[str],
    alpha: float,
) -> dict[str, Any]:
    """One row of ``hemolysis_by_group.tsv`` for ``contrast`` on ``samples``."""
    var, case, control, name = contrast.variable, contrast.case, contrast.control, contrast.name
    groups = samples[var].astype(str).str.strip()
    in_contrast = groups.isin([case, control]).to_numpy()
    sample_names = samples.index.astype(str)[in_contrast]
    values = index.reindex(sample_names).to_numpy(dtype=float)
    group = groups.to_numpy()[in_contrast]
    known = ~np.isnan(values)
    is_case = group[known] == case
    x = values[known]
    row: dict[str, Any] = {
        "contrast": name,
        "case_median": float(np.median(x[is_case])) if is_case.any() else math.nan,
        "control_median": float(np.median(x[~is_case])) if (~is_case).any() else math.nan,
        "pvalue": math.nan,
        "differs": "NA",
        "n_case": int(is_case.sum()),
        "n_control": int((~is_case).sum()),
        "n_missing": int((~known).sum()),
        "method": "",
        "note": "",
    }
    if row["n_case"] < 2 or row["n_control"] < 2:
        row["note"] = (
            f"not tested: fewer than 2 samples with a hemolysis index in {case} or {control}"
        )
        return row
    if strata:
        missing = [s for s in strata if s not in samples.columns]
        if missing:
            raise HemolysisError(
                f"hemolysis strata {', '.join(missing)} are not columns of the sample sheet"
            )
        keys = samples.loc[:, list(strata)].astype(str).agg("|".join, axis=1).to_numpy()
        _, row["pvalue"] = van_elteren(x, is_case, keys[in_contrast][known])
        row["method"] = f"van Elteren (strata: {', '.join(strata)})"
    else:
        result = stats.mannwhitneyu(x[is_case], x[~is_case], alternative="two-sided")
        row["pvalue"] = float(result.pvalue)
        row["method"] = "Mann-Whitney U"
    if not math.isnan(row["pvalue"]):
        row["differs"] = "yes" if row["pvalue"] < alpha else "no"
    if row["n_missing"]:
        row["note"] = f"{row['n_missing']} sample(s) without a hemolysis index left out"
    return row


def _design_rhs(design: str) -> str:
    """The right-hand side of a design formula (``"~ batch + condition"`` → ``"batch + condition"``)."""
    return normalise_formula(design).removeprefix("~ ")


def reference_check(de: pd.DataFrame, mirnas: Sequence[str], alpha: float) -> str:
    """A note when the index's reference miRNA is itself differentially expressed.

    ``mirnas`` is ``qc.hemolysis_mirnas`` (red-cell miRNA, reference miRNA). The
    index assumes the reference (miR-23a-3p) is stable; when it differs between
    the groups, so does the index, hemolysis or not. The note gives the
    reference's and the red-cell miRNA's own fold changes so the reader can judge.
    """
    red, reference = mirnas
    features = [str(f) for f in de["feature"]]
    ref_feature = qc.find_feature(features, reference)
    if ref_feature is None:
        return ""
    table = de.set_index("feature")
    padj = pd.to_numeric(table["padj"], errors="coerce")
    if not padj.get(ref_feature, 1.0) < alpha:
        return ""
    lfc = pd.to_numeric(table["log2FoldChange"], errors="coerce")
    note = (
        f"{reference}, the index's reference, itself differs between the groups "
        f"(log2FC {lfc[ref_feature]:.2f}, padj {padj[ref_feature]:.2g}): the index difference "
        "may not be hemolysis"
    )
    red_feature = qc.find_feature(features, red)
    if red_feature is not None:
        note += f"; {red} log2FC {lfc[red_feature]:.2f}, padj {padj[red_feature]:.2g}"
    return note


def design_strata(contrast: Contrast, samples: pd.DataFrame) -> list[str]:
    """Categorical covariates of the contrast's design (not its variable), for van Elteren.

    ``samples`` is the typed sample table given to :func:`exomir.de.run_de`
    (numeric columns are continuous covariates and are not strata).
    """
    return [
        v
        for v in design_variables(contrast.design)
        if v != contrast.variable and v in samples.columns and not is_continuous(samples[v])
    ]


def hemolysis_by_group(
    index: pd.Series, samples: pd.DataFrame, contrasts: Sequence[Contrast], alpha: float
) -> pd.DataFrame:
    """The table ``results/qc/hemolysis_by_group.tsv``: one row per contrast (its subset)."""
    rows = []
    for contrast in contrasts:
        chosen = contrast.select(samples)
        rows.append(compare_groups(index, chosen, contrast, design_strata(contrast, chosen), alpha))
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


# --------------------------------------------------------------------------
# The hemolysis covariate of tracking and of the adjusted fit
# --------------------------------------------------------------------------


def _norm_columns(de: pd.DataFrame) -> dict[str, str]:
    """Sample → its ``norm_<sample>`` column of a DE table."""
    return {c[len("norm_") :]: c for c in de.columns if str(c).startswith("norm_")}


@dataclass(frozen=True)
class Covariate:
    """Per-sample hemolysis covariate; leave-one-out versions for the red-cell features."""

    kind: str
    values: pd.Series
    leave_one_out: Mapping[str, pd.Series]
    note: str = ""

    def for_feature(self, feature: str) -> pd.Series:
        """The covariate to relate ``feature`` to (its own leave-one-out score if it has one)."""
        return self.leave_one_out.get(feature, self.values)


def red_cell_score(de: pd.DataFrame, red_features: Sequence[str]) -> Covariate:
    """Mean log2(normalised count + 1) of the red-cell features, per sample.

    Each red-cell feature also gets the score of the *other* red-cell features,
    so that it is never related to a covariate made of its own counts.
    """
    columns = _norm_columns(de)
    table = de.set_index("feature").loc[list(red_features), list(columns.values())]
    logged = np.log2(table.astype(float) + 1)
    logged.columns = pd.Index(list(columns), name="sample")
    loo = {f: logged.drop(index=f).mean(axis=0).rename(INDEX_COLUMN) for f in red_features}
    note = f"red-cell score of {len(red_features)} features ({', '.join(red_features)})"
    return Covariate("red_cell_score", logged.mean(axis=0).rename(INDEX_COLUMN), loo, note)


def hemolysis_covariate(
    kind: str, de: pd.DataFrame, index: pd.Series, red_features: Sequence[str]
) -> Covariate:
    """The covariate ``hemolysis.covariate`` names: ``red_cell_score`` or ``index``.

    ``red_cell_score`` needs at least two red-cell features of the list in the
    DE table; with fewer the hemolysis index is used and the note says so.
    """
    if kind not in COVARIATES:
        raise HemolysisError(
            f"hemolysis.covariate is {kind!r}; choose one of {', '.join(COVARIATES)}"
        )
    present = sorted(set(red_features) & set(de["feature"]))
    note = ""
    if kind == "red_cell_score":
        if len(present) >= 2:
            return red_cell_score(de, present)
        note = (
            f"red-cell score needs 2 red-cell miRNAs of the list among the tested features, "
            f"found {len(present)}: the hemolysis index is used instead"
        )
    samples = pd.Index(list(_norm_columns(de)), name="sample")
    return Covariate("index", index.reindex(samples).rename(INDEX_COLUMN), {}, note)


# --------------------------------------------------------------------------
# Caution on hits
# --------------------------------------------------------------------------


def _centred_ranks(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Ranks along the last axis within each group, centred on the group's mean rank."""
    out = np.zeros(values.shape, dtype=float)
    for level in np.unique(groups):
        cols = groups == level
        ranks = stats.rankdata(values[..., cols], axis=-1)
        out[..., cols] = ranks - ranks.mean(axis=-1, keepdims=True)
    return out


def stratified_spearman(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rank correlation of each row of ``x`` with ``y`` within groups, and two-sided p-values.

    Ranks are taken within each group and centred per group; rho is their
    Pearson correlation (a partial rank correlation on the group), tested with
    t = rho * sqrt(df / (1 - rho^2)), df = n - k - 1 for k groups. NaN when
    n < k + 3 or a row is constant.
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    n, k = len(y), len(np.unique(groups))
    nan = np.full(x.shape[0], np.nan)
    if n < k + 3:
        return nan, nan.copy()
    rx, ry = _centred_ranks(x, groups), _centred_ranks(np.asarray(y, dtype=float), groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx @ ry) / np.sqrt((rx**2).sum(axis=1) * (ry**2).sum())
        dof = n - k - 1
        t = rho * np.sqrt(dof / np.clip(1 - rho**2, 1e-300, None))
    return rho, np.where(np.isfinite(rho), 2 * stats.t.sf(np.abs(t), dof), np.nan)


def tracking(de: pd.DataFrame, covariate: Covariate, groups: pd.Series) -> pd.DataFrame:
    """Stratified Spearman correlation of each feature's normalised counts with the covariate.

    Columns ``feature, rho, pvalue``; samples where the covariate is NA are left out.
    """
    columns = _norm_columns(de)
    out = pd.DataFrame({"feature": de["feature"].to_numpy(), "rho": np.nan, "pvalue": np.nan})
    features = list(out["feature"])
    for feature, values in [(None, covariate.values), *covariate.leave_one_out.items()]:
        if feature is not None and feature not in features:
            continue
        usable = [s for s in columns if s in groups.index and pd.notna(values.get(s, np.nan))]
        rows = slice(None) if feature is None else [features.index(feature)]
        x = de.iloc[rows][[columns[s] for s in usable]].to_numpy(dtype=float)
        group = groups.reindex(usable).astype(str).to_numpy()
        rho, p = stratified_spearman(x, values.reindex(usable).to_numpy(dtype=float), group)
        out.iloc[rows, 1], out.iloc[rows, 2] = rho, p
    return out


def _bh(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN."""
    out = np.full(len(pvalues), np.nan)
    finite = np.isfinite(pvalues)
    if finite.any():
        out[finite] = stats.false_discovery_control(pvalues[finite], method="bh")
    return out


@dataclass(frozen=True)
class Rule:
    """Thresholds of the caution rule: DE ``alpha``; ``min_rho`` and ``track_fdr`` of tracking."""

    alpha: float
    min_rho: float
    track_fdr: float


def _group_branch(
    lfc: np.ndarray, listed_significant: np.ndarray, group_row: Mapping[str, Any]
) -> tuple[np.ndarray, list[str]]:
    """Listed, significant features a group difference in hemolysis could explain, and why.

    Hemolysis adds red-cell miRNA to the more hemolysed group, so it can only
    raise a listed miRNA there: a change opposite to the hemolysis difference
    is not flagged by this branch. With ``differs`` NA every one is flagged.
    """
    differs = str(group_row["differs"])
    shift = float(group_row["case_median"]) - float(group_row["control_median"])
    if differs == "NA":
        reason = "listed; hemolysis could not be compared between the groups"
        return listed_significant.copy(), [reason] * len(lfc)
    if differs != "yes":
        return np.zeros(len(lfc), dtype=bool), [""] * len(lfc)
    same = np.sign(np.nan_to_num(lfc)) == np.sign(shift)
    reasons = [
        "listed; hemolysis differs between the groups, same direction"
        if agree
        else "listed; changes opposite to the hemolysis difference"
        for agree in same
    ]
    return listed_significant & same, reasons


def caution_table(
    de: pd.DataFrame,
    covariate: Covariate,
    groups: pd.Series,
    listed: Mapping[str, str],
    group_row: Mapping[str, Any],
    rule: Rule,
) -> pd.DataFrame:
    """Per DE feature: listed cell type, tracking statistics and ``blood_cell_caution``."""
    padj = pd.to_numeric(de["padj"], errors="coerce").to_numpy(dtype=float)
    significant = np.nan_to_num(padj, nan=1.0) < rule.alpha
    track = tracking(de, covariate, groups)
    rho, rho_p = track["rho"].to_numpy(dtype=float), track["pvalue"].to_numpy(dtype=float)
    rho_padj = np.full(len(de), np.nan)
    rho_padj[significant] = _bh(rho_p[significant])
    tracks = significant & (np.nan_to_num(rho, nan=-1.0) >= rule.min_rho)
    tracks &= np.nan_to_num(rho_padj, nan=1.0) < rule.track_fdr
    blood_cell = np.array([listed.get(str(f), "") for f in de["feature"]], dtype=object)
    lfc = pd.to_numeric(de["log2FoldChange"], errors="coerce").to_numpy(dtype=float)
    on_list = significant & (blood_cell != "")
    group_flag, group_reasons = _group_branch(lfc, on_list, group_row)
    kind = covariate.kind.replace("_", " ")
    reasons = []
    for i in range(len(de)):
        parts = [group_reasons[i]] if on_list[i] and group_reasons[i] else []
        if tracks[i]:
            parts.append(f"tracks the {kind} within groups (rho {rho[i]:.2f})")
        reasons.append("; ".join(parts))
    return pd.DataFrame(
        {
            "feature": de["feature"].to_numpy(),
            "padj": padj,
            "significant": np.where(significant, "yes", "no"),
            "blood_cell": blood_cell,
            "hemolysis_rho": rho,
            "hemolysis_rho_pvalue": rho_p,
            "hemolysis_rho_padj": rho_padj,
            "tracks_hemolysis": np.where(tracks, "yes", "no"),
            CAUTION_COLUMN: np.where(group_flag | tracks, "yes", "no"),
            "reason": reasons,
        },
        columns=CAUTION_COLUMNS,
    )


def add_caution(de: pd.DataFrame, caution: pd.DataFrame) -> pd.DataFrame:
    """The DE table with ``blood_cell_caution`` inserted before the ``norm_`` columns."""
    flags = dict(zip(caution["feature"], caution[CAUTION_COLUMN]))
    out = de.drop(columns=[CAUTION_COLUMN], errors="ignore")
    norm = [i for i, c in enumerate(out.columns) if str(c).startswith("norm_")]
    position = norm[0] if norm else len(out.columns)
    out.insert(position, CAUTION_COLUMN, [flags.get(f, "no") for f in out["feature"]])
    return out


def add_caution_to_hits(hits: pd.DataFrame, caution: pd.DataFrame) -> pd.DataFrame:
    """``resistance_hits.tsv`` with ``blood_cell_caution`` after its ``significant`` column.

    The hits' ``feature`` is the DE table's feature, whose list membership was
    decided by MIMAT accession (:func:`listed_features`).
    """
    flags = dict(zip(caution["feature"], caution[CAUTION_COLUMN]))
    out = hits.drop(columns=[CAUTION_COLUMN], errors="ignore")
    columns = list(out.columns)
    position = columns.index("significant") + 1 if "significant" in columns else len(columns)
    out.insert(position, CAUTION_COLUMN, [flags.get(f, "no") for f in out["feature"]])
    return out


# --------------------------------------------------------------------------
# Sensitivity analysis: DE with the hemolysis covariate
# --------------------------------------------------------------------------


def _fit(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrast: Contrast,
    options: de_mod.DEOptions,
    values: pd.Series,
) -> de_mod.DEResult:
    """``run_de`` with the centred covariate added to the design (samples with a value)."""
    table = samples.copy()
    table[INDEX_COLUMN] = values.to_numpy(dtype=float) - float(values.mean())
    design = f"~ {INDEX_COLUMN} + {_design_rhs(contrast.design)}"
    try:
        return de_mod.run_de(
            counts.loc[:, list(values.index)], table, contrast._replace(design=design), options
        )
    except ValueError as exc:
        raise HemolysisError(f"hemolysis-adjusted DE ({design}): {exc}") from exc


def _sort_table(table: pd.DataFrame) -> pd.DataFrame:
    """The DE table order: padj, then pvalue (missing values last), then feature."""
    keys = table.assign(_padj=table["padj"].isna(), _p=table["pvalue"].isna())
    keys = keys.sort_values(
        ["_padj", "padj", "_p", "pvalue", "feature"], kind="mergesort", na_position="last"
    )
    return table.loc[keys.index].reset_index(drop=True)


def adjusted_de(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrast: Contrast,
    options: de_mod.DEOptions,
    covariate: Covariate,
) -> tuple[pd.DataFrame, list[str], str]:
    """DE refitted with the hemolysis covariate; the table, samples left out, the design.

    One fit with ``~ hemolysis_index + <terms>`` (the column holds the centred
    covariate, whichever its kind) for every feature; each red-cell feature's
    row comes from its own fit with its leave-one-out score. Samples where the
    covariate is NA are left out; the contrast and other settings are unchanged.
    """
    if INDEX_COLUMN in samples.columns:
        raise HemolysisError(
            f"the sample sheet has a column named {INDEX_COLUMN!r}, which the hemolysis-adjusted "
            "fit adds itself; rename that column"
        )
    names = samples.index.astype(str)
    values = covariate.values.reindex(names)
    known = values.notna().to_numpy()
    kept = samples.loc[known]
    result = _fit(counts, kept, contrast, options, values[known])
    table = result.table.set_index("feature", drop=False)
    for feature, loo in sorted(covariate.leave_one_out.items()):
        if feature in table.index:
            refit = _fit(counts, kept, contrast, options, loo.reindex(names)[known]).table
            table.loc[feature] = refit.set_index("feature", drop=False).loc[feature]
    left_out = [str(s) for s in samples.index[~known]]
    formula = normalise_formula(result.contrast.design)
    return _sort_table(table.reset_index(drop=True)), left_out, formula


def significance_changes(
    de: pd.DataFrame, adjusted: pd.DataFrame, alpha: float, listed: Mapping[str, str]
) -> pd.DataFrame:
    """Features significant in one fit and not the other: ``lost`` or ``gained`` on adjustment."""
    before = pd.to_numeric(de.set_index("feature")["padj"], errors="coerce")
    after = pd.to_numeric(adjusted.set_index("feature")["padj"], errors="coerce")
    features = sorted(set(before.index) | set(after.index))
    before, after = before.reindex(features), after.reindex(features)
    was, now = before.fillna(1.0) < alpha, after.fillna(1.0) < alpha
    changed = [f for f in features if was[f] != now[f]]
    table = pd.DataFrame(
        {
            "feature": changed,
            "padj": before.reindex(changed).to_numpy(),
            "padj_adjusted": after.reindex(changed).to_numpy(),
            "change": ["lost" if was[f] else "gained" for f in changed],
            "blood_cell": [listed.get(f, "") for f in changed],
        },
        columns=CHANGE_COLUMNS,
    )
    return table.sort_values(
        ["change", "padj", "padj_adjusted", "feature"], na_position="last", kind="mergesort"
    ).reset_index(drop=True)


def between_group_share(values: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance of ``values`` between the groups (R² of a one-way model).

    Near 1 the covariate is almost a group label: an adjusted fit can hardly
    tell hemolysis from the group, and loses power for every feature.
    """
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return math.nan
    within = sum(
        float(((values[groups == g] - values[groups == g].mean()) ** 2).sum())
        for g in np.unique(groups)
    )
    return 1 - within / total


@dataclass(frozen=True)
class Sensitivity:
    """Outcome of :func:`sensitivity`: the adjusted table (empty when not run) and why."""

    run: bool
    table: pd.DataFrame
    changes: pd.DataFrame
    note: str
    left_out: tuple[str, ...] = ()


def sensitivity(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrast: Contrast,
    options: de_mod.DEOptions,
    covariate: Covariate,
    de: pd.DataFrame,
    mode: str,
    differs: str,
    listed: Mapping[str, str],
) -> Sensitivity:
    """The hemolysis-adjusted DE of one contrast when ``mode`` asks for it.

    Never raises for a missing covariate: the note says why nothing was fitted.
    """
    empty = pd.DataFrame(columns=list(de.columns))
    no_change = pd.DataFrame(columns=CHANGE_COLUMNS)
    if not should_adjust(mode, differs):
        why = "hemolysis.adjust is never" if mode == "never" else "hemolysis does not differ"
        if mode == "auto" and differs == "NA":
            why = "hemolysis could not be compared between the groups"
        return Sensitivity(False, empty, no_change, f"adjusted fit not run: {why}")
    values = covariate.values.reindex(samples.index.astype(str)).dropna()
    if len(values) < 3 or values.nunique() < 2:
        note = "adjusted fit not run: fewer than 3 samples with distinct hemolysis covariates"
        return Sensitivity(False, empty, no_change, note)
    table, left_out, formula = adjusted_de(counts, samples, contrast, options, covariate)
    changes = significance_changes(de, table, options.alpha, listed)
    groups = samples[contrast.variable].astype(str).to_numpy()
    known = covariate.values.reindex(samples.index.astype(str)).notna().to_numpy()
    share = between_group_share(values.to_numpy(dtype=float), groups[known])
    note = (
        f"adjusted fit ({covariate.kind}): design {formula}; {100 * share:.0f}% of the "
        "covariate's variance lies between the groups"
        + (" (hemolysis and group are hard to separate)" if share > 0.8 else "")
        + (f"; {len(left_out)} sample(s) without a covariate left out" if left_out else "")
    )
    return Sensitivity(True, table, changes, note, tuple(left_out))


# --------------------------------------------------------------------------
# Settings and the whole guard for one contrast
# --------------------------------------------------------------------------


def index_table(
    index: pd.Series, samples: pd.DataFrame, variable: str, source: str
) -> pd.DataFrame:
    """Per-sample index for ``results/qc/hemolysis_index.tsv``: sample, group, index, source."""
    names = samples.index.astype(str)
    return pd.DataFrame(
        {
            "sample": names,
            variable: samples[variable].astype(str).to_numpy(),
            INDEX_COLUMN: index.reindex(names).to_numpy(dtype=float),
            "source": source,
        }
    )


def fitted_samples(de: pd.DataFrame) -> list[str]:
    """The samples a DE table was fitted on (its ``norm_<sample>`` columns, in order)."""
    return list(_norm_columns(de))


@dataclass(frozen=True)
class Guard:
    """Everything the guard reports for one contrast (``group_row`` with the reference note)."""

    de: pd.DataFrame
    caution: pd.DataFrame
    adjusted: pd.DataFrame
    sensitivity: Sensitivity
    covariate: Covariate
    group_row: Mapping[str, Any]
    sentence: str


def guard_contrast(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrast: Contrast,
    options: de_mod.DEOptions,
    de: pd.DataFrame,
    index: pd.Series,
    group_row: Mapping[str, Any],
    features: pd.DataFrame,
    blood_list: pd.DataFrame,
    settings: Settings,
    mirnas: Sequence[str],
) -> Guard:
    """Caution column, caution table, adjusted DE and the sentence for one contrast.

    ``counts``, ``samples``, ``contrast`` and ``options`` are those the DE table ``de`` was
    fitted with; ``group_row`` is the contrast's row of :func:`hemolysis_by_group`;
    ``mirnas`` is ``qc.hemolysis_mirnas`` (for the note on a changing reference).
    The adjusted table gets its own ``blood_cell_caution`` (same rule, its padj).
    """
    listed = listed_features(features, blood_list, settings.cell_types)
    red = sorted(listed_features(features, blood_list, ("red_cell",)))
    covariate = hemolysis_covariate(settings.covariate, de, index, red)
    groups = pd.Series(
        samples[contrast.variable].astype(str).str.strip().to_numpy(),
        index=samples.index.astype(str),
    )
    row = dict(group_row)
    extra = reference_check(de, mirnas, options.alpha)
    row["note"] = "; ".join(n for n in (row.get("note", ""), extra) if n)
    rule = Rule(options.alpha, settings.min_rho, settings.track_fdr)
    caution = caution_table(de, covariate, groups, listed, row, rule)
    differs = str(row["differs"])
    sens = sensitivity(
        counts, samples, contrast, options, covariate, de, settings.adjust, differs, listed
    )
    if sens.run:
        adjusted_caution = caution_table(sens.table, covariate, groups, listed, row, rule)
        adjusted = add_caution(sens.table, adjusted_caution)
    else:
        adjusted = pd.DataFrame(columns=list(add_caution(de, caution).columns))
    n_flagged = int((caution[CAUTION_COLUMN] == "yes").sum())
    sentence = summary_sentence(row, n_flagged, contrast.case, contrast.control)
    return Guard(add_caution(de, caution), caution, adjusted, sens, covariate, row, sentence)


# --------------------------------------------------------------------------
# Text for the console and the report; table formats
# --------------------------------------------------------------------------


def summary_sentence(row: Mapping[str, Any], n_flagged: int, case: str, control: str) -> str:
    """One sentence on the guard's finding for a contrast (console and report)."""
    flagged = f"{n_flagged} significant blood-cell miRNA{'s' if n_flagged != 1 else ''} flagged"
    if row["differs"] == "NA":
        return (
            f"hemolysis could not be compared between {case} and {control} "
            f"({row['note'] or 'no index'}): {flagged}"
        )
    finding = (
        "hemolysis differs"
        if row["differs"] == "yes"
        else "no evidence that hemolysis differs"  # not evidence that it does not
    )
    sentence = f"{finding} between {case} and {control} (p = {row['pvalue']:.2g}): {flagged}"
    return sentence + (f" (note: {row['note']})" if row.get("note") else "")


FLOAT_FORMATS = {
    "case_median": "{:.3f}",
    "control_median": "{:.3f}",
    "pvalue": "{:.4g}",
    "padj": "{:.4g}",
    "padj_adjusted": "{:.4g}",
    "hemolysis_rho": "{:.3f}",
    "hemolysis_rho_pvalue": "{:.4g}",
    "hemolysis_rho_padj": "{:.4g}",
    INDEX_COLUMN: "{:.3f}",
}


def _text(value: Any, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NA"
    return fmt.format(value) if fmt else str(value)


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """Text form of a guard table: fixed decimals, ``NA`` for missing values."""
    out = table.copy().astype(object)
    for column in out.columns:
        out[column] = [_text(value, FLOAT_FORMATS.get(column)) for value in out[column]]
    return out


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write a guard table (byte-identical reruns)."""
    format_table(table).to_csv(path, sep="\t", index=False)


def sample_index(
    qc_table: str | None, counts: pd.DataFrame, mirnas: Sequence[str], min_reads: int
) -> tuple[pd.Series, str, str]:
    """The hemolysis index per sample, its source and a note: the QC table's, else the counts'."""
    if qc_table:
        return index_from_qc_table(qc.read_qc_table(qc_table)), "qc", ""
    index, note = index_from_counts(counts, mirnas, min_reads)
    return index, "counts", note


def guard_results(
    results: Mapping[str, de_mod.DEResult],
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    options: de_mod.DEOptions,
    index: pd.Series,
    references: tuple[pd.DataFrame, pd.DataFrame],
    settings: Settings,
    mirnas: Sequence[str],
) -> tuple[dict[str, Guard], pd.DataFrame]:
    """The guard of every contrast's DE result, and the hemolysis-by-group table.

    Each contrast is guarded on the samples its table was fitted on;
    ``references`` is (the reference's features.tsv, the blood-cell list).
    """
    features, blood = references
    guards = {}
    for name, result in results.items():
        contrast, used = result.contrast, fitted_samples(result.table)
        subset = samples.loc[used]
        strata = design_strata(contrast, subset)
        row = compare_groups(index, subset, contrast, strata, settings.alpha)
        guards[name] = guard_contrast(
            counts[used],
            subset,
            contrast,
            options,
            result.table,
            index,
            row,
            features,
            blood,
            settings,
            mirnas,
        )
    by_group = pd.DataFrame([g.group_row for g in guards.values()], columns=GROUP_COLUMNS)
    return guards, by_group


def write_guard(
    guards: Mapping[str, Guard], by_group: pd.DataFrame, index: pd.DataFrame, output: Any
) -> None:
    """The guard's files: ``output`` has by_group, index and, per contrast in order, caution,
    adjusted and changes (the DE tables with the caution column are written by the DE rule)."""
    write_table(by_group, output.by_group)
    write_table(index, output.index)
    for i, guard in enumerate(guards.values()):
        write_table(guard.caution, output.caution[i])
        guard.adjusted.to_csv(output.adjusted[i], sep="\t", index=False, float_format="%.6g")
        write_table(guard.sensitivity.changes, output.changes[i])


def guard_figure_subtitle(row: Mapping[str, Any]) -> str:
    """The group test's result under the title of the hemolysis-by-group figure."""
    return f"{row['method']}: p = {row['pvalue']:.2g}" if row["method"] else str(row["note"])


def guard_job(smk: Any, counts: pd.DataFrame, samples: pd.DataFrame, results, options, log) -> None:
    """The hemolysis guard of a DE job (``smk``: its rule's inputs, params and outputs).

    Adds ``blood_cell_caution`` to each result's table, writes the guard's files and
    says on the console when hemolysis differs (or cannot be compared) between groups.
    """
    from . import plots

    settings = Settings.from_config(smk.params.hemolysis)
    mirnas, min_reads = smk.params.hemolysis_index
    qc_table = smk.input.get("qc_table")
    index, source, note = sample_index(qc_table, counts, mirnas, min_reads)
    references = (
        pd.read_csv(smk.input.features, sep="\t", dtype=str),
        read_blood_cell_list(smk.input.blood_cell_list),
    )
    guards, by_group = guard_results(
        results, counts, samples, options, index, references, settings, mirnas
    )
    main_contrast = results[next(iter(results))].contrast
    table = index_table(index, samples, main_contrast.variable, source)
    write_guard(guards, by_group, table, smk.output)
    subtitle = guard_figure_subtitle(by_group.iloc[0])
    plots.hemolysis_by_group(
        index, samples, smk.output.figure, main_contrast, subtitle, smk.params.threshold
    )
    log.write(f"hemolysis index from the {source}" + (f": {note}\n" if note else "\n"))
    for name, result in guards.items():
        results[name].table = result.de
        log.write(f"{name}: {result.sentence}\n{name}: {result.sensitivity.note}\n")
        if result.group_row["differs"] != "no":
            print(f"exomir: {name}: {result.sentence}", file=sys.stderr)
