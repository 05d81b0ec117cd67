"""miRBase reference: extraction from the bundled table, and the derived count features.

A *feature* is what exomir counts. Mature miRNAs whose sequences are identical
(e.g. hsa-miR-199a-3p and hsa-miR-199b-3p) cannot be told apart by any read, so
they form one feature named by joining their names with ``/``; every other
feature is a single mature miRNA. Each feature keeps the MIMAT accessions of its
members, so annotation can join on accessions rather than on names.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

FEATURE_SEPARATOR = "/"


@dataclass(frozen=True)
class Mature:
    name: str
    accession: str
    sequence: str


@dataclass(frozen=True)
class MatureLocation:
    """Where a mature feature lies in a hairpin (0-based, end exclusive)."""

    hairpin: str
    feature: str
    start: int
    end: int


def read_fasta(path: str | Path) -> Iterator[tuple[str, str]]:
    """Yield (identifier, sequence) from a plain or gzipped FASTA file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    name, chunks = None, []
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if name is not None:
                    yield name, "".join(chunks)
                name, chunks = line[1:].split()[0], []
            else:
                chunks.append(line)
    if name is not None:
        yield name, "".join(chunks)


def write_fasta(records: Iterable[tuple[str, str]], path: str | Path) -> None:
    with open(path, "w") as out:
        for name, seq in records:
            out.write(f">{name}\n{seq}\n")


def to_dna(seq: str) -> str:
    return seq.upper().replace("U", "T")


def extract_species(table: str | Path, species: str) -> tuple[list[Mature], list[tuple[str, str]]]:
    """Mature and hairpin records of one species from miRBase_all.csv (U→T).

    Returns mature records (unique accession, sorted by name) and hairpin
    (name, sequence) pairs sorted by name.
    """
    opener = gzip.open if str(table).endswith(".gz") else open
    mature: dict[str, Mature] = {}
    hairpins: dict[str, str] = {}
    with opener(table, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["species"] != species:
                continue
            hairpins[row["ID"]] = to_dna(row["precursor"])
            for arm in ("mature1", "mature2"):
                acc, name, seq = row[f"{arm}_acc"], row[arm], row[f"{arm}_seq"]
                if acc and name and seq:
                    mature.setdefault(acc, Mature(name, acc, to_dna(seq)))
    if not hairpins:
        raise ValueError(
            f"species prefix '{species}' is not in {table}; use a miRBase three-letter "
            "code such as hsa, mmu or rno, or give mature_fasta/hairpin_fasta in the config"
        )
    return (
        sorted(mature.values(), key=lambda m: m.name),
        sorted(hairpins.items()),
    )


def mature_from_fasta(path: str | Path) -> list[Mature]:
    """Mature records from a miRBase-style FASTA (``>name MIMAT… …``).

    The accession is the first header word starting with ``MIMAT``; a FASTA
    without accessions uses the name as accession.
    """
    records = []
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        header = None
        chunks: list[str] = []
        for line in list(handle) + [">"]:
            line = line.strip()
            if line.startswith(">"):
                if header is not None:
                    words = header.split()
                    acc = next((w for w in words[1:] if w.startswith("MIMAT")), words[0])
                    records.append(Mature(words[0], acc, to_dna("".join(chunks))))
                header, chunks = (line[1:] or None), []
            elif line:
                chunks.append(line)
    return sorted(records, key=lambda m: m.name)


def read_sources(mature_fasta: str | Path, hairpin_fasta: str | Path):
    """Mature records and (name, DNA sequence) hairpins of a reference, sorted by name."""
    mature = mature_from_fasta(mature_fasta)
    hairpins = sorted((name, to_dna(seq)) for name, seq in read_fasta(hairpin_fasta))
    if not mature or not hairpins:
        empty = mature_fasta if not mature else hairpin_fasta
        raise ValueError(f"reference FASTA {empty} has no records; give miRBase-style FASTA files")
    return mature, hairpins


def build_features(mature: list[Mature]) -> list[tuple[str, str, str]]:
    """Merge identical mature sequences: (feature, accessions, sequence), sorted by feature."""
    by_seq: dict[str, list[Mature]] = {}
    for m in mature:
        by_seq.setdefault(m.sequence, []).append(m)
    features = []
    for seq, members in by_seq.items():
        members = sorted(members, key=lambda m: m.name)
        features.append(
            (
                FEATURE_SEPARATOR.join(m.name for m in members),
                ";".join(m.accession for m in members),
                seq,
            )
        )
    return sorted(features)


def locate_mature_in_hairpins(
    features: list[tuple[str, str, str]], hairpins: list[tuple[str, str]]
) -> list[MatureLocation]:
    """Exact positions of each feature's sequence in each hairpin (all occurrences)."""
    locations = []
    for hp_name, hp_seq in hairpins:
        for feature, _, seq in features:
            start = hp_seq.find(seq)
            while start != -1:
                locations.append(MatureLocation(hp_name, feature, start, start + len(seq)))
                start = hp_seq.find(seq, start + 1)
    return sorted(locations, key=lambda loc: (loc.hairpin, loc.start, loc.feature))


def write_reference(
    mature: list[Mature],
    hairpins: list[tuple[str, str]],
    *,
    mature_fasta: str | Path,
    hairpin_fasta: str | Path,
    features: str | Path,
    locations: str | Path,
    mirtop_gff: str | Path,
) -> None:
    """Write the alignment FASTAs (one record per feature), the feature tables and the GFF3."""
    features_tsv, locations_tsv = features, locations
    features = build_features(mature)
    write_fasta([(f, s) for f, _, s in features], mature_fasta)
    write_fasta(hairpins, hairpin_fasta)
    names = {m.accession: m.name for m in mature}
    with open(features_tsv, "w") as out:
        out.write("feature\tmature_names\tmimat\tsequence\n")
        for feature, accs, seq in features:
            member_names = ";".join(names[a] for a in accs.split(";"))
            out.write(f"{feature}\t{member_names}\t{accs}\t{seq}\n")
    with open(locations_tsv, "w") as out:
        out.write("hairpin\tfeature\tstart\tend\n")
        for loc in locate_mature_in_hairpins(features, hairpins):
            out.write(f"{loc.hairpin}\t{loc.feature}\t{loc.start}\t{loc.end}\n")
    write_mirtop_gff(features_tsv, locations_tsv, hairpin_fasta, mirtop_gff)


def read_locations(path: str | Path) -> dict[str, list[MatureLocation]]:
    """Mature locations grouped by hairpin."""
    by_hairpin: dict[str, list[MatureLocation]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            loc = MatureLocation(row["hairpin"], row["feature"], int(row["start"]), int(row["end"]))
            by_hairpin.setdefault(loc.hairpin, []).append(loc)
    return by_hairpin


def write_mirtop_gff(
    features_tsv: str | Path, locations_tsv: str | Path, hairpin_fasta: str | Path, path: str | Path
) -> None:
    """miRBase-style GFF3 in hairpin coordinates, as mirtop reads it (``--gtf``).

    Each hairpin is its own sequence (``seqid`` = hairpin name, 1-based, + strand);
    each member miRNA of a located feature is a ``miRNA`` line derived from it.
    mirtop then annotates hairpin alignments as isomiRs of those miRNAs.
    """
    members: dict[str, list[tuple[str, str]]] = {}
    with open(features_tsv, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            members[row["feature"]] = list(
                zip(row["mature_names"].split(";"), row["mimat"].split(";"))
            )
    by_hairpin = read_locations(locations_tsv)
    lengths = {name: len(seq) for name, seq in read_fasta(hairpin_fasta)}
    with open(path, "w") as out:
        out.write("##gff-version 3\n# database: miRBase v22, hairpin coordinates\n")
        for hairpin in sorted(by_hairpin):
            out.write(
                f"{hairpin}\t.\tmiRNA_primary_transcript\t1\t{lengths[hairpin]}\t.\t+\t.\t"
                f"ID={hairpin};Alias={hairpin};Name={hairpin}\n"
            )
            for loc in by_hairpin[hairpin]:
                for name, accession in members[loc.feature]:
                    out.write(
                        f"{hairpin}\t.\tmiRNA\t{loc.start + 1}\t{loc.end}\t.\t+\t.\t"
                        f"ID={accession}_{hairpin};Alias={accession};Name={name};"
                        f"Derives_from={hairpin}\n"
                    )


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_species(table: str | Path, species: str, outdir: str | Path) -> list[Path]:
    """Write miRBase-style ``<species>_mature.fa`` and ``<species>_hairpin.fa`` (DNA alphabet)."""
    mature, hairpins = extract_species(table, species)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    hairpin_acc = _hairpin_accessions(table, species)
    mature_path = outdir / f"{species}_mature.fa"
    hairpin_path = outdir / f"{species}_hairpin.fa"
    write_fasta(((f"{m.name} {m.accession}", m.sequence) for m in mature), mature_path)
    write_fasta(((f"{n} {hairpin_acc[n]}", s) for n, s in hairpins), hairpin_path)
    return [mature_path, hairpin_path]


def _hairpin_accessions(table: str | Path, species: str) -> dict[str, str]:
    opener = gzip.open if str(table).endswith(".gz") else open
    with opener(table, "rt", newline="") as handle:
        return {r["ID"]: r["accession"] for r in csv.DictReader(handle) if r["species"] == species}


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="Write a species' mature and hairpin FASTA from the bundled miRBase table."
    )
    parser.add_argument("--table", required=True, help="miRBase_all.csv(.gz)")
    parser.add_argument("--species", default="hsa")
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    for path in bundle_species(args.table, args.species, args.outdir):
        print(f"{path}\t{sha256(path)}")


if __name__ == "__main__":
    main()
