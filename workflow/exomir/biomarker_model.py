"""Estimators of the biomarker model; each learns only from the samples given to ``fit``.

The model is a scikit-learn composition built by :func:`build_search`:

``InnerSearch(features, classifier)``
    ``features`` is a :class:`~sklearn.pipeline.Pipeline` of transformers that
    starts from raw counts: :class:`CountPrefilter` → :class:`MedianOfRatios`
    (log2 of DESeq2-normalised counts) → :class:`UnivariatePreselect` (at most
    ``max_features`` miRNAs) → :class:`~sklearn.preprocessing.StandardScaler`;
    with covariates, a :class:`~sklearn.compose.ColumnTransformer` puts that
    branch beside one-hot encoded categorical and standardised numeric
    covariates. ``classifier`` is an L1/elastic-net logistic regression or a
    random forest, its hyperparameters chosen by an inner stratified
    cross-validation in which the *whole* feature pipeline is refitted on each
    inner training fold.

Because every transformer learns its parameters in ``fit``, an outer
cross-validation that fits an :class:`InnerSearch` on the outer training fold
keeps every data-dependent step (prefilter, size factors, preselection,
scaling, hyperparameters) away from the outer test fold by construction.

Why median-of-ratios and not log-CPM: plasma libraries are dominated by a few
miRNAs (miR-486-5p, miR-451a, miR-92a-3p) whose share moves with hemolysis and
platelet content; dividing by the library total (CPM) then shifts every other
miRNA. DESeq2's median-of-ratios size factor is the median of a sample's ratios
to reference geometric means, which a few dominant features cannot move. The
geometric means are parameters learnt on the training samples only; a new
sample is scaled against them (as DESeq2 does with ``geoMeans``), so the
locked model normalises the next cohort exactly as it normalised its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectorMixin, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import l1_min_c
from sklearn.utils.validation import check_is_fitted

from .biomarker_settings import MODELS

__all__ = [
    "MODELS",
    "PREFILTER_MIN_COUNT",
    "PREFILTER_MIN_FRACTION",
    "CountPrefilter",
    "MedianOfRatios",
    "UnivariatePreselect",
    "InnerSearch",
    "ModelSpec",
    "build_search",
    "balanced_weights",
    "logistic_grid",
    "forest_grid",
]

#: A miRNA enters the model only with at least this many reads ...
PREFILTER_MIN_COUNT = 10
#: ... in at least this share of the training samples (a panel must be measurable in most patients).
PREFILTER_MIN_FRACTION = 0.5
#: Elastic-net mixing: 1 = lasso (liblinear, fast); below 1 the saga solver is used.
L1_RATIO = 1.0
#: Inverse regularisation strengths: from the smallest C that admits one feature, up 2 decades.
C_GRID_SIZE = 8
C_GRID_DECADES = 2.0
#: The inner search stops a path once its best candidate is this many steps behind.
PATIENCE = 2
LOGISTIC_MAX_ITER = 5000
FOREST_TREES = 200
FOREST_MIN_LEAF = (1, 5)
_EPS = 1e-12


class CountPrefilter(SelectorMixin, BaseEstimator):
    """Keep features with ``min_count`` reads in at least ``min_fraction`` of the training samples."""

    def __init__(self, min_count: int, min_fraction: float):
        self.min_count = min_count
        self.min_fraction = min_fraction

    def fit(self, X, y=None):
        counts = np.asarray(X, dtype=float)
        detected = (counts >= self.min_count).mean(axis=0)
        self.support_ = detected >= self.min_fraction
        self.n_features_in_ = counts.shape[1]
        if not self.support_.any():
            raise ValueError(
                f"no miRNA has {self.min_count} reads in {self.min_fraction:.0%} of the "
                f"{counts.shape[0]} training samples: the libraries are too shallow for a "
                "biomarker model; sequence deeper or leave out the emptiest samples"
            )
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def transform(self, X):
        """The selected columns (dense arrays only; faster than the generic selector)."""
        return np.asarray(X)[:, self._get_support_mask()]


class MedianOfRatios(TransformerMixin, BaseEstimator):
    """DESeq2 median-of-ratios size factors learnt on training samples; output log2(norm + 1).

    ``fit`` keeps the features with a positive count in every training sample
    (DESeq2's ``type = "ratio"``) as reference and learns their log geometric
    means. ``transform`` divides any sample, training or new, by its size
    factor (median ratio to those means over its positive reference counts)
    and returns ``log2(count / size factor + 1)`` (DESeq2's ``normTransform``).
    """

    def fit(self, X, y=None):
        counts = np.asarray(X, dtype=float)
        self.reference_ = (counts > 0).all(axis=0)
        self.n_features_in_ = counts.shape[1]
        if not self.reference_.any():
            raise ValueError(
                "no miRNA is detected in every training sample, so median-of-ratios size "
                "factors cannot be estimated; leave out the emptiest samples"
            )
        self.log_geometric_means_ = np.log(counts[:, self.reference_]).mean(axis=0)
        return self

    def size_factors(self, X) -> np.ndarray:
        check_is_fitted(self, "log_geometric_means_")
        reference = np.asarray(X, dtype=float)[:, self.reference_]
        with np.errstate(divide="ignore"):
            ratios = np.where(reference > 0, np.log(reference), np.nan) - self.log_geometric_means_
        empty = np.isnan(ratios).all(axis=1)
        if empty.any():
            raise ValueError(
                f"{int(empty.sum())} sample(s) have no reads on any of the model's "
                f"{ratios.shape[1]} reference miRNAs, so they cannot be normalised; "
                "check that they are plasma small-RNA libraries quantified on miRBase"
            )
        return np.exp(_row_nanmedian(ratios))

    def transform(self, X):
        counts = np.asarray(X, dtype=float)
        return np.log2(counts / self.size_factors(counts)[:, None] + 1.0)


def _row_nanmedian(values: np.ndarray) -> np.ndarray:
    """Median of each row over its non-NaN values (``np.nanmedian(axis=1)``, vectorised)."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    valid = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(len(values))
    low = ordered[rows, (valid - 1) // 2]
    high = ordered[rows, valid // 2]
    return (low + high) / 2.0


class UnivariatePreselect(SelectorMixin, BaseEstimator):
    """The ``max_features`` features with the largest two-group F (= t²) statistic.

    Ties and undefined scores (constant features) are ordered by column, so the
    choice is deterministic; fewer columns than ``max_features`` are all kept.
    """

    def __init__(self, max_features: int):
        self.max_features = max_features

    def fit(self, X, y):
        values = np.asarray(X, dtype=float)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", UserWarning)  # constant features: score NaN
            scores, _ = f_classif(values, y)
        self.scores_ = np.where(np.isfinite(scores), scores, -np.inf)
        order = np.lexsort((np.arange(len(scores)), -self.scores_))
        self.support_ = np.zeros(values.shape[1], dtype=bool)
        self.support_[order[: self.max_features]] = True
        self.n_features_in_ = values.shape[1]
        return self

    def _get_support_mask(self):
        check_is_fitted(self, "support_")
        return self.support_

    def transform(self, X):
        """The selected columns (dense arrays only; faster than the generic selector)."""
        return np.asarray(X)[:, self._get_support_mask()]


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Sample weights n / (2 n_class): both groups weigh the same (``class_weight="balanced"``)."""
    y = np.asarray(y)
    counts = np.bincount(y, minlength=2).astype(float)
    return (len(y) / (2.0 * counts))[y]


def logistic_grid(X, y) -> list[dict]:
    """C values from the smallest that lets one feature in (``l1_min_c``), in path order."""
    try:
        start = l1_min_c(X, y, loss="log") / L1_RATIO
    except ValueError:  # no column is even slightly related to the labels: any C gives none
        start = 1.0 / len(y)
    return [{"C": float(c)} for c in start * np.logspace(0.0, C_GRID_DECADES, C_GRID_SIZE)]


def forest_grid(X, y) -> list[dict]:
    """Minimum leaf sizes of the random forest."""
    return [{"min_samples_leaf": m} for m in FOREST_MIN_LEAF]


class InnerSearch(ClassifierMixin, BaseEstimator):
    """Feature pipeline + classifier whose hyperparameters an inner stratified CV chooses.

    For each inner split the feature pipeline is fitted on the inner training
    part, then the classifier is fitted along ``grid`` (a regularisation path,
    warm-started when the classifier has ``warm_start``) and scored on the
    inner test part. The candidate with the smallest pooled, class-balanced
    log-loss wins (the first, i.e. most regularised, on ties); pipeline and
    classifier are then refitted on all samples given to ``fit``. Each loss is
    what scikit-learn's ``cross_val_predict`` of the same pipeline on the same
    folds gives, with the feature pipeline fitted once per inner fold rather
    than once per candidate, and the path stopped early once it over-fits.
    """

    def __init__(
        self,
        features: TransformerMixin,
        classifier: BaseEstimator,
        grid: Callable[[np.ndarray, np.ndarray], list[dict]],
        inner_folds: int,
        random_state: int,
    ):
        self.features = features
        self.classifier = classifier
        self.grid = grid
        self.inner_folds = inner_folds
        self.random_state = random_state

    def fit(self, X, y):
        y = np.asarray(y, dtype=int)
        self.classes_ = np.array([0, 1])
        self.features_ = clone(self.features)
        transformed = self.features_.fit_transform(X, y)
        self.candidates_ = self.grid(transformed, y)
        self.cv_loss_ = self._inner_losses(X, y)
        self.best_index_ = int(np.argmin(self.cv_loss_))
        self.best_params_ = self.candidates_[self.best_index_]
        self.classifier_ = clone(self.classifier).set_params(**self.best_params_)
        self.classifier_.fit(transformed, y, sample_weight=balanced_weights(y))
        return self

    def _inner_losses(self, X, y) -> np.ndarray:
        """Pooled class-balanced log-loss of each candidate over the inner folds.

        Candidates are fitted in path order on every inner fold before the
        next one; the path stops once the smallest loss is :data:`PATIENCE`
        candidates behind (an over-fitting path does not come back), and the
        candidates never reached get an infinite loss.
        """
        folds = StratifiedKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        parts = []
        for train, test in folds.split(np.zeros(len(y)), y):
            features = clone(self.features)
            parts.append(
                (
                    features.fit_transform(X[train], y[train]),
                    train,
                    features.transform(X[test]),
                    test,
                )
            )
        estimators = [clone(self.classifier) for _ in parts]
        weights = balanced_weights(y)
        losses = np.full(len(self.candidates_), np.inf)
        for i, params in enumerate(self.candidates_):
            total = 0.0
            for estimator, (train_x, train, test_x, test) in zip(estimators, parts):
                estimator.set_params(**params)
                estimator.fit(train_x, y[train], sample_weight=balanced_weights(y[train]))
                p = np.clip(estimator.predict_proba(test_x)[:, 1], _EPS, 1 - _EPS)
                log_lik = np.where(y[test] == 1, np.log(p), np.log(1 - p))
                total -= float((log_lik * weights[test]).sum())
            losses[i] = total / weights.sum()
            if i - int(np.argmin(losses[: i + 1])) >= PATIENCE:
                break
        return losses

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classifier_.predict_proba(self.features_.transform(X))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


@dataclass(frozen=True)
class ModelSpec:
    """What :func:`build_search` builds: model kind and the layout of the design matrix.

    The design matrix has the ``n_counts`` count columns first, then one
    column per covariate (``categorical`` columns hold level codes).
    ``use_mirnas=False`` gives the covariates-only model.
    """

    model: str
    max_features: int
    inner_folds: int
    n_counts: int
    categorical: tuple[int, ...] = ()
    numeric: tuple[int, ...] = ()
    use_mirnas: bool = True


def mirna_pipeline(max_features: int) -> Pipeline:
    """Raw counts → prefilter → log2 median-of-ratios → preselection → standardisation."""
    return Pipeline(
        [
            ("prefilter", CountPrefilter(PREFILTER_MIN_COUNT, PREFILTER_MIN_FRACTION)),
            ("normalise", MedianOfRatios()),
            ("preselect", UnivariatePreselect(max_features)),
            ("scale", StandardScaler()),
        ]
    )


def feature_pipeline(spec: ModelSpec) -> TransformerMixin:
    """The transformer part of the model for ``spec`` (see the module docstring)."""
    mirnas = mirna_pipeline(spec.max_features)
    if not spec.categorical and not spec.numeric:
        return mirnas
    branches = []
    if spec.use_mirnas:
        branches.append(("mirnas", mirnas, list(range(spec.n_counts))))
    if spec.categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        branches.append(("categorical", onehot, list(spec.categorical)))
    if spec.numeric:
        branches.append(("numeric", StandardScaler(), list(spec.numeric)))
    return ColumnTransformer(branches, remainder="drop")


def classifier(model: str, random_state: int) -> BaseEstimator:
    """The unfitted classifier of ``model`` (see :data:`MODELS`)."""
    if model == "elastic_net":
        return LogisticRegression(**_logistic_arguments(random_state))
    if model == "random_forest":
        return RandomForestClassifier(
            n_estimators=FOREST_TREES, max_features="sqrt", random_state=random_state, n_jobs=1
        )
    raise ValueError(f"biomarker model '{model}' is unknown; use one of {', '.join(MODELS)}")


def _logistic_arguments(random_state: int) -> dict:
    """liblinear for the lasso, saga (warm-started along the path) for an elastic net."""
    arguments = {
        "l1_ratio": L1_RATIO,
        "solver": "liblinear" if L1_RATIO == 1.0 else "saga",
        "tol": 1e-4 if L1_RATIO == 1.0 else 1e-3,
        "max_iter": LOGISTIC_MAX_ITER,
        "warm_start": L1_RATIO < 1.0,
        "random_state": random_state,
    }
    if _sklearn_before(1, 8):  # l1_ratio alone selects the penalty only from 1.8 on
        arguments["penalty"] = "l1" if L1_RATIO == 1.0 else "elasticnet"
    return arguments


def _sklearn_before(major: int, minor: int) -> bool:
    parts = sklearn.__version__.split(".")
    return (int(parts[0]), int(parts[1])) < (major, minor)


def build_search(spec: ModelSpec, random_state: int) -> InnerSearch:
    """An unfitted :class:`InnerSearch` for ``spec``; ``random_state`` fixes folds and model."""
    grid = logistic_grid if spec.model == "elastic_net" else forest_grid
    return InnerSearch(
        features=feature_pipeline(spec),
        classifier=classifier(spec.model, random_state),
        grid=grid,
        inner_folds=spec.inner_folds,
        random_state=random_state,
    )
