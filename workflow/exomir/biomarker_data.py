"""The samples of a biomarker analysis as the model sees them.

:func:`prepare_cohort` turns the count matrix (features × samples), the sample
table and the contrast into a design matrix (samples × count features, then
covariates) and 0/1 labels (1 = the contrast's case level). It only arranges
the data: nothing is learnt here, so it cannot leak information between
cross-validation folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .biomarker_model import ModelSpec
from .design import Contrast

__all__ = [
    "Covariate",
    "Cohort",
    "prepare_cohort",
    "learn_covariates",
    "covariate_matrix",
    "model_spec",
]


@dataclass(frozen=True)
class Covariate:
    """A sheet column used as a predictor; ``levels`` empty means numeric."""

    name: str
    levels: tuple[str, ...]


@dataclass(frozen=True)
class Cohort:
    """The samples of the contrast as the model sees them.

    ``design`` is samples × (count features, then covariates); categorical
    covariates hold the index of their level in ``Covariate.levels``.
    """

    design: np.ndarray
    y: np.ndarray
    samples: tuple[str, ...]
    features: tuple[str, ...]
    covariates: tuple[Covariate, ...]
    contrast: Contrast

    @property
    def n_case(self) -> int:
        """Samples of the case level."""
        return int(self.y.sum())

    @property
    def n_control(self) -> int:
        """Samples of the control level."""
        return int(len(self.y) - self.y.sum())


def prepare_cohort(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrast: Contrast,
    covariates: Sequence[str],
    categorical: Sequence[str],
) -> Cohort:
    """Case and control samples of ``samples`` (indexed by sample) with their counts.

    ``counts`` is features × samples (extra columns, e.g. QC-failed samples,
    are ignored). A covariate whose values all parse as numbers is numeric
    unless listed in ``categorical``; any other is categorical.
    """
    variable, case, control = contrast.variable, contrast.case, contrast.control
    if variable not in samples.columns:
        raise ValueError(f"biomarker: contrast variable '{variable}' is not a sample-sheet column")
    groups = samples[variable].astype(str)
    chosen = samples.index[groups.isin([case, control])].astype(str)
    missing = [s for s in chosen if s not in set(counts.columns.astype(str))]
    if missing:
        raise ValueError(
            f"biomarker: sample(s) {', '.join(missing[:10])} of the sheet have no column in the "
            "count matrix; give the matrix of these samples or remove them from the sheet"
        )
    matrix = counts.copy()
    matrix.columns = matrix.columns.astype(str)
    values = matrix[list(chosen)].to_numpy(dtype=float).T
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("biomarker: the count matrix holds negative or missing values")
    table = samples.loc[samples.index.astype(str).isin(chosen)]
    coded = learn_covariates(table, covariates, categorical)
    design = np.hstack([values, covariate_matrix(table, coded)])
    y = (groups.loc[table.index] == case).to_numpy(dtype=int)
    return Cohort(
        design,
        y,
        tuple(chosen),
        tuple(str(f) for f in matrix.index),
        coded,
        contrast,
    )


def learn_covariates(
    samples: pd.DataFrame, names: Sequence[str], categorical: Sequence[str]
) -> tuple[Covariate, ...]:
    """Type each covariate (numeric or categorical with its sorted levels)."""
    unknown = [n for n in names if n not in samples.columns]
    if unknown:
        raise ValueError(
            f"biomarker.covariates: {', '.join(unknown)} not column(s) of the sample sheet "
            f"(columns: {', '.join(map(str, samples.columns))})"
        )
    coded = []
    for name in names:
        numbers = pd.to_numeric(samples[name], errors="coerce")
        if name not in categorical and numbers.notna().all():
            coded.append(Covariate(name, ()))
        else:
            coded.append(Covariate(name, tuple(sorted(samples[name].astype(str).unique()))))
    return tuple(coded)


def covariate_matrix(samples: pd.DataFrame, covariates: Sequence[Covariate]) -> np.ndarray:
    """Samples × covariates: numbers, or level codes (-1 for a level the model never saw)."""
    columns = []
    for covariate in covariates:
        if covariate.name not in samples.columns:
            raise ValueError(
                f"biomarker: the sample sheet has no column '{covariate.name}', a covariate of "
                "the model; add it to the sheet"
            )
        values = samples[covariate.name]
        if covariate.levels:
            index = {level: i for i, level in enumerate(covariate.levels)}
            columns.append([index.get(str(v), -1) for v in values])
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            if numbers.isna().any():
                bad = values[numbers.isna()]
                raise ValueError(
                    f"biomarker: covariate '{covariate.name}' is numeric but sample "
                    f"{bad.index[0]} has {bad.iloc[0]!r}; give a number"
                )
            columns.append(numbers.to_numpy(dtype=float))
    return np.array(columns, dtype=float).T.reshape(len(samples), len(columns))


def model_spec(
    cohort: Cohort, model: str, max_features: int, inner_folds: int, use_mirnas: bool
) -> ModelSpec:
    """The :class:`ModelSpec` of ``cohort``'s design; ``use_mirnas=False``: covariates only."""
    n = len(cohort.features)
    kinds = [bool(c.levels) for c in cohort.covariates]
    return ModelSpec(
        model=model,
        max_features=max_features,
        inner_folds=inner_folds,
        n_counts=n,
        categorical=tuple(n + i for i, k in enumerate(kinds) if k),
        numeric=tuple(n + i for i, k in enumerate(kinds) if not k),
        use_mirnas=use_mirnas,
    )
