"""Simulated cohorts in any kit's read layout, at any depth (for benchmarks and tests).

:mod:`exomir.simulate` writes the bundled TruSeq example with per-molecule
truth tables; this module writes libraries of millions of reads quickly, in
the layout of any kit of :mod:`exomir.protocols` (reads built by
:func:`exomir.protocols.kit_read`):

* ``truseq``, ``nebnext``, ``illumina_v1``: insert + adapter + read-through;
* ``nextflex``: 4 random nt + insert + 4 random nt + adapter, drawn per molecule;
* ``qiaseq``: insert + adapter + 12-nt UMI, drawn per molecule; molecules are
  read ``1 + Poisson(duplication - 1)`` times (PCR duplicates), so that UMI
  deduplication matters;
* ``cats``: 3 template-switch nt (drawn at random: the worst case for
  collapsing) + insert + poly(A).

Inserts come from the same plasma-like profile as :mod:`exomir.simulate`
(dominant miRNAs over a log-normal tail, planted fold changes in resistant
samples, isomiR variants with the same frequencies), plus adapter dimers and
random non-miRNA inserts of 14-39 nt. After layout, every base is substituted
with probability ``error_rate`` (so UMIs, random bases and adapters carry
sequencing errors too), and a fraction of reads gets a low-quality 3' tail
(``#``, Phred 2) over its last 1-20 bases, which 3' quality trimming removes.

Reads are generated and written in chunks of ``CHUNK`` molecules, so memory
does not grow with depth; 20 M reads take a few minutes. Output is
deterministic for a seed (gzip header without time stamp).

    python -m exomir.simulate_kits --kit qiaseq --reads 1000000 --outdir sim/qiaseq
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from isal import isal_zlib

from .protocols import PRESETS, kit_read
from .reference import build_features, locate_mature_in_hairpins, mature_from_fasta, read_fasta
from .simulate import PLANTED_REVIEW, _plasma_profile

CHUNK = 200_000  # molecules per generated chunk
KIT_READ_LENGTH = {"qiaseq": 75, "illumina_v1": 36}
RANDOM_ENDS = {"nextflex": (4, 4), "cats": (3, 0)}
# isomiR variants of a mature at hairpin[start:end], with the frequencies of simulate._isomir
# (5' shift, 3' end change, non-templated 3' base): probability
VARIANTS = {
    (0, 0, ""): 0.70,
    (0, -1, ""): 0.05,
    (0, -2, ""): 0.05,
    (0, 1, ""): 0.04,
    (0, 2, ""): 0.04,
    (0, 0, "A"): 0.042,
    (0, 0, "T"): 0.028,
    (1, 0, ""): 0.025,
    (-1, 0, ""): 0.025,
}
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


@dataclass(frozen=True)
class KitLibrary:
    """How one simulated library is drawn."""

    kit: str
    reads: int
    read_length: int
    duplication: float = 1.0  # mean reads per molecule (UMI kits)
    dimer_fraction: float = 0.10
    other_fraction: float = 0.12
    error_rate: float = 0.001
    low_quality_fraction: float = 0.02


def insert_species(
    mature_fasta: str | Path, hairpin_fasta: str | Path, rng: np.random.Generator
) -> tuple[list[str], np.ndarray, list[str]]:
    """isomiR sequences, their relative abundance, and the feature each comes from."""
    features = build_features(mature_from_fasta(mature_fasta))
    hairpins = list(read_fasta(hairpin_fasta))
    hairpin_seq = dict(hairpins)
    first = {}
    for loc in locate_mature_in_hairpins(features, hairpins):
        first.setdefault(loc.feature, loc)
    names = [f for f, _, _ in features if f in first]
    profile = _plasma_profile(rng, names, 300)
    sequences, weights, owners = [], [], []
    for feature, share in profile.items():
        loc, hairpin = first[feature], hairpin_seq[first[feature].hairpin]
        for (shift, end_change, added), p in VARIANTS.items():
            start, end = max(0, loc.start + shift), min(len(hairpin), loc.end + end_change)
            sequences.append(hairpin[start:end] + added)
            weights.append(share * p)
            owners.append(feature)
    return sequences, np.array(weights) / sum(weights), owners


def _random_seqs(rng: np.random.Generator, n: int, length: int) -> list[str]:
    if n == 0 or length == 0:
        return [""] * n
    codes = BASES[rng.integers(0, 4, size=(n, length))]
    return [row.tobytes().decode() for row in codes]


def _molecule_inserts(
    rng: np.random.Generator,
    library: KitLibrary,
    species: list[str],
    weights: np.ndarray,
    n: int,
) -> list[str]:
    """Inserts of ``n`` molecules: dimers, random non-miRNA inserts, isomiRs by ``weights``."""
    kind = rng.random(n)
    chosen = rng.choice(len(species), size=n, p=weights).tolist()
    others = _random_seqs(rng, n, 39)
    lengths = rng.integers(14, 40, size=n).tolist()
    dimer, other = library.dimer_fraction, library.dimer_fraction + library.other_fraction
    return [
        "" if k < dimer else others[i][: lengths[i]] if k < other else species[chosen[i]]
        for i, k in enumerate(kind.tolist())
    ]


def molecule_reads(rng: np.random.Generator, library: KitLibrary, inserts: list[str]) -> list[str]:
    """Reads of ``inserts`` in the kit's layout, PCR duplicates included, shuffled."""
    protocol = PRESETS[library.kit]
    r5, r3 = RANDOM_ENDS.get(library.kit, (0, 0))
    n = len(inserts)
    fives, threes = _random_seqs(rng, n, r5), _random_seqs(rng, n, r3)
    umis = _random_seqs(rng, n, protocol.umi_length)
    copies = 1 + rng.poisson(max(library.duplication - 1.0, 0.0), size=n)
    reads = []
    for insert, five, three, umi, k in zip(inserts, fives, threes, umis, copies.tolist()):
        read = kit_read(protocol, insert, library.read_length, five, three, umi)
        reads.extend([read] * k)
    order = rng.permutation(len(reads))
    return [reads[i] for i in order.tolist()]


def sequencing(
    rng: np.random.Generator, library: KitLibrary, reads: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Reads as a (reads x length) byte matrix with substitutions, and their qualities."""
    seqs = np.frombuffer("".join(reads).encode(), dtype=np.uint8).reshape(len(reads), -1).copy()
    errors = rng.random(seqs.shape) < library.error_rate
    rows, cols = np.nonzero(errors)
    shift = rng.integers(1, 4, size=len(rows))  # to one of the three other bases
    index = (np.searchsorted(BASES, seqs[rows, cols]) + shift) % 4
    seqs[rows, cols] = BASES[index]
    quals = np.full(seqs.shape, ord("I"), dtype=np.uint8)
    low = np.flatnonzero(rng.random(len(reads)) < library.low_quality_fraction)
    tails = rng.integers(1, 21, size=len(low))
    for row, tail in zip(low.tolist(), tails.tolist()):
        quals[row, -tail:] = ord("#")
    return seqs, quals


def library_chunks(
    library: KitLibrary, species: list[str], weights: np.ndarray, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(sequences, qualities) matrices until ``library.reads`` reads are drawn."""
    rng = np.random.default_rng(seed)
    left = library.reads
    while left > 0:
        n = min(CHUNK, int(np.ceil(left / library.duplication)))
        reads = molecule_reads(rng, library, _molecule_inserts(rng, library, species, weights, n))
        reads = reads[:left]
        left -= len(reads)
        yield sequencing(rng, library, reads)


def write_fastq(path: Path, name: str, chunks: Iterator[tuple[np.ndarray, np.ndarray]]) -> int:
    """Write the reads as gzipped FASTQ (no file name or time stamp in the header, so the
    bytes depend on the reads only); returns the read count."""
    n = 0
    packer = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)  # gzip wrapper, level 1
    with open(path, "wb") as out:
        for seqs, quals in chunks:
            lines = []
            for seq, qual in zip(seqs, quals):
                n += 1
                lines.append(
                    b"@%s:%d\n%s\n+\n%s\n" % (name.encode(), n, seq.tobytes(), qual.tobytes())
                )
            out.write(packer.compress(b"".join(lines)))
        out.write(packer.flush())
    return n


def sample_weights(
    base: np.ndarray, owners: list[str], resistant: bool, rng: np.random.Generator
) -> np.ndarray:
    """One library's isomiR abundances: biological noise, planted fold changes if resistant."""
    features = sorted(set(owners))
    noise = dict(zip(features, rng.gamma(20.0, 1 / 20.0, size=len(features)).tolist()))
    change = {f: 2 ** PLANTED_REVIEW.get(f, 0.0) if resistant else 1.0 for f in features}
    weights = base * np.array([noise[f] * change[f] for f in owners])
    return weights / weights.sum()


def simulate_cohort(
    kit: str,
    outdir: str | Path,
    reads_per_sample: int,
    n_per_group: int,
    seed: int,
    mature_fasta: str | Path,
    hairpin_fasta: str | Path,
    duplication: float | None = None,
) -> Path:
    """``2 x n_per_group`` libraries of ``kit`` and their sample sheet; returns the sheet."""
    outdir = Path(outdir)
    (outdir / "fastq").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    species, base, owners = insert_species(mature_fasta, hairpin_fasta, rng)
    if duplication is None:
        duplication = 3.0 if PRESETS[kit].umi_length else 1.0
    library = KitLibrary(kit, reads_per_sample, KIT_READ_LENGTH.get(kit, 50), duplication)
    rows = ["sample\tcondition\tbatch\tprotocol\tfastq"]
    groups = [("R", "resistant"), ("S", "sensitive")]
    for index, (prefix, condition) in enumerate(g for g in groups for _ in range(n_per_group)):
        sample = f"{prefix}{index % n_per_group + 1:02d}"
        weights = sample_weights(base, owners, condition == "resistant", rng)
        chunks = library_chunks(library, species, weights, seed + 1 + index)
        write_fastq(outdir / "fastq" / f"{sample}.fastq.gz", sample, chunks)
        batch = "A" if index % 2 == 0 else "B"
        rows.append(f"{sample}\t{condition}\t{batch}\t{kit}\tfastq/{sample}.fastq.gz")
    sheet = outdir / "samples.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def simulate_library(
    kit: str,
    path: str | Path,
    reads: int,
    seed: int,
    mature_fasta: str | Path,
    hairpin_fasta: str | Path,
    duplication: float | None = None,
) -> int:
    """One library of ``kit`` (sensitive-group profile) at ``path``; returns its read count."""
    rng = np.random.default_rng(seed)
    species, base, owners = insert_species(mature_fasta, hairpin_fasta, rng)
    if duplication is None:
        duplication = 3.0 if PRESETS[kit].umi_length else 1.0
    library = KitLibrary(kit, reads, KIT_READ_LENGTH.get(kit, 50), duplication)
    weights = sample_weights(base, owners, False, rng)
    name = Path(path).name.split(".")[0]
    return write_fastq(Path(path), name, library_chunks(library, species, weights, seed + 1))


def main(argv: list[str] | None = None) -> None:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kit", choices=sorted(PRESETS), default="truseq")
    parser.add_argument("--reads", type=int, default=1_000_000, help="reads per library")
    parser.add_argument("--per-group", type=int, default=3)
    parser.add_argument("--duplication", type=float, help="mean reads per molecule")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--mature", default=str(root / "resources" / "mirbase" / "hsa_mature.fa"))
    parser.add_argument("--hairpin", default=str(root / "resources" / "mirbase" / "hsa_hairpin.fa"))
    args = parser.parse_args(argv)
    sheet = simulate_cohort(
        args.kit,
        args.outdir,
        args.reads,
        args.per_group,
        args.seed,
        args.mature,
        args.hairpin,
        args.duplication,
    )
    print(f"{2 * args.per_group} {args.kit} libraries of {args.reads:,} reads: {sheet}")


if __name__ == "__main__":
    main()
