"""Every output file of the biomarker analysis, written from a fitted result.

:data:`OUTPUTS` names the files (the keys a workflow rule uses);
:func:`write_outputs` writes them all, :func:`write_skipped` writes the same
files saying why the analysis did not run (``enabled: auto`` with too few
samples), so a workflow always gets its outputs and its report says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import biomarker_plots  # noqa: E402
from .biomarker import BiomarkerResult  # noqa: E402
from .biomarker_apply import metadata_path, save_model  # noqa: E402
from .biomarker_tables import annotate_signature, write_table  # noqa: E402
from .design import Contrast
from .plots import save_figure  # noqa: E402

__all__ = ["OUTPUTS", "write_outputs", "write_skipped"]

#: Output key → file name under ``results/biomarker/``.
OUTPUTS = {
    "performance": "performance.tsv",
    "signature": "signature.tsv",
    "predictions": "predictions.tsv",
    "permutations": "permutations.tsv",
    "roc": "roc.tsv",
    "summary": "summary.txt",
    "model": "model.joblib",
    "model_metadata": "model.json",
    "roc_plot": "roc.png",
    "calibration_plot": "calibration.png",
    "signature_plot": "signature.png",
    "permutation_plot": "permutations.png",
}
_SIGNATURE_COLUMNS = [
    "feature",
    "selection_frequency",
    "mean_coefficient",
    "mean_importance",
    "in_final_model",
    "final_weight",
    "log2_fold_change",
    "in_review_list",
    "review_roles",
    "review_drugs",
    "review_direction",
    "direction_consistent",
]


def _paths(outputs: Mapping[str, str | Path]) -> dict[str, Path]:
    """Every output's path; ``outputs`` is a mapping or a rule's named outputs (keys())."""
    missing = [k for k in OUTPUTS if k not in outputs.keys()]  # noqa: SIM118 (Namedlist)
    if missing:
        raise ValueError(f"biomarker outputs: no path for {', '.join(missing)}")
    paths = {k: Path(outputs[k]) for k in OUTPUTS}
    if paths["model_metadata"] != metadata_path(paths["model"]):
        raise ValueError(
            f"biomarker outputs: model_metadata must be {metadata_path(paths['model'])}, "
            "the JSON file beside the model"
        )
    return paths


def write_outputs(
    result: BiomarkerResult,
    outputs: Mapping[str, str | Path],
    features: pd.DataFrame,
    findings: pd.DataFrame,
) -> str:
    """Write tables, model and figures; ``features``/``findings`` annotate the signature.

    Returns the caption text (also written to ``summary``).
    """
    paths = _paths(outputs)
    contrast = result.cohort.contrast
    performance = result.performance()
    signature = annotate_signature(result.signature(), features, findings)
    predictions = result.predictions()
    roc = result.roc()
    permutations = result.permutations()
    for key, table in (
        ("performance", performance),
        ("signature", signature),
        ("predictions", predictions),
        ("roc", roc),
        ("permutations", permutations),
    ):
        write_table(table, paths[key])
    save_model(result, paths["model"])
    biomarker_plots.roc_plot(roc, performance, paths["roc_plot"])
    biomarker_plots.calibration_plot(predictions, paths["calibration_plot"], contrast)
    biomarker_plots.signature_plot(signature, paths["signature_plot"], contrast)
    biomarker_plots.permutation_plot(permutations, performance, paths["permutation_plot"])
    caption = biomarker_plots.caption_text(performance, contrast)
    paths["summary"].write_text(caption + "\n")
    return caption


def write_skipped(reason: str, outputs: Mapping[str, str | Path], contrast: Contrast) -> None:
    """The output files of an analysis that did not run, each saying ``reason``.

    ``model`` holds the reason as text and ``model_metadata`` says
    ``"format": "not-run"``, so apply mode refuses them with a clear message.
    """
    paths = _paths(outputs)
    variable = contrast.variable
    tables = {
        "performance": pd.DataFrame({"metric": ["status"], "value": [f"not run: {reason}"]}),
        "signature": pd.DataFrame(columns=_SIGNATURE_COLUMNS),
        "predictions": pd.DataFrame(columns=["sample", variable, "probability", "predicted"]),
        "roc": pd.DataFrame(columns=["fpr", "tpr", "tpr_low", "tpr_high"]),
        "permutations": pd.DataFrame(columns=["permutation", "auc"]),
    }
    for key, table in tables.items():
        write_table(table, paths[key])
    paths["summary"].write_text(f"Biomarker analysis not run: {reason}.\n")
    paths["model"].write_text(f"no model: the biomarker analysis did not run ({reason})\n")
    note = {"format": "not-run", "reason": reason}
    paths["model_metadata"].write_text(json.dumps(note, indent=1, sort_keys=True) + "\n")
    for key in ("roc_plot", "calibration_plot", "signature_plot", "permutation_plot"):
        fig, ax = plt.subplots(figsize=(6.0, 2.5))
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            f"Biomarker analysis not run:\n{reason}",
            ha="center",
            va="center",
            wrap=True,
            fontsize=9,
        )
        save_figure(fig, paths[key])
