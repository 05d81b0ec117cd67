#!/usr/bin/env python
"""Time exomir's biomarker analysis (nested CV + permutation test + final model).

Draws a plasma-like cohort with :mod:`exomir.simulate_counts` (default: 100
samples, 50 resistant vs 50 sensitive, over the 2,656 human miRBase v22 mature
miRNAs, 20 of them planted with a log2 fold change of ±0.5), runs
:func:`exomir.biomarker.fit_biomarker` with the ``biomarker:`` defaults of the
config schema (or the proposed defaults below while the schema has no such
block), and prints the wall time, the peak resident memory of this process and
of its largest worker, and the resulting performance.

Usage::

    python benchmarks/biomarker_benchmark.py                       # defaults, 2 workers
    python benchmarks/biomarker_benchmark.py --permutations 1000   # any setting overridden
    python benchmarks/biomarker_benchmark.py --model random_forest

Peak memory and CPU time of the workers are read after they have exited
(``RUSAGE_CHILDREN``); the memory is the largest single worker, not their sum.
The CPU time (all processes) divided by the number of workers is what the wall
time would be on otherwise idle cores: on a shared machine it is the steadier
figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import yaml

from exomir.biomarker import BiomarkerSettings, fit_biomarker
from exomir.design import Contrast
from exomir.simulate_counts import CASE, CONTROL, cohort_design, draw_cohort

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
# Used only while the schema has no biomarker block (the values proposed for it).
PROPOSED_DEFAULTS = {
    "enabled": "auto",
    "model": "elastic_net",
    "outer_folds": 5,
    "repeats": 3,
    "inner_folds": 3,
    "permutations": 200,
    "seed": 20240611,
    "max_features": 50,
    "covariates": [],
    "apply_model": "",
}


CONTRAST = Contrast("condition", CASE, CONTROL, "~ condition", f"{CASE}_vs_{CONTROL}")


def default_settings() -> tuple[dict, str]:
    """The schema's biomarker defaults, else the proposed ones; and where they came from."""
    schema = yaml.safe_load(SCHEMA.read_text())
    block = schema.get("properties", {}).get("biomarker", {}).get("properties", {})
    if block:
        return {k: v["default"] for k, v in block.items()}, str(SCHEMA)
    return dict(PROPOSED_DEFAULTS), "proposed defaults (no biomarker block in the schema yet)"


def peak_rss_mib(who: int) -> float:
    """Peak RSS in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(who).ru_maxrss
    return value / (1024.0 * 1024.0) if sys.platform == "darwin" else value / 1024.0


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its exited workers."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def shutdown_workers() -> None:
    """Let the joblib workers exit so that their peak RSS is accounted."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--planted", type=int, default=20)
    parser.add_argument("--effect", type=float, default=0.5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240611)
    for key in ("model", "outer_folds", "repeats", "inner_folds", "permutations", "max_features"):
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, default=None)
    args = parser.parse_args(argv)

    config, source = default_settings()
    for key in ("outer_folds", "repeats", "inner_folds", "permutations", "max_features"):
        if getattr(args, key) is not None:
            config[key] = int(getattr(args, key))
    if args.model is not None:
        config["model"] = args.model
    settings = BiomarkerSettings.from_config(config)

    design = cohort_design(
        REPO / "resources" / "mirbase" / "hsa_mature.fa",
        n_planted=args.planted,
        effect=args.effect,
        seed=args.seed,
        depth=1e6,
        cancer_effect=0.0,
    )
    half = args.samples // 2
    counts, sheet = draw_cohort(design, half, args.samples - half, seed=args.seed + 1, prefix="")
    print(f"simulated {counts.shape[0]} features x {counts.shape[1]} samples (seed {args.seed})")
    print(f"settings from {source}: {settings}")
    print(f"load average before: {os.getloadavg()[0]:.2f}; n_jobs {args.n_jobs}")

    cpu_start = cpu_seconds()
    start = time.perf_counter()
    result = fit_biomarker(counts, sheet.set_index("sample"), CONTRAST, settings, [], args.n_jobs)
    performance = result.performance()
    wall = time.perf_counter() - start
    shutdown_workers()

    values = dict(zip(performance["metric"], performance["value"]))
    print(
        "performance: "
        + ", ".join(f"{k} {float(values[k]):.3f}" for k in ("auc", "auc_ci_low", "auc_ci_high"))
        + f", permutation p {float(values['permutation_pvalue']):.4f}"
        + f", median panel {float(values['median_panel_size']):.0f} miRNAs"
    )
    cpu = cpu_seconds() - cpu_start
    print(f"wall time fit_biomarker + tables: {wall:.1f} s")
    print(
        f"CPU time (main + workers): {cpu:.1f} s, i.e. {cpu / args.n_jobs:.1f} s of wall time on "
        f"{args.n_jobs} otherwise idle cores; load average after: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"peak RSS: main process {peak_rss_mib(resource.RUSAGE_SELF):.0f} MiB; largest worker "
        f"{peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
