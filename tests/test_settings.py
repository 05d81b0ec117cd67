"""The settings layer: every input checked once, before any job, with a message that names
the culprit and the fix. Unit tests call exomir.settings.load_run directly; the last tests run
the workflow and check that the same problems stop it before any job, with a non-zero exit."""

from __future__ import annotations

import copy
import re

import pandas as pd
import pytest

from conftest import REPO, run_snakemake
from exomir import sizing
from exomir.settings import SettingsError, load_run, name_pattern, sample_pattern

ROWS = [
    ("R1", "resistant", "A"),
    ("R2", "resistant", "B"),
    ("R3", "resistant", "A"),
    ("S1", "sensitive", "B"),
    ("S2", "sensitive", "A"),
    ("S3", "sensitive", "B"),
]


def write_sheet(folder, rows=ROWS, header=("sample", "condition", "batch"), fastq=True):
    """A sheet with one empty FASTQ file per sample (existence is what the sheet check needs)."""
    lines = ["\t".join((*header, "fastq") if fastq else header)]
    for row in rows:
        cells = list(row)
        if fastq:
            (folder / f"{row[0]}.fastq.gz").touch()
            cells.append(f"{row[0]}.fastq.gz")
        lines.append("\t".join(cells))
    path = folder / "samples.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def sheet(tmp_path):
    return write_sheet(tmp_path)


def load(tmp_path, sheet=None, **config):
    config = {"samples": str(sheet) if sheet else "", **copy.deepcopy(config)}
    return load_run(config, REPO, tmp_path)


def fails(tmp_path, pattern, sheet=None, **config):
    with pytest.raises(SettingsError, match=pattern) as info:
        load(tmp_path, sheet, **config)
    assert "\n" not in str(info.value), "one line per problem"
    return str(info.value)


# ------------------------------------------------------------------------------------------
# A good run
# ------------------------------------------------------------------------------------------


def test_good_config_gives_one_checked_run(tmp_path, sheet):
    run = load(tmp_path, sheet, design="~ batch + condition")
    assert run.samples == ["R1", "R2", "R3", "S1", "S2", "S3"]
    assert run.main.name == "resistant_vs_sensitive" and run.main.design == "~ batch + condition"
    assert {p.name for p in run.protocols.values()} == {"truseq"}
    assert run.config["qc"]["auto_reads"] == 50000  # defaults filled in from the schema
    assert run.plot_covariate == "batch" and not run.from_counts and run.notes == ()


@pytest.mark.parametrize(
    ("per_group", "enabled", "may_run"),
    [(3, "auto", False), (8, "auto", True), (3, True, True), (8, False, False)],
)
def test_biomarker_fit_asks_for_threads_only_where_it_can_run(
    tmp_path, per_group, enabled, may_run
):
    """``enabled: auto`` needs 8 samples in the smaller group after QC, which only removes
    samples: a smaller sheet already decides that the job only writes why it was skipped."""
    rows = [
        (f"{g[0].upper()}{i}", g, "A") for g in ("resistant", "sensitive") for i in range(per_group)
    ]
    run = load(tmp_path, write_sheet(tmp_path, rows), biomarker={"enabled": enabled})
    assert run.biomarker_may_run is may_run
    assert sizing.biomarker_threads(run.biomarker_may_run) == (
        sizing.BIOMARKER_THREADS if may_run else 1
    )


def test_hash_in_a_cell_is_a_value_not_a_comment(tmp_path):
    rows = [(s, c, "lot#1" if b == "A" else "lot#2") for s, c, b in ROWS]
    run = load(tmp_path, write_sheet(tmp_path, rows), design="~ batch + condition")
    assert sorted(set(run.design_table["batch"])) == ["lot#1", "lot#2"]


def test_all_numeric_covariate_is_continuous_with_a_note(tmp_path):
    rows = [(s, c, str(40 + i), "1" if b == "A" else "2") for i, (s, c, b) in enumerate(ROWS)]
    sheet = write_sheet(tmp_path, rows, ("sample", "condition", "age", "batch"))
    run = load(tmp_path, sheet, design="~ age + batch + condition")
    assert run.continuous == ["age", "batch"] and "continuous" in run.notes[0]
    run = load(tmp_path, sheet, design="~ age + batch + condition", categorical=["batch"])
    assert run.continuous == ["age"] and list(run.design_table["batch"]) == ["1", "2"] * 3


# ------------------------------------------------------------------------------------------
# Config keys and paths
# ------------------------------------------------------------------------------------------


def test_samples_is_required(tmp_path):
    fails(tmp_path, r"config key 'samples' is not set.*make example")


def test_unknown_key_gives_the_closest_valid_key(tmp_path, sheet):
    fails(
        tmp_path,
        r"^config key 'protocl' is not known; did you mean 'protocol'\?$",
        sheet,
        protocl="x",
    )
    fails(
        tmp_path,
        r"'trimming.min_lenght' .*did you mean 'trimming.min_length'",
        sheet,
        trimming={"min_lenght": 18},
    )


def test_counts_inside_the_runs_results_folder(tmp_path, sheet):
    (tmp_path / "results" / "counts").mkdir(parents=True)
    (tmp_path / "results" / "counts" / "mature_counts.tsv").write_text("mirna\tR1\n")
    fails(
        tmp_path,
        r"'counts': results/counts/mature_counts.tsv lies in this run's own results/",
        sheet,
        counts="results/counts/mature_counts.tsv",
    )


def test_reference_fastas_go_together_and_species_must_exist(tmp_path, sheet):
    fails(
        tmp_path,
        r"mature_fasta and reference.hairpin_fasta go together",
        sheet,
        reference={"mature_fasta": "x.fa"},
    )
    fails(
        tmp_path,
        r"reference.species: species prefix 'xyz' is not in",
        sheet,
        reference={"species": "xyz"},
    )


# ------------------------------------------------------------------------------------------
# Contrasts and design
# ------------------------------------------------------------------------------------------


def test_confounded_design(tmp_path):
    rows = [(s, c, "A" if c == "resistant" else "B") for s, c, _ in ROWS]
    fails(
        tmp_path,
        r"not full rank .*confounded",
        write_sheet(tmp_path, rows),
        design="~ batch + condition",
    )


def test_constant_and_missing_covariates(tmp_path):
    rows = [(s, c, "A") for s, c, _ in ROWS]
    fails(
        tmp_path,
        r"design variable 'batch' is 'A' for every sample.*remove it",
        write_sheet(tmp_path, rows),
        design="~ batch + condition",
    )
    rows = [(s, c, "" if s == "S2" else b) for s, c, b in ROWS]
    fails(
        tmp_path,
        r"design variable 'batch' has no value for sample\(s\) S2",
        write_sheet(tmp_path, rows),
        design="~ batch + condition",
    )


def test_level_outside_the_contrast_and_too_few_per_group(tmp_path):
    rows = [*ROWS, ("X1", "responder", "A")]
    fails(
        tmp_path,
        r"sample 'X1' has condition 'responder'.*neither the contrast's case",
        write_sheet(tmp_path, rows),
    )
    fails(
        tmp_path,
        r"condition 'sensitive' has 1 sample\(s\).*at least 2",
        write_sheet(tmp_path, ROWS[:4]),
    )


def test_extra_contrast_subset_value_absent_and_names_unique(tmp_path, sheet):
    extra = {
        "name": "in_c",
        "variable": "condition",
        "case": "resistant",
        "control": "sensitive",
        "subset": {"column": "batch", "value": "C"},
    }
    fails(
        tmp_path,
        r"de.extra_contrasts\[0\] \(in_c\): no sample has batch = 'C'",
        sheet,
        de={"extra_contrasts": [extra]},
    )
    clash = {**extra, "name": "vst"}
    del clash["subset"]
    fails(
        tmp_path, r"the name 'vst' is used twice or clashes", sheet, de={"extra_contrasts": [clash]}
    )


# ------------------------------------------------------------------------------------------
# Files and names checked against the reference
# ------------------------------------------------------------------------------------------


def test_same_fastq_for_two_samples_needs_an_explicit_opt_in(tmp_path):
    sheet = write_sheet(tmp_path)
    sheet.write_text(sheet.read_text().replace("S3.fastq.gz", "S2.fastq.gz"))
    message = fails(tmp_path, r"the same FASTQ file is listed for several samples", sheet)
    assert "S2, S3" in message and "allow_duplicate_fastq: true" in message
    run = load(tmp_path, sheet, allow_duplicate_fastq=True)
    assert run.notes and run.notes[0].startswith("WARNING: the same FASTQ")


def test_control_feature_typo(tmp_path, sheet):
    fails(
        tmp_path,
        r"de.control_features: 'hsa-miR-16-5' \(did you mean 'hsa-miR-16-5p'\?\)",
        sheet,
        de={"control_features": ["hsa-miR-16-5"]},
    )
    run = load(tmp_path, sheet, de={"control_features": ["hsa-miR-16-5p"]})
    assert run.config["de"]["control_features"] == ["hsa-miR-16-5p"]


def _matrix(tmp_path, names):
    counts = pd.DataFrame(10, index=pd.Index(names, name="mirna"), columns=[r[0] for r in ROWS])
    counts.to_csv(tmp_path / "counts.tsv", sep="\t")
    return str(tmp_path / "counts.tsv")


def test_count_matrix_names_must_match_the_reference(tmp_path):
    sheet = write_sheet(tmp_path, fastq=False)
    matrix = _matrix(tmp_path, ["miR-21-5p", "miR-16-5p"])
    fails(tmp_path, r"none of its 2 row names .*counts_name_prefix", sheet, counts=matrix)
    run = load(
        tmp_path,
        sheet,
        counts=matrix,
        counts_name_prefix="hsa-",
        de={"control_features": ["hsa-miR-16-5p"]},
    )
    assert run.from_counts and run.protocols == {}
    partial = _matrix(tmp_path, ["hsa-miR-21-5p", "my-spike-1"])
    assert "1 of 2 row names match no miRNA" in load(tmp_path, sheet, counts=partial).notes[0]


def test_count_matrix_samples_must_match_the_sheet(tmp_path):
    sheet = write_sheet(tmp_path, ROWS[:5] + [("S9", "sensitive", "B")], fastq=False)
    fails(
        tmp_path,
        r"count matrix .* missing from sample sheet .*: S3; .*sample sheet .* missing from count matrix .*: S9",
        sheet,
        counts=_matrix(tmp_path, ["hsa-miR-21-5p"]),
    )


# One config problem each, on the good sheet: (config, message).
CONFIG_PROBLEMS = {
    "invalid_value_names_the_key": (
        dict(qc={"hemolysis_mirnas": ["miR-451a"]}),
        r"config key 'qc.hemolysis_mirnas': .*(short|non-empty|few)",
    ),
    "min_length_above_max_length": (
        dict(trimming={"min_length": 32}),
        r"trimming.min_length \(32\) and trimming.max_length \(30\).*swap",
    ),
    "unknown_drug_lists_the_known_ones": (
        dict(drug="aspirin"),
        r"drug 'aspirin' is not in the resistance list; known drugs: .*cisplatin",
    ),
    "case_equals_control": (
        dict(contrast={"control": "resistant"}),
        r"contrast: case and control are both 'resistant'",
    ),
    "wrong_contrast_variable_names_the_contrast_not_the_design": (
        dict(contrast={"variable": "conditon"}),
        r"contrast: variable 'conditon' is not a column of the sample sheet",
    ),
    "contrast_variable_missing_from_the_design": (
        dict(design="~ batch"),
        r"the variable 'condition' is not in the design '~ batch'",
    ),
    "design_variable_missing_from_the_sheet": (
        dict(design="~ site + condition"),
        r"the design '~ site \+ condition' uses site, not column",
    ),
    "categorical_must_name_sheet_columns": (
        dict(categorical=["site"]),
        r"'categorical' lists site, not column",
    ),
    "hemolysis_mirna_typo": (
        dict(qc={"hemolysis_mirnas": ["miR-451", "miR-23a-3p"]}),
        r"qc.hemolysis_mirnas: 'miR-451' is not a mature miRNA.*did you mean 'miR-451a'",
    ),
    "biomarker_covariate_not_a_column": (
        dict(biomarker={"covariates": ["cancer"]}),
        r"biomarker.covariates lists cancer, not column",
    ),
    "biomarker_model_file_missing": (
        dict(biomarker={"apply_model": "nowhere/model.joblib"}),
        r"biomarker.apply_model: .*model.joblib or its model.json does not exist",
    ),
    "trna_for_another_species": (
        dict(reference={"species": "mmu"}),
        r"composition.trna_table: the bundled tRNAs are human, the reference is 'mmu'",
    ),
    "blood_cell_list_missing": (
        dict(hemolysis={"blood_cell_list": "nowhere.tsv"}),
        r"hemolysis.blood_cell_list: .*nowhere.tsv does not exist",
    ),
    "contrast_named_like_a_hemolysis_table": (
        dict(
            de={
                "extra_contrasts": [
                    {
                        "name": "x.hemolysis_adjusted",
                        "variable": "condition",
                        "case": "resistant",
                        "control": "sensitive",
                    }
                ]
            }
        ),
        r"the name 'x.hemolysis_adjusted' is used twice or clashes",
    ),
    "composition_reference_missing": (
        dict(composition={"references": [{"name": "yrna", "fasta": "no/yrna.fa"}]}),
        r"composition.references\[0\] \(yrna\): FASTA .*no/yrna.fa does not exist",
    ),
    "composition_reference_named_like_a_fate": (
        dict(composition={"references": [{"name": "mirna", "fasta": "x.fa"}]}),
        r"composition.references\[0\].name 'mirna' is already a composition column",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_PROBLEMS))
def test_config_problem_is_named_with_its_fix(tmp_path, sheet, case):
    config, pattern = CONFIG_PROBLEMS[case]
    fails(tmp_path, pattern, sheet, **copy.deepcopy(config))


# ------------------------------------------------------------------------------------------
# The workflow stops before any job, non-zero, with the same message
# ------------------------------------------------------------------------------------------

AT_START = {
    "no samples": ({}, r"config key 'samples' is not set"),
    "unknown key": (
        {"protocl": "truseq"},
        r"config key 'protocl' is not known; did you mean 'protocol'",
    ),
    "min > max length": ({"trimming": {"min_length": 31}}, r"no read would be kept; swap them"),
    "case == control": (
        {"contrast": {"control": "resistant"}},
        r"case and control are both 'resistant'",
    ),
    "wrong variable": ({"contrast": {"variable": "group"}}, r"variable 'group' is not a column"),
    "variable not in design": ({"design": "~ batch"}, r"'condition' is not in the design"),
    "confounded": ({"design": "~ arm + condition"}, r"not full rank"),
    "control typo": (
        {"de": {"control_features": ["hsa-miR-16"]}},
        r"de.control_features: 'hsa-miR-16'",
    ),
    "hemolysis typo": (
        {"qc": {"hemolysis_mirnas": ["miR-451", "miR-23a"]}},
        r"'miR-451' is not a mature miRNA",
    ),
    "subset absent": (
        {
            "de": {
                "extra_contrasts": [
                    {
                        "name": "c",
                        "variable": "condition",
                        "case": "resistant",
                        "control": "sensitive",
                        "subset": {"column": "batch", "value": "Z"},
                    }
                ]
            }
        },
        r"no sample has batch = 'Z'",
    ),
    "duplicate fastq": (
        {"samples": "DUPLICATE"},
        r"the same FASTQ file is listed for several samples",
    ),
    "counts in results": ({"counts": "results/counts.tsv"}, r"lies in this run's own results/"),
    "count names without prefix": ({"counts": "NOPREFIX"}, r"none of its .* row names"),
}


@pytest.mark.parametrize("case", sorted(AT_START))
def test_workflow_stops_before_any_job(tmp_path, case):
    config, pattern = copy.deepcopy(AT_START[case])
    rows = [(s, c, b, "x" if c == "resistant" else "y") for s, c, b in ROWS]
    sheet = write_sheet(tmp_path, rows, ("sample", "condition", "batch", "arm"))
    workdir = tmp_path / "run"
    (workdir / "results").mkdir(parents=True)
    if config.get("samples") == "DUPLICATE":
        sheet.write_text(sheet.read_text().replace("S3.fastq.gz", "S1.fastq.gz"))
    config["samples"] = "" if case == "no samples" else str(sheet)
    if config.get("counts") == "NOPREFIX":
        config["counts"] = _matrix(tmp_path, ["miR-21-5p"])
    elif "counts" in config:
        (workdir / config["counts"]).write_text("mirna\tR1\n")
    proc = run_snakemake(workdir, config, check=False)
    assert proc.returncode != 0, proc.stdout
    assert re.search(pattern, proc.stdout), proc.stdout[-3000:]
    assert "exomir: " in proc.stdout
    assert "Traceback" not in proc.stdout
    assert not (workdir / "logs").exists(), "a job ran"
    assert sorted(p.name for p in (workdir / "results").iterdir()) == (
        ["counts.tsv"] if case == "counts in results" else []
    )


# ------------------------------------------------------------------------------------------
# Wildcard constraints
# ------------------------------------------------------------------------------------------


def test_name_pattern_matches_exactly_the_names():
    names = ["A", "A1", "AB_2", "B.x", "vst"]
    pattern = re.compile(name_pattern(names))
    assert all(pattern.fullmatch(name) for name in names)
    for other in ["", "A2", "AB", "AB_", "B", "B.", "B.xy", "vst.tsv", "a"]:
        assert not pattern.fullmatch(other), other
    assert not re.fullmatch(name_pattern([]), "")


def test_sample_pattern_keeps_dots_out_or_lists_the_names():
    plain = re.compile(sample_pattern([f"P{i:04d}" for i in range(1000)] + ["a-b_C"]))
    assert plain.fullmatch("P0999") and plain.fullmatch("a-b_C")
    for other in ["P0001.long", "P0001/remaining", "", "P0001.hairpin"]:
        assert not plain.fullmatch(other), other
    assert len(plain.pattern) < 20, "no trie of a thousand names"
    dotted = ["S1.v2", "S2"]
    assert sample_pattern(dotted) == name_pattern(dotted)


def test_umi_logs_only_of_samples_that_may_run_umi_tools(tmp_path):
    kits = ["truseq", "qiaseq", "auto", "nextflex", "", "qiaseq"]
    rows = [(*row, kit) for row, kit in zip(ROWS, kits)]
    run = load(tmp_path, write_sheet(tmp_path, rows, ("sample", "condition", "batch", "protocol")))
    assert run.umi_samples == ["R2", "R3", "S3"]
    assert load(tmp_path, write_sheet(tmp_path), protocol="qiaseq").umi_samples == run.samples
    counts_run = load(
        tmp_path,
        write_sheet(tmp_path, fastq=False),
        protocol="qiaseq",
        counts=_matrix(tmp_path, ["hsa-miR-21-5p"]),
    )
    assert counts_run.from_counts and counts_run.umi_samples == []
