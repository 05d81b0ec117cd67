"""Human mature-tRNA reference, and tRNA fragments classified and counted by type.

Reference. The sources are GtRNAdb's hg38 high-confidence tRNA genes and the
mitochondrial tRNAs of mitotRNAdb, as the PyPI package ``mimseq`` 1.3.11 ships
them (``mimseq/data/hg38-eColitK/``): ``hg38-tRNAs.fa`` (gene sequences),
``hg38-tRNAs-detailed.out`` (tRNAscan-SE: isotype, anticodon, intron bounds)
and ``hg38-mitotRNAs.fa``. :func:`build_reference` reads them from the wheel
and makes mature tRNAs:

* the E. coli tRNA-Lys that mim-tRNAseq adds as a spike-in is dropped;
* introns are spliced out (tRNAscan-SE genomic bounds → gene offsets);
* the 3' CCA is added unless the gene encodes it: a gene encodes it when its
  acceptor stem pairs better with the discriminator base placed before a final
  CCA than at the last base (:func:`cca_encoded`; no human gene does, although
  74 nuclear genes end in ``CCA`` by the discriminator ``A`` after ``CC``);
* cytosolic tRNA-His gets the post-transcriptional 5' G (G-1);
* identical mature sequences become one feature, named by its GtRNAdb
  isodecoders (``tRNA-Ala-AGC-2``, or ``tRNA-Glu-CTC-1/tRNA-Glu-CTC-2`` when
  several share a sequence); mitochondrial tRNAs are ``mt-tRNA-Leu-TAG``.

The anticodon is located in the mature sequence as the occurrence of the
name's anticodon that closes the best anticodon stem (5 bp around a 7-nt loop,
Watson-Crick or G·U), then with U33 before it, then nearest canonical position
34 (:func:`locate_anticodon`). For the 36 intron-containing genes this agrees
with the intron's canonical place after position 37 (tested).

Fragments. From an alignment's start and end on a mature tRNA and the
anticodon position ``a`` (0-based first anticodon base; the anticodon loop is
``a-2 .. a+4``, canonical positions 32-38)::

    5' end                anticodon loop                              3' end
    |                     [32 33 (34 35 36) 37 38]                       |
    5'=====acceptor/D-arm=====[ . . N N N . . ]=====variable/T-arm=====NCCA 3'
    |------------|                                           5'-tRF  (5' end, ends outside the loop)
    |-------------------------------|                        5'-half (5' end, ends in the loop)
                                       |-----------------|   3'-half (starts in the loop, ends at CCA)
                                                     |-----| 3'-tRF  (ends at CCA, starts outside the loop)
                 |----------------------|                    i-tRF   (neither end)

A read that starts at the 5' end and ends at the CCA end is ``full``. The
5' end is position 0 (or 1 for His, whose G-1 may be missing); the 3' end is
the last base of CCA.

Counting level. Fragments are counted per isoacceptor family (amino acid and
anticodon, e.g. ``tRNA-Gly-GCC``) and type: 5' fragments of one family are
mostly identical in all its isodecoders, so isodecoder counts would be split
by guesswork while family counts are not. Reads compatible with several
families are allocated by the same EM as miRNAs (:func:`exomir.count.em_weights`),
with one abundance per family (:func:`count_fragments`).
"""

from __future__ import annotations

import argparse
import csv
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import count
from .reference import sha256, write_fasta

SOURCE_DIR = "mimseq/data/hg38-eColitK/"
NUCLEAR_FASTA = "hg38-tRNAs.fa"
DETAILED = "hg38-tRNAs-detailed.out"
MITO_FASTA = "hg38-mitotRNAs.fa"
HUMAN_PREFIX = "Homo_sapiens_"
CCA = "CCA"
FEATURE_SEPARATOR = "/"
REFERENCE_NAME = "hg38_mature_trnas"
CANONICAL_ANTICODON_START = 33  # 0-based canonical position 34
ANTICODON_STEM = 5
UNIT_SEPARATOR = "|"

FIVE_TRF, FIVE_HALF, I_TRF, THREE_HALF, THREE_TRF, FULL = (
    "5'-tRF",
    "5'-half",
    "i-tRF",
    "3'-half",
    "3'-tRF",
    "full",
)
FRAGMENT_TYPES = (FIVE_TRF, FIVE_HALF, I_TRF, THREE_HALF, THREE_TRF, FULL)
FEATURE_COLUMNS = (
    "feature",
    "family",
    "compartment",
    "anticodon",
    "anticodon_start",
    "length",
    "g_minus1",
    "introns_removed",
    "genes",
    "sequence",
)

_PAIRS = {("G", "C"), ("C", "G"), ("A", "T"), ("T", "A"), ("G", "T"), ("T", "G")}


class TrnaReferenceError(ValueError):
    """The tRNA source files are not what the build expects."""


@dataclass(frozen=True)
class Gene:
    """One tRNA gene: GtRNAdb or mitotRNAdb name, and its mature sequence."""

    name: str
    source_id: str
    family: str
    compartment: str
    anticodon: str
    mature: str
    g_minus1: bool
    intron_length: int


@dataclass(frozen=True)
class TrnaFeature:
    """A count feature: one distinct mature tRNA sequence and the genes that encode it."""

    feature: str
    family: str
    compartment: str
    anticodon: str
    anticodon_start: int  # 0-based, in the mature sequence
    sequence: str
    g_minus1: bool
    introns_removed: int
    genes: tuple[str, ...]

    @property
    def length(self) -> int:
        """Mature length, CCA included."""
        return len(self.sequence)


# --- sources --------------------------------------------------------------------------------


def read_wheel(wheel: str | Path) -> dict[str, str]:
    """The three source files' texts from the mimseq wheel (a zip archive)."""
    names = (NUCLEAR_FASTA, DETAILED, MITO_FASTA)
    try:
        with zipfile.ZipFile(wheel) as archive:
            return {n: archive.read(SOURCE_DIR + n).decode() for n in names}
    except (KeyError, zipfile.BadZipFile, FileNotFoundError) as error:
        raise TrnaReferenceError(
            f"{wheel}: cannot read {SOURCE_DIR}{{{','.join(names)}}} ({error}); give the "
            "mimseq 1.3.11 wheel (pip download mimseq==1.3.11 --no-deps)"
        ) from None


def fasta_records(text: str) -> Iterator[tuple[str, str]]:
    """(full header, upper-case sequence) of every record of a FASTA text."""
    header, chunks = None, []
    for line in text.splitlines() + [">"]:
        line = line.strip()
        if line.startswith(">"):
            if header is not None:
                yield header, "".join(chunks).upper()
            header, chunks = line[1:] or None, []
        elif line:
            chunks.append(line)


def intron_offsets(text: str) -> dict[str, tuple[str, str, tuple[int, int] | None]]:
    """tRNAscan-SE ``chrN.trnaK`` → (isotype, anticodon, intron (start, end) in the gene)."""
    table = {}
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) < 8 or not fields[1].isdigit():
            continue
        begin, end, intron_begin, intron_end = (int(f) for f in fields[2:4] + fields[6:8])
        intron = None
        if intron_begin and intron_end:
            # tRNAscan-SE gives genomic bounds, begin > end on the minus strand
            if begin > end:
                intron = (begin - intron_begin, begin - intron_end + 1)
            else:
                intron = (intron_begin - begin, intron_end - begin + 1)
        table[f"{fields[0]}.trna{fields[1]}"] = (fields[4], fields[5], intron)
    return table


def cca_encoded(gene: str) -> bool:
    """Whether the gene ends in an encoded CCA, judged by its acceptor stem.

    The 7 bp acceptor stem pairs the first 7 bases with the 7 before the
    discriminator base. CCA counts as encoded only when that stem pairs better
    with the discriminator 4 bases from the end (``…N CCA``) than at the end.
    """

    def stem(discriminator: int) -> int:
        three = reversed(gene[discriminator - 7 : discriminator])
        return sum((a, b) in _PAIRS for a, b in zip(gene[:7], three))

    return gene.endswith(CCA) and stem(len(gene) - 4) > stem(len(gene) - 1)


def _mature(gene: str, g_minus1: bool) -> str:
    return ("G" if g_minus1 else "") + gene + ("" if cca_encoded(gene) else CCA)


def nuclear_genes(fasta_text: str, detailed_text: str) -> list[Gene]:
    """Cytosolic genes of ``hg38-tRNAs.fa`` (non-human records dropped), introns spliced."""
    table = intron_offsets(detailed_text)
    genes = []
    for header, seq in fasta_records(fasta_text):
        if not header.startswith(HUMAN_PREFIX):
            continue  # mim-tRNAseq's E. coli tRNA-Lys spike-in
        name = header.split()[0].removeprefix(HUMAN_PREFIX)
        match = re.search(r"tRNAscan-SE ID: (\S+?)\)", header)
        if match is None or match.group(1) not in table:
            raise TrnaReferenceError(f"{NUCLEAR_FASTA}: {name} has no row in {DETAILED}")
        isotype, anticodon, intron = table[match.group(1)]
        if name.split("-")[1:3] != [isotype, anticodon]:
            raise TrnaReferenceError(f"{name}: {DETAILED} says {isotype} {anticodon}")
        removed = 0
        if intron:
            start, end = intron
            if not 0 < start < end < len(seq):
                raise TrnaReferenceError(f"{name}: intron {intron} outside the {len(seq)}-nt gene")
            seq, removed = seq[:start] + seq[end:], end - start
        family = "-".join(name.split("-")[:3])
        mature = _mature(seq, isotype == "His")
        genes.append(
            Gene(
                name,
                match.group(1),
                family,
                "cytosolic",
                anticodon,
                mature,
                isotype == "His",
                removed,
            )
        )
    return genes


def mito_genes(fasta_text: str) -> list[Gene]:
    """Mitochondrial tRNAs (``>mtdbID|Homo_sapiens|9606|Leu1|TAG``), CCA added."""
    genes = []
    for header, seq in fasta_records(fasta_text):
        source_id, _, _, isotype, anticodon = header.split()[0].split("|")
        family = f"mt-tRNA-{isotype.rstrip('0123456789')}-{anticodon}"
        genes.append(
            Gene(
                family, source_id, family, "mitochondrial", anticodon, _mature(seq, False), False, 0
            )
        )
    return genes


def locate_anticodon(sequence: str, anticodon: str) -> int:
    """0-based start of the anticodon in a mature tRNA (see the module docstring)."""
    candidates = []
    start = sequence.find(anticodon)
    while start != -1:
        five = sequence[start - 2 - ANTICODON_STEM : start - 2]
        three = sequence[start + 5 : start + 5 + ANTICODON_STEM]
        if start >= 2 + ANTICODON_STEM and len(three) == ANTICODON_STEM:
            pairs = sum((a, b) in _PAIRS for a, b in zip(five, reversed(three)))
            u33 = sequence[start - 1] == "T"
            candidates.append((-pairs, not u33, abs(start - CANONICAL_ANTICODON_START), start))
        start = sequence.find(anticodon, start + 1)
    if not candidates:
        raise TrnaReferenceError(f"anticodon {anticodon} not found in a stem-loop of {sequence}")
    return min(candidates)[-1]


# --- features -------------------------------------------------------------------------------


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _isodecoder(gene: Gene) -> str:
    return gene.name if gene.compartment == "mitochondrial" else gene.name.rsplit("-", 1)[0]


def build_features(genes: Iterable[Gene]) -> list[TrnaFeature]:
    """One feature per distinct mature sequence, sorted by name.

    A feature is named by its members' isodecoders; when two different
    sequences would get the same name (GtRNAdb numbers a few genes into the
    wrong isodecoder), each of them is named by its genes instead.
    """
    by_sequence: dict[str, list[Gene]] = defaultdict(list)
    for gene in genes:
        by_sequence[gene.mature].append(gene)
    names = {
        seq: FEATURE_SEPARATOR.join(sorted({_isodecoder(g) for g in members}, key=_natural))
        for seq, members in by_sequence.items()
    }
    taken = defaultdict(int)
    for name in names.values():
        taken[name] += 1
    features = []
    for seq, members in by_sequence.items():
        members = sorted(members, key=lambda g: _natural(g.name))
        name = names[seq]
        if taken[name] > 1:
            name = FEATURE_SEPARATOR.join(g.name for g in members)
        families = sorted({g.family for g in members})
        first = members[0]
        features.append(
            TrnaFeature(
                feature=name,
                family=FEATURE_SEPARATOR.join(families),
                compartment=first.compartment,
                anticodon=first.anticodon,
                anticodon_start=locate_anticodon(seq, first.anticodon),
                sequence=seq,
                g_minus1=first.g_minus1,
                introns_removed=max(g.intron_length for g in members),
                genes=tuple(g.name for g in members),
            )
        )
    return sorted(features, key=lambda f: _natural(f.feature))


def write_reference(features: list[TrnaFeature], fasta: str | Path, table: str | Path) -> None:
    """The alignment FASTA (one record per feature) and the feature table."""
    write_fasta(((f.feature, f.sequence) for f in features), fasta)
    with open(table, "w") as out:
        out.write("\t".join(FEATURE_COLUMNS) + "\n")
        for f in features:
            row = (
                f.feature,
                f.family,
                f.compartment,
                f.anticodon,
                f.anticodon_start,
                f.length,
                "yes" if f.g_minus1 else "no",
                f.introns_removed,
                ";".join(f.genes),
                f.sequence,
            )
            out.write("\t".join(map(str, row)) + "\n")


def read_features(path: str | Path) -> dict[str, TrnaFeature]:
    """Features by name, from the table :func:`write_reference` writes."""
    features = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = set(FEATURE_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise TrnaReferenceError(
                f"{path}: not a tRNA feature table (missing {', '.join(sorted(missing))}); "
                "build it with python -m exomir.trna"
            )
        for row in reader:
            features[row["feature"]] = TrnaFeature(
                feature=row["feature"],
                family=row["family"],
                compartment=row["compartment"],
                anticodon=row["anticodon"],
                anticodon_start=int(row["anticodon_start"]),
                sequence=row["sequence"],
                g_minus1=row["g_minus1"] == "yes",
                introns_removed=int(row["introns_removed"]),
                genes=tuple(row["genes"].split(";")),
            )
    return features


def build_reference(wheel: str | Path, outdir: str | Path) -> list[Path]:
    """Write ``hg38_mature_trnas.fa`` and ``.tsv`` from the mimseq wheel; returns the paths."""
    texts = read_wheel(wheel)
    genes = nuclear_genes(texts[NUCLEAR_FASTA], texts[DETAILED]) + mito_genes(texts[MITO_FASTA])
    features = build_features(genes)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [outdir / f"{REFERENCE_NAME}.fa", outdir / f"{REFERENCE_NAME}.tsv"]
    write_reference(features, *paths)
    return paths


# --- fragments ------------------------------------------------------------------------------


def fragment_type(start: int, end: int, feature: TrnaFeature) -> str:
    """The fragment type of an alignment ``[start, end)`` on a mature tRNA."""
    at_5p = start <= (1 if feature.g_minus1 else 0)
    at_3p = end == feature.length
    loop_first, loop_last = feature.anticodon_start - 2, feature.anticodon_start + 4
    if at_5p and at_3p:
        return FULL
    if at_5p:
        return FIVE_HALF if loop_first <= end - 1 <= loop_last else FIVE_TRF
    if at_3p:
        return THREE_HALF if loop_first <= start <= loop_last else THREE_TRF
    return I_TRF


def unit(family: str, kind: str) -> str:
    """Row name of the tRNA count table: ``<family>|<type>``."""
    return f"{family}{UNIT_SEPARATOR}{kind}"


def count_units(features: dict[str, TrnaFeature]) -> list[str]:
    """Every row of the tRNA count table: each family × each fragment type, sorted."""
    families = sorted({f.family for f in features.values()}, key=_natural)
    return [unit(family, kind) for family in families for kind in FRAGMENT_TYPES]


@dataclass(frozen=True)
class TrnaHits:
    """One insert's best tRNA alignments: its reads, evidence and ``family|type`` units."""

    reads: int
    evidence: count.Evidence
    units: tuple[str, ...]


def trna_hits(bam: str | Path, features: dict[str, TrnaFeature]) -> dict[str, TrnaHits]:
    """Every aligned insert's best tRNA alignments (ranked as miRNA candidates are)."""
    hits = {}
    for name, _, alns in count.alignments_by_read(bam):
        ranked = [(count.evidence(a), a) for a in alns]
        best = min(e for e, _ in ranked)
        units = set()
        for e, a in ranked:
            if e != best:
                continue
            feature = features.get(a.reference_name)
            if feature is None:
                raise TrnaReferenceError(
                    f"{bam}: reference '{a.reference_name}' is not in the tRNA feature table; "
                    "align to the FASTA written with that table"
                )
            kind = fragment_type(a.reference_start, a.reference_end, feature)
            units.add(unit(feature.family, kind))
        hits[name] = TrnaHits(count.multiplicity(name), best, tuple(sorted(units)))
    return hits


def count_fragments(
    hits: dict[str, TrnaHits], names: Iterable[str], multimappers: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Reads and ambiguous reads per ``family|type`` of the inserts ``names``.

    The allocation runs over families: EM estimates one abundance per family
    (all its fragment types together), a read compatible with several families
    is divided by those abundances, and each family's part goes to the type the
    read has in that family (equally to each, in the rare case of several).
    """
    names = sorted(names, key=count.insert_order)
    families = {
        n: tuple(sorted({u.rsplit(UNIT_SEPARATOR, 1)[0] for u in hits[n].units})) for n in names
    }
    _, _, given = count.allocate(families, {n: hits[n].reads for n in names}, multimappers)
    counts: dict[str, float] = defaultdict(float)
    ambiguous: dict[str, float] = defaultdict(float)
    for name in names:
        units = hits[name].units
        for family, value in given[name].items():
            mine = [u for u in units if u.rsplit(UNIT_SEPARATOR, 1)[0] == family]
            for u in mine:
                counts[u] += value / len(mine)
                if len(units) > 1:
                    ambiguous[u] += value / len(mine)
    return dict(counts), dict(ambiguous)


def count_matrix(per_sample: dict[str, str | Path], features: dict[str, TrnaFeature]):
    """``results/counts/trna_counts.tsv``: integers, rows :func:`count_units`, index ``trna``."""
    matrix = count.merge_counts(per_sample, count_units(features))
    return matrix.rename_axis("trna")


def main(argv: list[str] | None = None) -> None:
    """``python -m exomir.trna --wheel … --outdir …``: build and print paths and sha256."""
    parser = argparse.ArgumentParser(
        description="Write the mature human tRNA reference from the mimseq wheel."
    )
    parser.add_argument("--wheel", required=True, help="mimseq-1.3.11-py3-none-any.whl")
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    for path in build_reference(args.wheel, args.outdir):
        print(f"{path}\t{sha256(path)}")


if __name__ == "__main__":
    main()
