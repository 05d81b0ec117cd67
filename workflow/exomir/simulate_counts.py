"""Count-level simulator of plasma miRNA cohorts with known truth (tests, benchmarks).

Where :mod:`exomir.simulate` writes FASTQ libraries, this module draws the
count matrix directly, for work that starts after quantification (DE,
biomarker models). A cohort comes in two seeded steps:

* :func:`cohort_design` fixes the *population*: the features (real miRBase v22
  human mature names from ``hsa_mature.fa``, one row per mature miRNA as a
  matrix from another pipeline would have them), a plasma-like abundance
  profile (log-normal means: most miRNAs barely detected, a few dominating),
  a dispersion per feature (0.1 + 1 / mean, the usual NB trend), the planted
  log2 fold changes of the case group, and the covariate effects;
* :func:`draw_cohort` draws *patients* from it: library sizes (log-normal),
  negative-binomial counts, and a sample sheet with ``condition`` and a
  ``cancer`` covariate drawn independently of the condition.

Two cohorts drawn from one design with different seeds are a training and a
validation cohort of the same disease.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .reference import mature_from_fasta

__all__ = ["CohortDesign", "cohort_design", "draw_cohort", "CASE", "CONTROL", "CANCERS"]

CASE, CONTROL = "resistant", "sensitive"
CANCERS = ("breast", "lung")
#: Planted features are drawn among features with at least this mean count at depth 1.
PLANTED_MIN_MEAN = 100.0
#: Features shifted by cancer type (log2 fold change lung vs breast), when cancer effects are on.
CANCER_FEATURES = 10
#: Spread (natural-log sd) of the abundance profile: at a depth of 1e6 miRNA reads about 740
#: of the 2,656 human miRNAs have a mean of 10 reads or more and 260 of 100 or more.
PROFILE_SD = 3.4


@dataclass(frozen=True)
class CohortDesign:
    """Population parameters shared by every cohort drawn from it."""

    features: tuple[str, ...]
    mean: np.ndarray
    dispersion: np.ndarray
    log2_fold_change: np.ndarray
    cancer_log2_fold_change: np.ndarray

    @property
    def planted(self) -> dict[str, float]:
        """Feature → planted log2 fold change (case vs control)."""
        return {
            self.features[i]: float(self.log2_fold_change[i])
            for i in np.flatnonzero(self.log2_fold_change)
        }


def cohort_design(
    mature_fasta: str | Path,
    n_planted: int,
    effect: float,
    seed: int,
    depth: float,
    cancer_effect: float,
) -> CohortDesign:
    """A population over the FASTA's mature miRNAs.

    ``depth`` is the expected miRNA reads of a sample (library size 1);
    ``n_planted`` well-expressed features get log2 fold change ±``effect``
    (signs alternate); :data:`CANCER_FEATURES` other features differ by
    ``cancer_effect`` between the cancer types (0 switches that off).
    """
    names = tuple(m.name for m in mature_from_fasta(mature_fasta))
    rng = np.random.default_rng(seed)
    weights = np.exp(rng.normal(0.0, PROFILE_SD, len(names)))
    mean = np.minimum(depth * weights / weights.sum(), depth * 0.1)
    dispersion = 0.1 + 1.0 / np.maximum(mean, 1e-3)
    candidates = np.flatnonzero(mean >= PLANTED_MIN_MEAN)
    if len(candidates) < n_planted + CANCER_FEATURES:
        raise ValueError(
            f"only {len(candidates)} miRNAs reach a mean of {PLANTED_MIN_MEAN:g} reads at depth "
            f"{depth:g}; raise the depth or plant fewer than {n_planted} miRNAs"
        )
    picked = rng.choice(candidates, n_planted + CANCER_FEATURES, replace=False)
    lfc = np.zeros(len(names))
    lfc[picked[:n_planted]] = effect * np.where(np.arange(n_planted) % 2 == 0, 1.0, -1.0)
    cancer = np.zeros(len(names))
    cancer[picked[n_planted:]] = cancer_effect
    return CohortDesign(names, mean, dispersion, lfc, cancer)


def draw_cohort(
    design: CohortDesign, n_case: int, n_control: int, seed: int, prefix: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts (features × samples, index ``mirna``) and a sheet (sample, condition, cancer).

    Samples are named ``<prefix>R01…`` (cases) and ``<prefix>S01…`` (controls).
    """
    rng = np.random.default_rng(seed)
    samples = [f"{prefix}R{i + 1:02d}" for i in range(n_case)]
    samples += [f"{prefix}S{i + 1:02d}" for i in range(n_control)]
    case = np.array([1.0] * n_case + [0.0] * n_control)
    lung = rng.random(len(samples)) < 0.5
    library = np.exp(rng.normal(0.0, 0.4, len(samples)))
    log2_shift = np.outer(design.log2_fold_change, case) + np.outer(
        design.cancer_log2_fold_change, lung.astype(float)
    )
    mu = design.mean[:, None] * library[None, :] * 2.0**log2_shift
    size = 1.0 / design.dispersion[:, None]
    counts = rng.negative_binomial(size, size / (size + mu))
    matrix = pd.DataFrame(
        counts, index=pd.Index(design.features, name="mirna"), columns=pd.Index(samples)
    )
    sheet = pd.DataFrame(
        {
            "sample": samples,
            "condition": np.where(case == 1, CASE, CONTROL),
            "cancer": np.where(lung, CANCERS[1], CANCERS[0]),
        }
    )
    return matrix, sheet
