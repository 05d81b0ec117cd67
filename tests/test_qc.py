"""exRNA QC table: checks, hemolysis index, DE exclusion, MultiQC; and a workflow run in
which an empty and a dimer-only library fail while the others go on to DE."""

from __future__ import annotations

import gzip
import json
import math
import random
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_contrast, qc_settings, run_snakemake
from exomir import multiqc, qc

REPO = Path(__file__).resolve().parents[1]

T = qc_settings()


def numbers(**changes):
    row = {
        "raw_reads": 100_000,
        "mirna_reads": 50_000,
        "mirna_fraction": 0.6,
        "detected_mirnas": 200,
        "adapter_fraction": 0.95,
        "dimer_fraction": 0.1,
        "hemolysis_index": 2.0,
    }
    row.update(changes)
    return row


def test_hemolysis_index():
    # ΔCq 7 in qPCR is a 2^7-fold ratio; with one pseudo-read on each side
    assert qc.hemolysis_index(1279, 9, 10) == pytest.approx(7.0)
    assert qc.hemolysis_index(0, 0, 10) is None
    assert qc.hemolysis_index(5, 4, 10) is None
    assert qc.hemolysis_index(30, 0, 10) == pytest.approx(math.log2(31))


def test_find_feature_across_species_and_merged_features():
    features = [
        "hsa-miR-23a-3p",
        "hsa-miR-451a",
        "hsa-miR-199a-3p/hsa-miR-199b-3p",
        "mmu-miR-21a-5p",
    ]
    assert qc.find_feature(features, "miR-451a") == "hsa-miR-451a"
    assert qc.find_feature(features, "miR-199b-3p") == "hsa-miR-199a-3p/hsa-miR-199b-3p"
    assert qc.find_feature(features, "miR-21a-5p") == "mmu-miR-21a-5p"
    assert qc.find_feature(features, "miR-23a") is None  # no partial names


@pytest.mark.parametrize(
    "changes, status, reason",
    [
        ({}, "pass", None),
        (
            {"mirna_reads": 0, "mirna_fraction": 0.0, "detected_mirnas": 0},
            "fail",
            "mirna_reads 0 < 1000",
        ),
        (
            {"mirna_fraction": None, "mirna_reads": 0, "detected_mirnas": 0},
            "fail",
            "mirna_fraction NA",
        ),
        ({"raw_reads": 10}, "fail", "raw_reads 10 < 1000"),
        ({"mirna_reads": 5000}, "warn", "mirna_reads 5000 < 10000"),
        ({"dimer_fraction": 0.8}, "warn", "dimer_fraction 0.800 > 0.500"),
        ({"adapter_fraction": 0.1}, "warn", "adapter_fraction 0.100 < 0.500"),
        ({"hemolysis_index": 7.5}, "warn", "hemolysis_index 7.50 > 7"),
        ({"hemolysis_index": None}, "pass", None),
    ],
)
def test_status(changes, status, reason):
    got, reasons = qc.evaluate(numbers(**changes), T)
    assert got == status
    if reason:
        assert any(reason in r for r in reasons), reasons
    else:
        assert reasons == []


def test_fail_reasons_do_not_repeat_as_warnings():
    status, reasons = qc.evaluate(numbers(mirna_reads=10), T)
    assert status == "fail"
    assert [r for r in reasons if "mirna_reads" in r] == ["fail: mirna_reads 10 < 1000"]


def test_hemolysis_can_fail_and_thresholds_can_be_switched_off():
    strict = qc_settings(hemolysis_status="fail", hemolysis_threshold=5)
    assert qc.evaluate(numbers(hemolysis_index=6.0), strict)[0] == "fail"
    off = qc_settings(min_mirna_reads=0, warn_mirna_reads=0)
    assert qc.evaluate(numbers(mirna_reads=3), off)[0] == "pass"


def _inputs(tmp_path):
    samples = ["A", "B", "C"]
    summaries = {
        s: {
            "raw_reads": 10_000,
            "reads_with_adapter": 9_500,
            "adapter_dimers": d,
            "too_short": 100,
            "too_long": 100,
            "reads_kept": 9_000 - d,
            "molecules_kept": 9_000 - d,
            "umi": False,
        }
        for s, d in zip(samples, (1_000, 9_000, 500))
    }
    protocols = {
        s: {"protocol": "truseq", "adapter_3p": "TGGAATTCTCGGGTGCCAAGG", "detected": False}
        for s in samples
    }
    protocols["C"] = {
        "protocol": "nextflex",
        "adapter_3p": "TGGAATTCTCGGGTGCCAAGG",
        "detected": True,
        "confidence": 0.91234,
        "clip_5p": 4,
        "clip_3p": 4,
    }
    lengths = {
        s: {0: summaries[s]["adapter_dimers"], 22: summaries[s]["reads_kept"]} for s in samples
    }
    features = ["hsa-miR-451a", "hsa-miR-23a-3p"] + [f"hsa-miR-{i}" for i in range(100)]
    counts = pd.DataFrame(0, index=features, columns=samples)
    counts.loc[features[2:], "A"] = 60
    counts.loc["hsa-miR-451a", "A"] = 1279
    counts.loc["hsa-miR-23a-3p", "A"] = 9
    counts.loc[features[2:], "C"] = 70
    return samples, summaries, protocols, lengths, counts


def test_table_columns_status_and_bytes(tmp_path):
    table = qc.build_table(*_inputs(tmp_path), T)
    assert list(table.columns) == qc.COLUMNS
    by = table.set_index("sample")
    assert list(by["qc_status"]) == ["warn", "fail", "warn"]
    assert by.loc["B", "excluded_from_de"] == "yes"
    assert by.loc["A", "hemolysis_index"] == pytest.approx(7.0)
    assert by.loc["A", "hemolysed"] == "no"  # 7.0 is not above 7
    assert by.loc["C", "hemolysed"] == "NA"
    assert by.loc["C", "adapter_detected"] == "yes"
    assert by.loc["C", "random_5p"] == 4
    assert by.loc["A", "length_histogram"] == "0:1000;22:8000"
    first, second = tmp_path / "a.tsv", tmp_path / "b.tsv"
    qc.write_table(table, first)
    qc.write_table(qc.build_table(*_inputs(tmp_path), T), second)
    assert first.read_bytes() == second.read_bytes()
    text = pd.read_csv(first, sep="\t", dtype=str, keep_default_na=False).set_index("sample")
    assert text.loc["C", "adapter_confidence"] == "0.9123"
    assert text.loc["A", "adapter_confidence"] == "NA"
    assert text.loc["B", "mirna_fraction"] == "NA"  # no read kept
    assert text.loc["C", "random_5p"] == "4"


def test_missing_sample_in_counts_is_named(tmp_path):
    samples, summaries, protocols, lengths, counts = _inputs(tmp_path)
    with pytest.raises(ValueError, match="sample 'C' is missing"):
        qc.build_table(samples, summaries, protocols, lengths, counts.drop(columns="C"), T)


def test_exclusion_for_de(tmp_path):
    path = tmp_path / "qc.tsv"
    pd.DataFrame(
        {
            "sample": ["R1", "R2", "R3", "S1", "S2"],
            "qc_status": ["pass", "fail", "pass", "warn", "pass"],
            "qc_reasons": ["", "fail: mirna_reads 0 < 1000", "", "warn: x", ""],
        }
    ).to_csv(path, sep="\t", index=False)
    sheet = pd.DataFrame(
        {"condition": ["resistant"] * 3 + ["sensitive"] * 2}, index=["R1", "R2", "R3", "S1", "S2"]
    )
    contrast = [make_contrast()]
    kept, excluded = qc.exclude_failed_samples(sheet, path, True, contrast)
    assert list(kept.index) == ["R1", "R3", "S1", "S2"]
    assert excluded.to_dict("records") == [
        {"sample": "R2", "qc_status": "fail", "reason": "fail: mirna_reads 0 < 1000"}
    ]
    kept, excluded = qc.exclude_failed_samples(sheet, path, False, contrast)
    assert len(kept) == 5 and excluded.empty
    kept, excluded = qc.exclude_failed_samples(sheet, None, True, contrast)  # DE from counts
    assert len(kept) == 5 and list(excluded.columns) == ["sample", "qc_status", "reason"]
    with pytest.raises(ValueError, match=r"R2 \(fail: mirna_reads 0 < 1000\).*'resistant' has 1"):
        qc.exclude_failed_samples(sheet.drop(index="R3"), path, True, contrast)


def test_multiqc_content_states_the_exclusion_policy(tmp_path):
    samples, summaries, protocols, lengths, counts = _inputs(tmp_path)
    table = qc.build_table(samples, summaries, protocols, lengths, counts, T)
    content = multiqc.multiqc_table(table, T)
    assert content["plot_type"] == "table"
    assert "excluded" in content["description"]
    assert content["data"]["B"]["qc_status"] == "fail"
    json.dumps(content)  # serialisable
    kept = multiqc.multiqc_table(table, qc_settings(exclude_failed_from_de=False))
    assert "kept in differential expression" in kept["description"]
    lines = multiqc.multiqc_lengths(lengths)
    assert lines["plot_type"] == "linegraph" and lines["data"]["A"] == {0: 1000, 22: 8000}
    assert "excluded" in multiqc.multiqc_config(T)["report_comment"]


# --- workflow ------------------------------------------------------------------------------


def _bad_library(path: Path, inserts: list[str]) -> None:
    from exomir.simulate import TRUSEQ_READTHROUGH

    with gzip.open(path, "wt") as out:
        for i, insert in enumerate(inserts):
            read = (insert + TRUSEQ_READTHROUGH)[:50]
            out.write(f"@{path.stem}:{i}\n{read}\n+\n{'I' * 50}\n")


@pytest.fixture(scope="module")
def failing_libraries(tmp_path_factory):
    """Two small simulated libraries per group, plus a dimer-only and a no-miRNA library."""
    from exomir.simulate import simulate

    data = tmp_path_factory.mktemp("qc_data")
    mirbase = REPO / "resources" / "mirbase"
    simulate(
        mirbase / "hsa_mature.fa",
        mirbase / "hsa_hairpin.fa",
        data,
        n_per_group=2,
        reads_per_sample=4000,
        n_planted_extra=0,
    )
    rng = random.Random(3)
    _bad_library(data / "fastq" / "DIMERS.fastq.gz", [""] * 3000)
    randoms = ["".join(rng.choice("ACGT") for _ in range(rng.randint(18, 26))) for _ in range(3000)]
    _bad_library(data / "fastq" / "NOMIR.fastq.gz", randoms)
    sheet = data / "samples.tsv"
    sheet.write_text(
        sheet.read_text()
        + "DIMERS\tresistant\tA\tfastq/DIMERS.fastq.gz\n"
        + "NOMIR\tsensitive\tB\tfastq/NOMIR.fastq.gz\n"
    )
    workdir = tmp_path_factory.mktemp("qc_run")
    proc = run_snakemake(workdir, {"samples": str(sheet)})
    return workdir, sheet, proc.stdout


@pytest.mark.workflow
def test_failed_libraries_are_flagged_and_left_out_of_de(failing_libraries):
    workdir, _, console = failing_libraries
    table = pd.read_csv(workdir / "results/qc/sample_qc.tsv", sep="\t").set_index("sample")
    assert table.loc["DIMERS", "qc_status"] == "fail"
    assert table.loc["NOMIR", "qc_status"] == "fail"
    assert table.loc["DIMERS", "dimer_fraction"] == 1.0
    assert table.loc["DIMERS", "mirna_reads"] == 0 and table.loc["NOMIR", "mirna_reads"] == 0
    assert "mirna_reads 0 < 1000" in table.loc["NOMIR", "qc_reasons"]
    good = [s for s in table.index if s not in ("DIMERS", "NOMIR")]
    assert (table.loc[good, "qc_status"] != "fail").all()
    excluded = pd.read_csv(workdir / "results/de/excluded_samples.tsv", sep="\t")
    assert list(excluded.columns) == ["sample", "qc_status", "reason"]
    assert sorted(excluded["sample"]) == ["DIMERS", "NOMIR"]
    assert (excluded["qc_status"] == "fail").all()
    log = (workdir / "logs/fit_diffexp.log").read_text()
    assert "failed QC and are left out of DE" in log and "DIMERS" in log and "NOMIR" in log
    vst = pd.read_csv(workdir / "results/de/vst.tsv", sep="\t", index_col=0)
    assert sorted(vst.columns) == sorted(good)
    assert (workdir / "results/de/resistant_vs_sensitive.tsv").stat().st_size > 0
    html = (workdir / "results/qc/multiqc_report.html").read_text()
    assert "exomir sample QC" in html
    # said on the console, when DE starts and when the run ends
    assert "2 sample(s) failed QC and are left out of DE: DIMERS" in console
    assert "exomir QC: sample NOMIR failed (left out of DE): fail: mirna_reads 0 < 1000" in console


@pytest.mark.workflow
def test_too_few_samples_after_exclusion_is_a_clear_error(failing_libraries):
    workdir, sheet, _ = failing_libraries
    proc = run_snakemake(
        workdir, {"samples": str(sheet), "qc": {"min_mirna_reads": 10**9}}, check=False
    )
    assert proc.returncode != 0
    assert "differential expression needs at least 2 per group" in proc.stdout
    assert "qc.exclude_failed_from_de: false" in proc.stdout
    assert not (workdir / "results/de/excluded_samples.tsv").exists()


# --- the example run of the shared fixture -------------------------------------------------


@pytest.mark.workflow
def test_example_run_has_qc_table_and_multiqc(example_run):
    table = pd.read_csv(example_run / "results/qc/sample_qc.tsv", sep="\t")
    assert len(table) == 12
    assert set(table["qc_status"]) <= {"pass", "warn"}
    assert (table["hemolysed"] == "no").all()
    html = (example_run / "results/qc/multiqc_report.html").read_text()
    for section in ("exomir sample QC", "exomir insert lengths", "Cutadapt", "Bowtie"):
        assert section in html, section


@pytest.mark.workflow
def test_qc_table_is_byte_identical_between_runs(example_run, example_rerun):
    table = "results/qc/sample_qc.tsv"
    assert (example_run / table).read_bytes() == (example_rerun / table).read_bytes()


@pytest.mark.workflow
def test_wrong_kit_fails_every_sample_with_the_kit_to_set(tmp_path):
    """TruSeq libraries trimmed as NEXTflex lose most reads: the QC says which kit to set, and
    the run stops with that reason (no traceback from a downstream tool)."""
    from exomir.simulate import simulate

    mirbase = REPO / "resources" / "mirbase"
    simulate(
        mirbase / "hsa_mature.fa",
        mirbase / "hsa_hairpin.fa",
        tmp_path / "data",
        n_per_group=2,
        reads_per_sample=6000,
        n_planted_extra=0,
    )
    workdir = tmp_path / "run"
    config = {"samples": str(tmp_path / "data" / "samples.tsv"), "protocol": "nextflex"}
    proc = run_snakemake(workdir, config, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout and "IndexError" not in proc.stdout
    table = pd.read_csv(workdir / "results/qc/sample_qc.tsv", sep="\t").set_index("sample")
    assert (table["qc_status"] == "fail").all()
    for reasons in table["qc_reasons"]:
        assert "fail: kit: trimmed as nextflex" in reasons and "set protocol: truseq" in reasons
    assert "every sample failed QC" in proc.stdout
    assert "set protocol: truseq" in proc.stdout
    assert "differential expression needs at least 2 per group" in proc.stdout


def test_kit_check_compares_the_kit_with_the_reads():
    from exomir.adapters import Detection
    from exomir.protocols import PRESETS

    def record(kit: str, adapter: str, r5: int, r3: int) -> dict:
        detection = Detection(adapter, "truseq", "known", 0.97, 50000, r5, r3, [0.1] * 7, [0.1] * 7)
        return {"detected": False, **PRESETS[kit].as_dict(), "detection": detection.to_dict()}

    fates = {"raw_reads": 1000, "reads_kept": 140}
    truseq = PRESETS["truseq"].adapter_3p
    assert qc.kit_mismatch(record("truseq", truseq, 0, 0), fates) is None
    assert qc.kit_mismatch(record("nextflex", truseq, 4, 4), fates) is None
    wrong = qc.kit_mismatch(record("nextflex", truseq, 0, 0), fates)
    assert "trimmed as nextflex" in wrong and wrong.endswith("set protocol: truseq")
    assert "14% of the reads were kept" in wrong
    assert qc.kit_mismatch(record("truseq", truseq, 4, 4), fates).endswith("set protocol: nextflex")
    nebnext = qc.kit_mismatch(record("nebnext", truseq, 0, 0), fates)
    assert "trimmed as nebnext" in nebnext and nebnext.endswith("set protocol: truseq")
    weak = record("nextflex", truseq, 0, 0)
    weak["detection"]["confidence"] = 0.1  # too few reads carry an adapter to judge
    assert qc.kit_mismatch(weak, fates) is None
    auto = record("nextflex", truseq, 0, 0) | {"detected": True}
    assert qc.kit_mismatch(auto, fates) is None
