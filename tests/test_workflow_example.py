"""End to end on the simulated example: counts, DE and annotation against the simulator's truth."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from conftest import tool_env

pytestmark = pytest.mark.workflow

COUNT_TABLES = ("results/counts/mature_counts.tsv", "results/counts/hairpin_counts.tsv")
DE_TABLE = "results/de/resistant_vs_sensitive.tsv"


def _matrix(run, name):
    return pd.read_csv(run / name, sep="\t", index_col=0)


def test_count_tables_shape(example_run, example_dir):
    mature = _matrix(example_run, COUNT_TABLES[0])
    hairpin = _matrix(example_run, COUNT_TABLES[1])
    sheet = pd.read_csv(example_dir / "samples.tsv", sep="\t")
    assert list(mature.columns) == sorted(sheet["sample"])
    assert list(hairpin.columns) == sorted(sheet["sample"])
    # every human mature feature (2,656 names, 2,632 distinct sequences) is a row
    assert len(mature) == 2632
    assert len(hairpin) == 1917
    assert all(dtype.kind == "i" for dtype in mature.dtypes)
    assert "hsa-miR-199a-3p/hsa-miR-199b-3p" in mature.index
    assert "hsa-miR-199a-3p" not in mature.index  # merged, never counted twice


def test_counts_match_truth(example_run, example_dir):
    counts = _matrix(example_run, COUNT_TABLES[0])
    truth = pd.read_csv(example_dir / "truth_counts.tsv", sep="\t", index_col=0)
    observed = counts.reindex(index=truth.index, columns=truth.columns)
    enough = truth >= 50
    relative_error = ((observed - truth).abs() / truth)[enough]
    assert enough.values.sum() > 500
    assert np.nanmedian(relative_error.values) <= 0.02
    counted = counts[truth.columns].values.sum() / truth.values.sum()
    assert counted >= 0.98, f"only {counted:.2%} of simulated miRNA molecules counted"
    # little leaks into miRNAs that were not simulated at all
    leaked = counts.drop(index=truth.index).values.sum() / truth.values.sum()
    assert leaked < 0.005


def test_planted_de_recovered(example_run, example_dir):
    de = pd.read_csv(example_run / DE_TABLE, sep="\t")
    assert list(de.columns[:7]) == [
        "feature",
        "baseMean",
        "log2FoldChange",
        "lfcSE",
        "stat",
        "pvalue",
        "padj",
    ]
    padj = de["padj"].to_numpy()
    finite = padj[~np.isnan(padj)]
    assert (np.diff(finite) >= 0).all(), "DE table must be sorted by padj"
    truth = pd.read_csv(example_dir / "truth_de.tsv", sep="\t", index_col=0)
    planted = truth[truth["log2FoldChange"] != 0]
    observed = de.set_index("feature").reindex(planted.index)
    right = (observed["padj"] < 0.05) & (
        np.sign(observed["log2FoldChange"]) == np.sign(planted["log2FoldChange"])
    )
    assert right.mean() >= 0.80, f"{right.sum()}/{len(planted)} planted miRNAs recovered"
    false = de[(de["padj"] < 0.05) & ~de["feature"].isin(planted.index)]
    assert len(false) <= 0.1 * right.sum() + 2


def test_resistance_hits_and_enrichment(example_run):
    hits = pd.read_csv(example_run / "results/annotation/resistance_hits.tsv", sep="\t")
    # planted review miRNAs are detected, significant, in the planted direction
    by_feature = hits.set_index("feature")
    for feature, sign in (("hsa-miR-21-5p", 1), ("hsa-miR-155-5p", 1), ("hsa-miR-34a-5p", -1)):
        row = by_feature.loc[feature]
        assert row["significant"] == "yes"
        assert np.sign(row["log2FoldChange"]) == sign
    assert by_feature.loc["hsa-miR-222-3p", "direction_consistent"] == "yes"
    assert set(hits["direction_consistent"]) <= {"yes", "no", "unknown"}
    significant = hits["significant"] == "yes"
    assert significant.any()
    # significant ones first
    assert (np.diff(significant.astype(int).to_numpy()) <= 0).all()
    enrichment = pd.read_csv(example_run / "results/annotation/enrichment.tsv", sep="\t")
    overall = enrichment[enrichment["subset"] == "all"].set_index("test")
    assert set(overall.index) == {"fisher_exact", "mann_whitney_abs_stat"}
    # eight review miRNAs were planted among ~300 expressed: the list is enriched
    assert overall.loc["fisher_exact", "pvalue"] < 0.05
    assert overall.loc["fisher_exact", "effect_size"] > 1


def test_runs_are_byte_identical(example_run, example_rerun):
    tables = [
        *COUNT_TABLES,
        DE_TABLE,
        "results/de/vst.tsv",
        "results/annotation/resistance_hits.tsv",
        "results/annotation/enrichment.tsv",
        "results/qc/sample_qc.tsv",
    ]
    # and every per-sample file of the trimming step (cutadapt's report included) and the
    # stage BAMs (bowtie's command line in their header names no temporary folder)
    trimming = ("collapsed", "qc/cutadapt", "qc/read_fates", "qc/kit", "qc/lengths")
    for folder in (*trimming, "align/hairpin", "align/mature", "align/trna"):
        files = sorted(
            p.relative_to(example_run) for p in (example_run / "results" / folder).iterdir()
        )
        assert len(files) >= 12, folder
        tables += files
    for table in tables:
        first = (example_run / table).read_bytes()
        second = (example_rerun / table).read_bytes()
        assert first == second, f"{table} differs between two runs on the same input"


def test_mirtop_isomir_annotation(example_run):
    gff = (example_run / "results/isomirs/mirtop/mirtop.gff").read_text()
    rows = [line.split("\t") for line in gff.splitlines() if line and not line.startswith("#")]
    assert rows, "mirtop wrote no isomiR"
    types = {row[2] for row in rows}
    assert {"ref_miRNA", "isomiR"} <= types
    attributes = "\n".join(row[8] for row in rows)
    assert "Name hsa-miR-486-5p" in attributes
    assert "iso_3p" in attributes and "iso_add3p" in attributes
    assert (example_run / "results/isomirs/mirtop/mirtop_stats.txt").stat().st_size > 0


def _gff_counts(path):
    """(sample, read, miRNA, variant) → count, from a mirGFF3 file."""
    samples, counts = [], {}
    for line in path.read_text().splitlines():
        if line.startswith("## COLDATA:"):
            samples = line.split(":", 1)[1].strip().split(",")
        if not line or line.startswith("#"):
            continue
        attributes = dict(
            a.strip().split(" ", 1) for a in line.split("\t")[8].split(";") if a.strip()
        )
        key = (attributes["Read"], attributes["Name"], attributes["Variant"])
        for sample, value in zip(samples, attributes["Expression"].split(",")):
            if int(value):
                counts[(sample, *key)] = counts.get((sample, *key), 0) + int(value)
    return counts


@pytest.mark.parametrize("sample", ["R01", "S06"])
def test_mirtop_on_distinct_inserts_equals_mirtop_on_the_sample_alone(
    example_run, sample, tmp_path
):
    """Every insert, its miRNA, variant and count, as mirtop gives them from this BAM alone."""
    bam = tmp_path / f"{sample}.bam"  # mirtop writes a sorted copy beside its input
    shutil.copyfile(example_run / f"results/align/hairpin/{sample}.bam", bam)
    reference = example_run / "results/reference"
    command = ["mirtop", "gff", "--format", "BAM", "--sps", "hsa", "--hairpin"]
    command += [str(reference / "hairpin.fa"), "--gtf", str(reference / "hairpin_coordinates.gff3")]
    subprocess.run([*command, "-o", str(tmp_path / "alone"), str(bam)], env=tool_env(), check=True)
    alone = _gff_counts(tmp_path / "alone" / "mirtop.gff")
    cohort = _gff_counts(example_run / "results/isomirs/mirtop/mirtop.gff")
    assert len(alone) > 500
    assert {k: v for k, v in cohort.items() if k[0] == sample} == alone


def _one_edit_apart(a: str, b: str) -> bool:
    """Sequences of one substitution, insertion or deletion apart (or equal)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def test_no_unplanted_paralog_is_a_de_hit(example_run, example_dir):
    """Reads of a planted miRNA that also fit a 1-nt paralog are allocated by evidence (EM):
    the paralog does not follow the planted change into the hits."""
    features = pd.read_csv(example_run / "results/reference/features.tsv", sep="\t")
    sequence = dict(zip(features["feature"], features["sequence"]))
    truth = pd.read_csv(example_dir / "truth_de.tsv", sep="\t", index_col=0)
    planted = set(truth.index[truth["log2FoldChange"] != 0])
    paralogs = {
        other
        for mirna in planted
        for other, seq in sequence.items()
        if other not in planted and _one_edit_apart(seq, sequence[mirna])
    }
    assert len(paralogs) >= 4  # e.g. miR-100-5p and miR-99a-5p, one substitution apart
    de = pd.read_csv(example_run / DE_TABLE, sep="\t").set_index("feature")
    hits = [p for p in paralogs if p in de.index and de.loc[p, "padj"] < 0.05]
    assert hits == [], hits


def test_leakage_into_unexpressed_mirnas_is_below_one_in_ten_thousand(example_run, example_dir):
    counts = _matrix(example_run, COUNT_TABLES[0])
    truth = pd.read_csv(example_dir / "truth_counts.tsv", sep="\t", index_col=0)
    leaked = counts.drop(index=truth.index).to_numpy().sum()
    assert leaked / counts.to_numpy().sum() <= 1e-4, leaked
