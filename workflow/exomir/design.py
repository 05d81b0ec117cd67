"""Contrasts and design: what is compared, on which samples, with which model.

A :class:`Contrast` is one comparison: ``variable`` (a sheet column), its ``case``
and ``control`` levels, the ``design`` formula it is fitted with, a ``name`` (the
stem of its result table) and an optional :class:`Subset` of samples. The main
contrast comes from the config's ``contrast`` and ``design``; extra contrasts from
``de.extra_contrasts``.

The checks here run at start, on the sample sheet, before any job
(:mod:`exomir.settings`), and again in the DE job on the samples that passed QC:
design variables that are sheet columns and have a value for every sample, not
constant, contrast levels present with enough samples, a full-rank design.

Typing. The sheet is read as text. A design variable whose values all parse as
numbers is a continuous covariate, unless it is listed under ``categorical`` or is
the main contrast's variable; every other variable is a factor whose reference
level is the first in sorted order, except a contrast variable, whose reference
is the control level (so the fitted coefficient is case vs control).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

MAX_LISTED = 10
MIN_PER_GROUP = 2  # samples per contrast group that DESeq2 needs at least


class DesignError(ValueError):
    """A contrast or design cannot be fitted; the message names the key and the fix."""


class Subset(NamedTuple):
    """Samples whose sheet ``column`` holds ``value``."""

    column: str
    value: str


class Contrast(NamedTuple):
    """One comparison: ``variable`` ``case`` vs ``control``, fitted with ``design``.

    A named tuple (immutable, compared and printed by value), so that Snakemake sees a
    changed contrast in a rule's params and reruns the rule.
    """

    variable: str
    case: str
    control: str
    design: str
    name: str
    subset: Subset | None = None
    key: str = "contrast"  # where it is set in the config, for messages

    @classmethod
    def from_config(cls, config: Mapping) -> Contrast:
        """The main contrast (config ``contrast`` and ``design``)."""
        spec = config["contrast"]
        name = f"{spec['case']}_vs_{spec['control']}"
        return cls(spec["variable"], spec["case"], spec["control"], config["design"], name)

    @classmethod
    def extra(cls, spec: Mapping, design: str, index: int) -> Contrast:
        """One entry of ``de.extra_contrasts`` (``design`` when it sets none)."""
        subset = spec.get("subset")
        return cls(
            spec["variable"],
            spec["case"],
            spec["control"],
            spec.get("design") or design,
            spec["name"],
            Subset(subset["column"], subset["value"]) if subset else None,
            f"de.extra_contrasts[{index}] ({spec['name']})",
        )

    @property
    def label(self) -> str:
        """Human-readable, e.g. ``condition: resistant vs sensitive``."""
        return f"{self.variable}: {self.case} vs {self.control}"

    def select(self, samples: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``samples`` this contrast is fitted on."""
        if self.subset is None:
            return samples
        values = samples[self.subset.column].astype(str).str.strip()
        return samples.loc[(values == self.subset.value).to_numpy()]


def listing(items: Iterable, limit: int = MAX_LISTED) -> str:
    """Comma-separated listing of at most ``limit`` items, with a count of the rest."""
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown + (f" ... and {len(items) - limit} more" if len(items) > limit else "")


def normalise_formula(design: str) -> str:
    """``"~ a + b"`` from any spacing; an empty formula is an error."""
    text = str(design).strip()
    rhs = text[1:].strip() if text.startswith("~") else text
    if not rhs:
        raise DesignError(f"the design {design!r} has no terms; use e.g. '~ condition'")
    return "~ " + rhs


def design_variables(design: str) -> list[str]:
    """Sheet columns a formula such as ``~ batch + condition`` uses, sorted."""
    from formulaic import Formula

    try:
        variables = Formula(normalise_formula(design)).required_variables
    except DesignError:
        raise
    except Exception as error:  # formulaic raises several parser exceptions
        raise DesignError(f"cannot parse the design formula {design!r}: {error}") from None
    return sorted(str(v) for v in variables)


def as_number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def type_covariates(
    sheet: pd.DataFrame, variables: Iterable[str], factors: Iterable[str]
) -> pd.DataFrame:
    """The sheet with every all-numeric design variable not in ``factors`` made numeric."""
    table = sheet.copy()
    factors = set(factors)
    for name in variables:
        if name in factors or name not in table:
            continue
        numbers = pd.to_numeric(table[name], errors="coerce")
        if numbers.notna().all():
            table[name] = numbers
    return table


def is_continuous(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def check_contrast(contrast: Contrast, samples: pd.DataFrame) -> None:
    """The contrast's variable, levels and design on ``samples`` (its subset applied)."""
    if contrast.case == contrast.control:
        raise DesignError(
            f"{contrast.key}: case and control are both '{contrast.case}'; a contrast compares "
            f"two different levels of '{contrast.variable}'"
        )
    _check_columns(contrast, samples)
    chosen = contrast.select(samples)
    if contrast.subset is not None and chosen.empty:
        found = sorted(set(samples[contrast.subset.column].astype(str)))
        raise DesignError(
            f"{contrast.key}: no sample has {contrast.subset.column} = "
            f"'{contrast.subset.value}' (values in the sheet: {listing(found)}); fix the subset"
        )
    _check_group_sizes(contrast, chosen)
    check_full_rank(model_metadata(chosen, contrast), contrast)


def _check_columns(contrast: Contrast, samples: pd.DataFrame) -> None:
    columns = listing(samples.columns, 50)
    if contrast.variable not in samples.columns:
        raise DesignError(
            f"{contrast.key}: variable '{contrast.variable}' is not a column of the sample "
            f"sheet (columns: {columns}); fix the contrast's variable or add the column"
        )
    if contrast.subset is not None and contrast.subset.column not in samples.columns:
        raise DesignError(
            f"{contrast.key}: subset column '{contrast.subset.column}' is not a column of the "
            f"sample sheet (columns: {columns})"
        )
    variables = design_variables(contrast.design)
    missing = [v for v in variables if v not in samples.columns]
    if missing:
        raise DesignError(
            f"{contrast.key}: the design '{contrast.design}' uses {listing(missing)}, not "
            f"column(s) of the sample sheet (columns: {columns}); add the column(s) or change "
            "the design"
        )
    if contrast.variable not in variables:
        raise DesignError(
            f"{contrast.key}: the variable '{contrast.variable}' is not in the design "
            f"'{contrast.design}'; add it (e.g. '~ {contrast.variable}') or change the contrast"
        )


def _check_group_sizes(contrast: Contrast, samples: pd.DataFrame) -> None:
    if is_continuous(samples[contrast.variable]):
        return
    values = samples[contrast.variable].astype(str).str.strip()
    for level in (contrast.case, contrast.control):
        n = int((values == level).sum())
        if n < MIN_PER_GROUP:
            where = (
                f" among the samples with {contrast.subset.column} = " if contrast.subset else ""
            )
            where += f"'{contrast.subset.value}'" if contrast.subset else ""
            raise DesignError(
                f"{contrast.key}: {contrast.variable} '{level}' has {n} sample(s){where}; "
                f"differential expression needs at least {MIN_PER_GROUP} per group: add "
                "samples or change the contrast"
            )


def model_metadata(samples: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Design columns of ``samples``: numbers for covariates, factors with reference levels."""
    _check_columns(contrast, samples)
    metadata = pd.DataFrame(index=samples.index.astype(str))
    for name in design_variables(contrast.design):
        column = samples[name]
        _check_values(name, column, contrast)
        if is_continuous(column):
            if name == contrast.variable:
                _check_numeric_levels(contrast)
            metadata[name] = column.astype(float).to_numpy()
            continue
        values = column.astype(str).str.strip().to_numpy()
        levels = sorted(set(values))
        if name == contrast.variable:
            absent = [lvl for lvl in (contrast.case, contrast.control) if lvl not in levels]
            if absent:
                raise DesignError(
                    f"{contrast.key}: level(s) {listing(repr(a) for a in absent)} of "
                    f"'{name}' are not in the samples (levels found: {listing(levels, 50)}); "
                    "fix the contrast or the sample sheet"
                )
            levels = [contrast.control] + [lvl for lvl in levels if lvl != contrast.control]
        metadata[name] = pd.Categorical(values, categories=levels)
    return metadata


def _check_values(name: str, column: pd.Series, contrast: Contrast) -> None:
    empty = column.isna() | (column.astype(str).str.strip() == "")
    if empty.any():
        raise DesignError(
            f"{contrast.key}: design variable '{name}' has no value for sample(s) "
            f"{listing(column.index[empty.to_numpy()])}; fill them in the sample sheet or "
            "leave these samples out"
        )
    if column.astype(str).str.strip().nunique() < 2:
        value = column.astype(str).iloc[0] if len(column) else ""
        raise DesignError(
            f"{contrast.key}: design variable '{name}' is '{value}' for every sample "
            f"{'of the subset ' if contrast.subset else ''}; a constant variable cannot be "
            f"fitted: remove it from the design '{contrast.design}'"
        )


def _check_numeric_levels(contrast: Contrast) -> None:
    wrong = [lvl for lvl in (contrast.case, contrast.control) if as_number(lvl) is None]
    if wrong:
        raise DesignError(
            f"{contrast.key}: '{contrast.variable}' holds numbers (a continuous covariate), so "
            f"case and control must be numbers, got {listing(repr(a) for a in wrong)}; use "
            f"case '1', control '0' for the change per unit, or list '{contrast.variable}' "
            "under 'categorical'"
        )


def check_full_rank(metadata: pd.DataFrame, contrast: Contrast) -> None:
    """The design matrix has full column rank and residual degrees of freedom."""
    from formulaic import model_matrix

    formula = normalise_formula(contrast.design)
    matrix = model_matrix(formula, metadata)
    rank = np.linalg.matrix_rank(matrix.to_numpy(dtype=float))
    if rank < matrix.shape[1]:
        raise DesignError(
            f"{contrast.key}: the design '{formula}' is not full rank on its "
            f"{matrix.shape[0]} samples (columns: {listing(matrix.columns, 50)}): some "
            "variables are confounded (e.g. every sample of one batch has the same "
            "condition); remove or merge them"
        )
    if matrix.shape[0] <= matrix.shape[1]:
        raise DesignError(
            f"{contrast.key}: the design '{formula}' has {matrix.shape[1]} coefficients for "
            f"{matrix.shape[0]} samples, which leaves nothing to estimate dispersions; "
            "simplify the design or add samples"
        )


def factor_variables(contrasts: Sequence[Contrast], categorical: Iterable[str]) -> list[str]:
    """Variables modelled as factors whatever their values: listed, or the main contrast's."""
    return sorted({*categorical, contrasts[0].variable})
