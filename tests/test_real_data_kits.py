"""Library kits on real data (../shared/data/real): protocol auto on NEXTflex and Illumina v1
libraries, and the documented custom recipe for the ENCODE HepG2 barcoded library.
Skipped, with the reason, where the shared data folder is absent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import DEFAULTS, run_snakemake
from exomir import adapters

AUTO_READS = DEFAULTS["qc"]["auto_reads"]

REPO = Path(__file__).resolve().parents[1]

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
TRUSEQ_3P = "TGGAATTCTCGGGTGCCAAGG"
V1_3P = "TCGTATGCCGTCTTCTGCTTG"
ENCODE_3P = "ACGGGCTAATATTTATCGGTGGAGCATCACGATCTCGTAT"


def real(*parts: str) -> Path:
    path = REAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"{path} not found: the shared data folder (../shared/data) sits beside the clone"
        )
    return path


def test_auto_on_compsra_finds_truseq_adapter_and_nextflex_random_bases():
    for fastq in sorted(real("compsra_nextflex").glob("sample*.fastq.gz")):
        detection = adapters.detect(fastq, AUTO_READS)
        assert detection.adapter == TRUSEQ_3P, fastq.name
        assert (detection.random_5p, detection.random_3p) == (4, 4), fastq.name
        assert detection.confidence > 0.8, fastq.name
        assert adapters.protocol_from_detection(detection).name == "nextflex"


def test_auto_on_excerpt_finds_illumina_v1():
    detection = adapters.detect(real("excerpt_truseq_v1", "testData_human.fastq.gz"), AUTO_READS)
    assert detection.adapter == V1_3P
    assert (detection.random_5p, detection.random_3p) == (0, 0)
    assert detection.confidence > 0.6
    assert adapters.protocol_from_detection(detection).name == "illumina_v1"
    # exceRpt's own adapter search agrees
    excerpt = real("excerpt_truseq_v1", "excerpt_v4.6.3_output", "testData_human.fastq.adapterSeq")
    assert excerpt.read_text().strip() == detection.adapter


def test_auto_on_hepg2_finds_the_encode_adapter_by_kmers():
    """Not a known kit: the k-mer search still finds the ENCODE 3' adapter. Its 5' barcodes
    are not random bases, so the documented custom recipe is what clips them."""
    detection = adapters.detect(real("encode_hepg2_barcoded", "HepG2.1.test.fastq.gz"), AUTO_READS)
    assert detection.method == "kmer"
    assert ENCODE_3P.startswith(detection.adapter) and len(detection.adapter) >= 15
    assert detection.random_5p == 0


@pytest.mark.workflow
def test_auto_per_sample_in_the_workflow(tmp_path):
    """NEXTflex and Illumina v1 libraries in one sheet: each sample gets its own detection,
    written to the QC table with its confidence; the tiny exceRpt file fails QC."""
    compsra = real("compsra_nextflex")
    excerpt = real("excerpt_truseq_v1", "testData_human.fastq.gz")
    rows = [
        f"sample{i:02d}\t{'resistant' if i < 3 else 'sensitive'}\t{compsra / f'sample{i:02d}.fastq.gz'}"
        for i in range(1, 5)
    ]
    rows.append(f"excerpt\tresistant\t{excerpt}")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tcondition\tfastq\n" + "\n".join(rows) + "\n")
    workdir = tmp_path / "run"
    run_snakemake(
        workdir,
        {"samples": str(sheet), "protocol": "auto"},
        "results/qc/sample_qc.tsv",
        "results/qc/multiqc_report.html",
    )
    table = pd.read_csv(workdir / "results/qc/sample_qc.tsv", sep="\t").set_index("sample")
    nextflex = table.loc[[f"sample{i:02d}" for i in range(1, 5)]]
    assert (nextflex["adapter"] == TRUSEQ_3P).all()
    assert (nextflex["protocol"] == "nextflex").all()
    assert (nextflex["adapter_detected"] == "yes").all()
    assert (nextflex[["random_5p", "random_3p"]] == 4).all().all()
    assert (nextflex["adapter_confidence"] > 0.8).all()
    assert table.loc["excerpt", "adapter"] == V1_3P
    assert table.loc["excerpt", "protocol"] == "illumina_v1"
    assert table.loc["excerpt", "qc_status"] == "fail"  # 1,000 reads, a few dozen miRNAs
    counts = pd.read_csv(workdir / "results/counts/mature_counts.tsv", sep="\t", index_col=0)
    for sample in nextflex.index:  # the random bases are clipped: plasma miRNAs on top
        top = counts[sample].sort_values(ascending=False, kind="mergesort").index[:10]
        assert "hsa-miR-486-5p" in top and "hsa-miR-92a-3p" in top


@pytest.mark.workflow
def test_encode_hepg2_custom_recipe(tmp_path):
    real("encode_hepg2_barcoded", "HepG2.1.test.fastq.gz")
    workdir = tmp_path / "run"
    run_snakemake(
        workdir,
        None,
        "results/qc/sample_qc.tsv",
        "results/qc/multiqc_report.html",
        "--configfile",
        str(REPO / "config" / "examples" / "encode_hepg2.yaml"),
    )
    table = pd.read_csv(workdir / "results/qc/sample_qc.tsv", sep="\t").set_index("sample")
    first = table.iloc[0]
    assert first["protocol"] == "custom" and first["adapter"] == ENCODE_3P
    assert first["raw_reads"] == 10856
    assert first["adapter_fraction"] > 0.9
    assert first["mirna_fraction"] > 0.5  # barcodes clipped: most inserts are miRNAs
    # four copies of one file: identical rows (complexity subsamples with a per-sample seed)
    assert (table.drop(columns=["complexity", "complexity_sd"]).nunique() <= 1).all()
    counts = pd.read_csv(workdir / "results/counts/mature_counts.tsv", sep="\t", index_col=0)
    assert counts["HepG2_1"].idxmax() == "hsa-miR-21-5p"
