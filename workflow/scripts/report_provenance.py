"""Versions of the software that ran and sha256 of the input files, one table for the report."""

import importlib.metadata
import platform
import shutil
import subprocess
import tomllib
from pathlib import Path

import pandas as pd
from exomir.reference import sha256
from exomir.wrapper import run

ROOT = Path(snakemake.scriptdir).resolve().parents[1]
PACKAGES = ("exomir", "snakemake", "pydeseq2", "numpy", "pandas", "scipy", "matplotlib")
FASTQ_PACKAGES = ("cutadapt", "pysam", "umi_tools", "multiqc")
FASTQ_TOOLS = {"bowtie": ["bowtie", "--version"], "samtools": ["samtools", "--version"]}
FILES = {
    "mature_fasta": "mature miRNA FASTA",
    "hairpin_fasta": "hairpin FASTA",
    "resistance_list": "resistance-miRNA list",
    "samples": "sample sheet",
    "counts": "count matrix",
}


def package_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        pass
    if name == "exomir":  # run from a clone without installing the package
        pyproject = ROOT / "pyproject.toml"
        if pyproject.is_file():
            with open(pyproject, "rb") as handle:
                return tomllib.load(handle)["project"]["version"]
    return "not installed"


def tool_version(command):
    if shutil.which(command[0]) is None:
        return "not found"
    out = subprocess.run(command, capture_output=True, check=False).stdout
    out = out.decode(errors="replace")
    first = out.strip().splitlines()[0] if out.strip() else "unknown"
    return first.split()[-1]


def shown_path(path):
    """Paths inside the workflow relative to it: the table does not depend on the clone's place."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def conda_pins():
    """Packages pinned in each envs/*.yaml (the versions used with --use-conda)."""
    rows = []
    for env in sorted((ROOT / "envs").glob("*.yaml")):
        pins = []
        for line in env.read_text().splitlines():
            line = line.strip()
            if line.startswith("- ") and "=" in line:
                pins.append(" ".join(line[2:].split()))
        rows.append(("conda env", f"envs/{env.name}", ", ".join(pins), "pinned for --use-conda"))
    return rows


def reference_release(reference):
    if reference["mature_fasta"]:
        return "user-supplied FASTA"
    return f"miRBase v22 (bundled), species {reference['species']}"


def main(smk):
    rows = [("software", "python", platform.python_version(), "interpreter of this step")]
    packages = PACKAGES + (() if smk.params.from_counts else FASTQ_PACKAGES)
    rows += [("software", p, package_version(p), "Python package") for p in packages]
    if not smk.params.from_counts:
        rows += [
            ("software", tool, tool_version(command), "command-line tool")
            for tool, command in FASTQ_TOOLS.items()
        ]
    rows += conda_pins()
    rows.append(("reference", "miRBase", reference_release(smk.params.reference), ""))
    for key, label in FILES.items():
        if key in smk.input.keys():
            path = smk.input[key]
            rows.append(("file", label, f"sha256:{sha256(path)}", shown_path(path)))
    table = pd.DataFrame(rows, columns=["kind", "name", "value", "detail"])
    table.to_csv(smk.output[0], sep="\t", index=False)
    with open(smk.log[0], "w") as log:
        log.write(f"{len(table)} provenance rows\n")


run(main, snakemake)
