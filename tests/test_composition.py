"""Library composition: the miRNA/tRNA rule, the cascade, fates that add up, MultiQC."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import write_reference_files
from exomir import align, composition, count, reference, trna

REPO = Path(__file__).resolve().parents[1]
MIRBASE = REPO / "resources" / "mirbase"
TRNA_FASTA = REPO / "resources" / "trna" / "hg38_mature_trnas.fa"
TRNA_TABLE = REPO / "resources" / "trna" / "hg38_mature_trnas.tsv"
HAIRPINS = ("hsa-mir-21", "hsa-mir-4286", "hsa-mir-7977")
MIR4286 = "ACCCCACTCCTGGTACC"  # an exact 3' fragment (CCA-less) of tRNA-Leu-TAA-1
MIR7977 = "TTCCCAGCCAACGCACCA"  # one mismatch from tRNA-Gly-TCC 3' ends
YRNA = "GGCTGGTCCGAAGGTAGTGAGTTATCTCAATTGATTGTTCACAGTCAGTTACAGATCGAACTCCTTGTTCTACTCTTTCCCCCCTTCTCACTACTGCACTTGACTAGTCTTTT"
SPIKES = {
    "spike_a": "GTCACGATCGTAGCTAGCTTGACCATGCATGC",
    "spike_b": "TTGCAGTCAGCTAGGATCCGATCGTACGTAGC",
}
BOWTIE = "bowtie -f -v 1 -a --best --strata --norc --sam --no-unal"

needs_bowtie = pytest.mark.skipif(shutil.which("bowtie") is None, reason="bowtie 1.x not installed")


def _build(fasta: Path, prefix: Path) -> Path:
    subprocess.run(["bowtie-build", "-q", str(fasta), str(prefix)], check=True)
    return prefix


def _align(index: Path, reads: list[Path], bam: Path) -> Path:
    files = ",".join(map(str, reads))
    cmd = f"{BOWTIE} -x {index} {files} 2>/dev/null | samtools view -b -o {bam} -"
    subprocess.run(cmd, shell=True, check=True)
    return bam


def _names(bam: str | Path) -> list[tuple[str, str, int]]:
    """(read, reference, start) of every alignment of a BAM, in file order."""
    out = subprocess.run(["samtools", "view", str(bam)], capture_output=True, text=True, check=True)
    fields = [line.split("\t") for line in out.stdout.splitlines()]
    return [(f[0], f[2], int(f[3])) for f in fields]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    hairpins = [
        (n, s) for n, s in reference.read_fasta(MIRBASE / "hsa_hairpin.fa") if n in HAIRPINS
    ]
    text = "".join(s for _, s in hairpins)
    mature = [
        m for m in reference.mature_from_fasta(MIRBASE / "hsa_mature.fa") if m.sequence in text
    ]
    paths = write_reference_files(mature, hairpins, out)
    (out / "yrna.fa").write_text(f">RNY1\n{YRNA}\n")
    (out / "spikes.fa").write_text("".join(f">{k}\n{v}\n" for k, v in SPIKES.items()))
    index = {k: _build(p, out / k) for k, p in paths.items()}
    index["trna"] = _build(TRNA_FASTA, out / "trna")
    index["yrna"] = _build(out / "yrna.fa", out / "yrna")
    index["spikes"] = _build(out / "spikes.fa", out / "spikes")
    return index, reference.read_locations(out / "loc.tsv"), dict(hairpins)


def _write(path: Path, prefix: str, inserts: list[tuple[str, int]]) -> Path:
    path.write_text("".join(f">{prefix}_{i}_x{n}\n{s}\n" for i, (s, n) in enumerate(inserts, 1)))
    return path


@needs_bowtie
def test_cascade_gives_every_read_one_fate(indexes, tmp_path):
    index, locations, hairpins = indexes
    features = trna.read_features(TRNA_TABLE)
    mir21 = hairpins["hsa-mir-21"]
    gly = features["tRNA-Gly-GCC-2"].sequence
    window = _write(
        tmp_path / "seq.fa",
        "seq",
        [
            ("TAGCTTATCAGACTGATGTTGA", 100),  # miR-21-5p
            (MIR4286, 20),  # miRNA and tRNA equally: the tRNA's
            (MIR7977, 10),  # exact miRNA, tRNA with a mismatch: the miRNA's
            (mir21[30:50], 6),  # loop of mir-21
            (YRNA[10:32], 7),  # Y RNA
            (SPIKES["spike_a"][:24], 4),
            ("ACGTTGCATGCAATCGGCATTA", 2),  # nothing
        ],
    )
    long = _write(tmp_path / "long.fa", "long", [(gly[:34], 40), (YRNA[40:75], 3), ("CA" * 18, 5)])
    stages_run = {k: str(index[k]) for k in ("mature", "hairpin", "trna")}
    outputs = {"remaining": str(tmp_path / "S1.remaining.fa")}
    for k in stages_run:
        outputs |= {f"{k}_bam": str(tmp_path / f"{k}.bam"), f"{k}_log": str(tmp_path / f"{k}.log")}
    with open(tmp_path / "align.log", "w") as log:
        align.align_sample((str(window), str(long)), stages_run, outputs, True, (1, 1), log)
    bams = {k: outputs[f"{k}_bam"] for k in stages_run}
    every_insert = _align(index["mature"], [window], tmp_path / "all.mature.bam")
    # the mature pass on the hairpin hits gives the alignments of every insert
    assert _names(bams["mature"]) == _names(every_insert) != []
    stages = composition.classify_sample(
        197, *bams.values(), locations, count.Tolerance(2, 5), features, count.EM
    )
    assert stages.mirna.mature == pytest.approx({"hsa-miR-21-5p": 100.0, "hsa-miR-7977": 10.0})
    assert stages.trna_counts == pytest.approx(
        {"tRNA-Gly-GCC|5'-half": 40.0, "tRNA-Leu-TAA|i-tRF": 20.0}
    )
    without = composition.classify_sample(
        197,
        bams["mature"],
        bams["hairpin"],
        None,
        locations,
        count.Tolerance(2, 5),
        {},
        count.EM,
    )  # no tRNA reference: miR-4286 reads are the miRNA's
    assert without.trna_counts == {} and without.mirna.mature["hsa-miR-4286"] == 20.0
    remaining = Path(outputs["remaining"])
    outputs = {k: tmp_path / f"S1.{k}" for k in ("mature", "hairpin", "isomirs", "trna")}
    outputs |= {"stages": tmp_path / "S1.json"}
    stage_summary = composition.write_sample_stages(stages, "S1", True, outputs)
    assert outputs["trna"].read_text().splitlines()[1] == "tRNA-Gly-GCC|5'-half\t40.0000\t0.0000"
    assert [n for n, _ in reference.read_fasta(remaining)] == [
        "seq_5_x7",
        "seq_6_x4",
        "seq_7_x2",
        "long_2_x3",
        "long_3_x5",
    ]
    ref_bams = [
        _align(index[k], [remaining], tmp_path / f"{k}.ref.bam") for k in ("yrna", "spikes")
    ]
    taken = composition.aligned_reads(ref_bams)
    assert taken == [10, 4]
    assert composition.reference_counts(ref_bams[1], count.EM) == {"spike_a": 4.0}
    spikes = composition.spikein_matrix(
        {"S1": ref_bams[1]}, index["spikes"].with_suffix(".fa"), count.EM
    )
    assert spikes.to_dict() == {"S1": {"spike_a": 4, "spike_b": 0}}
    assert {k: stage_summary[k] for k in composition.STAGE_KEYS} == {
        "inserts": 197,
        "mirna": 110,
        "mirna_hairpin": 6,
        "trna": 60,
        "remaining": 21,
    }
    summary = {
        "raw_reads": 250,
        "adapter_dimers": 20,
        "too_short": 9,
        "too_long": 48,
        "reads_kept": 149,
        "molecules_kept": 149,
    }
    (tmp_path / "S1.summary.json").write_text(json.dumps(summary))
    rows = composition.composition_rows(
        ["S1"],
        [tmp_path / "S1.summary.json"],
        [outputs["stages"]],
        {"yrna": [ref_bams[0]], "spikes": [ref_bams[1]]},
    )
    assert rows[0] == {
        "sample": "S1",
        "raw_reads": 250,
        "adapter_dimers": 20,
        "too_short": 9,
        "mirna": 110,
        "trna": 60,
        "yrna": 10,
        "spikes": 4,
        "unassigned": 7,
        "mirna_hairpin": 6,
        "too_long": 0,
        "no_adapter": 24,
        "umi_dropped": 0,
        "umi_duplicates": 0,
    }
    flags = composition.trna_derived_mirnas([stage_summary], ["hsa-miR-4286", "hsa-miR-21-5p"], 0.5)
    assert flags.to_dict("records") == [
        {
            "feature": "hsa-miR-4286",
            "candidate_reads": 20,
            "trna_compatible_reads": 20,
            "trna_share": 1.0,
            "mostly_trna": "yes",
        }
    ]


def _stage(**values):
    base = {
        "long_inserts": False,
        "inserts": 60,
        "mirna": 40,
        "mirna_hairpin": 2,
        "trna": 8,
        "remaining": 10,
    }
    return {**base, **values}


SUMMARY = {
    "raw_reads": 100,
    "adapter_dimers": 10,
    "too_short": 5,
    "too_long": 7,
    "reads_kept": 60,
    "molecules_kept": 60,
}


def test_fates_without_long_inserts_keep_too_long():
    row = composition.sample_fates("A", SUMMARY, _stage(), {"rrna": 3})
    assert row["too_long"] == 7 and row["unassigned"] == 7 and row["no_adapter"] == 18
    assert sum(v for k, v in row.items() if k not in ("sample", "raw_reads")) == 100


def test_umi_fates():
    summary = {**SUMMARY, "umi_extracted_reads": 95, "molecules_kept": 40}
    row = composition.sample_fates(
        "Q", summary, _stage(inserts=40, mirna=25, trna=5, remaining=8), {}
    )
    assert row["umi_dropped"] == 5 and row["umi_duplicates"] == 20 and row["no_adapter"] == 13
    assert sum(v for k, v in row.items() if k not in ("sample", "raw_reads")) == 100


def test_fates_that_do_not_add_up_are_an_error():
    with pytest.raises(composition.CompositionError, match="sample 'A': the collapsed FASTA"):
        composition.sample_fates("A", SUMMARY, _stage(inserts=61), {})
    with pytest.raises(composition.CompositionError, match="unassigned=-5"):
        composition.sample_fates("A", SUMMARY, _stage(), {"rrna": 15})


def test_reference_names_are_checked():
    refs = composition.references_from_config(
        [{"name": "yrna", "fasta": "y.fa"}, {"name": "ercc", "fasta": "e.fa", "spike_in": True}]
    )
    assert [(r.name, r.spike_in) for r in refs] == [("yrna", False), ("ercc", True)]
    for entries, message in (
        ([{"name": "trna", "fasta": "t.fa"}], r"references\[0\].name 'trna' is already"),
        ([{"name": "y RNA", "fasta": "y.fa"}], "must start with a letter"),
        ([{"name": "a", "fasta": "a.fa"}, {"name": "a", "fasta": "b.fa"}], "already"),
        ([{"name": "a"}], "has no fasta"),
    ):
        with pytest.raises(composition.CompositionError, match=message):
            composition.references_from_config(entries)


def test_table_multiqc_and_plot(tmp_path):
    rows = [
        composition.sample_fates("A", SUMMARY, _stage(), {"rrna": 3}),
        composition.sample_fates("B", SUMMARY, _stage(mirna=30, remaining=20), {"rrna": 1}),
    ]
    table = composition.build_table(rows, ["rrna"])
    assert list(table.columns[:8]) == [
        "sample",
        "raw_reads",
        "adapter_dimers",
        "too_short",
        "mirna",
        "trna",
        "rrna",
        "unassigned",
    ]
    assert (table.drop(columns=["sample", "raw_reads"]).sum(axis=1) == table["raw_reads"]).all()
    path = tmp_path / "composition.tsv"
    composition.write_table(table, path)
    assert pd.read_csv(path, sep="\t").equals(table)
    mqc = composition.multiqc_composition(table)
    assert mqc["plot_type"] == "bargraph" and list(mqc["categories"])[:4] == [
        "mirna",
        "mirna_hairpin",
        "trna",
        "rrna",
    ]
    assert sum(mqc["data"]["B"].values()) == 100
    composition.plot_composition(table, tmp_path / "composition.png")
    assert (tmp_path / "composition.png").stat().st_size > 1000


def test_feature_matrix(tmp_path):
    matrix = composition.merge_feature_counts(
        {"A": {"x": 2.5}, "B": {"y": 1.49}}, ["x", "y", "z"], "unit"
    )
    assert matrix.to_dict() == {"A": {"x": 3, "y": 0, "z": 0}, "B": {"x": 0, "y": 1, "z": 0}}
    with pytest.raises(composition.CompositionError, match="not in the reference: w"):
        composition.merge_feature_counts({"A": {"w": 1.0}}, ["x"], "unit")


def test_prepare_reference(tmp_path):
    source = tmp_path / "y.fa"
    source.write_text(">RNY1 Y RNA\nggcugguccg\nAAGG\n")
    assert composition.prepare_reference(source, tmp_path / "out.fa", "ref") == 1
    assert (tmp_path / "out.fa").read_text() == ">RNY1\nGGCTGGTCCGAAGG\n"
    source.write_text(">p1\nMKVLA*\n")
    with pytest.raises(composition.CompositionError, match=r"composition.references\[0\]: .* p1"):
        composition.prepare_reference(source, tmp_path / "out.fa", "composition.references[0]")
    with pytest.raises(composition.CompositionError, match="cannot read FASTA"):
        composition.prepare_reference(tmp_path / "absent.fa", tmp_path / "o.fa", "ref")
