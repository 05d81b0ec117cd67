"""Deterministic simulator of plasma-exosome small-RNA libraries with known truth.

Each library is a gzipped FASTQ of 50-nt single-end reads laid out as the kit
would sequence them (TruSeq by default: insert + 3' adapter + index read-through).
What is drawn, all from one seeded ``numpy`` generator:

* a plasma-like miRNA profile: a few dominant miRNAs (miR-486-5p, miR-92a-3p,
  miR-451a, miR-16-5p, let-7b-5p, …) over a long log-normal tail;
* per-sample molecule counts from a negative binomial (biological dispersion)
  around that profile, scaled by a per-sample library size and by the planted
  log2 fold changes in resistant samples (review miRNAs among them);
* per-molecule isomiRs: 3' trimming, templated 3' extension and 5' shifts
  (read off the hairpin), non-templated 3' A/U addition;
* sequencing errors (substitutions), adapter dimers and non-miRNA inserts.

Truth tables give the molecules per count feature per sample and the planted
effects, so the workflow's output can be checked against them.

Optionally (:class:`TrnaReads`, ``--trna-fraction``) tRNA fragments of the
bundled mature-tRNA reference are added — 5' halves (31-38 nt, cleaved in the
anticodon loop), 5'-tRFs (16-30 nt) and 3'-tRFs ending in CCA (18-22 nt) —
with their truth per ``family|type`` in ``truth_trna.tsv``; reads are then
75 nt. They come from their own generator, so the miRNA truth is the same with
or without them, and without the option the output is unchanged.

Optionally (``hemolysis``, CLI ``--hemolysis``) a hemolysis-confounded cohort:
the red-cell miRNAs of ``resources/blood_cell_mirnas.tsv`` that are in the
profile are scaled per sample by a factor drawn uniformly from its group's
range (:data:`HEMOLYSIS_FACTORS`); they get no planted change, and the factors
are written to ``truth_hemolysis.tsv``; miR-23a-3p, the index's reference, is
not planted either. Without the option nothing changes:
same random draws, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import trna as trna_reference
from .reference import build_features, locate_mature_in_hairpins, mature_from_fasta, read_fasta

TRUSEQ_READTHROUGH = "TGGAATTCTCGGGTGCCAAGGAACTCCAGTCACACAGTGATCTCGTATGCCGTCTTCTGCTTGAAAAAAAAAA"
READ_LENGTH = 50
BASES = np.array(list("ACGT"))

# Abundant plasma miRNAs (relative weight); the tail is drawn at random.
PLASMA_TOP = {
    "hsa-miR-486-5p": 60,
    "hsa-miR-92a-3p": 40,
    "hsa-miR-451a": 35,
    "hsa-miR-16-5p": 25,
    "hsa-let-7b-5p": 18,
    "hsa-miR-423-5p": 12,
    "hsa-miR-25-3p": 10,
    "hsa-miR-223-3p": 10,
    "hsa-let-7a-5p": 9,
    "hsa-miR-21-5p": 8,
    "hsa-miR-23a-3p": 6,
    "hsa-miR-126-3p": 6,
    "hsa-miR-191-5p": 5,
    "hsa-miR-142-3p": 5,
    "hsa-miR-150-5p": 4,
    "hsa-miR-30d-5p": 4,
    "hsa-miR-122-5p": 4,
}
# Review miRNAs planted as differentially expressed (log2 fold change resistant vs sensitive).
PLANTED_REVIEW = {
    "hsa-miR-21-5p": 1.5,
    "hsa-miR-155-5p": 1.8,
    "hsa-miR-221-3p": 1.6,
    "hsa-miR-222-3p": 1.7,
    "hsa-miR-100-5p": 1.5,
    "hsa-miR-34a-5p": -1.6,
    "hsa-miR-200c-3p": -1.5,
    "hsa-miR-146a-5p": -1.5,
}
#: Per-group range of the red-cell scaling factor of a hemolysis-confounded cohort.
HEMOLYSIS_FACTORS = {"resistant": (1.2, 5.4), "sensitive": (0.7, 2.7)}
#: Reference miRNA of the hemolysis index (``qc.hemolysis_mirnas`` default), never planted.
HEMOLYSIS_REFERENCE = "hsa-miR-23a-3p"
BLOOD_CELL_LIST = Path(__file__).resolve().parents[2] / "resources" / "blood_cell_mirnas.tsv"


def _plasma_profile(rng, features: list[str], n_expressed: int) -> dict[str, float]:
    """Relative abundance of the expressed features (sums to 1)."""
    weights = {f: w for f, w in PLASMA_TOP.items() if f in features}
    for f in PLANTED_REVIEW:
        weights.setdefault(f, 2.0)
    others = [f for f in features if f not in weights]
    tail = rng.choice(len(others), size=n_expressed - len(weights), replace=False)
    for i in sorted(tail):
        weights[others[i]] = float(rng.lognormal(mean=-1.5, sigma=1.5))
    total = sum(weights.values())
    return {f: w / total for f, w in sorted(weights.items())}


def _mutate(rng, seq: str, error_rate: float) -> str:
    errors = rng.random(len(seq)) < error_rate
    if not errors.any():
        return seq
    chars = list(seq)
    for i in np.flatnonzero(errors):
        chars[i] = rng.choice([b for b in "ACGT" if b != chars[i]])
    return "".join(chars)


def _isomir(rng, hairpin: str, start: int, end: int) -> str:
    """One molecule of the mature at hairpin[start:end], possibly an isomiR."""
    u = rng.random()
    if u < 0.70:
        return hairpin[start:end]
    if u < 0.80:  # 3' trimming
        return hairpin[start : end - int(rng.integers(1, 3))]
    if u < 0.88:  # templated 3' extension
        return hairpin[start : min(len(hairpin), end + int(rng.integers(1, 3)))]
    if u < 0.95:  # non-templated 3' addition
        return hairpin[start:end] + ("A" if rng.random() < 0.6 else "T")
    shift = 1 if rng.random() < 0.5 else -1  # templated 5' shift
    return hairpin[max(0, start + shift) : end]


def simulate(
    mature_fasta: str | Path,
    hairpin_fasta: str | Path,
    outdir: str | Path,
    n_per_group: int = 6,
    reads_per_sample: int = 40_000,
    n_expressed: int = 300,
    n_planted_extra: int = 22,
    dispersion: float = 0.05,
    error_rate: float = 0.001,
    dimer_fraction: float = 0.10,
    other_fraction: float = 0.12,
    seed: int = 20261122,
    trna: TrnaReads | None = None,
    hemolysis: Mapping[str, tuple[float, float]] | None = None,
    blood_cell_list: str | Path = BLOOD_CELL_LIST,
) -> None:
    rng = np.random.default_rng(seed)
    outdir = Path(outdir)
    (outdir / "fastq").mkdir(parents=True, exist_ok=True)

    features = build_features(mature_from_fasta(mature_fasta))
    hairpins = list(read_fasta(hairpin_fasta))
    hairpin_seq = dict(hairpins)
    first_location = {}
    for loc in locate_mature_in_hairpins(features, hairpins):
        first_location.setdefault(loc.feature, loc)
    names = [f for f, _, _ in features if f in first_location]

    profile = _plasma_profile(rng, names, n_expressed)
    mirna_reads = reads_per_sample * (1 - dimer_fraction - other_fraction)
    base_mean = {f: p * mirna_reads for f, p in profile.items()}
    red, fixed = _hemolysis_features(blood_cell_list, base_mean) if hemolysis else (set(), set())
    lfc = _planted(rng, base_mean, n_planted_extra, fixed)

    samples = [(f"R{i + 1:02d}", "resistant") for i in range(n_per_group)] + [
        (f"S{i + 1:02d}", "sensitive") for i in range(n_per_group)
    ]
    expressed = sorted(base_mean)
    factors = _hemolysis_factors(rng, samples, hemolysis, red, outdir) if hemolysis else {}
    truth = {}
    sheet = ["sample\tcondition\tbatch\tfastq"]
    for index, (sample, condition) in enumerate(samples):
        size = float(rng.uniform(0.7, 1.3))
        molecules = {}
        for f in expressed:
            mu = base_mean[f] * size * (2 ** lfc.get(f, 0.0) if condition == "resistant" else 1.0)
            mu *= factors[sample] if f in red else 1.0
            # negative binomial as a gamma-Poisson mixture
            molecules[f] = int(rng.poisson(rng.gamma(1 / dispersion, mu * dispersion)))
        truth[sample] = molecules
        inserts = []
        for f in expressed:
            loc = first_location[f]
            hp = hairpin_seq[loc.hairpin]
            for _ in range(molecules[f]):
                inserts.append(_mutate(rng, _isomir(rng, hp, loc.start, loc.end), error_rate))
        n_total = int(len(inserts) / (1 - dimer_fraction - other_fraction))
        inserts += [""] * int(n_total * dimer_fraction)
        for _ in range(int(n_total * other_fraction)):
            length = int(rng.integers(14, 40))
            inserts.append("".join(rng.choice(BASES, size=length)))
        order = rng.permutation(len(inserts))
        order = trna.mix_into(sample, n_total, inserts, order) if trna else order
        batch = "A" if index % 2 == 0 else "B"
        path = outdir / "fastq" / f"{sample}.fastq.gz"
        _write_fastq(path, sample, [inserts[i] for i in order], trna)
        sheet.append(f"{sample}\t{condition}\t{batch}\tfastq/{sample}.fastq.gz")

    (outdir / "samples.tsv").write_text("\n".join(sheet) + "\n")
    _write_truth(outdir, [s for s, _ in samples], truth, base_mean, lfc)
    if trna:
        trna.write_truth(outdir / "truth_trna.tsv")


def _hemolysis_features(blood_cell_list: str | Path, expressed) -> tuple[set[str], set[str]]:
    """Expressed red-cell features of the blood-cell list, and the features left unplanted.

    Neither the red-cell miRNAs nor the reference miRNA of the hemolysis index
    (:data:`HEMOLYSIS_REFERENCE`, which the index assumes stable) get a planted change.
    """
    with open(blood_cell_list, newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        names = {row["mirna"] for row in rows if row["cell_type"] == "red_cell"}
    red = {f for f in expressed if set(f.split("/")) & names}
    return red, red | {HEMOLYSIS_REFERENCE}


def _hemolysis_factors(
    rng, samples: list[tuple[str, str]], ranges: Mapping, red: set[str], outdir: Path
) -> dict[str, float]:
    """A red-cell scaling factor per sample from its group's range; written to the truth."""
    missing = sorted({c for _, c in samples} - set(ranges))
    if missing:
        raise ValueError(f"hemolysis factor range missing for group(s) {', '.join(missing)}")
    factors = {s: float(rng.uniform(*ranges[c])) for s, c in samples}
    with open(outdir / "truth_hemolysis.tsv", "w") as out:
        out.write("sample\tcondition\themolysis_factor\tscaled_features\n")
        for sample, condition in samples:
            scaled = ";".join(sorted(red))
            out.write(f"{sample}\t{condition}\t{factors[sample]:.4f}\t{scaled}\n")
    return factors


def _planted(rng, base_mean: dict[str, float], n_extra: int, fixed: set[str]) -> dict[str, float]:
    """Planted log2 fold changes: the review miRNAs, and ``n_extra`` abundant others."""
    lfc = dict(PLANTED_REVIEW)
    candidates = sorted(f for f, m in base_mean.items() if m >= 150 and f not in lfc.keys() | fixed)
    for i in rng.choice(len(candidates), size=n_extra, replace=False):
        magnitude = float(rng.uniform(1.2, 2.0))
        lfc[candidates[i]] = magnitude if len(lfc) % 2 == 0 else -magnitude
    return lfc


def _write_truth(outdir: Path, samples: list[str], truth: dict, base_mean: dict, lfc: dict) -> None:
    """truth_counts.tsv (molecules per feature and sample) and truth_de.tsv (planted effects)."""
    expressed = sorted(base_mean)
    with open(outdir / "truth_counts.tsv", "w") as out:
        out.write("feature\t" + "\t".join(samples) + "\n")
        for f in expressed:
            out.write(f + "\t" + "\t".join(str(truth[s][f]) for s in samples) + "\n")
    with open(outdir / "truth_de.tsv", "w") as out:
        out.write("feature\tbase_mean\tlog2FoldChange\n")
        for f in expressed:
            out.write(f"{f}\t{base_mean[f]:.3f}\t{lfc.get(f, 0.0):.4f}\n")


def _write_fastq(
    path: Path, sample: str, inserts: list[str], trna: TrnaReads | None = None
) -> None:
    """FASTQ with fixed gzip header fields, so files are byte-identical between runs.

    Reads are 50 nt, or :data:`TRNA_READ_LENGTH` with tRNA reads (5' halves are
    30-40 nt); past the read-through the read is filled with A.
    """
    length = trna.read_length if trna else READ_LENGTH
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        lines = []
        for i, insert in enumerate(inserts, start=1):
            read = (insert + TRUSEQ_READTHROUGH + "A" * length)[:length]
            lines.append(f"@{sample}:{i}\n{read}\n+\n{'I' * length}\n")
        gz.write("".join(lines).encode())


def main(argv: list[str] | None = None) -> None:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--outdir", default=str(root / "resources" / "example"))
    parser.add_argument("--mature", default=str(root / "resources" / "mirbase" / "hsa_mature.fa"))
    parser.add_argument("--hairpin", default=str(root / "resources" / "mirbase" / "hsa_hairpin.fa"))
    parser.add_argument("--per-group", type=int, default=6)
    parser.add_argument("--reads", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument(
        "--trna-fraction",
        type=float,
        default=0.0,
        help="add tRNA fragments: this many per read of the library without them "
        "(e.g. 0.3); reads become 75 nt",
    )
    parser.add_argument(
        "--trna-reference", default=str(root / "resources" / "trna" / "hg38_mature_trnas.tsv")
    )
    parser.add_argument(
        "--hemolysis",
        action="store_true",
        help="hemolysis-confounded cohort: red-cell miRNAs scaled per sample, resistant "
        "x1.2-5.4, sensitive x0.7-2.7 (no planted change in them)",
    )
    args = parser.parse_args(argv)
    simulate(
        args.mature,
        args.hairpin,
        args.outdir,
        n_per_group=args.per_group,
        reads_per_sample=args.reads,
        seed=args.seed,
        trna=TrnaReads(args.trna_reference, args.trna_fraction, args.seed)
        if args.trna_fraction
        else None,
        hemolysis=HEMOLYSIS_FACTORS if args.hemolysis else None,
    )
    print(f"example written to {args.outdir}")


TRNA_READ_LENGTH = 75
# Families whose fragments dominate plasma and serum small-RNA libraries (5' halves of
# Gly-GCC and Glu-CTC first; Dhahbi et al. 2013, Godoy et al. 2018): relative weights.
PLASMA_TRNA = {
    "tRNA-Gly-GCC": 40,
    "tRNA-Glu-CTC": 25,
    "tRNA-Val-CAC": 8,
    "tRNA-Lys-CTT": 6,
    "tRNA-Gly-CCC": 5,
    "tRNA-Glu-TTC": 4,
    "tRNA-His-GTG": 3,
    "tRNA-Asp-GTC": 3,
    "tRNA-Val-AAC": 2,
    "tRNA-iMet-CAT": 1,
}
TRNA_TYPES = {
    trna_reference.FIVE_HALF: 0.5,
    trna_reference.FIVE_TRF: 0.25,
    trna_reference.THREE_TRF: 0.25,
}
TRNA_OTHER_FAMILIES = 15  # further cytosolic families with a small share each


class TrnaReads:
    """tRNA fragments added to each simulated library, and their truth per ``family|type``.

    ``fraction`` tRNA reads are added per read of the library without them. The
    profile: the :data:`PLASMA_TRNA` families and :data:`TRNA_OTHER_FAMILIES`
    others (their isodecoders weighted log-normally) × the :data:`TRNA_TYPES`;
    per sample it varies as a gamma-Poisson draw. Every fragment is labelled by
    :func:`exomir.trna.fragment_type` and gets the simulator's sequencing errors.
    """

    read_length = TRNA_READ_LENGTH

    def __init__(self, reference: str | Path, fraction: float, seed: int, error_rate=0.001):
        self.rng = np.random.default_rng([seed, 7])
        self.fraction, self.error_rate = fraction, error_rate
        features = trna_reference.read_features(reference)
        cytosolic = [f for f in features.values() if f.compartment == "cytosolic"]
        families = sorted({f.family for f in cytosolic})
        others = [f for f in families if f not in PLASMA_TRNA]
        picked = self.rng.choice(len(others), size=TRNA_OTHER_FAMILIES, replace=False)
        weights = {**PLASMA_TRNA, **{others[i]: 0.5 for i in sorted(picked)}}
        self.units: list[tuple[trna_reference.TrnaFeature, str]] = []
        probs = []
        for f in cytosolic:
            if f.family in weights:
                for kind, share in TRNA_TYPES.items():
                    self.units.append((f, kind))
                    probs.append(weights[f.family] * share * self.rng.lognormal(0, 1))
        self.probs = np.array(probs) / sum(probs)
        self.truth: dict[str, dict[str, int]] = {}

    def fragment(self, feature: trna_reference.TrnaFeature, kind: str) -> tuple[int, int]:
        """[start, end) of one fragment of ``kind`` on ``feature``."""
        a, length = feature.anticodon_start, feature.length
        if kind == trna_reference.FIVE_HALF:  # angiogenin cleavage 3' of position 34-36
            return 0, a + 1 + int(self.rng.integers(0, 3))
        if kind == trna_reference.FIVE_TRF:
            return 0, int(self.rng.integers(16, min(30, a - 2) + 1))
        return length - int(self.rng.integers(18, 23)), length

    def inserts(self, sample: str, n_total: int) -> list[str]:
        """This sample's tRNA inserts (``n_total`` reads without them × the fraction)."""
        n = int(n_total * self.fraction)
        jitter = self.rng.gamma(20.0, self.probs / 20.0)
        counts = self.rng.multinomial(n, jitter / jitter.sum())
        truth: dict[str, int] = defaultdict(int)
        inserts = []
        for (feature, kind), k in zip(self.units, counts):
            for _ in range(int(k)):
                start, end = self.fragment(feature, kind)
                label = trna_reference.fragment_type(start, end, feature)
                if label != kind:
                    raise AssertionError(f"{feature.feature}: {kind} [{start}, {end}) is a {label}")
                truth[trna_reference.unit(feature.family, kind)] += 1
                seq = feature.sequence[start:end]
                inserts.append(_mutate(self.rng, seq, self.error_rate))
        self.truth[sample] = dict(truth)
        return inserts

    def mix_into(self, sample: str, n_total: int, inserts: list[str], order) -> np.ndarray:
        """Append the sample's tRNA inserts; ``order`` with them at random places.

        The miRNA library's own draws (its order included) are not touched, so
        its truth is the same with and without tRNA reads.
        """
        first = len(inserts)
        inserts += self.inserts(sample, n_total)
        added = np.arange(first, len(inserts))
        places = np.sort(self.rng.integers(0, len(order) + 1, size=len(added)))
        return np.insert(np.asarray(order), places, self.rng.permutation(added))

    def write_truth(self, path: Path) -> None:
        """Reads per ``family|type`` (rows) and sample (columns)."""
        samples = list(self.truth)
        units = sorted({u for t in self.truth.values() for u in t})
        with open(path, "w") as out:
            out.write("unit\t" + "\t".join(samples) + "\n")
            for u in units:
                out.write(
                    u + "\t" + "\t".join(str(self.truth[s].get(u, 0)) for s in samples) + "\n"
                )


if __name__ == "__main__":
    main()
