"""Differential expression of count features with PyDESeq2.

This module is a thin, validated front end to PyDESeq2 (a Python port of
DESeq2); it never re-implements the statistics.  It adds what a workflow needs
around the library:

* input validation with error messages that name the offending feature,
  sample, column or level and say how to fix it;
* explicit reference levels, so that the fold change, the Wald test and the
  apeglm-shrunk coefficient all mean "case vs control" of a
  :class:`~exomir.design.Contrast`;
* a prefilter on total counts, DESeq2's ``poscounts`` size factors for sparse
  plasma data, and size factors estimated on control features only (DESeq2's
  ``controlGenes``);
* one tidy, deterministically ordered result table per contrast, plus
  variance-stabilised values for plots and clustering;
* helpers that read a user-supplied count matrix and check it against the
  sample sheet.

Modelling conventions are those of :mod:`exomir.design`: numeric columns of the
sample table are continuous covariates, other columns factors; a contrast
variable's reference level is the control, so the design column
``<variable>[T.<case>]`` is the case-vs-control log fold change that apeglm
shrinks.  A numeric contrast variable is a continuous covariate: its case and
control must be numbers and the log2 fold change is that of moving the covariate
from control to case (case ``1``, control ``0``: the change per unit).

Variance-stabilised values are computed blind to the design (DESeq2's
``varianceStabilizingTransformation(blind=TRUE)``), the usual choice for quality
control, PCA and heatmaps because the transformation then does not use the
sample labels being compared.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .design import (
    Contrast,
    DesignError,
    as_number,
    check_contrast,
    check_full_rank,
    listing,
    model_metadata,
    normalise_formula,
)

__all__ = [
    "DEOptions",
    "DEResult",
    "RESULT_COLUMNS",
    "run_de",
    "run_contrasts",
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
MAX_LISTED = 10


@dataclass(frozen=True)
class DEOptions:
    """Settings of the differential-expression analyses (the config's ``de`` block).

    ``size_factors``: ``"ratio"`` (median-of-ratios) or ``"poscounts"`` (geometric
    means over positive counts, for sparse data); ``control_features``: if not
    empty, size factors are estimated on these features only; ``min_count``:
    features whose total count over the analysed samples is smaller are not
    tested; ``cooks_refit``, ``independent_filter``: DESeq2's outlier refit and
    independent filtering; ``alpha``: target FDR; ``shrink``: add apeglm-shrunk
    log2 fold changes (the Wald test always uses the unshrunk estimates);
    ``n_cpus``: PyDESeq2 worker processes.
    """

    size_factors: str
    control_features: tuple[str, ...]
    min_count: int
    cooks_refit: bool
    independent_filter: bool
    alpha: float
    shrink: bool
    n_cpus: int

    @classmethod
    def from_config(cls, de: Mapping, n_cpus: int) -> DEOptions:
        """From the validated config's ``de`` block."""
        return cls(
            size_factors=de["size_factors"],
            control_features=tuple(de["control_features"]),
            min_count=de["min_count"],
            cooks_refit=de["cooks_refit"],
            independent_filter=de["independent_filter"],
            alpha=de["alpha"],
            shrink=de["shrink"],
            n_cpus=n_cpus,
        )


@dataclass
class DEResult:
    """Outcome of :func:`run_de`.

    ``table``: one row per tested feature, :data:`RESULT_COLUMNS` then one
    ``norm_<sample>`` column per sample (counts / size factor), sorted by padj,
    then pvalue (missing last), then feature; features removed by the prefilter
    are absent; ``log2FoldChange_shrunk`` is NaN without shrinkage.
    ``vst``: features x samples variance-stabilised values (blind) of the features
    kept by the prefilter.  ``size_factors``: per sample.  ``n_tested``,
    ``n_filtered``: features kept and removed by the prefilter.  ``coefficient``:
    the design column that was shrunk (empty without shrinkage).
    """

    table: pd.DataFrame
    vst: pd.DataFrame
    size_factors: pd.Series
    n_tested: int
    n_filtered: int
    contrast: Contrast
    coefficient: str = ""
    n_significant: int = 0


@dataclass
class _Prepared:
    """Validated inputs of one fit: prefiltered counts and the design columns."""

    counts: pd.DataFrame
    metadata: pd.DataFrame
    control_features: list[str]
    n_filtered: int


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _duplicates(index: pd.Index) -> list[str]:
    return sorted({str(x) for x in index[index.duplicated()]})


def _check_integers(values: np.ndarray, describe, message: str) -> None:
    """Raise ``message: cells`` when a value is not a non-negative integer.

    ``describe(row, column)`` names one cell; at most ``MAX_LISTED`` are named.
    """
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0) | (np.mod(values, 1) != 0)
    rows, cols = np.nonzero(bad)
    if len(rows):
        cells = [describe(r, c) for r, c in zip(rows[:MAX_LISTED], cols[:MAX_LISTED])]
        more = f" ... and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
        raise ValueError(f"{message}: {'; '.join(cells)}{more}.")


def _sample_mismatch_message(
    counts: pd.DataFrame, samples: pd.DataFrame, counts_label: str, sheet_label: str
) -> str:
    """Empty when both name the same samples; else what is missing where, and the fix."""
    count_names = [str(c) for c in counts.columns]
    sheet_names = [str(s) for s in samples.index]
    in_counts_only = [c for c in count_names if c not in set(sheet_names)]
    in_sheet_only = [s for s in sheet_names if s not in set(count_names)]
    parts = []
    if in_counts_only:
        parts.append(
            f"{len(in_counts_only)} sample(s) in {counts_label} are missing from "
            f"{sheet_label}: {listing(in_counts_only)}"
        )
    if in_sheet_only:
        parts.append(
            f"{len(in_sheet_only)} sample(s) in {sheet_label} are missing from "
            f"{counts_label}: {listing(in_sheet_only)}"
        )
    if not parts:
        return ""
    return "; ".join(parts) + (
        ". Sample names must match exactly (case-sensitive): rename the count matrix columns "
        "or the sample sheet rows, or remove the extra samples."
    )


def _validate_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` as int64 after checking it holds non-negative integers."""
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        raise ValueError(
            f"The count matrix is empty ({counts.shape[0]} features x {counts.shape[1]} "
            "samples); provide at least one feature and one sample."
        )
    for what, index in (("feature", counts.index), ("sample", counts.columns)):
        dup = _duplicates(index)
        if dup:
            raise ValueError(
                f"Duplicate {what} name(s) in the count matrix: {listing(dup)}; each must "
                "appear once."
            )
    values = counts.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    _check_integers(
        values,
        lambda r, c: (
            f"feature {counts.index[r]!s}, sample {counts.columns[c]!s} (value {counts.iat[r, c]})"
        ),
        "Counts must be non-negative integers (raw read counts, not normalised values such as "
        "CPM/TPM); invalid entries",
    )
    return pd.DataFrame(
        values.astype(np.int64), index=counts.index.astype(str), columns=counts.columns.astype(str)
    )


def _check_options(options: DEOptions) -> None:
    if options.size_factors not in ("ratio", "poscounts"):
        raise ValueError(f"size_factors must be ratio or poscounts, got {options.size_factors!r}.")
    if options.min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {options.min_count}.")
    if not 0 < options.alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {options.alpha}.")


def _control_features(counts: pd.DataFrame, options: DEOptions, totals: pd.Series) -> list[str]:
    """Control features kept by the prefilter (empty list: size factors on all features)."""
    wanted = [str(f) for f in options.control_features]
    absent = [f for f in wanted if f not in totals.index]
    if absent:
        raise ValueError(
            f"Control feature(s) {listing(absent)} are not rows of the count matrix; "
            "check their spelling against the feature names or remove them from "
            "control_features."
        )
    kept = [f for f in wanted if f in counts.index]
    if wanted and not kept:
        raise ValueError(
            f"Every control feature ({listing(wanted)}) was removed by the prefilter (total "
            f"count < min_count={options.min_count}); lower min_count or choose "
            "better-expressed control features."
        )
    if len(kept) < len(wanted):
        warnings.warn(
            f"Control feature(s) {listing(sorted(set(wanted) - set(kept)))} were removed by "
            "the prefilter and are not used for size factors.",
            UserWarning,
            stacklevel=3,
        )
    return kept


def _check_size_factor_input(counts: pd.DataFrame, controls: list[str], method: str) -> None:
    if method != "ratio":
        return
    if not (counts.loc[controls or list(counts.index)] > 0).all(axis=1).any():
        what = "control feature" if controls else "feature"
        raise ValueError(
            f"Median-of-ratios size factors need at least one {what} with a positive count in "
            "every sample, and there is none (typical of sparse plasma data); use "
            "size_factors='poscounts'."
        )


def _prepare(
    counts: pd.DataFrame, samples: pd.DataFrame, contrast: Contrast, options: DEOptions
) -> _Prepared:
    """Validated, prefiltered counts in sample order and the design columns."""
    _check_options(options)
    dup = _duplicates(samples.index.astype(str))
    if dup:
        raise ValueError(f"Duplicate sample name(s) in the sample table: {listing(dup)}.")
    counts = _validate_counts(counts)
    mismatch = _sample_mismatch_message(counts, samples, "the count matrix", "the sample table")
    if mismatch:
        raise ValueError(mismatch)
    counts = counts.loc[:, [str(s) for s in samples.index]]
    metadata = model_metadata(samples, contrast)
    totals = counts.sum(axis=1)
    keep = (totals >= options.min_count).to_numpy()
    if not keep.any():
        raise ValueError(
            f"No feature has a total count >= min_count={options.min_count} (largest total: "
            f"{int(totals.max())}); lower min_count."
        )
    kept = counts.loc[keep]
    empty = kept.columns[(kept.sum(axis=0) == 0).to_numpy()]
    if len(empty):
        raise ValueError(
            f"Sample(s) {listing(empty)} have no counts on the features kept by the "
            "prefilter; remove them from the analysis."
        )
    controls = _control_features(kept, options, totals)
    _check_size_factor_input(kept, controls, options.size_factors)
    check_full_rank(metadata, contrast)
    return _Prepared(kept, metadata, controls, int((~keep).sum()))


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


def _fit(prepared: _Prepared, contrast: Contrast, options: DEOptions):
    """PyDESeq2 fit and Wald test; returns the dataset, the statistics and the size factors."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    inference = DefaultInference(n_cpus=options.n_cpus)
    dds = DeseqDataSet(
        counts=prepared.counts.T,
        metadata=prepared.metadata,
        design=normalise_formula(contrast.design),
        size_factors_fit_type=options.size_factors,
        control_genes=prepared.control_features or None,
        refit_cooks=options.cooks_refit,
        inference=inference,
        quiet=True,
    )
    dds.deseq2()
    size_factors = pd.Series(
        np.asarray(dds.obs["size_factors"], dtype=float),
        index=pd.Index(prepared.counts.columns, name="sample"),
        name="size_factor",
    )
    bad = size_factors.index[~np.isfinite(size_factors.to_numpy()) | (size_factors <= 0)]
    if len(bad):
        raise ValueError(
            f"Size factors could not be estimated for sample(s) {listing(bad)} (method "
            f"{options.size_factors!r}): they have no positive count on the features used. "
            "Use size_factors='poscounts', other control features, or drop the samples."
        )
    vector = _contrast_vector(dds, prepared.metadata, contrast)
    stats = DeseqStats(
        dds,
        contrast=vector,
        alpha=options.alpha,
        cooks_filter=True,
        independent_filter=options.independent_filter,
        inference=inference,
        quiet=True,
    )
    stats.summary()
    return dds, stats, vector, size_factors


def _contrast_vector(dds, metadata: pd.DataFrame, contrast: Contrast) -> np.ndarray:
    if isinstance(metadata[contrast.variable].dtype, pd.CategoricalDtype):
        vector = dds.contrast(
            column=contrast.variable, baseline=contrast.control, group_to_compare=contrast.case
        )
    else:
        vector = dds.contrast(
            column=contrast.variable,
            baseline=as_number(contrast.control),
            group_to_compare=as_number(contrast.case),
        )
    return np.asarray(vector, dtype=float)


def _shrunk_lfc(stats, vector: np.ndarray, contrast: Contrast) -> tuple[str, pd.Series]:
    """apeglm-shrunk log2 fold change of the design column proportional to the contrast."""
    nonzero = np.flatnonzero(vector != 0)
    if len(nonzero) != 1:
        raise ValueError(
            f"{contrast.key}: {contrast.label} is not a single coefficient of the design "
            f"(columns: {listing(stats.LFC.columns, 50)}), so it cannot be shrunk with "
            "apeglm; set de.shrink: false."
        )
    coefficient, scale = str(stats.LFC.columns[nonzero[0]]), float(vector[nonzero[0]])
    stats.lfc_shrink(coeff=coefficient, adapt=True)
    return coefficient, scale * stats.LFC[coefficient] / math.log(2)


def _result_table(results: pd.DataFrame, shrunk: pd.Series, normed: pd.DataFrame) -> pd.DataFrame:
    columns = ("baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj")
    table = pd.DataFrame(
        {
            "feature": results.index.astype(str),
            **{c: results[c].to_numpy(dtype=float) for c in columns},
            "log2FoldChange_shrunk": shrunk.reindex(results.index).to_numpy(dtype=float),
        }
    )
    norm = normed.reindex(results.index)
    norm.columns = [f"norm_{s}" for s in normed.columns]
    return _sort_results(pd.concat([table, norm.reset_index(drop=True)], axis=1))


def _reissue(caught: list) -> None:
    """PyDESeq2's user warnings, once each (numerical RuntimeWarnings are dropped)."""
    reported: set[str] = set()
    for item in caught:
        message = str(item.message)
        if issubclass(item.category, UserWarning) and message not in reported:
            reported.add(message)
            warnings.warn(f"PyDESeq2: {message}", UserWarning, stacklevel=3)


def run_de(
    counts: pd.DataFrame, samples: pd.DataFrame, contrast: Contrast, options: DEOptions
) -> DEResult:
    """Test one contrast with PyDESeq2 on the samples of ``samples`` (its subset not applied).

    ``counts`` is features x samples (raw integers; columns are reordered to follow
    ``samples.index``); ``samples`` holds every variable of the contrast's design
    (numeric columns are continuous covariates).  Raises ``ValueError`` naming the
    culprit on invalid counts, mismatched samples, design problems, absent control
    features or size factors that cannot be estimated.
    """
    prepared = _prepare(counts, samples, contrast, options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dds, stats, vector, size_factors = _fit(prepared, contrast, options)
        results = stats.results_df.copy()  # lfc_shrink overwrites its fold changes
        coefficient, shrunk = "", pd.Series(np.nan, index=results.index)
        if options.shrink:
            coefficient, shrunk = _shrunk_lfc(stats, vector, contrast)
        normed = pd.DataFrame(
            np.asarray(dds.layers["normed_counts"], dtype=float).T,
            index=prepared.counts.index,
            columns=prepared.counts.columns,
        )
        dds.vst(use_design=False)  # last: it re-estimates dispersions on the same object
        vst = pd.DataFrame(
            np.asarray(dds.layers["vst_counts"], dtype=float).T,
            index=pd.Index(prepared.counts.index, name="feature"),
            columns=pd.Index(prepared.counts.columns, name="sample"),
        )
    _reissue(caught)
    table = _result_table(results, shrunk, normed)
    return DEResult(
        table=table,
        vst=vst,
        size_factors=size_factors,
        n_tested=int(prepared.counts.shape[0]),
        n_filtered=prepared.n_filtered,
        contrast=contrast,
        coefficient=coefficient,
        n_significant=int((table["padj"] < options.alpha).sum()),
    )


def run_contrasts(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrasts: Sequence[Contrast],
    options: DEOptions,
) -> dict[str, DEResult]:
    """Every contrast, keyed by its name; each refitted on its own subset of samples.

    A contrast with a subset reruns the whole analysis (size factors, prefilter,
    dispersions) on the matching samples only.
    """
    results: dict[str, DEResult] = {}
    for contrast in contrasts:
        if contrast.name in results:
            raise ValueError(f"Contrast name {contrast.name!r} is used twice.")
        check_contrast(contrast, samples)
        chosen = contrast.select(samples)
        wanted = [c for c in counts.columns if str(c) in set(map(str, chosen.index))]
        try:
            results[contrast.name] = run_de(counts.loc[:, wanted], chosen, contrast, options)
        except DesignError:
            raise  # its message names the contrast already
        except ValueError as error:
            raise ValueError(f"{contrast.key}: {error}") from None
    return results


# --------------------------------------------------------------------------
# Starting from a user-supplied count matrix
# --------------------------------------------------------------------------


def _separator(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zst"):
        suffixes = suffixes[:-1]
    return "," if suffixes and suffixes[-1] == ".csv" else "\t"


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, sep=sep, header=None, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"Count matrix {path} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        raise ValueError(f"Count matrix {path} cannot be read: {error}") from None
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise ValueError(
            f"Count matrix {path} needs a header row of sample names and at least one "
            "feature row, with feature names in the first column "
            f"({'comma' if sep == ',' else 'tab'}-separated); found {raw.shape[0]} row(s) "
            f"and {raw.shape[1]} column(s)."
        )
    return raw


def _check_names(path: Path, samples: list[str], features: list[str]) -> None:
    for what, names, offset in (("sample name", samples, 2), ("feature name", features, 2)):
        blank = [i + offset for i, n in enumerate(names) if not n]
        if blank:
            where = "column" if what == "sample name" else "line"
            raise ValueError(f"Count matrix {path}: empty {what} on {where}(s) {listing(blank)}.")
    dup = sorted({s for s in samples if samples.count(s) > 1})
    if dup:
        raise ValueError(f"Count matrix {path}: duplicate sample name(s) {listing(dup)}.")
    first: dict[str, int] = {}
    repeated = []
    for line, name in enumerate(features, start=2):
        if name in first:
            repeated.append(f"{name} (lines {first[name]} and {line})")
        first.setdefault(name, line)
    if repeated:
        raise ValueError(
            f"Count matrix {path}: duplicate feature name(s) {listing(repeated)}; each "
            "feature must appear on one row."
        )


def read_count_matrix(path: str | Path) -> pd.DataFrame:
    """A features x samples count matrix (first column feature names, header sample names).

    ``.csv`` files (optionally compressed) are comma-separated, anything else
    tab-separated; whole-number floats (``12.0``) are accepted.  Returns int64
    counts, index named ``feature``, columns named ``sample``.  Raises
    ``ValueError`` naming the row and column of any problem.
    """
    path = Path(path)
    raw = _read_table(path, _separator(path))
    samples = [h.strip() for h in raw.iloc[0, 1:].tolist()]
    features = [f.strip() for f in raw.iloc[1:, 0].tolist()]
    _check_names(path, samples, features)
    text = raw.iloc[1:, 1:].apply(lambda col: col.str.strip())
    values = text.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    _check_integers(
        values,
        lambda r, c: (
            f"feature {features[r]} (line {r + 2}), sample {samples[c]}: {text.iat[r, c]!r}"
        ),
        f"Count matrix {path}: values must be non-negative integer read counts; invalid value(s) at",
    )
    return pd.DataFrame(
        values.astype(np.int64),
        index=pd.Index(features, name="feature"),
        columns=pd.Index(samples, name="sample"),
    )


def check_samples_match(
    counts: pd.DataFrame, samples: pd.DataFrame, counts_path: str | Path, sheet_path: str | Path
) -> pd.DataFrame:
    """The count matrix with its columns in sample-sheet order; an error if they differ."""
    message = _sample_mismatch_message(
        counts, samples, f"count matrix {counts_path}", f"sample sheet {sheet_path}"
    )
    if message:
        raise ValueError(message)
    renamed = counts.copy()
    renamed.columns = [str(c) for c in counts.columns]
    return renamed.loc[:, [str(s) for s in samples.index]]


def write_results(results: Mapping[str, DEResult], output) -> None:
    """Each contrast's table (``results/de/<name>.tsv``, in the rule's ``main`` and ``extra``
    outputs) and the main contrast's VST values and size factors."""
    paths = {Path(p).name.removesuffix(".tsv"): p for p in [output.main, *output.extra]}
    for name, result in results.items():
        result.table.to_csv(paths[name], sep="\t", index=False, float_format="%.6g")
    main = results[Path(output.main).name.removesuffix(".tsv")]
    main.vst.to_csv(output.vst, sep="\t", float_format="%.6g")
    main.size_factors.to_csv(output.size_factors, sep="\t", float_format="%.6g")


def summary_lines(results: Mapping[str, DEResult], samples: pd.DataFrame) -> str:
    """What was fitted, for the rule's log."""
    from .design import is_continuous

    continuous = [c for c in samples if is_continuous(samples[c])]
    lines = [f"continuous covariates: {', '.join(continuous) or 'none'}"]
    for name, result in results.items():
        contrast = result.contrast
        lines.append(
            f"{name}: design {normalise_formula(contrast.design)}; {contrast.label}; "
            f"tested {result.n_tested}, filtered {result.n_filtered}, significant "
            f"{result.n_significant}"
        )
    return "\n".join(lines) + "\n"
