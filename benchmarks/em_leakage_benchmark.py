"""Paralog allocation on a finished workflow run: EM against the 1/k split, with the truth.

    PYTHONPATH=workflow python -m exomir.simulate --outdir /tmp/example
    PYTHONPATH=workflow python -m snakemake --cores 2 --directory /tmp/run \\
        --config samples=/tmp/example/samples.tsv
    PYTHONPATH=workflow python benchmarks/em_leakage_benchmark.py --run /tmp/run \\
        --truth /tmp/example/truth_counts.tsv

Recounts every sample from the run's own alignments (``results/align/{mature,hairpin}``)
with ``counting.multimappers`` ``em`` and ``split`` (no re-alignment) and prints, per mode,
the reads counted for miRNAs the simulator did not express (share of all miRNA reads,
the top receivers), the median count error of miRNAs with ≥ 50 true molecules, the share
of molecules counted, and the workflow's own ``mature_counts.tsv`` for comparison.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from exomir import composition, count, reference

TOLERANCE = count.Tolerance(2, 5)


def recount(run: Path, samples: list[str], mode: str) -> pd.DataFrame:
    locations = reference.read_locations(run / "results/reference/mature_in_hairpin.tsv")
    per_sample = {}
    for sample in samples:
        bams = [run / f"results/align/{stage}/{sample}.bam" for stage in ("mature", "hairpin")]
        per_sample[sample] = count.count_sample(*bams, locations, TOLERANCE, mode).mature
    names = list(pd.read_csv(run / "results/reference/features.tsv", sep="\t")["feature"])
    return composition.merge_feature_counts(per_sample, sorted(names), "mirna")


def describe(label: str, matrix: pd.DataFrame, truth: pd.DataFrame) -> None:
    outside = matrix.loc[~matrix.index.isin(truth.index)]
    leaked, total = int(outside.to_numpy().sum()), int(matrix.to_numpy().sum())
    top = outside.sum(axis=1).sort_values(ascending=False)
    counted = matrix.reindex(index=truth.index, columns=truth.columns, fill_value=0)
    error = ((counted - truth).abs() / truth).where(truth >= 50)
    print(
        f"{label}: {leaked} of {total} miRNA reads ({100 * leaked / total:.4f} %) in miRNAs not "
        f"simulated; median error {100 * error.stack().median():.2f} %; molecules counted "
        f"{100 * counted.to_numpy().sum() / truth.to_numpy().sum():.2f} %"
    )
    print("   top: " + ", ".join(f"{k} {v}" for k, v in top[top > 0].head(10).items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, type=Path, help="a finished workflow run")
    parser.add_argument(
        "--truth", required=True, type=Path, help="the simulator's truth_counts.tsv"
    )
    args = parser.parse_args()
    truth = pd.read_csv(args.truth, sep="\t", index_col=0)
    workflow = pd.read_csv(args.run / "results/counts/mature_counts.tsv", sep="\t", index_col=0)
    describe("workflow mature_counts.tsv", workflow, truth)
    for mode in (count.SPLIT, count.EM):
        describe(f"recount {mode}", recount(args.run, list(truth.columns), mode), truth)


if __name__ == "__main__":
    main()
