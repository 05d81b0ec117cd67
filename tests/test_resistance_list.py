"""Checks for the curated list of exosomal miRNAs linked to cancer drug response.

The list is ``resources/resistance_mirnas.tsv``; its columns and curation rules
are described in ``resources/README.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TSV = REPO / "resources" / "resistance_mirnas.tsv"
MATURE_FA = REPO / "resources" / "mirbase" / "hsa_mature.fa"
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

COLUMNS = [
    "mirna_as_written",
    "mirbase_ids",
    "arm_resolved",
    "mimat",
    "role",
    "direction_in_resistance",
    "drugs",
    "cancer",
    "target_or_mechanism",
    "evidence",
    "source",
    "ref",
    "section",
]
OPTIONAL = {"target_or_mechanism"}
REQUIRED = [c for c in COLUMNS if c not in OPTIONAL]

ROLES = {"resistance", "sensitizing", "biomarker"}
DIRECTIONS = {"up", "down", "unknown"}
ARM_RESOLVED = {"yes", "no"}
EVIDENCE = {
    "in_vitro",
    "in_vivo",
    "patient_plasma",
    "patient_serum",
    "patient_tissue",
    "patient_urine",
    "patient_other",
}
FINDING_KEY = ["mirna_as_written", "drugs", "cancer", "ref", "source", "role"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(TSV, sep="\t", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def mature() -> dict[str, str]:
    """Mature miRNA name -> MIMAT accession, from the bundled miRBase v22 FASTA."""
    names = {}
    for line in MATURE_FA.read_text().splitlines():
        if line.startswith(">"):
            name, accession = line[1:].split()[:2]
            names[name] = accession
    return names


def split(value: str) -> list[str]:
    return value.split(";")


def test_columns_exact(table):
    assert list(table.columns) == COLUMNS


def test_not_empty(table):
    assert len(table) > 0


@pytest.mark.parametrize("column", REQUIRED)
def test_required_fields_filled(table, column):
    empty = table[table[column].str.strip() == ""]
    assert empty.empty, f"empty {column} in rows {list(empty.index)}"


def test_no_stray_whitespace(table):
    for column in COLUMNS:
        bad = table[table[column] != table[column].str.strip()]
        assert bad.empty, f"leading/trailing whitespace in {column}: {list(bad.index)}"


def test_controlled_vocabularies(table):
    assert set(table["role"]) <= ROLES
    assert set(table["direction_in_resistance"]) <= DIRECTIONS
    assert set(table["arm_resolved"]) <= ARM_RESOLVED
    for value in table["evidence"]:
        items = split(value)
        assert set(items) <= EVIDENCE, value
        assert len(items) == len(set(items)), value


def test_drugs_and_cancer_normalised(table):
    for column in ("drugs", "cancer"):
        for value in table[column]:
            assert value == value.lower(), value
            items = split(value)
            assert all(item and item == item.strip() for item in items), value
            assert len(items) == len(set(items)), value


def test_ids_exist_in_mirbase(table, mature):
    for ids in table["mirbase_ids"]:
        for name in split(ids):
            assert name in mature, f"{name} is not a miRBase v22 human mature miRNA"


def test_mimat_exist(table, mature):
    known = set(mature.values())
    for accessions in table["mimat"]:
        for accession in split(accessions):
            assert re.fullmatch(r"MIMAT\d{7}", accession), accession
            assert accession in known, accession


def test_ids_and_mimat_agree_pairwise(table, mature):
    for ids, accessions in zip(table["mirbase_ids"], table["mimat"]):
        names, accs = split(ids), split(accessions)
        assert len(names) == len(accs), (ids, accessions)
        for name, accession in zip(names, accs):
            assert mature[name] == accession, (name, accession)


def test_ids_unique_within_row(table):
    for ids in table["mirbase_ids"]:
        names = split(ids)
        assert len(names) == len(set(names)), ids


def test_arm_resolved_matches_id_count(table):
    for resolved, ids in zip(table["arm_resolved"], table["mirbase_ids"]):
        count = len(split(ids))
        if resolved == "yes":
            assert count == 1, ids
        else:
            assert count >= 1, ids


def test_no_duplicate_findings(table):
    duplicated = table[table.duplicated(FINDING_KEY, keep=False)]
    assert duplicated.empty, duplicated[FINDING_KEY].to_string()


def _ref_key(ref: str):
    return (0, int(ref), "") if ref.isdigit() else (1, 0, ref)


def test_sorted(table):
    rows = list(table.itertuples(index=False))
    keys = [
        (r.source, _ref_key(r.ref), r.mirna_as_written, r.role, r.drugs, r.cancer) for r in rows
    ]
    assert keys == sorted(keys)


# --- agreement with the source reviews --------------------------------------


def _seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"../shared/seeds not found: {SEEDS}")
    return SEEDS


def _variants(text: str) -> list[str]:
    """Whitespace-normalised forms of a hard-wrapped text.

    A hyphen at a line end may belong to the word ("miR-\\n21") or be a
    hyphenation break ("path-\\nway"), so both joins are returned.
    """
    keep = re.sub(r"-[ \t]*\r?\n[ \t]*", "-", text)
    drop = re.sub(r"-[ \t]*\r?\n[ \t]*", "", text)
    return [re.sub(r"\s+", " ", t) for t in (keep, drop)]


def _cited_numbers(text: str) -> set[int]:
    """Reference numbers cited in brackets ([3], [5,6,7], [85–87]) or listed."""
    numbers: set[int] = set()
    for group in re.findall(r"\[([\d\s,–-]+)\]", text):
        for part in group.split(","):
            part = part.strip()
            if not part:
                continue
            bounds = re.split(r"[–-]", part)
            if len(bounds) == 2 and all(b.strip().isdigit() for b in bounds):
                numbers.update(range(int(bounds[0]), int(bounds[1]) + 1))
            elif part.isdigit():
                numbers.add(int(part))
    numbers.update(int(n) for n in re.findall(r"(?m)^\s*(\d+)\.\s", text))
    return numbers


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    directory = _seeds_dir()
    return {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.txt")}


def test_sources_exist(table, seeds):
    missing = set(table["source"]) - set(seeds)
    assert not missing, missing


def test_mirna_as_written_in_seed(table, seeds):
    variants = {name: _variants(text) for name, text in seeds.items()}
    for written, source in zip(table["mirna_as_written"], table["source"]):
        needle = re.sub(r"\s+", " ", written)
        assert any(needle in v for v in variants[source]), (written, source)


def test_ref_in_seed(table, seeds):
    cited = {name: _cited_numbers(text) for name, text in seeds.items()}
    variants = {name: _variants(text) for name, text in seeds.items()}
    for ref, source in zip(table["ref"], table["source"]):
        if ref.isdigit():
            assert int(ref) in cited[source], (ref, source)
        else:
            needle = re.sub(r"\s+", " ", ref)
            assert any(needle in v for v in variants[source]), (ref, source)
