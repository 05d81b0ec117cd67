#!/usr/bin/env python
"""Time exomir's differential-expression step on a plasma-sized simulated cohort.

Simulates a negative-binomial count matrix shaped like a large plasma
small-RNA study (default: 2,656 miRNAs x 500 samples, 250 cases vs 250
controls), runs :func:`exomir.de.run_de` once, and prints the wall time and
the peak resident memory of this process and of its worker processes.

Simulation (seeded, so every run analyses the same matrix):

* per-miRNA mean expression is log-normal with a low median and a long right
  tail, so most miRNAs are barely detected and a few dominate the library,
  as in plasma (e.g. miR-451a, miR-486-5p);
* sample size factors are log-normal (sd 0.5 on the natural-log scale);
* dispersion follows the usual trend 0.15 + 2 / mean;
* 5 % of the miRNAs carry a log2 fold change of +/-1 between the groups.

Usage::

    python benchmarks/de_benchmark.py                 # defaults, 2 worker processes
    python benchmarks/de_benchmark.py --no-shrink     # skip apeglm shrinkage
    python benchmarks/de_benchmark.py --no-refit      # skip Cook's outlier refit

Peak memory of the workers is read after they have exited (``RUSAGE_CHILDREN``);
it is the largest single worker, not their sum.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from exomir.de import DEOptions, run_de
from exomir.design import Contrast
from exomir.schema import default_config


def simulate(n_features: int, n_samples: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded NB counts (features x samples) and a two-group sample table."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.normal(np.log(3.0), 2.2, n_features))
    mean = np.minimum(mean, 2e5)
    size_factors = np.exp(rng.normal(0.0, 0.5, n_samples))
    half = n_samples // 2
    condition = np.array(["resistant"] * half + ["sensitive"] * (n_samples - half))
    lfc = np.zeros(n_features)
    changed = rng.choice(n_features, size=max(1, n_features // 20), replace=False)
    lfc[changed] = rng.choice([-1.0, 1.0], size=changed.size)
    mu = mean[:, None] * size_factors[None, :] * 2.0 ** (lfc[:, None] * (condition == "resistant"))
    dispersion = 0.15 + 2.0 / mean
    size = 1.0 / dispersion[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    features = [f"hsa-miR-sim-{i + 1:04d}" for i in range(n_features)]
    sample_names = [f"P{j + 1:04d}" for j in range(n_samples)]
    return (
        pd.DataFrame(counts, index=features, columns=sample_names),
        pd.DataFrame({"condition": condition}, index=sample_names),
    )


def peak_rss_mib(who: int) -> float:
    """Peak RSS in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(who).ru_maxrss
    return value / (1024.0 * 1024.0) if sys.platform == "darwin" else value / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, default=2656)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--n-cpus", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--size-factors", choices=("ratio", "poscounts"), default="poscounts")
    parser.add_argument("--min-count", type=int, default=10)
    parser.add_argument("--no-shrink", action="store_true", help="skip apeglm shrinkage")
    parser.add_argument("--no-refit", action="store_true", help="skip Cook's outlier refit")
    args = parser.parse_args(argv)

    counts, samples = simulate(args.features, args.samples, args.seed)
    zero_frac = float((counts.to_numpy() == 0).mean())
    print(
        f"simulated {counts.shape[0]} features x {counts.shape[1]} samples "
        f"(seed {args.seed}); zero fraction {zero_frac:.2f}; "
        f"median feature mean {float(np.median(counts.mean(axis=1))):.1f}"
    )
    de = {
        **default_config()["de"],
        "size_factors": args.size_factors,
        "min_count": args.min_count,
        "cooks_refit": not args.no_refit,
        "shrink": not args.no_shrink,
    }
    options = DEOptions.from_config(de, n_cpus=args.n_cpus)
    contrast = Contrast(
        "condition", "resistant", "sensitive", "~ condition", "resistant_vs_sensitive"
    )
    print(f"options: {options}")
    rss_before = peak_rss_mib(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = run_de(counts, samples, contrast, options)
    wall = time.perf_counter() - start

    try:  # let the joblib workers exit so that their peak RSS is accounted
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is not None:
            executor.shutdown(wait=True)
    except Exception:  # pragma: no cover - best effort only
        pass

    print(
        f"tested {result.n_tested} features ({result.n_filtered} removed by the prefilter); "
        f"{result.n_significant} with padj < {options.alpha}"
    )
    print(f"wall time run_de: {wall:.1f} s")
    print(
        f"peak RSS: main process {peak_rss_mib(resource.RUSAGE_SELF):.0f} MiB "
        f"(before run_de {rss_before:.0f} MiB); largest worker "
        f"{peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
