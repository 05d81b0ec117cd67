"""Versions of the software that ran and sha256 of the input files, one table for the report.

The table also says which pinned set the Python packages came from: the
workstation set (``requirements.txt``, installed by ``make setup``) or a
per-rule conda environment (``envs/*.yaml``, with ``--sdm conda``). The two sets
pin the same versions of every package they both name (``tests/test_pins.py``).
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .reference import sha256

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exomir", "snakemake", "pydeseq2", "numpy", "pandas", "scipy", "matplotlib")
FASTQ_PACKAGES = ("cutadapt", "pysam", "umi_tools", "multiqc")
FASTQ_TOOLS = {"bowtie": ["bowtie", "--version"], "samtools": ["samtools", "--version"]}
FILES = {
    "mature_fasta": "mature miRNA FASTA",
    "hairpin_fasta": "hairpin FASTA",
    "resistance_list": "resistance-miRNA list",
    "blood_cell_list": "blood-cell miRNA list",
    "samples": "sample sheet",
    "counts": "count matrix",
}


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    pyproject = ROOT / "pyproject.toml"
    if name == "exomir" and pyproject.is_file():  # a clone without the package installed
        with open(pyproject, "rb") as handle:
            return tomllib.load(handle)["project"]["version"]
    return "not installed"


def tool_version(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not found"
    out = subprocess.run(command, capture_output=True, check=False).stdout.decode(errors="replace")
    first = out.strip().splitlines()[0] if out.strip() else "unknown"
    return first.split()[-1]


def shown_path(path: str) -> str:
    """Paths inside the workflow relative to it: the table does not depend on the clone's place."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def software_set() -> str:
    """Which pinned set this step's Python packages come from."""
    if (Path(sys.prefix) / "conda-meta").is_dir():
        return "conda environment (envs/*.yaml, --sdm conda)"
    return "requirements.txt (make setup)"


def conda_pins() -> list[tuple[str, str, str, str]]:
    """Packages pinned in each envs/*.yaml (the versions used with --sdm conda)."""
    from .pins import conda_env_pins

    return [
        ("conda env", f"envs/{env.name}", ", ".join(f"{k} ={v}" for k, v in pins.items()), "")
        for env, pins in conda_env_pins(ROOT / "envs").items()
    ]


def table(files: Mapping[str, str], from_counts: bool, reference: Mapping) -> pd.DataFrame:
    """The provenance table: software, pinned sets, reference release, file checksums."""
    rows = [
        ("software", "python", platform.python_version(), "interpreter of this step"),
        ("software", "pinned set", software_set(), "source of the Python packages"),
    ]
    packages = PACKAGES + (() if from_counts else FASTQ_PACKAGES)
    rows += [("software", p, package_version(p), "Python package") for p in packages]
    if not from_counts:
        rows += [
            ("software", tool, tool_version(command), "command-line tool")
            for tool, command in FASTQ_TOOLS.items()
        ]
    rows += conda_pins()
    release = (
        "user-supplied FASTA"
        if reference["mature_fasta"]
        else f"miRBase v22 (bundled), species {reference['species']}"
    )
    rows.append(("reference", "miRBase", release, ""))
    for key, label in FILES.items():
        if key in files.keys():  # noqa: SIM118 (Snakemake's Namedlist: `in` tests values)
            rows.append(("file", label, f"sha256:{sha256(files[key])}", shown_path(files[key])))
    return pd.DataFrame(rows, columns=["kind", "name", "value", "detail"])
