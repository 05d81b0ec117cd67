"""Saving a fitted biomarker model and scoring a new cohort with it (apply mode).

Format
------
A model is two files side by side:

``model.joblib``
    A joblib pickle of a dict: ``format`` (:data:`FORMAT`), ``estimator`` (the
    fitted :class:`~exomir.biomarker_model.InnerSearch`: prefilter, size-factor
    geometric means, preselected features, scaler and classifier), plus the
    metadata below.
``model.json``
    The metadata as JSON: ``format``, ``exomir_version``,
    ``sklearn_version``, ``contrast`` (variable, case, control), ``model``,
    ``input_features`` (the count features of the training matrix, in
    column order), ``required_features`` (those the model actually reads: the
    normalisation reference and the weighted miRNAs), ``signature``
    (feature → weight of the final model), ``covariates`` (name and levels;
    no levels means numeric), ``n_case``, ``n_control``, ``settings`` and
    ``sha256`` of ``model.joblib``.

The JSON file lets a workflow check the new count matrix at start-up
(:func:`read_model_features`) without unpickling anything. **A joblib file
runs code when loaded: load only models from a source you trust**;
:func:`load_model` refuses a joblib file whose checksum differs from its JSON.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from .biomarker import BiomarkerResult, mirna_weights, required_features
from .biomarker_data import Covariate, covariate_matrix
from .biomarker_settings import (
    FORMAT,
    check_features,
    metadata_path,
    read_model_features,
    read_model_metadata,
)
from .biomarker_tables import THRESHOLD

__all__ = [
    "FORMAT",
    "ModelVersionWarning",
    "Bundle",
    "exomir_version",
    "metadata_path",
    "save_model",
    "read_model_metadata",
    "read_model_features",
    "check_features",
    "load_model",
    "score_samples",
    "score_new_cohort",
]


class ModelVersionWarning(UserWarning):
    """The model was saved with another exomir or scikit-learn version."""


def exomir_version() -> str:
    """Installed exomir version, else the one in the clone's ``pyproject.toml``."""
    try:
        return importlib.metadata.version("exomir")
    except importlib.metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        with open(pyproject, "rb") as handle:
            return tomllib.load(handle)["project"]["version"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_model(result: BiomarkerResult, path: str | Path) -> dict[str, Any]:
    """Write ``path`` (joblib) and its JSON metadata; returns the metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cohort = result.cohort
    index, weights = mirna_weights(result.final, len(cohort.features))
    metadata = {
        "format": FORMAT,
        "exomir_version": exomir_version(),
        "sklearn_version": sklearn.__version__,
        "contrast": {k: getattr(cohort.contrast, k) for k in ("variable", "case", "control")},
        "model": result.settings.model,
        "input_features": list(cohort.features),
        "required_features": required_features(result.final, cohort.features),
        "signature": {cohort.features[i]: float(w) for i, w in zip(index, weights)},
        "covariates": [{"name": c.name, "levels": list(c.levels)} for c in cohort.covariates],
        "n_case": cohort.n_case,
        "n_control": cohort.n_control,
        "settings": {k: v for k, v in asdict(result.settings).items() if k != "apply_model"},
    }
    joblib.dump({"format": FORMAT, "estimator": result.final, **metadata}, path, compress=3)
    metadata["sha256"] = _sha256(path)
    metadata_path(path).write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return metadata


@dataclass(frozen=True)
class Bundle:
    """A loaded model: its estimator and metadata."""

    estimator: Any
    metadata: dict[str, Any]

    @property
    def covariates(self) -> tuple[Covariate, ...]:
        """The model's covariates with the levels it was trained on."""
        return tuple(Covariate(c["name"], tuple(c["levels"])) for c in self.metadata["covariates"])


def load_model(path: str | Path) -> Bundle:
    """Load a model written by :func:`save_model` (trusted sources only; see module doc).

    Warns with :class:`ModelVersionWarning` when it was saved with another
    exomir or scikit-learn version.
    """
    path = Path(path)
    metadata = read_model_metadata(path)
    if not path.is_file():
        raise ValueError(f"biomarker.apply_model: {path} not found")
    if _sha256(path) != metadata["sha256"]:
        raise ValueError(
            f"biomarker.apply_model: {path} does not match its {metadata_path(path).name} "
            "(checksum differs); use the two files written together by one exomir run"
        )
    stored = joblib.load(path)
    for name, now in (("exomir", exomir_version()), ("scikit-learn", sklearn.__version__)):
        key = "exomir_version" if name == "exomir" else "sklearn_version"
        if metadata[key] != now:
            warnings.warn(
                f"biomarker model {path} was saved with {name} {metadata[key]}, this is {now}; "
                "scores may differ slightly; refit the model with this version to be sure",
                ModelVersionWarning,
                stacklevel=2,
            )
    return Bundle(stored["estimator"], metadata)


def _warn_unseen_levels(samples: pd.DataFrame, covariates: Sequence[Covariate]) -> None:
    for covariate in covariates:
        if covariate.levels and covariate.name in samples.columns:
            values = samples[covariate.name].astype(str)
            unseen = sorted(set(values) - set(covariate.levels))
            if unseen:
                warnings.warn(
                    f"biomarker: covariate '{covariate.name}' has level(s) {', '.join(unseen)} "
                    f"that the model never saw (it knows {', '.join(covariate.levels)}); those "
                    "samples are scored as if they had none of the known levels",
                    UserWarning,
                    stacklevel=3,
                )


def score_samples(bundle: Bundle, counts: pd.DataFrame, samples: pd.DataFrame) -> pd.DataFrame:
    """Case probability of each sample of ``samples`` (indexed by sample) from its counts.

    ``counts`` is features × samples with raw counts. Features the model does
    not read may be absent (they are dropped by its prefilter anyway). When
    the sheet has the contrast variable, the samples' groups are reported too.
    """
    metadata = bundle.metadata
    available = [str(f) for f in counts.index]
    check_features(metadata["required_features"], available, "the new count matrix")
    names = [str(s) for s in samples.index]
    columns = [str(c) for c in counts.columns]
    missing = [s for s in names if s not in columns]
    if missing:
        raise ValueError(
            f"biomarker.apply_model: sample(s) {', '.join(missing[:10])} of the sheet have no "
            "column in the count matrix; give their counts or remove them from the sheet"
        )
    matrix = counts.copy()
    matrix.index, matrix.columns = available, columns
    matrix = matrix.reindex(index=metadata["input_features"], fill_value=0)[names]
    _warn_unseen_levels(samples, bundle.covariates)
    design = np.hstack(
        [matrix.to_numpy(dtype=float).T, covariate_matrix(samples, bundle.covariates)]
    )
    probability = bundle.estimator.predict_proba(design)[:, 1]
    contrast = metadata["contrast"]
    table = pd.DataFrame({"sample": names, "probability": probability})
    table["predicted"] = np.where(probability >= THRESHOLD, contrast["case"], contrast["control"])
    if contrast["variable"] in samples.columns:
        table.insert(1, contrast["variable"], samples[contrast["variable"]].astype(str).to_numpy())
    return table


def score_new_cohort(
    path: str | Path, counts: pd.DataFrame, samples: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Load the model at ``path`` and score ``samples``; returns the table and any warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = score_samples(load_model(path), counts, samples)
    return table, [str(w.message) for w in caught]


def validation_auc(table: pd.DataFrame, path: str | Path) -> str:
    """The AUC on new samples whose groups are known (a validation cohort), as a sentence."""
    from sklearn.metrics import roc_auc_score

    contrast = read_model_metadata(path)["contrast"]
    variable, case, control = contrast["variable"], contrast["case"], contrast["control"]
    if variable not in table.columns:
        return f"no '{variable}' column: the new samples' groups are unknown"
    known = table[table[variable].isin([case, control])]
    if known[variable].nunique() < 2:
        return f"the new samples do not hold both {case} and {control}: no validation AUC"
    auc = roc_auc_score(known[variable] == case, known["probability"])
    return (
        f"validation AUC {auc:.3f} on {len(known)} new samples with known {variable} "
        f"({int((known[variable] == case).sum())} {case}, {int((known[variable] == control).sum())} "
        f"{control})"
    )
