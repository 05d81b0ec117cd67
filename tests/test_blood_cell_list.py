"""The bundled blood-cell miRNA list: valid columns and cell types, every name and
accession a miRBase v22 human mature miRNA, every row traceable to a cited source."""

import re
from pathlib import Path

import pandas as pd
import pytest

from exomir import hemolysis
from exomir.reference import mature_from_fasta

REPO = Path(__file__).resolve().parents[1]
LIST = REPO / "resources" / "blood_cell_mirnas.tsv"
MATURE = REPO / "resources" / "mirbase" / "hsa_mature.fa"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return hemolysis.read_blood_cell_list(LIST)


@pytest.fixture(scope="module")
def mirbase() -> dict[str, str]:
    """miRBase v22 human mature name → MIMAT accession (headers ``>NAME MIMAT…``)."""
    return {m.name: m.accession for m in mature_from_fasta(MATURE)}


def test_columns_and_cell_types(table):
    assert list(table.columns[: len(hemolysis.LIST_COLUMNS)]) == list(hemolysis.LIST_COLUMNS)
    assert set(table["cell_type"]) <= set(hemolysis.BLOOD_CELL_TYPES)
    assert "red_cell" in set(table["cell_type"])
    for column in table.columns:
        assert (table[column].str.strip() != "").all(), f"empty {column}"
        assert (table[column] == table[column].str.strip()).all(), f"padded {column}"


def test_every_name_and_accession_resolves_in_mirbase_v22(table, mirbase):
    for row in table.itertuples():
        assert row.mirna in mirbase, f"{row.mirna} is not a miRBase v22 human mature name"
        assert mirbase[row.mirna] == row.mimat, f"{row.mirna}: {row.mimat} != {mirbase[row.mirna]}"


def test_one_cell_type_per_mirna_and_no_duplicate_rows(table):
    assert (table.groupby("mirna")["cell_type"].nunique() == 1).all()
    assert not table.duplicated(["mirna", "source"]).any()


def test_rows_are_sorted_by_cell_type_then_name_then_source(table):
    order = {c: i for i, c in enumerate(hemolysis.BLOOD_CELL_TYPES)}
    keys = [(order[r.cell_type], r.mirna, r.source) for r in table.itertuples()]
    assert keys == sorted(keys)


def test_sources_are_full_citations_with_a_location(table):
    for source in set(table["source"]):
        assert re.search(r"\b(19|20)\d\d\b", source), f"no year: {source}"
        assert re.search(r"doi:10\.\d{4,}/\S+", source), f"no DOI: {source}"
        assert re.search(r"Abstract|Figure|Table|Results|section", source), f"no place: {source}"


def test_name_as_written_matches_the_mature_name(table):
    for row in table.itertuples():
        written = row.mirna_as_written.lower().removeprefix("hsa-")
        assert row.mirna.lower().removeprefix("hsa-").startswith(written), row


def test_bad_cell_type_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "list.tsv"
    lines = LIST.read_text().splitlines()
    lines[2] = lines[2].replace("red_cell", "erythrocyte")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(hemolysis.HemolysisError, match=r"line 3: cell_type 'erythrocyte'"):
        hemolysis.read_blood_cell_list(path)
