"""Loading and validation of the sample sheet.

The sheet is a TSV with columns ``sample``, ``condition`` and ``fastq``; any
further column is a covariate usable in the design formula. Relative FASTQ
paths are resolved against the sheet's own folder, so a sheet and its data can
move together and the workflow can run from any working directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

REQUIRED_COLUMNS = ("sample", "condition", "fastq")
SAMPLE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
FASTQ_SUFFIXES = (".fastq", ".fq", ".fastq.gz", ".fq.gz")
OPTIONAL_COLUMNS = ("protocol",)


class SampleSheetError(ValueError):
    """The sample sheet is unusable; the message names the culprit and the fix."""


def design_variables(design: str) -> list[str]:
    """Variable names used in a formula such as ``~ batch + condition``."""
    rhs = design.split("~", 1)[-1]
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", rhs)
    return [n for n in dict.fromkeys(names) if n not in {"C", "I", "np", "log", "scale"}]


def load_sample_sheet(
    path: str | Path,
    contrast: dict[str, str],
    design: str = "~ condition",
    require_fastq: bool = True,
    min_per_group: int = 2,
) -> pd.DataFrame:
    """Read, check and return the sheet indexed by sample, FASTQ paths made absolute."""
    path = Path(path)
    if not path.is_file():
        raise SampleSheetError(
            f"sample sheet {path} does not exist; set 'samples' in the config to a TSV with "
            "columns sample, condition, fastq"
        )
    sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#")
    sheet.columns = [c.strip() for c in sheet.columns]
    required = REQUIRED_COLUMNS if require_fastq else ("sample", "condition")
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise SampleSheetError(
            f"sample sheet {path}: missing column(s) {', '.join(missing)}; it needs "
            f"{', '.join(required)} (tab-separated), further columns are covariates"
        )
    sheet = sheet.apply(lambda col: col.str.strip())

    for name in sheet["sample"]:
        if not SAMPLE_NAME.match(name):
            raise SampleSheetError(
                f"sample sheet {path}: sample name '{name}' has characters outside "
                "[A-Za-z0-9_.-]; rename it (e.g. replace spaces and slashes with '_')"
            )
    dupes = sorted(sheet.loc[sheet["sample"].duplicated(), "sample"].unique())
    if dupes:
        raise SampleSheetError(
            f"sample sheet {path}: duplicate sample name(s) {', '.join(dupes)}; each row needs "
            "a unique sample (merge lanes of one library before, or give each its own name)"
        )

    if "protocol" in sheet.columns:
        from .protocols import PROTOCOL_NAMES

        for sample, name in zip(sheet["sample"], sheet["protocol"]):
            if name and name not in PROTOCOL_NAMES:
                raise SampleSheetError(
                    f"sample sheet {path}: sample '{sample}' has protocol '{name}', which is not "
                    f"a library kit of exomir ({', '.join(PROTOCOL_NAMES)}); fix the 'protocol' "
                    "column (leave it empty to use the config's protocol)"
                )

    variable = contrast["variable"]
    for column in design_variables(design) + [variable]:
        if column not in sheet.columns:
            raise SampleSheetError(
                f"sample sheet {path}: the design '{design}' uses '{column}', which is not a "
                f"column of the sheet (columns: {', '.join(sheet.columns)})"
            )
    levels = {contrast["case"], contrast["control"]}
    for sample, level in zip(sheet["sample"], sheet[variable]):
        if level not in levels:
            raise SampleSheetError(
                f"sample sheet {path}: sample '{sample}' has {variable} '{level}', which is "
                f"neither contrast level ('{contrast['case']}' or '{contrast['control']}'); "
                "fix the sheet or the config's contrast"
            )
    for level in (contrast["case"], contrast["control"]):
        n = int((sheet[variable] == level).sum())
        if n < min_per_group:
            raise SampleSheetError(
                f"sample sheet {path}: {variable} '{level}' has {n} sample(s); differential "
                f"expression needs at least {min_per_group} per group: add samples or change "
                "the contrast"
            )

    if require_fastq:
        resolved = []
        for sample, fastq in zip(sheet["sample"], sheet["fastq"]):
            fq = Path(fastq)
            if not fq.is_absolute():
                fq = (path.parent / fq).resolve()
            if not fastq.endswith(FASTQ_SUFFIXES):
                raise SampleSheetError(
                    f"sample '{sample}': file {fastq} does not end in .fastq or .fastq.gz; "
                    "give a FASTQ file (plain or gzipped)"
                )
            if not fq.is_file():
                raise SampleSheetError(
                    f"sample '{sample}': FASTQ file {fq} does not exist; fix the 'fastq' "
                    f"column of {path} (relative paths are taken from the sheet's folder)"
                )
            resolved.append(str(fq))
        sheet["fastq"] = resolved
    return sheet.set_index("sample", drop=False).sort_index()
