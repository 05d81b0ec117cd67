"""Sample-sheet validation: each error names the culprit and says how to fix it."""

from __future__ import annotations

import pytest
from exomir.samplesheet import SampleSheetError, design_variables, load_sample_sheet

CONTRAST = {"variable": "condition", "case": "resistant", "control": "sensitive"}


def _sheet(tmp_path, rows, header="sample\tcondition\tfastq", make_files=True):
    for row in rows:
        fastq = row.split("\t")[2]
        if make_files and fastq.endswith((".fastq", ".fastq.gz")):
            (tmp_path / fastq).write_text("")
    path = tmp_path / "samples.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


GOOD = [
    "R1\tresistant\tR1.fastq.gz",
    "R2\tresistant\tR2.fastq",
    "S1\tsensitive\tS1.fastq.gz",
    "S2\tsensitive\tS2.fastq.gz",
]


def test_good_sheet_resolves_paths_relative_to_the_sheet(tmp_path):
    sheet = load_sample_sheet(_sheet(tmp_path, GOOD), CONTRAST)
    assert list(sheet.index) == ["R1", "R2", "S1", "S2"]
    assert sheet.loc["R1", "fastq"] == str(tmp_path / "R1.fastq.gz")


def test_missing_fastq_names_sample_and_file(tmp_path):
    rows = GOOD[:3] + ["S2\tsensitive\tgone.fastq.gz"]
    path = _sheet(tmp_path, rows[:3])
    path.write_text("sample\tcondition\tfastq\n" + "\n".join(rows) + "\n")
    with pytest.raises(SampleSheetError, match=r"sample 'S2'.*gone\.fastq\.gz.*does not exist"):
        load_sample_sheet(path, CONTRAST)


def test_duplicate_sample(tmp_path):
    rows = GOOD + ["R1\tresistant\tR1.fastq.gz"]
    with pytest.raises(SampleSheetError, match=r"duplicate sample name\(s\) R1"):
        load_sample_sheet(_sheet(tmp_path, rows), CONTRAST)


@pytest.mark.parametrize("name", ["R 1", "R/1", "R1*", "é1"])
def test_bad_sample_name(tmp_path, name):
    rows = [f"{name}\tresistant\tR1.fastq.gz"] + GOOD[1:]
    with pytest.raises(
        SampleSheetError, match=rf"sample name '{__import__('re').escape(name)}'.*\[A-Za-z0-9_.-\]"
    ):
        load_sample_sheet(_sheet(tmp_path, rows), CONTRAST)


def test_condition_not_in_contrast(tmp_path):
    rows = GOOD + ["X1\tresponder\tR1.fastq.gz"]
    with pytest.raises(SampleSheetError, match=r"sample 'X1' has condition 'responder'.*contrast"):
        load_sample_sheet(_sheet(tmp_path, rows), CONTRAST)


def test_too_few_samples_in_a_group(tmp_path):
    rows = GOOD[:3]
    with pytest.raises(
        SampleSheetError, match=r"condition 'sensitive' has 1 sample\(s\).*at least 2"
    ):
        load_sample_sheet(_sheet(tmp_path, rows), CONTRAST)


def test_design_column_missing(tmp_path):
    with pytest.raises(SampleSheetError, match=r"design '~ batch \+ condition' uses 'batch'"):
        load_sample_sheet(_sheet(tmp_path, GOOD), CONTRAST, "~ batch + condition")


def test_missing_required_column(tmp_path):
    path = tmp_path / "samples.tsv"
    path.write_text("sample\tfastq\nR1\tR1.fastq\n")
    with pytest.raises(SampleSheetError, match=r"missing column\(s\) condition"):
        load_sample_sheet(path, CONTRAST)


def test_not_a_fastq_name(tmp_path):
    rows = GOOD[:3] + ["S2\tsensitive\tS2.bam"]
    with pytest.raises(
        SampleSheetError, match=r"sample 'S2': file S2\.bam does not end in \.fastq"
    ):
        load_sample_sheet(_sheet(tmp_path, rows), CONTRAST)


def test_sheet_itself_missing(tmp_path):
    with pytest.raises(SampleSheetError, match=r"nowhere\.tsv does not exist"):
        load_sample_sheet(tmp_path / "nowhere.tsv", CONTRAST)


def test_covariates_are_kept(tmp_path):
    rows = [r + f"\tb{i % 2}" for i, r in enumerate(GOOD)]
    sheet = load_sample_sheet(
        _sheet(tmp_path, rows, header="sample\tcondition\tfastq\tbatch"),
        CONTRAST,
        "~ batch + condition",
    )
    assert list(sheet["batch"]) == ["b0", "b1", "b0", "b1"]


def test_design_variables():
    assert design_variables("~ batch + condition") == ["batch", "condition"]
    assert design_variables("~age+C(site)+condition") == ["age", "site", "condition"]
