"""Differential expression of count features with PyDESeq2.

This module is a thin, validated front end to PyDESeq2 (a Python port of
DESeq2); it never re-implements the statistics.  It adds what a workflow needs
around the library:

* input validation with error messages that name the offending feature,
  sample, column or level and say how to fix it;
* explicit reference levels, so that the fold change, the Wald test and the
  apeglm-shrunk coefficient all mean "case vs control";
* a prefilter on total counts, DESeq2's ``poscounts`` size factors for sparse
  plasma data, and size factors estimated on control features only (DESeq2's
  ``controlGenes``);
* one tidy, deterministically ordered result table per contrast, plus
  variance-stabilised values for plots and clustering;
* helpers that read a user-supplied count matrix and check it against the
  sample sheet.

Modelling conventions
---------------------
``design`` is a formulaic formula such as ``"~ batch + condition"``.  Every
variable it uses must be a column of the sample table.  Numeric columns are
modelled as continuous covariates; any other column (strings, booleans) is a
categorical factor whose reference level is the first level in sorted order.
A categorical contrast variable instead takes the contrast's control level as
reference, so the design column ``<variable>[T.<case>]`` is the case-vs-control
log fold change that apeglm shrinks.  A numeric contrast variable is a
continuous covariate: its case and control must be numbers and the log2 fold
change is that of moving the covariate from control to case (``("age", "1",
"0")`` is the change per year).  Sample sheets read from text files should
therefore keep categorical codes such as batch ``1``/``2`` as strings
(``dtype=str``); numeric-looking batches would otherwise be fitted as a slope.

Variance-stabilised values are computed blind to the design (DESeq2's
``varianceStabilizingTransformation(blind=TRUE)``: dispersions re-estimated
with an intercept-only model, parametric trend over all features), which is
the usual choice for quality control, PCA and heatmaps because the
transformation then does not use the sample labels being compared.

Size factors come from PyDESeq2 and match R DESeq2 (``ratio`` and
``poscounts``, with or without control features); one known difference:
for ``poscounts`` PyDESeq2 leaves out features whose positive counts are all
exactly 1 (geometric mean 1), which R keeps.

PyDESeq2 is deterministic given its inputs (no random numbers are drawn), and
this module sorts its outputs with a total order, so identical inputs give
identical tables.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEOptions",
    "DEResult",
    "RESULT_COLUMNS",
    "run_de",
    "run_contrasts",
    "contrast_name",
    "read_count_matrix",
    "check_samples_match",
]

#: Columns of :attr:`DEResult.table` that precede the ``norm_<sample>`` columns.
RESULT_COLUMNS: tuple[str, ...] = (
    "feature",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "log2FoldChange_shrunk",
)

_SIZE_FACTOR_METHODS = ("ratio", "poscounts")
_MAX_LISTED = 10


@dataclass(frozen=True)
class DEOptions:
    """Settings of one differential-expression analysis.

    Attributes
    ----------
    design:
        Formulaic formula of the model, e.g. ``"~ batch + condition"``.
    contrast:
        ``(variable, case, control)``; log2 fold changes are case vs control.
    size_factors:
        ``"ratio"`` (DESeq2's median-of-ratios) or ``"poscounts"`` (DESeq2's
        variant for sparse data: geometric means over positive counts only).
    control_features:
        If not empty, size factors are estimated on these features only
        (DESeq2's ``controlGenes``), e.g. spike-ins or stable miRNAs.
    min_count:
        Prefilter: keep features whose total count over all samples of the
        analysis is at least ``min_count``.  ``0`` keeps every feature.
    cooks_refit:
        Replace Cook's-distance outliers and refit (DESeq2's default when every
        group has at least 7 replicates).
    independent_filter:
        Independent filtering of p-values on the mean count before the
        Benjamini-Hochberg adjustment (DESeq2's default).
    alpha:
        Target FDR used by independent filtering.
    shrink:
        Add apeglm-shrunk log2 fold changes (``log2FoldChange_shrunk``).  The
        Wald test always uses the unshrunk estimates.
    n_cpus:
        Worker processes used by PyDESeq2.
    """

    design: str = "~ condition"
    contrast: tuple[str, str, str] = ("condition", "resistant", "sensitive")
    size_factors: str = "ratio"
    control_features: tuple[str, ...] = ()
    min_count: int = 10
    cooks_refit: bool = True
    independent_filter: bool = True
    alpha: float = 0.05
    shrink: bool = True
    n_cpus: int = 1


@dataclass
class DEResult:
    """Outcome of :func:`run_de`.

    Attributes
    ----------
    table:
        One row per tested feature with the columns of :data:`RESULT_COLUMNS`
        followed by one ``norm_<sample>`` column per sample (counts divided by
        the size factor).  Rows are sorted by ``padj`` (missing values last),
        then ``pvalue`` (missing values last), then feature name.  Features
        removed by the prefilter are absent.  ``log2FoldChange_shrunk`` is
        missing (NaN) when shrinkage was not requested.
    vst:
        Features x samples variance-stabilised values (blind to the design)
        for every feature kept by the prefilter, in count-matrix order.
    size_factors:
        Size factor of each sample, indexed by sample name.
    n_tested:
        Number of features kept by the prefilter and modelled.
    n_filtered:
        Number of features removed by the prefilter.
    formula:
        The design formula, normalised (e.g. ``"~ batch + condition"``).
    contrast:
        Human-readable contrast, e.g. ``"condition: resistant vs sensitive"``.
    coefficient:
        Name of the design coefficient that was shrunk (e.g.
        ``"condition[T.resistant]"``); empty when shrinkage was not requested.
    n_significant:
        Number of features with ``padj < alpha``.
    """

    table: pd.DataFrame
    vst: pd.DataFrame
    size_factors: pd.Series
    n_tested: int
    n_filtered: int
    formula: str
    contrast: str
    coefficient: str = ""
    n_significant: int = 0


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _listing(items: Iterable[Any], limit: int = _MAX_LISTED) -> str:
    """Comma-separated listing of at most ``limit`` items, with a count of the rest."""
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" ... and {len(items) - limit} more"
    return shown


def _duplicates(index: pd.Index) -> list[str]:
    return sorted({str(x) for x in index[index.duplicated()]})


def _sample_mismatch_message(
    in_counts_only: Sequence[str],
    in_sheet_only: Sequence[str],
    counts_label: str,
    sheet_label: str,
) -> str:
    parts = []
    if in_counts_only:
        parts.append(
            f"{len(in_counts_only)} sample(s) in {counts_label} are missing from "
            f"{sheet_label}: {_listing(in_counts_only)}"
        )
    if in_sheet_only:
        parts.append(
            f"{len(in_sheet_only)} sample(s) in {sheet_label} are missing from "
            f"{counts_label}: {_listing(in_sheet_only)}"
        )
    return (
        "; ".join(parts) + ". Sample names must match exactly (case-sensitive): rename the count "
        "matrix columns or the sample sheet rows, or remove the extra samples."
    )


def _mismatched_samples(counts: pd.DataFrame, samples: pd.DataFrame) -> tuple[list[str], list[str]]:
    count_names = [str(c) for c in counts.columns]
    sheet_names = [str(s) for s in samples.index]
    sheet_set, count_set = set(sheet_names), set(count_names)
    in_counts_only = [c for c in count_names if c not in sheet_set]
    in_sheet_only = [s for s in sheet_names if s not in count_set]
    return in_counts_only, in_sheet_only


def _validate_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Return ``counts`` as int64 after checking it holds non-negative integers."""
    if not isinstance(counts, pd.DataFrame):
        raise ValueError(
            f"counts must be a pandas DataFrame (features x samples), got {type(counts).__name__}."
        )
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        raise ValueError(
            f"The count matrix is empty ({counts.shape[0]} features x {counts.shape[1]} "
            "samples); provide at least one feature and one sample."
        )
    dup = _duplicates(counts.index)
    if dup:
        raise ValueError(
            f"Duplicate feature name(s) in the count matrix: {_listing(dup)}. "
            "Each feature must appear once; sum or rename the duplicated rows."
        )
    dup = _duplicates(counts.columns)
    if dup:
        raise ValueError(
            f"Duplicate sample name(s) in the count matrix: {_listing(dup)}. "
            "Each sample must appear once."
        )
    numeric = counts.apply(pd.to_numeric, errors="coerce")
    values = numeric.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0) | (np.mod(values, 1) != 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [
            f"feature {counts.index[r]!s}, sample {counts.columns[c]!s} (value {counts.iat[r, c]})"
            for r, c in zip(rows[:_MAX_LISTED], cols[:_MAX_LISTED])
        ]
        more = f" ... and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
        raise ValueError(
            "Counts must be non-negative integers (raw read counts, not normalised "
            f"values such as CPM/TPM); invalid entries: {'; '.join(cells)}{more}."
        )
    return pd.DataFrame(
        values.astype(np.int64), index=counts.index.astype(str), columns=counts.columns.astype(str)
    )


def _normalise_formula(design: str) -> str:
    if not isinstance(design, str) or not design.strip():
        raise ValueError(f"The design must be a formula such as '~ condition', got {design!r}.")
    text = design.strip()
    if not text.startswith("~"):
        text = "~ " + text
    rhs = text[1:].strip()
    if not rhs:
        raise ValueError(f"The design {design!r} has no terms; use e.g. '~ condition'.")
    return "~ " + rhs


def _design_variables(formula: str) -> list[str]:
    from formulaic import Formula

    try:
        variables = Formula(formula).required_variables
    except Exception as exc:  # formulaic raises several parser exceptions
        raise ValueError(f"Cannot parse the design formula {formula!r}: {exc}") from exc
    return sorted(str(v) for v in variables)


def _prepare_metadata(
    samples: pd.DataFrame, variables: Sequence[str], contrast: tuple[str, str, str]
) -> pd.DataFrame:
    """Design columns with categorical reference levels set; validated."""
    var, case, control = contrast
    missing = [v for v in variables if v not in samples.columns]
    if missing:
        raise ValueError(
            f"Design variable(s) {_listing(missing)} are not columns of the sample table "
            f"(available columns: {_listing(map(str, samples.columns), 50)}). Add the "
            "column(s) to the sample sheet or remove them from the design formula."
        )
    if var not in variables:
        raise ValueError(
            f"The contrast variable {var!r} is not in the design formula; add it to the "
            f"design (e.g. '~ {var}') or change the contrast."
        )
    metadata = pd.DataFrame(index=samples.index.astype(str))
    for name in variables:
        column = samples[name]
        empty = column.isna() | (column.astype(str).str.strip() == "")
        if empty.any():
            raise ValueError(
                f"Design variable {name!r} has missing values for sample(s) "
                f"{_listing(samples.index[empty.to_numpy()])}; fill them in or drop "
                "these samples."
            )
        is_numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(
            column
        )
        if is_numeric:
            if name == var:
                not_numbers = [lvl for lvl in (case, control) if _as_number(lvl) is None]
                if not_numbers:
                    raise ValueError(
                        f"The contrast variable {var!r} is numeric (a continuous covariate), "
                        f"so the contrast levels must be numbers, got "
                        f"{_listing(repr(a) for a in not_numbers)}. Use e.g. "
                        f"[{var!r}, '1', '0'] for the change per unit, or store the column "
                        "as text to treat it as categorical."
                    )
            metadata[name] = column.astype(float).to_numpy()
            continue
        values = column.astype(str).str.strip().to_numpy()
        levels = sorted(set(values))
        if name == var:
            absent = [lvl for lvl in (case, control) if lvl not in levels]
            if absent:
                raise ValueError(
                    f"Contrast level(s) {_listing(repr(a) for a in absent)} of variable "
                    f"{var!r} are not present in the samples (levels found: "
                    f"{_listing(levels, 50)}). Fix the contrast or the sample sheet."
                )
            levels = [control] + [lvl for lvl in levels if lvl != control]
        metadata[name] = pd.Categorical(values, categories=levels)
    return metadata


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _contrast_tuple(contrast: Sequence[str]) -> tuple[str, str, str]:
    if isinstance(contrast, str) or len(contrast) != 3:
        raise ValueError(f"A contrast must be [variable, case, control], got {contrast!r}.")
    var, case, control = (str(x) for x in contrast)
    if case == control:
        raise ValueError(
            f"The contrast compares level {case!r} of {var!r} with itself; case and "
            "control must differ."
        )
    return var, case, control


def contrast_name(contrast: Sequence[str]) -> str:
    """Short name of a contrast, ``<case>_vs_<control>``."""
    _, case, control = _contrast_tuple(contrast)
    return f"{case}_vs_{control}"


# --------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------


def _sort_results(table: pd.DataFrame) -> pd.DataFrame:
    """Sort by padj, then pvalue (missing values last), then feature name."""
    padj = table["padj"].to_numpy(dtype=float)
    pval = table["pvalue"].to_numpy(dtype=float)
    names = table["feature"].to_numpy(dtype=str)
    # np.lexsort: last key is primary; NaN are mapped to +inf with a flag first.
    order = np.lexsort(
        (
            names,
            np.where(np.isnan(pval), np.inf, pval),
            np.isnan(pval),
            np.where(np.isnan(padj), np.inf, padj),
            np.isnan(padj),
        )
    )
    return table.iloc[order].reset_index(drop=True)


def _check_rank(metadata: pd.DataFrame, formula: str) -> None:
    from formulaic_contrasts import FormulaicContrasts

    matrix = FormulaicContrasts(metadata, formula).design_matrix
    rank = np.linalg.matrix_rank(matrix.to_numpy(dtype=float))
    if rank < matrix.shape[1]:
        raise ValueError(
            f"The design {formula!r} is not full rank for these samples (design columns: "
            f"{_listing(matrix.columns, 50)}): some variables are confounded (e.g. every "
            "sample of one batch has the same condition) or a level has no samples. "
            "Remove or merge the confounded variables."
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise ValueError(
            f"The design {formula!r} has {matrix.shape[1]} coefficients for only "
            f"{matrix.shape[0]} samples; there are no residual degrees of freedom to "
            "estimate dispersions. Simplify the design or add samples."
        )


def run_de(counts: pd.DataFrame, samples: pd.DataFrame, options: DEOptions) -> DEResult:
    """Test one contrast with PyDESeq2.

    Parameters
    ----------
    counts:
        Features x samples raw counts (index = feature names, columns = sample
        names).  Columns are reordered to follow ``samples.index``.
    samples:
        Sample table indexed by sample name, with every variable of
        ``options.design``.  Numeric columns are continuous covariates; other
        columns are categorical.
    options:
        Analysis settings.

    Returns
    -------
    DEResult

    Raises
    ------
    ValueError
        On invalid counts, mismatched samples, missing design variables or
        contrast levels, absent control features, a rank-deficient design, or
        size factors that cannot be estimated.
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    if options.size_factors not in _SIZE_FACTOR_METHODS:
        raise ValueError(
            f"size_factors must be one of {', '.join(_SIZE_FACTOR_METHODS)}, got "
            f"{options.size_factors!r}."
        )
    if options.min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {options.min_count}.")
    if not 0 < options.alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {options.alpha}.")
    contrast = _contrast_tuple(options.contrast)
    var, case, control = contrast
    formula = _normalise_formula(options.design)
    variables = _design_variables(formula)

    if not isinstance(samples, pd.DataFrame):
        raise ValueError("samples must be a pandas DataFrame indexed by sample name.")
    dup = _duplicates(samples.index.astype(str))
    if dup:
        raise ValueError(
            f"Duplicate sample name(s) in the sample table: {_listing(dup)}; each sample "
            "must appear once."
        )
    counts = _validate_counts(counts)
    in_counts_only, in_sheet_only = _mismatched_samples(counts, samples)
    if in_counts_only or in_sheet_only:
        raise ValueError(
            _sample_mismatch_message(
                in_counts_only, in_sheet_only, "the count matrix", "the sample table"
            )
        )
    sample_names = [str(s) for s in samples.index]
    counts = counts.loc[:, sample_names]
    metadata = _prepare_metadata(samples, variables, contrast)

    control_features = tuple(str(f) for f in options.control_features)
    absent = [f for f in control_features if f not in counts.index]
    if absent:
        raise ValueError(
            f"Control feature(s) {_listing(absent)} are not rows of the count matrix; "
            "check their spelling against the feature names or remove them from "
            "control_features."
        )

    # Prefilter on total counts.
    totals = counts.sum(axis=1)
    keep = totals >= options.min_count
    n_filtered = int((~keep).sum())
    counts = counts.loc[keep.to_numpy()]
    if counts.shape[0] == 0:
        raise ValueError(
            f"No feature has a total count >= min_count={options.min_count} "
            f"(largest total: {int(totals.max())}); lower min_count."
        )
    empty_samples = counts.columns[(counts.sum(axis=0) == 0).to_numpy()]
    if len(empty_samples):
        raise ValueError(
            f"Sample(s) {_listing(empty_samples)} have no counts on the features kept by "
            "the prefilter; remove them from the analysis."
        )

    if control_features:
        dropped = [f for f in control_features if f not in counts.index]
        if len(dropped) == len(control_features):
            raise ValueError(
                f"Every control feature ({_listing(control_features)}) was removed by the "
                f"prefilter (total count < min_count={options.min_count}); lower min_count "
                "or choose better-expressed control features."
            )
        if dropped:
            warnings.warn(
                f"Control feature(s) {_listing(dropped)} were removed by the prefilter and "
                "are not used for size factors.",
                UserWarning,
                stacklevel=2,
            )
        size_features = [f for f in control_features if f in counts.index]
    else:
        size_features = list(counts.index)
    if options.size_factors == "ratio":
        usable = (counts.loc[size_features] > 0).all(axis=1)
        if not usable.any():
            what = "control feature" if control_features else "feature"
            raise ValueError(
                f"Median-of-ratios size factors need at least one {what} with a positive "
                "count in every sample, and there is none (typical of sparse plasma "
                "data); use size_factors='poscounts'."
            )

    _check_rank(metadata, formula)

    inference = DefaultInference(n_cpus=options.n_cpus)
    with warnings.catch_warnings(record=True) as caught:
        # PyDESeq2's user warnings (e.g. a dispersion trend falling back to the
        # mean) are collected and re-issued once each, after the fit; numerical
        # RuntimeWarnings from intermediate steps are dropped.
        warnings.simplefilter("always")
        dds = DeseqDataSet(
            counts=counts.T,
            metadata=metadata,
            design=formula,
            size_factors_fit_type=options.size_factors,
            control_genes=size_features if control_features else None,
            refit_cooks=options.cooks_refit,
            inference=inference,
            quiet=True,
        )
        dds.deseq2()

        size_factors = pd.Series(
            np.asarray(dds.obs["size_factors"], dtype=float),
            index=pd.Index(sample_names, name="sample"),
            name="size_factor",
        )
        bad_sf = size_factors.index[~np.isfinite(size_factors.to_numpy()) | (size_factors <= 0)]
        if len(bad_sf):
            raise ValueError(
                f"Size factors could not be estimated for sample(s) {_listing(bad_sf)} "
                f"(method {options.size_factors!r}"
                + (", control features only" if control_features else "")
                + "): these samples have no positive count on the features used. Use "
                "size_factors='poscounts', other control features, or drop the samples."
            )

        if isinstance(metadata[var].dtype, pd.CategoricalDtype):
            contrast_vector = dds.contrast(column=var, baseline=control, group_to_compare=case)
        else:
            contrast_vector = dds.contrast(
                column=var, baseline=_as_number(control), group_to_compare=_as_number(case)
            )
        contrast_vector = np.asarray(contrast_vector, dtype=float)
        stats = DeseqStats(
            dds,
            contrast=contrast_vector,
            alpha=options.alpha,
            cooks_filter=True,
            independent_filter=options.independent_filter,
            inference=inference,
            quiet=True,
        )
        stats.summary()
        results = stats.results_df.copy()

        coefficient = ""
        shrunk = pd.Series(np.nan, index=results.index)
        if options.shrink:
            coefficient, scale = _shrink_coefficient(stats.LFC.columns, contrast_vector, contrast)
            stats.lfc_shrink(coeff=coefficient, adapt=True)
            shrunk = scale * stats.LFC[coefficient] / math.log(2)

        normed = pd.DataFrame(
            np.asarray(dds.layers["normed_counts"], dtype=float).T,
            index=counts.index,
            columns=sample_names,
        )

        # Blind VST last: it re-estimates dispersions on the same object.
        dds.vst(use_design=False)
        vst = pd.DataFrame(
            np.asarray(dds.layers["vst_counts"], dtype=float).T,
            index=pd.Index(counts.index, name="feature"),
            columns=pd.Index(sample_names, name="sample"),
        )

    reported: set[str] = set()
    for item in caught:
        message = str(item.message)
        if issubclass(item.category, UserWarning) and message not in reported:
            reported.add(message)
            warnings.warn(f"PyDESeq2: {message}", UserWarning, stacklevel=2)

    table = pd.DataFrame(
        {
            "feature": results.index.astype(str),
            "baseMean": results["baseMean"].to_numpy(dtype=float),
            "log2FoldChange": results["log2FoldChange"].to_numpy(dtype=float),
            "lfcSE": results["lfcSE"].to_numpy(dtype=float),
            "stat": results["stat"].to_numpy(dtype=float),
            "pvalue": results["pvalue"].to_numpy(dtype=float),
            "padj": results["padj"].to_numpy(dtype=float),
            "log2FoldChange_shrunk": shrunk.reindex(results.index).to_numpy(dtype=float),
        }
    )
    norm_cols = normed.reindex(results.index)
    norm_cols.columns = [f"norm_{s}" for s in sample_names]
    table = pd.concat([table, norm_cols.reset_index(drop=True)], axis=1)
    table = _sort_results(table)

    n_significant = int((table["padj"] < options.alpha).sum())
    return DEResult(
        table=table,
        vst=vst,
        size_factors=size_factors,
        n_tested=int(counts.shape[0]),
        n_filtered=n_filtered,
        formula=formula,
        contrast=f"{var}: {case} vs {control}",
        coefficient=coefficient,
        n_significant=n_significant,
    )


def _shrink_coefficient(
    columns: pd.Index, contrast_vector: np.ndarray, contrast: tuple[str, str, str]
) -> tuple[str, float]:
    """Design column proportional to the contrast (for apeglm), and the factor.

    For a categorical contrast variable whose reference is the control level
    the contrast is exactly ``<var>[T.<case>]`` (factor 1); for a continuous
    variable it is the slope times ``case - control``.
    """
    nonzero = np.flatnonzero(contrast_vector != 0)
    if len(nonzero) == 1:
        return str(columns[nonzero[0]]), float(contrast_vector[nonzero[0]])
    var, case, control = contrast
    raise ValueError(
        f"The contrast {var}: {case} vs {control} is not a single coefficient of the "
        f"design (columns: {_listing(columns, 50)}), so it cannot be shrunk with apeglm; "
        "set shrink to false for this contrast."
    )


def run_contrasts(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    base: DEOptions,
    extra: Sequence[Mapping[str, Any]] = (),
) -> dict[str, DEResult]:
    """Run the main contrast of ``base`` and any extra contrasts.

    The main result is keyed ``<case>_vs_<control>`` (see :func:`contrast_name`).
    Each extra contrast is a mapping::

        {"name": "breast_resistant_vs_sensitive",      # key of the result
         "contrast": ["condition", "resistant", "sensitive"],
         "subset": {"column": "cancer", "value": "breast"},   # optional
         "design": "~ condition"}                       # optional

    An extra contrast without ``subset`` is tested on all samples; with a
    ``subset`` the analysis (size factors, prefilter, dispersions) is rerun on
    the matching samples only.  Unspecified settings are taken from ``base``.
    Extra contrasts without subset or design still refit the model; at the
    scale of a miRNA panel this is cheap and keeps every result independent.
    """
    results: dict[str, DEResult] = {}
    main = contrast_name(base.contrast)
    results[main] = run_de(counts, samples, base)
    for i, spec in enumerate(extra):
        if not isinstance(spec, Mapping):
            raise ValueError(f"Extra contrast #{i + 1} must be a mapping, got {spec!r}.")
        unknown = sorted(set(spec) - {"name", "contrast", "subset", "design"})
        if unknown:
            raise ValueError(
                f"Extra contrast #{i + 1} has unknown key(s) {_listing(unknown)}; allowed "
                "keys are name, contrast, subset, design."
            )
        if "contrast" not in spec:
            raise ValueError(
                f"Extra contrast #{i + 1} has no 'contrast' [variable, case, control]."
            )
        name = str(spec.get("name") or contrast_name(spec["contrast"]))
        if name in results:
            raise ValueError(
                f"Contrast name {name!r} is used twice; give each extra contrast a unique name."
            )
        options = replace(
            base,
            contrast=_contrast_tuple(spec["contrast"]),
            design=spec.get("design") or base.design,
        )
        sub_samples, sub_counts = samples, counts
        subset = spec.get("subset")
        if subset:
            column, value = subset.get("column"), subset.get("value")
            if column not in samples.columns:
                raise ValueError(
                    f"Extra contrast {name!r}: subset column {column!r} is not a column of "
                    f"the sample table (available: {_listing(map(str, samples.columns), 50)})."
                )
            mask = samples[column].astype(str).str.strip() == str(value)
            if not mask.any():
                found = sorted(set(samples[column].astype(str).str.strip()))
                raise ValueError(
                    f"Extra contrast {name!r}: no sample has {column} == {value!r} (values "
                    f"found: {_listing(found, 50)})."
                )
            sub_samples = samples.loc[mask.to_numpy()]
            wanted = {str(s) for s in sub_samples.index}
            # Samples of the subset absent from the matrix are reported by run_de.
            sub_counts = counts.loc[:, [c for c in counts.columns if str(c) in wanted]]
        try:
            results[name] = run_de(sub_counts, sub_samples, options)
        except ValueError as exc:
            raise ValueError(f"Extra contrast {name!r}: {exc}") from exc
    return results


# --------------------------------------------------------------------------
# Starting from a user-supplied count matrix
# --------------------------------------------------------------------------


def _separator(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zst"):
        suffixes = suffixes[:-1]
    return "," if suffixes and suffixes[-1] == ".csv" else "\t"


def read_count_matrix(path: str | Path) -> pd.DataFrame:
    """Read a features x samples count matrix.

    The first column holds feature names and the header row holds sample
    names.  Files ending in ``.csv`` (optionally compressed) are comma
    separated; anything else is read as tab separated.  Values written as
    whole-number floats (``12.0``) are accepted and cast to integers.

    Returns
    -------
    pandas.DataFrame
        int64 counts, index named ``feature``, columns named ``sample``.

    Raises
    ------
    ValueError
        If the file is empty, has no sample column, has duplicate feature or
        sample names, or holds a value that is not a non-negative integer (the
        message names the row and column).
    """
    path = Path(path)
    sep = _separator(path)
    try:
        raw = pd.read_csv(
            path, sep=sep, header=None, dtype=str, keep_default_na=False, na_filter=False
        )
    except pd.errors.EmptyDataError:
        raise ValueError(f"Count matrix {path} is empty.") from None
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise ValueError(
            f"Count matrix {path} needs a header row of sample names and at least one "
            "feature row, with feature names in the first column "
            f"({'comma' if sep == ',' else 'tab'}-separated); found {raw.shape[0]} row(s) "
            f"and {raw.shape[1]} column(s)."
        )
    header = [h.strip() for h in raw.iloc[0].tolist()]
    samples = header[1:]
    features = [f.strip() for f in raw.iloc[1:, 0].tolist()]
    blank = [i + 2 for i, s in enumerate(samples) if not s]
    if blank:
        raise ValueError(f"Count matrix {path}: empty sample name in column(s) {_listing(blank)}.")
    dup = sorted({s for s in samples if samples.count(s) > 1})
    if dup:
        raise ValueError(f"Count matrix {path}: duplicate sample name(s) {_listing(dup)}.")
    blank = [i + 2 for i, f in enumerate(features) if not f]
    if blank:
        raise ValueError(f"Count matrix {path}: empty feature name on line(s) {_listing(blank)}.")
    seen: dict[str, int] = {}
    dup_lines = []
    for i, f in enumerate(features):
        if f in seen:
            dup_lines.append(f"{f} (lines {seen[f]} and {i + 2})")
        else:
            seen[f] = i + 2
    if dup_lines:
        raise ValueError(
            f"Count matrix {path}: duplicate feature name(s) {_listing(dup_lines)}; each "
            "feature must appear on one row."
        )
    text = raw.iloc[1:, 1:].apply(lambda col: col.str.strip())
    values = text.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0) | (np.mod(values, 1) != 0)
    if bad.any():
        rows, cols = np.nonzero(bad)
        cells = [
            f"feature {features[r]} (line {r + 2}), sample {samples[c]}: {text.iat[r, c]!r}"
            for r, c in zip(rows[:_MAX_LISTED], cols[:_MAX_LISTED])
        ]
        more = f" ... and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
        raise ValueError(
            f"Count matrix {path}: values must be non-negative integer read counts; "
            f"invalid value(s) at {'; '.join(cells)}{more}."
        )
    return pd.DataFrame(
        values.astype(np.int64),
        index=pd.Index(features, name="feature"),
        columns=pd.Index(samples, name="sample"),
    )


def check_samples_match(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    counts_path: str | Path,
    sheet_path: str | Path,
) -> pd.DataFrame:
    """Check that the count matrix and the sample sheet name the same samples.

    Returns the count matrix with its columns in sample-sheet order.

    Raises
    ------
    ValueError
        Listing the matrix columns missing from the sheet and the sheet
        samples missing from the matrix, with both file names.
    """
    in_counts_only, in_sheet_only = _mismatched_samples(counts, samples)
    if in_counts_only or in_sheet_only:
        raise ValueError(
            _sample_mismatch_message(
                in_counts_only,
                in_sheet_only,
                f"count matrix {counts_path}",
                f"sample sheet {sheet_path}",
            )
        )
    order = [str(s) for s in samples.index]
    renamed = counts.copy()
    renamed.columns = [str(c) for c in counts.columns]
    return renamed.loc[:, order]
