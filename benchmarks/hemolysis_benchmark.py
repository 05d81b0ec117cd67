#!/usr/bin/env python
"""Operating characteristics of the hemolysis guard on simulated confounded cohorts.

For each seed and group size, simulates a hemolysis-confounded cohort with
``exomir.simulate`` (red-cell miRNAs scaled per sample, resistant x1.2-5.4,
sensitive x0.7-2.7, no planted change in them), uses the truth counts as a
``counts:`` matrix, and runs the guard with each hemolysis covariate
(``red_cell_score``, ``index``) and ``hemolysis.adjust: always``. One line per
cohort and covariate:

* ``pvalue``, ``differs``: the Mann-Whitney test of the hemolysis index;
* ``sig_red``: red-cell miRNAs (no planted change) with padj < 0.05 unadjusted;
* ``unflagged``: those of them without ``blood_cell_caution``;
* ``adj_sig_red``: red-cell miRNAs still significant in the adjusted fit;
* ``planted_kept``: share of planted non-red-cell miRNAs significant after adjustment;
* ``seconds``: wall time of the guard (DE fit excluded).

Usage::

    python benchmarks/hemolysis_benchmark.py --seeds 1-10 --per-group 6 12 > out.tsv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from exomir import de, hemolysis, simulate
from exomir.design import Contrast
from exomir.schema import default_config

REPO = Path(__file__).resolve().parents[1]
MATURE = REPO / "resources" / "mirbase" / "hsa_mature.fa"
HAIRPIN = REPO / "resources" / "mirbase" / "hsa_hairpin.fa"
CONTRAST = Contrast("condition", "resistant", "sensitive", "~ condition", "resistant_vs_sensitive")


def cohort(per_group: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Truth counts, sample sheet and planted effects of one confounded cohort."""
    with tempfile.TemporaryDirectory() as folder:
        simulate.simulate(
            MATURE,
            HAIRPIN,
            folder,
            n_per_group=per_group,
            seed=seed,
            hemolysis=simulate.HEMOLYSIS_FACTORS,
        )
        counts = pd.read_csv(f"{folder}/truth_counts.tsv", sep="\t", index_col=0)
        samples = pd.read_csv(f"{folder}/samples.tsv", sep="\t", dtype=str).set_index("sample")
        truth = pd.read_csv(f"{folder}/truth_de.tsv", sep="\t", index_col=0)
    return counts, samples[["condition"]], truth


def evaluate(per_group: int, seed: int, features: pd.DataFrame, blood: pd.DataFrame) -> list[dict]:
    """One row per covariate for one cohort."""
    counts, samples, truth = cohort(per_group, seed)
    settings = {**default_config()["de"], "size_factors": "poscounts", "shrink": False}
    options = de.DEOptions.from_config(settings, n_cpus=1)
    table = de.run_de(counts, samples, CONTRAST, options).table
    index, _ = hemolysis.index_from_counts(counts, ("miR-451a", "miR-23a-3p"), 10)
    row = hemolysis.compare_groups(index, samples, CONTRAST, [], 0.05)
    red = sorted(hemolysis.listed_features(features, blood, ["red_cell"]))
    red = [f for f in red if f in truth.index and truth.at[f, "log2FoldChange"] == 0]
    planted = [f for f in truth.index[truth["log2FoldChange"] != 0] if f not in red]
    padj = table.set_index("feature")["padj"].fillna(1.0)
    rows = []
    for kind in hemolysis.COVARIATES:
        settings = hemolysis.Settings("", ("red_cell",), 0.05, 0.5, 0.05, "always", kind)
        start = time.perf_counter()
        guard = hemolysis.guard_contrast(
            counts,
            samples,
            CONTRAST,
            options,
            table,
            index,
            row,
            features,
            blood,
            settings,
            ("miR-451a", "miR-23a-3p"),
        )
        seconds = time.perf_counter() - start
        flags = guard.de.set_index("feature")["blood_cell_caution"]
        adjusted = guard.adjusted.set_index("feature")["padj"].reindex(padj.index).fillna(1.0)
        sig_red = [f for f in red if padj.get(f, 1.0) < 0.05]
        rows.append(
            {
                "per_group": per_group,
                "seed": seed,
                "covariate": kind,
                "pvalue": f"{row['pvalue']:.3g}",
                "differs": row["differs"],
                "sig_red": len(sig_red),
                "unflagged": sum(flags[f] != "yes" for f in sig_red),
                "adj_sig_red": sum(adjusted.get(f, 1.0) < 0.05 for f in red),
                "planted_kept": f"{(adjusted.reindex(planted).fillna(1.0) < 0.05).mean():.3f}",
                "seconds": f"{seconds:.1f}",
            }
        )
    return rows


def seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=seeds, default=seeds("1-10"))
    parser.add_argument("--per-group", type=int, nargs="+", default=[6, 12])
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="PyDESeq2")
    features = reference_features()
    blood = hemolysis.read_blood_cell_list(REPO / "resources" / "blood_cell_mirnas.tsv")
    header = True
    for per_group in args.per_group:
        for seed in args.seeds:
            frame = pd.DataFrame(evaluate(per_group, seed, features, blood))
            sys.stdout.write(frame.to_csv(sep="\t", index=False, header=header))
            sys.stdout.flush()
            header = False


def reference_features() -> pd.DataFrame:
    """features.tsv of the bundled miRBase (feature, mature_names, mimat)."""
    from exomir.reference import build_features, mature_from_fasta

    mature = mature_from_fasta(MATURE)
    names = {m.accession: m.name for m in mature}
    rows = [
        (feature, ";".join(names[a] for a in accs.split(";")), accs)
        for feature, accs, _ in build_features(mature)
    ]
    return pd.DataFrame(rows, columns=["feature", "mature_names", "mimat"])


if __name__ == "__main__":
    main()
