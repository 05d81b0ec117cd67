"""Sample-sheet reading: cells are data, each error names the sheet, the line or the sample."""

from __future__ import annotations

import re

import pytest

from exomir.samplesheet import SampleSheetError, read_sample_sheet, shared_fastq

HEADER = "sample\tcondition\tfastq"
GOOD = [
    "R1\tresistant\tR1.fastq.gz",
    "R2\tresistant\tR2.fastq",
    "S1\tsensitive\tS1.fastq.gz",
    "S2\tsensitive\tS2.fastq.gz",
]


def _sheet(tmp_path, rows, header=HEADER, make_files=True):
    for row in rows:
        cells = row.split("\t")
        if make_files and len(cells) > 2 and cells[2].endswith((".fastq", ".fastq.gz")):
            (tmp_path / cells[2]).write_text("")
    path = tmp_path / "samples.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_good_sheet_resolves_paths_relative_to_the_sheet(tmp_path):
    sheet = read_sample_sheet(_sheet(tmp_path, GOOD), require_fastq=True)
    assert list(sheet.index) == ["R1", "R2", "S1", "S2"]
    assert sheet.loc["R1", "fastq"] == str(tmp_path / "R1.fastq.gz")


def test_hash_inside_a_cell_is_data_and_comment_lines_are_skipped(tmp_path):
    rows = ["# a comment line", *[r + f"\tlot#{i % 2 + 1}" for i, r in enumerate(GOOD)], ""]
    sheet = read_sample_sheet(_sheet(tmp_path, rows, HEADER + "\tbatch"), require_fastq=True)
    assert list(sheet["batch"]) == ["lot#1", "lot#2", "lot#1", "lot#2"]
    assert list(sheet.index) == ["R1", "R2", "S1", "S2"]


def test_quotes_are_characters(tmp_path):
    rows = [r + '\t"b 1"' for r in GOOD]
    sheet = read_sample_sheet(_sheet(tmp_path, rows, HEADER + "\tbatch"), require_fastq=True)
    assert set(sheet["batch"]) == {'"b 1"'}


def test_ragged_row_names_the_sheet_and_the_line(tmp_path):
    rows = GOOD[:2] + ["S1\tsensitive\tS1.fastq.gz\textra"] + GOOD[3:]
    path = _sheet(tmp_path, rows)
    message = (
        rf"sample sheet {re.escape(str(path))}, line 4: 4 tab-separated cells, the header has 3"
    )
    with pytest.raises(SampleSheetError, match=message):
        read_sample_sheet(path, require_fastq=True)


def test_missing_fastq_names_sample_and_file(tmp_path):
    path = _sheet(tmp_path, GOOD[:3] + ["S2\tsensitive\tgone.fastq.gz"], make_files=True)
    (tmp_path / "gone.fastq.gz").unlink()
    with pytest.raises(SampleSheetError, match=r"sample 'S2'.*gone\.fastq\.gz does not exist"):
        read_sample_sheet(path, require_fastq=True)


@pytest.mark.parametrize("duplicate", ["R1", "r1"])
def test_duplicate_sample_also_when_only_the_case_differs(tmp_path, duplicate):
    rows = [*GOOD, f"{duplicate}\tresistant\tR1.fastq.gz"]
    with pytest.raises(
        SampleSheetError, match=r"duplicate sample name\(s\) .*R1.*differ only in case"
    ):
        read_sample_sheet(_sheet(tmp_path, rows), require_fastq=True)


@pytest.mark.parametrize("dotted", ["R1.long", "r1.cutadapt", "R1.x.y"])
def test_a_name_followed_by_a_dot_is_another_samples_file(tmp_path, dotted):
    rows = [*GOOD, f"{dotted}\tresistant\tR1.fastq.gz"]
    with pytest.raises(SampleSheetError, match=rf"'{re.escape(dotted)}' is sample 'R1'"):
        read_sample_sheet(_sheet(tmp_path, rows), require_fastq=True)


def test_dotted_names_without_a_dotless_twin_are_fine(tmp_path):
    rows = [*GOOD[1:], "R1.long\tresistant\tR1.fastq.gz", "T1.v2.b\tsensitive\tS1.fastq.gz"]
    sheet = read_sample_sheet(_sheet(tmp_path, rows), require_fastq=True)
    assert "R1.long" in sheet.index and "T1.v2.b" in sheet.index


@pytest.mark.parametrize("name", ["R 1", "R/1", "R1*", "é1"])
def test_bad_sample_name(tmp_path, name):
    rows = [f"{name}\tresistant\tR1.fastq.gz", *GOOD[1:]]
    with pytest.raises(SampleSheetError, match=rf"sample name '{re.escape(name)}'.*A-Za-z0-9"):
        read_sample_sheet(_sheet(tmp_path, rows), require_fastq=True)


def test_missing_required_column(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text("sample\tcondition\nR1\tresistant\n")
    with pytest.raises(SampleSheetError, match=r"missing column\(s\) fastq"):
        read_sample_sheet(path, require_fastq=True)
    assert list(read_sample_sheet(path, require_fastq=False).index) == ["R1"]


def test_not_a_fastq_name(tmp_path):
    rows = [*GOOD[:3], "S2\tsensitive\tS2.bam"]
    with pytest.raises(
        SampleSheetError, match=r"sample 'S2': file 'S2\.bam' does not end in \.fastq"
    ):
        read_sample_sheet(_sheet(tmp_path, rows), require_fastq=True)


def test_sheet_itself_missing(tmp_path):
    with pytest.raises(SampleSheetError, match=r"nowhere\.tsv does not exist"):
        read_sample_sheet(tmp_path / "nowhere.tsv", require_fastq=True)


def test_shared_fastq_are_found_whatever_the_path_spelling(tmp_path):
    rows = [*GOOD, "R3\tresistant\t./R1.fastq.gz"]
    sheet = read_sample_sheet(_sheet(tmp_path, rows), require_fastq=True)
    assert shared_fastq(sheet) == {str(tmp_path / "R1.fastq.gz"): ["R1", "R3"]}
