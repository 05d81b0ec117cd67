"""Wall time of the workflow on simulated libraries, with a per-rule breakdown.

    python benchmarks/workflow_benchmark.py                 # the bundled example size
    python benchmarks/workflow_benchmark.py --reads 1000000 --per-group 2

Simulates ``2 x per-group`` libraries of ``--reads`` reads each into a temporary
folder, runs the whole workflow there with ``--cores`` cores, and prints the
wall time, the reads per second through trimming+collapsing, and the summed
time of each rule from Snakemake's ``benchmark:`` files. Not a test: numbers
depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from exomir.simulate import simulate

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=40_000, help="reads per library")
    parser.add_argument("--per-group", type=int, default=6)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="exomir-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        simulate(
            REPO / "resources/mirbase/hsa_mature.fa",
            REPO / "resources/mirbase/hsa_hairpin.fa",
            tmp / "data",
            n_per_group=args.per_group,
            reads_per_sample=args.reads,
        )
        simulated = time.perf_counter() - t0
        config = tmp / "config.yaml"
        config.write_text(f"samples: {tmp / 'data' / 'samples.tsv'}\n")
        cmd = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--quiet", "all"]
        cmd += ["--directory", str(tmp / "run"), "--configfile", str(config)]
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True)
        wall = time.perf_counter() - t0

        run = tmp / "run"
        raw = sum(
            pd.read_json(p, typ="series")["raw_reads"]
            for p in (run / "results/qc/preprocess").glob("*.json")
        )
        rows = []
        for path in sorted((run / "results/benchmarks").rglob("*.tsv")):
            bench = pd.read_csv(path, sep="\t")
            rows.append(
                {
                    "step": path.parent.name,
                    "s": bench["s"].iloc[0],
                    "max_rss_mb": bench["max_rss"].iloc[0],
                }
            )
        per_step = (
            pd.DataFrame(rows)
            .groupby("step")
            .agg(jobs=("s", "size"), seconds=("s", "sum"), max_rss_mb=("max_rss_mb", "max"))
        )
        trim_seconds = (
            per_step.loc["cutadapt", "seconds"] if "cutadapt" in per_step.index else float("nan")
        )

    print(
        f"libraries: {2 * args.per_group} x {args.reads:,} simulated reads ({raw:,} raw reads in all)"
    )
    print(f"simulation: {simulated:.1f} s")
    print(f"workflow wall time ({args.cores} cores): {wall:.1f} s")
    print(
        f"trimming + collapsing: {raw / trim_seconds:,.0f} reads/s per job (summed job time {trim_seconds:.1f} s)"
    )
    print(per_step.round(2).to_string())


if __name__ == "__main__":
    main()
