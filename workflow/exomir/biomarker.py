"""Plasma-miRNA biomarker panel: nested cross-validation with a permutation test.

:func:`fit_biomarker` takes the raw count matrix, the sample table and the
contrast, never pre-selected features: every data-dependent step (prefilter,
size factors, preselection, scaling, hyperparameters; see
:mod:`exomir.biomarker_model`) is refitted inside each outer training fold, so
the classic optimism of selecting miRNAs on all samples before
cross-validating cannot happen through this API.

Evaluation
----------
* Outer loop: ``repeats`` × stratified ``outer_folds``-fold CV; each sample is
  predicted once per repeat by a model that never saw it.
* ``auc``: mean over repeats of the AUC of the repeat's pooled out-of-fold
  probabilities. ``balanced_accuracy``, ``sensitivity``, ``specificity`` and
  ``brier`` likewise, at the probability threshold 0.5 (classes are weighted
  to balance, so 0.5 is the neutral threshold).
* ``auc_ci_low``/``auc_ci_high``: 95 % stratified percentile bootstrap over
  patients (cases and controls resampled separately, 2,000 replicates) of that
  repeat-averaged AUC, on the out-of-fold predictions. It reflects which
  patients happened to be sampled; it does not include the variability of
  refitting on another training set, so it is, if anything, narrow (Bates,
  Hastie & Tibshirani, "Cross-validation: what does it estimate and how well
  does it do it?"). Read it with ``permutation_pvalue``.
* ``permutation_pvalue``: the whole nested CV (all repeats, inner searches,
  preselection) rerun on ``permutations`` random shuffles of the labels;
  p = (1 + #{permuted AUC ≥ observed AUC}) / (B + 1), exact under the null
  of exchangeable labels. With covariates, shuffling also breaks their link
  to the outcome, so the test asks whether the whole model predicts;
  ``auc_covariates_only`` (the same nested CV on the covariates alone) shows
  what the miRNAs add.
* The signature: per feature, the share of the ``outer_folds × repeats`` outer
  models that gave it a non-zero weight, and its mean coefficient.
* The final model is the same search refitted on all samples.

Every random choice derives from ``seed`` and the task's own index, so the
tables do not depend on ``n_jobs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sklearn
from joblib import Parallel, delayed
from sklearn.model_selection import RepeatedStratifiedKFold

from . import biomarker_data
from . import biomarker_tables as tables
from .biomarker_data import Cohort, Covariate, covariate_matrix, prepare_cohort
from .biomarker_model import InnerSearch, MedianOfRatios, ModelSpec, build_search
from .biomarker_settings import (
    AUTO_MIN_GROUP_SIZE,
    BiomarkerSettings,
    check_group_sizes,
    decide_enabled,
    group_sizes,
)
from .design import Contrast

__all__ = [
    "AUTO_MIN_GROUP_SIZE",
    "BiomarkerSettings",
    "Covariate",
    "Cohort",
    "BiomarkerResult",
    "decide_enabled",
    "group_sizes",
    "check_group_sizes",
    "prepare_cohort",
    "covariate_matrix",
    "model_spec",
    "fit_biomarker",
    "mirna_weights",
    "required_features",
    "nested_cv",
    "log2_fold_changes",
]

# independent random streams derived from the seed
_OBSERVED, _PERMUTED, _BOOTSTRAP, _FINAL, _COVARIATES = range(5)


def model_spec(cohort: Cohort, settings: BiomarkerSettings, use_mirnas: bool = True) -> ModelSpec:
    """The model of ``settings`` for ``cohort`` (``use_mirnas=False``: covariates only)."""
    return biomarker_data.model_spec(
        cohort, settings.model, settings.max_features, settings.inner_folds, use_mirnas
    )


def derive_seed(seed: int, *keys: int) -> int:
    """An independent 32-bit seed for the task ``keys`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def mirna_weights(search: InnerSearch, n_counts: int) -> tuple[np.ndarray, np.ndarray]:
    """Count-column indices with a non-zero weight in a fitted search, and those weights.

    Logistic models give their coefficients (log-odds per standard deviation
    of log2 normalised counts), random forests their impurity importances.
    """
    mirnas = _mirna_steps(search)
    if mirnas is None:
        return np.array([], dtype=int), np.array([])
    kept = mirnas["prefilter"].get_support(indices=True)
    chosen = kept[mirnas["preselect"].get_support(indices=True)]
    model = search.classifier_
    weights = model.coef_[0] if hasattr(model, "coef_") else model.feature_importances_
    weights = np.asarray(weights[: len(chosen)], dtype=float)
    nonzero = weights != 0
    return chosen[nonzero], weights[nonzero]


def _mirna_steps(search: InnerSearch):
    features = search.features_
    if hasattr(features, "named_steps"):
        return features.named_steps
    if "mirnas" in features.named_transformers_:
        return features.named_transformers_["mirnas"].named_steps
    return None


def required_features(search: InnerSearch, features: Sequence[str]) -> list[str]:
    """Count features a fitted search reads: normalisation reference ∪ weighted miRNAs."""
    mirnas = _mirna_steps(search)
    kept = mirnas["prefilter"].get_support(indices=True)
    reference = kept[mirnas["normalise"].reference_]
    weighted, _ = mirna_weights(search, len(features))
    return [features[i] for i in sorted(set(reference) | set(weighted))]


@dataclass(frozen=True)
class CVRun:
    """Out-of-fold case probabilities (repeats × samples) and, if kept, the fold weights."""

    probabilities: np.ndarray
    weights: tuple[tuple[np.ndarray, np.ndarray], ...]


def nested_cv(
    design: np.ndarray,
    y: np.ndarray,
    spec: ModelSpec,
    settings: BiomarkerSettings,
    seed: int,
    keep_weights: bool,
) -> CVRun:
    """Repeated stratified outer CV of a fresh :class:`InnerSearch` per outer training fold."""
    splitter = RepeatedStratifiedKFold(
        n_splits=settings.outer_folds, n_repeats=settings.repeats, random_state=seed
    )
    probabilities = np.full((settings.repeats, len(y)), np.nan)
    weights = []
    # inputs are checked once by prepare_cohort; scikit-learn's per-call checks cost much time here
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for index, (train, test) in enumerate(splitter.split(np.zeros(len(y)), y)):
            repeat = index // settings.outer_folds
            search = build_search(spec, derive_seed(seed, index))
            search.fit(design[train], y[train])
            probabilities[repeat, test] = search.predict_proba(design[test])[:, 1]
            if keep_weights:
                weights.append(mirna_weights(search, spec.n_counts))
    return CVRun(probabilities, tuple(weights))


def _permutation_auc(design, y, spec, settings, index) -> float:
    rng = np.random.default_rng(derive_seed(settings.seed, _PERMUTED, index))
    shuffled = rng.permutation(y)
    seed = derive_seed(settings.seed, _PERMUTED, index, 1)
    run = nested_cv(design, shuffled, spec, settings, seed, keep_weights=False)
    return tables.mean_auc(shuffled, run.probabilities)


def _fit_final(design: np.ndarray, y: np.ndarray, spec: ModelSpec, seed: int) -> InnerSearch:
    return build_search(spec, seed).fit(design, y)


@dataclass(frozen=True)
class BiomarkerResult:
    """Everything :func:`fit_biomarker` learnt; the tables are built from it on demand."""

    cohort: Cohort
    settings: BiomarkerSettings
    observed: CVRun
    permutation_aucs: np.ndarray
    covariates_only: CVRun | None
    final: InnerSearch

    def performance(self) -> pd.DataFrame:
        """``metric``/``value`` table (see the module docstring)."""
        only = self.covariates_only
        return tables.performance_table(
            self.cohort.y,
            self.observed.probabilities,
            self.permutation_aucs,
            None if only is None else only.probabilities,
            derive_seed(self.settings.seed, _BOOTSTRAP),
            [len(w[0]) for w in self.observed.weights],
            self.settings.outer_folds,
        )

    def signature(self) -> pd.DataFrame:
        """Features with a non-zero weight in any outer model (review columns not yet joined)."""
        final_index, final_weights = mirna_weights(self.final, len(self.cohort.features))
        return tables.signature_table(
            self.observed.weights,
            dict(zip(final_index.tolist(), final_weights.tolist())),
            self.cohort.features,
            log2_fold_changes(self.cohort),
            linear=self.settings.model == "elastic_net",
        )

    def predictions(self) -> pd.DataFrame:
        """Out-of-fold probability of the case level per sample."""
        return tables.predictions_table(
            self.cohort.samples, self.cohort.y, self.cohort.contrast, self.observed.probabilities
        )

    def roc(self) -> pd.DataFrame:
        """Repeat-averaged ROC curve with its bootstrap band."""
        seed = derive_seed(self.settings.seed, _BOOTSTRAP, 1)
        return tables.roc_table(self.cohort.y, self.observed.probabilities, seed)

    def permutations(self) -> pd.DataFrame:
        """AUC of each label-shuffled rerun of the nested CV."""
        return pd.DataFrame(
            {
                "permutation": np.arange(1, len(self.permutation_aucs) + 1),
                "auc": self.permutation_aucs,
            }
        )


def log2_fold_changes(cohort: Cohort) -> np.ndarray:
    """Descriptive case − control difference of mean log2 normalised counts, all samples."""
    counts = cohort.design[:, : len(cohort.features)]
    detected = (counts > 0).any(axis=0)
    values = np.full(counts.shape, np.nan)
    values[:, detected] = MedianOfRatios().fit_transform(counts[:, detected])
    case = cohort.y == 1
    return values[case].mean(axis=0) - values[~case].mean(axis=0)


def fit_biomarker(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    contrast: Contrast,
    settings: BiomarkerSettings,
    categorical: Sequence[str],
    n_jobs: int,
) -> BiomarkerResult:
    """Nested CV, permutation test, covariates-only CV and final model of one contrast.

    ``counts``: raw counts, features × samples; ``samples``: the sample table
    (indexed by sample) of the samples kept after QC; ``contrast``:
    ``(variable, case, control)``; ``categorical``: sheet columns that are
    factors although numeric. Work is spread over ``n_jobs`` processes.
    """
    cohort = prepare_cohort(counts, samples, contrast, settings.covariates, categorical)
    check_group_sizes(settings, cohort.n_case, cohort.n_control)
    design, y, seed = cohort.design, cohort.y, settings.seed
    spec = model_spec(cohort, settings)
    tasks = [delayed(nested_cv)(design, y, spec, settings, derive_seed(seed, _OBSERVED), True)]
    if cohort.covariates:
        only = model_spec(cohort, settings, use_mirnas=False)
        cov_seed = derive_seed(seed, _COVARIATES)
        tasks.append(delayed(nested_cv)(design, y, only, settings, cov_seed, False))
    tasks.append(delayed(_fit_final)(design, y, spec, derive_seed(seed, _FINAL)))
    tasks += [
        delayed(_permutation_auc)(design, y, spec, settings, b)
        for b in range(settings.permutations)
    ]
    done = Parallel(n_jobs=n_jobs)(tasks)
    n_fixed = 3 if cohort.covariates else 2
    return BiomarkerResult(
        cohort=cohort,
        settings=settings,
        observed=done[0],
        permutation_aucs=np.array(done[n_fixed:], dtype=float),
        covariates_only=done[1] if cohort.covariates else None,
        final=done[n_fixed - 1],
    )
