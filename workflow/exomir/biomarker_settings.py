"""The ``biomarker:`` settings and the model files' metadata, without scikit-learn.

Imported when the workflow starts (:mod:`exomir.settings`), so it stays light: the
settings, the ``enabled: auto`` rule, and reading a saved model's JSON metadata to
check, before any job, that new data hold every feature the model needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .design import Contrast

MODELS = ("elastic_net", "random_forest")
#: The format of model files (model.joblib and its model.json).
FORMAT = "exomir-biomarker-model/1"
#: ``enabled: auto`` runs the analysis when the smaller group has at least this many samples.
AUTO_MIN_GROUP_SIZE = 8


@dataclass(frozen=True)
class BiomarkerSettings:
    """The validated ``biomarker:`` config block (defaults live in the config schema)."""

    enabled: str
    model: str
    outer_folds: int
    repeats: int
    inner_folds: int
    permutations: int
    seed: int
    max_features: int
    covariates: tuple[str, ...]
    apply_model: str

    @classmethod
    def from_config(cls, block: Mapping[str, Any]) -> BiomarkerSettings:
        """Settings from the schema-validated block; ``enabled`` may be a YAML boolean."""
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in block]
        if missing:
            raise ValueError(
                f"config biomarker: missing key(s) {', '.join(missing)}; validate the config "
                "against workflow/schemas/config.schema.yaml, which fills the defaults"
            )
        enabled = block["enabled"]
        enabled = ("true" if enabled else "false") if isinstance(enabled, bool) else str(enabled)
        settings = cls(
            enabled=enabled.lower(),
            model=str(block["model"]),
            outer_folds=int(block["outer_folds"]),
            repeats=int(block["repeats"]),
            inner_folds=int(block["inner_folds"]),
            permutations=int(block["permutations"]),
            seed=int(block["seed"]),
            max_features=int(block["max_features"]),
            covariates=tuple(str(c) for c in block["covariates"]),
            apply_model=str(block["apply_model"] or ""),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ``ValueError`` naming the key of an impossible value."""
        checks = [
            ("enabled", self.enabled in ("auto", "true", "false"), "auto, true or false"),
            ("model", self.model in MODELS, " or ".join(MODELS)),
            ("outer_folds", self.outer_folds >= 2, "at least 2"),
            ("repeats", self.repeats >= 1, "at least 1"),
            ("inner_folds", self.inner_folds >= 2, "at least 2"),
            ("permutations", self.permutations >= 1, "at least 1 (19 or more for p < 0.05)"),
            ("max_features", self.max_features >= 1, "at least 1"),
        ]
        for key, ok, need in checks:
            if not ok:
                raise ValueError(f"config biomarker.{key}: {getattr(self, key)!r}; use {need}")


def group_sizes(samples: pd.DataFrame, contrast: Contrast) -> tuple[int, int]:
    """Samples of ``contrast``'s case and control levels in ``samples``."""
    groups = samples[contrast.variable].astype(str)
    return int((groups == contrast.case).sum()), int((groups == contrast.control).sum())


def decide_enabled(settings: BiomarkerSettings, n_case: int, n_control: int) -> tuple[bool, str]:
    """Whether the biomarker analysis runs, and why (for the log and the report)."""
    smaller = min(n_case, n_control)
    if settings.enabled == "false":
        return False, "biomarker.enabled is false"
    if settings.enabled == "true":
        return True, "biomarker.enabled is true"
    if smaller >= AUTO_MIN_GROUP_SIZE:
        return True, f"auto: the smaller group has {smaller} samples (>= {AUTO_MIN_GROUP_SIZE})"
    return False, (
        f"auto: the smaller group has {smaller} samples after QC, fewer than "
        f"{AUTO_MIN_GROUP_SIZE}; set biomarker.enabled: true to run it anyway"
    )


def check_group_sizes(settings: BiomarkerSettings, n_case: int, n_control: int) -> None:
    """Raise ``ValueError`` when the folds cannot hold both groups."""
    smaller = min(n_case, n_control)
    inner = smaller - math.ceil(smaller / settings.outer_folds)
    if smaller < settings.outer_folds or inner < settings.inner_folds:
        raise ValueError(
            f"biomarker: the smaller group has {smaller} samples ({n_case} case, {n_control} "
            f"control), too few for {settings.outer_folds} outer and {settings.inner_folds} "
            "inner folds; lower biomarker.outer_folds/inner_folds, add samples, or set "
            "biomarker.enabled: false"
        )


def metadata_path(model_path: str | Path) -> Path:
    """``model.json`` beside ``model.joblib``."""
    return Path(model_path).with_suffix(".json")


def read_model_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of the model at ``path`` (no unpickling)."""
    meta = metadata_path(path)
    if not meta.is_file():
        raise ValueError(
            f"biomarker.apply_model: {meta} not found; a model is {Path(path).name} together "
            "with its .json file as written by exomir: copy both"
        )
    metadata = json.loads(meta.read_text())
    if metadata.get("format") == "not-run":
        raise ValueError(
            f"biomarker.apply_model: {Path(path)} holds no model, the analysis that wrote it did "
            f"not run ({metadata.get('reason')}); use a model from a run that fitted one"
        )
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"biomarker.apply_model: {meta} is not an exomir biomarker model "
            f"(format {metadata.get('format')!r}, expected {FORMAT})"
        )
    return metadata


def read_model_features(path: str | Path) -> list[str]:
    """Count features the model needs, read cheaply from its JSON metadata."""
    return list(read_model_metadata(path)["required_features"])


def check_features(required: Sequence[str], available: Sequence[str], source: str) -> None:
    """Raise ``ValueError`` naming the model features that ``source`` lacks, and the fix."""
    present = set(available)
    missing = [f for f in required if f not in present]
    if missing:
        listed = ", ".join(missing[:20]) + (
            f" … and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        raise ValueError(
            f"biomarker.apply_model: {source} lacks {len(missing)} of the model's "
            f"{len(required)} features: {listed}. Quantify the new samples against the same "
            "miRBase reference as the training cohort (exomir's mature features, or the same "
            "row names in a counts: matrix); a feature that was not detected must be a row of "
            "zeros, not left out"
        )
