"""Shared fixtures: paths, the simulated example, and Snakemake runs in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from exomir.de import DEOptions
from exomir.design import Contrast, Subset
from exomir.qc import QCSettings
from exomir.schema import default_config
from exomir.wrapper import prepare_job_environment

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"

# cutadapt, umi_tools, multiqc and the exomir package are found by every test and job
prepare_job_environment()


DEFAULTS = default_config()


def de_options(**changes) -> DEOptions:
    """The config's default DE settings (from the schema), with ``changes``, one worker."""
    return replace(DEOptions.from_config(DEFAULTS["de"], n_cpus=1), **changes)


def qc_settings(**changes) -> QCSettings:
    """The config's default QC settings (from the schema), with ``changes``."""
    return QCSettings.from_config(DEFAULTS["qc"])._replace(**changes)


def make_contrast(
    variable: str = "condition",
    case: str = "resistant",
    control: str = "sensitive",
    design: str = "~ condition",
    name: str = "",
    subset: tuple[str, str] | None = None,
) -> Contrast:
    """A contrast as the settings layer builds it (name ``<case>_vs_<control>`` by default)."""
    return Contrast(
        variable,
        case,
        control,
        design,
        name or f"{case}_vs_{control}",
        Subset(*subset) if subset else None,
    )


def write_reference_files(mature, hairpins, out: Path) -> dict[str, Path]:
    """``exomir.reference.write_reference`` into ``out``: mature.fa, hairpin.fa, features.tsv,
    loc.tsv (mature positions in hairpins) and hairpin.gff3; returns the two FASTA paths."""
    from exomir import reference

    paths = {k: out / f"{k}.fa" for k in ("mature", "hairpin")}
    reference.write_reference(
        mature,
        hairpins,
        mature_fasta=paths["mature"],
        hairpin_fasta=paths["hairpin"],
        features=out / "features.tsv",
        locations=out / "loc.tsv",
        mirtop_gff=out / "hairpin.gff3",
    )
    return paths


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found: the shared data folder sits beside the clone in CI")
    return path


def tool_env() -> dict[str, str]:
    """Environment whose PATH finds the tools installed beside this Python (cutadapt, …)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def run_snakemake(
    workdir: Path, config: dict | None = None, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    """Run the workflow from the repository with ``--directory workdir``.

    ``config`` is written to ``workdir/config.yaml`` and passed with
    ``--configfile`` (merged over the default config). stdout and stderr are
    joined: Snakemake 9 prints errors to stdout.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", "2", "--directory", str(workdir)]
    # --configfile takes several values: it comes last, after any target
    if config is not None:
        cfg = workdir / "config.yaml"
        cfg.write_text(yaml.safe_dump(config))
        cmd += ["--configfile", str(cfg)]
    proc = subprocess.run(
        cmd, cwd=REPO, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-6000:]}")
    return proc


@pytest.fixture(scope="session")
def example_dir(tmp_path_factory) -> Path:
    """The simulated example (same generator and seed as `make example`)."""
    from exomir.simulate import simulate

    out = tmp_path_factory.mktemp("example")
    simulate(
        REPO / "resources" / "mirbase" / "hsa_mature.fa",
        REPO / "resources" / "mirbase" / "hsa_hairpin.fa",
        out,
    )
    return out


@pytest.fixture(scope="session")
def example_run(example_dir, tmp_path_factory) -> Path:
    """One complete workflow run on the example; returns its working directory."""
    workdir = tmp_path_factory.mktemp("run1")
    run_snakemake(workdir, {"samples": str(example_dir / "samples.tsv")})
    return workdir


@pytest.fixture(scope="session")
def example_rerun(example_dir, tmp_path_factory) -> Path:
    """A second, independent run on the same input (for determinism)."""
    workdir = tmp_path_factory.mktemp("run2")
    run_snakemake(workdir, {"samples": str(example_dir / "samples.tsv")})
    return workdir


def mature_names(step: int = 10) -> list[str]:
    """Real human mature miRNA names: every ``step``-th of the bundled miRBase v22 list."""
    from exomir.reference import mature_from_fasta

    names = [m.name for m in mature_from_fasta(REPO / "resources" / "mirbase" / "hsa_mature.fa")]
    return names[::step]


def preprocess_in(folder: Path, sample: str, fastq: Path, protocol, **settings):
    """``exomir.preprocess.run`` with its files in ``folder`` and the default settings.

    Files: collapsed.fa, collapsed_long.fa, cutadapt.json, lengths.tsv, summary.json,
    protocol.json, trim.log, umi.log. ``settings`` override keys of the config's
    ``trimming`` block (quality_cutoff, keep_untrimmed, error_rate, min_length, ...)
    and ``threads``.
    """
    from exomir import preprocess

    trimming = {**DEFAULTS["trimming"], "threads": 1, **settings}
    files = preprocess.SampleFiles(
        collapsed=str(folder / "collapsed.fa"),
        collapsed_long=str(folder / "collapsed_long.fa"),
        cutadapt_report=str(folder / "cutadapt.json"),
        lengths=str(folder / "lengths.tsv"),
        read_fates=str(folder / "summary.json"),
        kit_record=str(folder / "protocol.json"),
        log=str(folder / "trim.log"),
        umi_log=str(folder / "umi.log"),
    )
    return preprocess.run(
        sample,
        str(fastq),
        protocol,
        preprocess.LengthWindow(trimming["min_length"], trimming["max_length"]),
        preprocess.Trimming.from_config(trimming, trimming["threads"]),
        (DEFAULTS["qc"]["auto_reads"], DEFAULTS["qc"]["auto_min_confidence"]),
        files,
    )
