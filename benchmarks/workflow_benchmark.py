"""CPU per million reads and peak memory of exomir, stage by stage, against a naive script.

    python benchmarks/workflow_benchmark.py                       # what `make benchmark` runs
    python benchmarks/workflow_benchmark.py --memory-reads 20000000   # + 20 M-read kit runs

What it does, on simulated libraries (seeded: every run measures the same reads):

1. two TruSeq cohorts of ``2 x --per-group`` libraries (``exomir.simulate``, the
   example's simulator), of ``--small`` and ``--large`` reads each (defaults
   6 x 0.1 M and 6 x 1 M); the whole workflow runs on each, then the naive lab
   script (``benchmarks/naive_pipeline.sh``: cutadapt and bowtie on every read,
   ``samtools idxstats``) on the same files; the two cohorts in turn,
   ``--repeats`` times (default 3, fresh run folders), and the repeat with the
   median marginal cost of exomir is the one reported (a run's fixed costs vary
   by a few cpu-s, which the division by the extra million reads turns into
   tenths of a cpu-s per million; every repeat's figures are printed, and the
   marginal cost from each cohort's lowest CPU time over the repeats);
2. per stage (trim+collapse, align, count, DE, the rest), the CPU seconds
   (user + system, all processes) per million raw reads of the large cohort,
   and the **marginal** cost: (cost on the large cohort - cost on the small one)
   / (million reads more), which cancels fixed costs (reference, DE, plots,
   Snakemake's start-up); the same for the naive script, and the ratio;
3. the time of a dry run (``snakemake -n``) of a ``--dry-run-samples``-row sheet
   whose rows link to the two cohorts' simulated libraries in turn (real-size
   files; median of ``--dry-run-repeats`` runs), next to the same dry run
   of ``benchmarks/bare_dry_run.smk`` (the files of exomir's per-sample jobs and
   nothing else: Snakemake's own cost on this host), and where SLURM's tools are
   installed the part of it spent importing the SLURM executor plugin (9 s when
   no SLURM controller answers);
4. per-sample jobs (trimming, bowtie, counting) of one NEXTflex and one
   QIAseq library of ``--memory-reads`` reads (``exomir.simulate_kits``): CPU,
   peak memory, and the memory the rule declared for that input (``exomir.sizing``,
   as the run's Snakemake log shows it), which must be above the peak.

The cohorts run on ``--cohort-cores`` (default 1), exomir and the naive script
alike: with two jobs or threads at once on a small virtual machine, CPU time
grows with the sharing itself (PyDESeq2 spent 1.7 instead of 0.5 cpu-s per
million reads on 2 cores). A busy host still moves the CPU time of the same
run by 10-20 %, hence the repeats. The kit runs and the dry run use ``--cores``.

CPU time is exact for a whole run (``getrusage`` of every process it started);
per job it is sampled every 50 ms (``benchmarks/jobmeter.py``), the rest of a
run's total is reported as "rest" (Snakemake itself included). Peak memory is
the largest sum of the resident memory of a job's processes at one sample.
Simulated data are kept in ``--data`` between runs. Not a test: the numbers
depend on the machine and its load; the acceptance checks are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jobmeter import Job, Measurement, run_measured

from exomir.simulate import simulate
from exomir.simulate_kits import simulate_cohort, simulate_library

REPO = Path(__file__).resolve().parents[1]
MATURE = REPO / "resources/mirbase/hsa_mature.fa"
HAIRPIN = REPO / "resources/mirbase/hsa_hairpin.fa"
NAIVE = REPO / "benchmarks/naive_pipeline.sh"
BARE_DRY_RUN = REPO / "benchmarks/bare_dry_run.smk"
# stage of a job, from its command line (script name or tool)
STAGES = [
    ("trim+collapse", r"trim_reads\.py"),
    ("align", r"align_reads\.py|\bbowtie (?!-build)|bowtie --threads"),
    ("count", r"count_sample\.py|merge_counts\.py"),
    ("DE", r"fit_diffexp\.py"),
]
PER_SAMPLE = {"trim": r"trim_reads\.py", "align": r"align_reads\.py", "count": r"count_sample"}
PER_SAMPLE_RULES = {"trim": "trim_reads", "align": "align_reads", "count": "count_sample"}
TARGET_MARGINAL = 2.5  # cpu-s per million reads, whole workflow, TruSeq
TARGET_RATIO = 3.0
TARGET_DRY_RUN = 10.0  # seconds


def label_of(command: str) -> str:
    """A job's script or tool, for the breakdown of 'rest'."""
    script = re.search(r"\.(\w+)\.py\b", command)  # .snakemake/scripts/tmpXXXX.<name>.py
    if script:
        return script.group(1)
    words = [w for w in re.split(r"[\s();&|]+", command) if w and not w.startswith("-")]
    tools = [Path(w).name for w in words if Path(w).name in ("mirtop", "multiqc", "bowtie-build")]
    return tools[0] if tools else Path(words[0]).name if words else "?"


def stage_of(command: str) -> str:
    for stage, pattern in STAGES:
        if re.search(pattern, command):
            return stage
    return "rest"


def tool_env() -> dict[str, str]:
    """PATH with this Python's folder first (cutadapt, umi_tools); exomir on PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(REPO / "workflow") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def snakemake(workdir: Path, config: dict, *args: str, cores: int) -> Measurement:
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}: {value}" for key, value in config.items()]
    (workdir / "config.yaml").write_text("\n".join(lines) + "\n")
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    cmd += ["--directory", str(workdir), "--configfile", str(workdir / "config.yaml")]
    return run_measured(cmd, cwd=REPO, env=tool_env(), log=workdir / "snakemake.log")


def truseq_cohort(data: Path, reads: int, per_group: int) -> Path:
    """The simulated TruSeq cohort (kept in ``data``); returns its sample sheet."""
    folder = data / f"truseq_{per_group}x2_{reads}"
    sheet = folder / "samples.tsv"
    if not sheet.exists():
        shutil.rmtree(folder, ignore_errors=True)
        simulate(MATURE, HAIRPIN, folder, n_per_group=per_group, reads_per_sample=reads)
    return sheet


def cohort_fastqs(sheet: Path) -> list[Path]:
    """The simulated FASTQs of a cohort, in name order."""
    return sorted((sheet.parent / "fastq").glob("*.fastq.gz"))


def raw_reads(workdir: Path) -> int:
    summaries = (workdir / "results/qc/read_fates").glob("*.json")
    return int(sum(pd.read_json(p, typ="series")["raw_reads"] for p in summaries))


@dataclass
class Cohort:
    """One measured cohort: reads, exomir's run, the naive script's run."""

    reads: int
    exomir: Measurement
    naive: Measurement

    def stages(self) -> dict[str, tuple[float, float]]:
        """Stage -> (CPU seconds, peak RSS MB); 'rest' holds the unsampled remainder."""
        found: dict[str, list[Job]] = {}
        for job in self.exomir.jobs:
            found.setdefault(stage_of(job.command), []).append(job)
        table = {
            stage: (sum(j.cpu_s for j in jobs), max(j.peak_rss_mb for j in jobs))
            for stage, jobs in found.items()
            if stage != "rest"
        }
        rest_cpu = self.exomir.cpu_s - sum(cpu for cpu, _ in table.values())
        rest_rss = max((j.peak_rss_mb for j in found.get("rest", [])), default=0.0)
        table["rest"] = (rest_cpu, rest_rss)
        return table


def measure_cohort(sheet: Path, workdir: Path, cores: int) -> Cohort:
    """exomir, then the naive script, on one cohort."""
    run = workdir / "exomir"
    exomir = snakemake(run, {"samples": str(sheet)}, "all", cores=cores)
    index = run / "results/reference/bowtie/mature"
    fastqs = [str(p) for p in cohort_fastqs(sheet)]
    naive = run_measured(
        ["bash", str(NAIVE), str(index), str(workdir / "naive"), str(cores), *fastqs],
        env=tool_env(),
        log=workdir / "naive.log",
    )
    return Cohort(raw_reads(run), exomir, naive)


def marginal(small: Measurement, large: Measurement, extra_reads: int) -> float:
    """CPU seconds per million reads more."""
    return (large.cpu_s - small.cpu_s) / (extra_reads / 1e6)


def measure_pairs(sheets: tuple[Path, Path], work: Path, cores: int, repeats: int):
    """Small and large cohort measured in turn, ``repeats`` times; the median repeat.

    Alternating the cohorts makes a slow spell of the machine hit both sides of a
    difference; the repeat with the median marginal cost of exomir is returned.
    """
    pairs = []
    for i in range(repeats):
        small = measure_cohort(sheets[0], work / f"s{i}", cores)
        large = measure_cohort(sheets[1], work / f"l{i}", cores)
        extra = large.reads - small.reads
        pairs.append((marginal(small.exomir, large.exomir, extra), small, large))
        naive = marginal(small.naive, large.naive, extra)
        print(
            f"repeat {i + 1}: exomir {small.exomir.cpu_s:.1f} / {large.exomir.cpu_s:.1f} cpu-s, "
            f"marginal {pairs[-1][0]:.2f}; naive {small.naive.cpu_s:.1f} / "
            f"{large.naive.cpu_s:.1f} cpu-s, marginal {naive:.2f}; ratio {naive / pairs[-1][0]:.1f}"
        )
    print_lowest([pair[1] for pair in pairs], [pair[2] for pair in pairs])
    pairs.sort(key=lambda pair: pair[0])
    _, small, large = pairs[len(pairs) // 2]
    return small, large


def print_lowest(smalls: list[Cohort], larges: list[Cohort]) -> None:
    """Marginal costs from the lowest CPU time of each cohort over the repeats.

    A busy host only adds CPU time to the same work, so each cohort's lowest
    repeat is its best estimate; the difference of two lowest figures is not
    lowered by a slow small-cohort repeat, as a single repeat's difference is.
    """
    extra = larges[0].reads - smalls[0].reads
    lowest = {
        tool: marginal(
            min((getattr(c, tool) for c in smalls), key=lambda m: m.cpu_s),
            min((getattr(c, tool) for c in larges), key=lambda m: m.cpu_s),
            extra,
        )
        for tool in ("exomir", "naive")
    }
    print(
        f"lowest CPU of each cohort: exomir marginal {lowest['exomir']:.2f}, naive "
        f"{lowest['naive']:.2f}; ratio {lowest['naive'] / lowest['exomir']:.1f}"
    )


def print_stages(small: Cohort, large: Cohort) -> float:
    """The per-stage table; returns exomir's marginal cost (cpu-s per million reads)."""
    extra = (large.reads - small.reads) / 1e6
    big, little = large.stages(), small.stages()
    print(f"\nexomir, TruSeq, {large.reads / 1e6:.2f} M vs {small.reads / 1e6:.2f} M raw reads")
    print(f"{'stage':15s} {'cpu-s/M':>9s} {'marginal':>9s} {'peak RSS MB':>12s}")
    for stage in [s for s, _ in STAGES] + ["rest"]:
        cpu, rss = big.get(stage, (0.0, 0.0))
        marginal = (cpu - little.get(stage, (0.0, 0.0))[0]) / extra
        print(f"{stage:15s} {cpu / large.reads * 1e6:9.2f} {marginal:9.2f} {rss:12.0f}")
    whole = (large.exomir.cpu_s - small.exomir.cpu_s) / extra
    rest = {}
    for cohort, sign in ((large, 1), (small, -1)):
        for job in cohort.exomir.jobs:
            if stage_of(job.command) == "rest":
                label = label_of(job.command)
                rest[label] = rest.get(label, 0.0) + sign * job.cpu_s / extra
    top = sorted(rest.items(), key=lambda item: -item[1])[:4]
    print(f"{'':15s} rest, largest marginal: " + ", ".join(f"{k} {v:.2f}" for k, v in top))
    print(
        f"{'whole workflow':15s} {large.exomir.cpu_s / large.reads * 1e6:9.2f} {whole:9.2f} "
        f"{large.exomir.peak_rss_mb:12.0f}   ({large.exomir.cpu_s:.1f} and "
        f"{small.exomir.cpu_s:.1f} cpu-s in all; wall {large.exomir.wall_s:.0f} s)"
    )
    return whole


def dry_run_sheet(workdir: Path, n_samples: int, libraries: list[Path]) -> Path:
    """A sheet of ``n_samples`` links to the simulated ``libraries`` in turn, for dry runs.

    Real-size files: Snakemake asks each trimming job for its memory while it
    builds the DAG, and exomir reads the start of the FASTQ for it
    (``exomir.sizing``); a sheet of one-read files would leave that out.
    """
    fastq_dir = workdir / "fastq"
    fastq_dir.mkdir(parents=True, exist_ok=True)
    rows = ["sample\tcondition\tfastq"]
    for i in range(n_samples):
        path = fastq_dir / f"P{i:04d}.fastq.gz"
        if not path.is_symlink():
            path.symlink_to(libraries[i % len(libraries)])
        rows.append(f"P{i:04d}\t{'resistant' if i % 2 else 'sensitive'}\t{path}")
    (workdir / "samples.tsv").write_text("\n".join(rows) + "\n")
    return workdir / "samples.tsv"


def dry_runs(
    workdir: Path, n_samples: int, libraries: list[Path], cores: int, repeats: int
) -> tuple[float, float]:
    """Median wall seconds of ``snakemake -n`` of exomir and of ``BARE_DRY_RUN``.

    Both on the same ``n_samples``-row sheet, in turn, ``repeats`` times each; the
    sheet lists each library many times (``allow_duplicate_fastq``).
    """
    sheet = dry_run_sheet(workdir, n_samples, libraries)
    config = {"samples": str(sheet), "allow_duplicate_fastq": "true"}
    snakefiles = {"run": (), "bare": ("-s", str(BARE_DRY_RUN))}
    times: dict[str, list[float]] = {name: [] for name in snakefiles}
    for i in range(repeats):
        for name, snakefile in snakefiles.items():
            args = ("-n", "--quiet", "rules", *snakefile)
            times[name].append(snakemake(workdir / f"{name}{i}", config, *args, cores=cores).wall_s)
    exomir, bare = times["run"], times["bare"]
    print(f"  exomir, each run: {' '.join(f'{t:.1f}' for t in exomir)} s")
    print(f"  bare Snakefile (benchmarks/bare_dry_run.smk): {' '.join(f'{t:.1f}' for t in bare)} s")
    return statistics.median(exomir), statistics.median(bare)


def slurm_plugin_import() -> float | None:
    """Wall seconds to import the SLURM executor plugin where SLURM's tools are installed.

    Snakemake imports every executor plugin at start-up, and this one asks the
    SLURM controller for its settings on import (``scontrol show config``): with
    SLURM's tools installed and no controller answering, that waits for a
    timeout at every Snakemake start, dry runs included.
    """
    if shutil.which("sinfo") is None:
        return None
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import snakemake_executor_plugin_slurm"],
        env=tool_env(),
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - start


def declared_mem_mb(log: Path) -> dict[str, int]:
    """``mem_mb`` of each job in a Snakemake log, by rule: what the rule declared at run time."""
    declared, rule = {}, None
    for line in log.read_text().splitlines():
        if job := re.match(r"(?:local)?rule (\w+):", line):
            rule = job.group(1)
        elif rule and (memory := re.search(r"^\s+resources: .*\bmem_mb=(\d+)", line)):
            declared[rule] = int(memory.group(1))
    return declared


def kit_jobs(data: Path, workdir: Path, kit: str, reads: int, cores: int) -> list[dict]:
    """Per-sample jobs of one library of ``kit``: CPU, peak RSS and declared memory."""
    folder = data / f"{kit}_{reads}"
    sheet = folder / "samples.tsv"
    if not sheet.exists():  # R01 at depth; 3 small libraries for a valid sheet
        shutil.rmtree(folder, ignore_errors=True)
        simulate_cohort(kit, folder, 2000, 2, 7, MATURE, HAIRPIN)
        simulate_library(kit, folder / "fastq/R01.fastq.gz", reads, 7, MATURE, HAIRPIN)
    run = workdir / kit
    target = "results/counts/per_sample/R01.mature.tsv"
    measurement = snakemake(run, {"samples": str(sheet), "protocol": kit}, target, cores=cores)
    declared = declared_mem_mb(run / "snakemake.log")
    rows = []
    for job in measurement.jobs:
        for step, pattern in PER_SAMPLE.items():
            if re.search(pattern, job.command):
                rows.append(
                    {
                        "kit": kit,
                        "reads": reads,
                        "job": step,
                        "cpu_s": round(job.cpu_s, 2),
                        "wall_s": round(job.last_seen - job.first_seen, 1),
                        "peak_rss_mb": round(job.peak_rss_mb),
                        "declared_mem_mb": declared[PER_SAMPLE_RULES[step]],
                    }
                )
    return rows


def kit_rows(args: argparse.Namespace, work: Path) -> list[dict]:
    return [
        row
        for reads in args.memory_reads
        for kit in args.kits
        for row in kit_jobs(args.data, work / f"kit{reads}", kit, reads, args.cores)
    ]


def print_checks(whole: float, naive: float, dry: float, kits: list[dict]) -> None:
    ratio = naive / whole if whole > 0 else float("inf")
    checks = [
        (f"marginal whole workflow <= {TARGET_MARGINAL} cpu-s/M", whole <= TARGET_MARGINAL),
        (f"naive / exomir >= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (f"dry run (median) <= {TARGET_DRY_RUN:.0f} s", dry <= TARGET_DRY_RUN),
    ]
    for row in kits:
        limit = 1000 if row["reads"] <= 1_000_000 else 2000
        name = f"{row['kit']} {row['reads'] / 1e6:g} M {row['job']}"
        checks.append((f"{name}: peak <= {limit} MB", row["peak_rss_mb"] <= limit))
        checks.append((f"{name}: declared > peak", row["declared_mem_mb"] > row["peak_rss_mb"]))
    print(f"\nnaive / exomir (marginal): {ratio:.1f}x")
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100_000, help="reads per small library")
    parser.add_argument("--large", type=int, default=1_000_000, help="reads per large library")
    parser.add_argument("--per-group", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2, help="cores of the kit runs and dry run")
    parser.add_argument(
        "--cohort-cores",
        type=int,
        default=1,
        help="cores of the CPU-cost cohorts, exomir and naive script alike (see above)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per cohort; the median run is reported"
    )
    parser.add_argument("--dry-run-samples", type=int, default=1000)
    parser.add_argument("--dry-run-repeats", type=int, default=3)
    parser.add_argument("--memory-reads", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--kits", nargs="*", default=["nextflex", "qiaseq"])
    parser.add_argument("--keep", type=Path, help="keep the runs in this folder")
    parser.add_argument(
        "--only-kits", action="store_true", help="only the per-sample kit runs (calibration)"
    )
    default_data = Path(tempfile.gettempdir()) / "exomir-benchmark-data"
    parser.add_argument("--data", type=Path, default=default_data, help="simulated data cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="exomir-benchmark-") as tmp:
        work = args.keep or Path(tmp)
        repeated = (args.cohort_cores, args.repeats)
        if args.only_kits:
            print(pd.DataFrame(kit_rows(args, work)).to_string(index=False))
            return
        sheets = (
            truseq_cohort(args.data, args.small, args.per_group),
            truseq_cohort(args.data, args.large, args.per_group),
        )
        small, large = measure_pairs(sheets, work, *repeated)
        whole = print_stages(small, large)
        naive = marginal(small.naive, large.naive, large.reads - small.reads)
        print(
            f"{'naive script':15s} {large.naive.cpu_s / large.reads * 1e6:9.2f} {naive:9.2f} "
            f"{large.naive.peak_rss_mb:12.0f}   (same files, same run)"
        )
        print(f"\ndry run, {args.dry_run_samples} samples ({args.dry_run_repeats} runs each)")
        libraries = [p for sheet in sheets for p in cohort_fastqs(sheet)]
        dry, bare = dry_runs(
            work / "dry", args.dry_run_samples, libraries, args.cores, args.dry_run_repeats
        )
        print(f"  median: exomir {dry:.1f} s, bare Snakefile {bare:.1f} s")
        probe = slurm_plugin_import()
        if probe is not None:
            print(f"  of which SLURM executor plugin import (asks the controller): {probe:.1f} s")
        kits = kit_rows(args, work)
        if kits:
            print("\nper-sample jobs (one library each)")
            print(pd.DataFrame(kits).to_string(index=False))
        print_checks(whole, naive, dry, kits)


if __name__ == "__main__":
    main()
