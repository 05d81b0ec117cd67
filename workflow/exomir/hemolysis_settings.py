"""The ``hemolysis:`` settings and the blood-cell list, without the statistics.

Imported when the workflow starts (:mod:`exomir.settings`), so it stays light;
the guard itself is :mod:`exomir.hemolysis`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

BLOOD_CELL_TYPES = ("red_cell", "platelet", "leukocyte")
LIST_COLUMNS = ("mirna", "mirna_as_written", "mimat", "cell_type", "source", "evidence")
ADJUST_MODES = ("auto", "always", "never")
COVARIATES = ("red_cell_score", "index")


class HemolysisError(ValueError):
    """Bad input to the hemolysis guard (the message names the file, key or sample)."""


def read_blood_cell_list(path: str | Path) -> pd.DataFrame:
    """The bundled (or a user's) blood-cell miRNA list, validated."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in LIST_COLUMNS if c not in table.columns]
    if missing:
        raise HemolysisError(
            f"blood-cell list {path}: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(LIST_COLUMNS)})"
        )
    bad = table[~table["cell_type"].isin(BLOOD_CELL_TYPES)]
    if len(bad):
        row = bad.index[0]
        raise HemolysisError(
            f"blood-cell list {path}, line {row + 2}: cell_type {bad.at[row, 'cell_type']!r} "
            f"is not one of {', '.join(BLOOD_CELL_TYPES)}"
        )
    return table


def check_cell_types(cell_types: Sequence[str]) -> tuple[str, ...]:
    """The config's ``hemolysis.cell_types``, validated."""
    unknown = [c for c in cell_types if c not in BLOOD_CELL_TYPES]
    if unknown:
        raise HemolysisError(
            f"hemolysis.cell_types: unknown cell type(s) {', '.join(unknown)}; "
            f"choose from {', '.join(BLOOD_CELL_TYPES)}"
        )
    return tuple(cell_types)


def should_adjust(mode: str, differs: str) -> bool:
    """``hemolysis.adjust``: ``always``, ``never``, or ``auto`` (when hemolysis differs)."""
    if mode not in ADJUST_MODES:
        raise HemolysisError(
            f"hemolysis.adjust is {mode!r}; choose one of {', '.join(ADJUST_MODES)}"
        )
    return mode == "always" or (mode == "auto" and differs == "yes")


@dataclass(frozen=True)
class Settings:
    """The config's ``hemolysis`` block (defaults and descriptions in the schema)."""

    blood_cell_list: str
    cell_types: tuple[str, ...]
    alpha: float
    min_rho: float
    track_fdr: float
    adjust: str
    covariate: str

    @classmethod
    def from_config(cls, block: Mapping[str, Any]) -> Settings:
        """Validated settings from the (schema-validated) ``hemolysis`` block."""
        settings = cls(
            blood_cell_list=str(block["blood_cell_list"]),
            cell_types=check_cell_types(block["cell_types"]),
            alpha=float(block["alpha"]),
            min_rho=float(block["min_rho"]),
            track_fdr=float(block["track_fdr"]),
            adjust=str(block["adjust"]),
            covariate=str(block["covariate"]),
        )
        should_adjust(settings.adjust, "no")  # raises for an unknown mode
        if settings.covariate not in COVARIATES:
            raise HemolysisError(
                f"hemolysis.covariate is {settings.covariate!r}; choose one of "
                f"{', '.join(COVARIATES)}"
            )
        return settings
