"""Reading and row checks of the sample sheet.

The sheet is a tab-separated table with a header row. ``sample`` is required, and
``fastq`` unless the run starts from a count matrix; every further column is a
covariate or the contrast variable (``condition`` by default), checked against
the design by :mod:`exomir.design`. Cells are text, taken as written: a ``#``
inside a cell is data (batch ``lot#1``), quotes are characters. Whole lines that
start with ``#`` are comments, and blank lines are skipped. Relative FASTQ paths
are resolved against the sheet's own folder, so a sheet and its data can move
together and the workflow can run from any working directory.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

NAME_CHARACTERS = "A-Za-z0-9_.-"  # a character class's body
SAMPLE_NAME = re.compile(f"^[{NAME_CHARACTERS}]+$")
FASTQ_SUFFIXES = (".fastq", ".fq", ".fastq.gz", ".fq.gz")


class SampleSheetError(ValueError):
    """The sample sheet is unusable; the message names the culprit and the fix."""


def read_sample_sheet(path: str | Path, require_fastq: bool) -> pd.DataFrame:
    """The sheet indexed by sample (sorted), cells stripped text, FASTQ paths absolute."""
    path = Path(path)
    sheet = _parse(path)
    required = ("sample", "fastq") if require_fastq else ("sample",)
    if not set(required) <= set(sheet.columns):
        absent = ", ".join(c for c in required if c not in sheet.columns)
        raise SampleSheetError(
            f"sample sheet {path}: missing column(s) {absent}; it needs {', '.join(required)} "
            "(tab-separated) and the contrast variable, further columns are covariates"
        )
    _check_sample_names(path, sheet)
    _check_protocol_column(path, sheet)
    if require_fastq:
        sheet["fastq"] = [
            _resolve_fastq(path, sample, fastq)
            for sample, fastq in zip(sheet["sample"], sheet["fastq"])
        ]
    return sheet.set_index("sample", drop=False).sort_index()


def _parse(path: Path) -> pd.DataFrame:
    """Rows of a tab-separated file; a row whose cell count differs from the header is an error."""
    if not path.is_file():
        raise SampleSheetError(
            f"sample sheet {path} does not exist; set 'samples' in the config to a TSV with "
            "columns sample, fastq and the contrast variable (e.g. condition)"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise SampleSheetError(
            f"sample sheet {path} is not UTF-8 text ({error}); save it as a tab-separated text file"
        ) from None
    rows = [
        (number, line.split("\t"))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    if not rows:
        raise SampleSheetError(f"sample sheet {path} has no header row and no samples")
    (_, header), body = rows[0], rows[1:]
    header = [cell.strip() for cell in header]
    if len(set(header)) < len(header) or "" in header:
        raise SampleSheetError(
            f"sample sheet {path}: the header {header} has empty or repeated column names"
        )
    for number, cells in body:
        if len(cells) != len(header):
            raise SampleSheetError(
                f"sample sheet {path}, line {number}: {len(cells)} tab-separated cells, the "
                f"header has {len(header)} ({', '.join(header)}); separate columns with one "
                "tab each"
            )
    if not body:
        raise SampleSheetError(f"sample sheet {path} lists no sample")
    return pd.DataFrame([[c.strip() for c in cells] for _, cells in body], columns=header)


def _check_sample_names(path: Path, sheet: pd.DataFrame) -> None:
    for name in sheet["sample"]:
        if not SAMPLE_NAME.match(name):
            raise SampleSheetError(
                f"sample sheet {path}: sample name '{name}' has characters outside "
                "[A-Za-z0-9_.-]; rename it (e.g. replace spaces and slashes with '_')"
            )
    folded = sheet["sample"].str.lower()
    dupes = sorted(sheet.loc[folded.duplicated(keep=False), "sample"].unique())
    if dupes:
        raise SampleSheetError(
            f"sample sheet {path}: duplicate sample name(s) {', '.join(dupes)} (names that "
            "differ only in case count as the same: their files would collide); each row needs "
            "a unique sample (merge lanes of one library before, or give each its own name)"
        )
    _check_dotted_names(path, dict(zip(folded, sheet["sample"])))


def _check_dotted_names(path: Path, names: dict[str, str]) -> None:
    """A name may not be another name followed by a dot (``names``: case-folded to original):
    A.long's collapsed reads would be A's results/collapsed/A.long.fa."""
    for folded, name in sorted(names.items()):
        for i, char in enumerate(folded):
            if char == "." and folded[:i] in names:
                raise SampleSheetError(
                    f"sample sheet {path}: sample name '{name}' is sample "
                    f"'{names[folded[:i]]}' followed by a dot (case ignored), so their files "
                    f"would collide; rename one (e.g. '{name[:i]}_{name[i + 1 :]}')"
                )


def _check_protocol_column(path: Path, sheet: pd.DataFrame) -> None:
    if "protocol" not in sheet.columns:
        return
    from .protocols import PROTOCOL_NAMES

    for sample, name in zip(sheet["sample"], sheet["protocol"]):
        if name and name not in PROTOCOL_NAMES:
            raise SampleSheetError(
                f"sample sheet {path}: sample '{sample}' has protocol '{name}', which is not "
                f"a library kit of exomir ({', '.join(PROTOCOL_NAMES)}); fix the 'protocol' "
                "column (leave it empty to use the config's protocol)"
            )


def _resolve_fastq(sheet: Path, sample: str, fastq: str) -> str:
    if not fastq.endswith(FASTQ_SUFFIXES):
        raise SampleSheetError(
            f"sample '{sample}': file '{fastq}' does not end in .fastq, .fq, .fastq.gz or "
            f".fq.gz; give a FASTQ file (plain or gzipped) in the 'fastq' column of {sheet}"
        )
    path = Path(fastq)
    if not path.is_absolute():
        path = (sheet.parent / path).resolve()
    if not path.is_file():
        raise SampleSheetError(
            f"sample '{sample}': FASTQ file {path} does not exist; fix the 'fastq' column of "
            f"{sheet} (relative paths are taken from the sheet's folder)"
        )
    return str(path)


def shared_fastq(sheet: pd.DataFrame) -> dict[str, list[str]]:
    """FASTQ files listed for more than one sample → those samples (same file, any path form)."""
    by_file: dict[str, list[str]] = {}
    for sample, fastq in zip(sheet["sample"], sheet["fastq"]):
        by_file.setdefault(str(Path(fastq).resolve()), []).append(sample)
    return {fastq: samples for fastq, samples in sorted(by_file.items()) if len(samples) > 1}
