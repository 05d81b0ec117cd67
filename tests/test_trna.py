"""The bundled mature-tRNA reference, its build, fragment types and tRNA alignments."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from exomir import count, reference, trna

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "resources" / "trna"
FASTA, TABLE = BUNDLE / "hg38_mature_trnas.fa", BUNDLE / "hg38_mature_trnas.tsv"

# Real records of the mimseq 1.3.11 sources (GtRNAdb hg38, tRNAscan-SE)
NUCLEAR = """\
>Escherichia_coli_str_K_12_substr_MG1655_tRNA-eColiLys-TTT-1-1 (tRNAscan-SE ID: chr.trna9) chr:780554-780629 (+) Lys (TTT) 76 bp Sc: 94.9
GGGTCGTTAGCTCAGTTGGTAGAGCAGTTGACTTTTAATCAATTGGtCGCAGGTTCGAAT
CCTGCACGACCCA
>Homo_sapiens_tRNA-Ala-AGC-1-1 (tRNAscan-SE ID: chr6.trna116) Ala (AGC) 72 bp Sc: 84.9 chr6:28795964-28796035 (-)
GGGGGTATAGCTCAGTGGTAGAGCGCGTGCTTAGCATGCACGAGGTCCTGGGTTCGATCC
CCAGTACCTCCA
>Homo_sapiens_tRNA-Tyr-GTA-1-1 (tRNAscan-SE ID: chr6.trna14) Tyr (GTA) 91 bp Sc: 77.9 chr6:26568858-26568948 (+)
CCTTCGATAGCTCAGTTGGTAGAGCGGAGGACTGTAGTTGGCTGTGTCCTTAGACATCCTTAGGTCGCTGGTTCGAATCCGGCTCGAAGGA
>Homo_sapiens_tRNA-Ile-TAT-1-1 (tRNAscan-SE ID: chr19.trna10) Ile (TAT) 93 bp Sc: 73.8 chr19:39412168-39412260 (-)
GCTCCAGTGGCGCAATCGGTTAGCGCGCGGTACTTATATGACAGTGCGAGCGGAGCAATGCCGAGGTTGTGAGTTCGATCCTCACCTGGAGCA
"""
DETAILED = (
    "Sequence\t\ttRNA\tBounds\ttRNA\tAnti\tIntron Bounds\n"
    "Name\ttRNA#\tBegin\tEnd\tType\tCodon\tBegin\tEnd\n"
    "--------\t------\t-----\t------\t----\t-----\t-----\t----\n"
    "chr6\t14\t26568858\t26568948\tTyr\tGTA\t26568895\t26568912\t77.9\n"
    "chr6\t116\t28796035\t28795964\tAla\tAGC\t0\t0\t84.9\n"
    "chr19\t10\t39412260\t39412168\tIle\tTAT\t39412222\t39412204\t73.8\n"
)
TYR_MATURE = "CCTTCGATAGCTCAGTTGGTAGAGCGGAGGACTGTAGATCCTTAGGTCGCTGGTTCGAATCCGGCTCGAAGGACCA"

needs_bowtie = pytest.mark.skipif(shutil.which("bowtie") is None, reason="bowtie 1.x not installed")


@pytest.fixture(scope="module")
def features():
    return trna.read_features(TABLE)


def test_build_splices_introns_adds_cca_and_drops_e_coli():
    genes = {g.name: g for g in trna.nuclear_genes(NUCLEAR, DETAILED)}
    assert sorted(genes) == ["tRNA-Ala-AGC-1-1", "tRNA-Ile-TAT-1-1", "tRNA-Tyr-GTA-1-1"]
    tyr = genes["tRNA-Tyr-GTA-1-1"]
    assert tyr.mature == TYR_MATURE and tyr.intron_length == 18
    assert trna.locate_anticodon(tyr.mature, "GTA") == 33  # intron after position 37
    ile = genes["tRNA-Ile-TAT-1-1"]  # minus strand: bounds counted from the gene's end
    assert ile.intron_length == 19 and "TTATATGACAGTG" not in ile.mature
    assert trna.locate_anticodon(ile.mature, "TAT") == 34
    # ends in CCA by its discriminator A, which does not make CCA encoded
    ala = genes["tRNA-Ala-AGC-1-1"]
    assert ala.mature.endswith("CCTCCACCA") and not trna.cca_encoded(ala.mature[:-3])


def test_cca_counts_as_encoded_only_when_the_acceptor_stem_says_so():
    gene = "GGGGGTATAGCTCAGTGGTAGAGCGCGTGCTTAGCATGCACGAGGTCCTGGGTTCGATCCCCAGTACCTCCA"
    assert not trna.cca_encoded(gene)
    assert trna.cca_encoded(gene + "CCA")


def test_wrong_sources_are_named():
    with pytest.raises(trna.TrnaReferenceError, match="has no row in hg38-tRNAs-detailed.out"):
        trna.nuclear_genes(NUCLEAR, DETAILED.replace("chr6\t14\t", "chr6\t15\t"))
    with pytest.raises(trna.TrnaReferenceError, match="says Tyr GTA"):
        trna.nuclear_genes(NUCLEAR.replace("tRNA-Tyr-GTA-1-1", "tRNA-Tyr-ATA-1-1"), DETAILED)
    with pytest.raises(trna.TrnaReferenceError, match="pip download mimseq==1.3.11"):
        trna.read_wheel(REPO / "pyproject.toml")


def test_bundled_reference(features):
    values = list(features.values())
    assert len(values) == 279
    assert sum(f.compartment == "cytosolic" for f in values) == 257
    assert sum(len(f.genes) for f in values) == 429 + 22
    assert len({f.family for f in values}) == 70
    assert sum(f.introns_removed > 0 for f in values) == 20
    assert all(f.sequence.endswith("CCA") for f in values)
    assert len({f.sequence for f in values}) == len(values)  # identical sequences merged
    for f in values:
        named = f.family.rsplit("-", 1)[1]
        assert f.sequence[f.anticodon_start : f.anticodon_start + 3] == named == f.anticodon
        assert 17 <= f.anticodon_start <= 36, f.feature
    assert features["tRNA-Tyr-GTA-1"].sequence == TYR_MATURE
    his = features["tRNA-His-GTG-1"]
    assert his.g_minus1 and his.sequence.startswith("GGCCGTGATCG")
    assert dict(reference.read_fasta(FASTA)) == {f.feature: f.sequence for f in values}


def test_bundled_checksums_are_the_readme_s():
    readme = (REPO / "resources" / "README.md").read_text()
    for path in (FASTA, TABLE):
        assert re.search(rf"`{path.name}`[^`]*`{reference.sha256(path)}`", readme), path.name


@pytest.fixture(scope="module")
def mimseq_wheel(tmp_path_factory) -> Path:
    """The mimseq 1.3.11 wheel: ``EXOMIR_MIMSEQ_WHEEL``, else downloaded from PyPI (3 MB)."""
    given = os.environ.get("EXOMIR_MIMSEQ_WHEEL", "")
    if given and zipfile.is_zipfile(given):
        return Path(given)
    folder = tmp_path_factory.mktemp("mimseq")
    command = [sys.executable, "-m", "pip", "download", "mimseq==1.3.11", "--no-deps"]
    done = subprocess.run(
        [*command, "--only-binary", ":all:", "--quiet", "--dest", str(folder)],
        capture_output=True,
        text=True,
    )
    wheels = sorted(folder.glob("mimseq-1.3.11-*.whl"))
    if done.returncode != 0 or not wheels:
        reason = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        pytest.skip(f"mimseq 1.3.11 wheel not downloadable from PyPI ({reason})")
    return wheels[0]


def test_rebuild_from_the_wheel_gives_the_bundled_files(tmp_path, mimseq_wheel):
    paths = trna.build_reference(mimseq_wheel, tmp_path)
    for built, bundled in zip(paths, (FASTA, TABLE)):
        assert built.read_bytes() == bundled.read_bytes()


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 18, trna.FIVE_TRF),
        (0, 30, trna.FIVE_TRF),  # last base 29: anticodon stem (tRF-5c)
        (0, 31, trna.FIVE_HALF),  # last base 30 = the loop's first (canonical 32)
        (0, 34, trna.FIVE_HALF),
        (0, 37, trna.FIVE_HALF),  # last base 36 = the loop's last (canonical 38)
        (0, 38, trna.FIVE_TRF),  # past the loop
        (55, 74, trna.THREE_TRF),
        (30, 74, trna.THREE_HALF),
        (36, 74, trna.THREE_HALF),
        (37, 74, trna.THREE_TRF),
        (10, 40, trna.I_TRF),
        (50, 73, trna.I_TRF),  # CCA-less 3' end
        (0, 74, trna.FULL),
    ],
)
def test_fragment_types(features, start, end, expected):
    gly = features["tRNA-Gly-GCC-1"]
    assert gly.anticodon_start == 32 and gly.length == 74  # Gly has a short D-loop
    assert trna.fragment_type(start, end, gly) == expected


def test_his_fragments_start_at_the_g_minus_1_or_after_it(features):
    his = features["tRNA-His-GTG-1"]
    assert trna.fragment_type(0, 20, his) == trna.fragment_type(1, 20, his) == trna.FIVE_TRF
    assert trna.fragment_type(2, 20, his) == trna.I_TRF


def test_count_units(features):
    units = trna.count_units(features)
    assert len(units) == 70 * len(trna.FRAGMENT_TYPES)
    assert units[:3] == [
        "mt-tRNA-Ala-TGC|5'-tRF",
        "mt-tRNA-Ala-TGC|5'-half",
        "mt-tRNA-Ala-TGC|i-tRF",
    ]
    assert "tRNA-Gly-GCC|5'-half" in units and len(set(units)) == len(units)


@needs_bowtie
def test_trna_hits_and_fragment_counts(features, tmp_path):
    subprocess.run(["bowtie-build", "-q", str(FASTA), str(tmp_path / "trna")], check=True)
    gly = features["tRNA-Gly-GCC-1"].sequence
    lys = features["tRNA-Lys-CTT-1"].sequence
    inserts = [
        (gly[:34], 50),  # 5' half
        (gly[:20] + ("A" if gly[20] != "A" else "C") + gly[21:34], 5),  # with an error
        (lys[-20:], 30),  # 3'-tRF ending in CCA
        (lys[-20:-1], 4),  # CCA-less: i-tRF
    ]
    reads = tmp_path / "reads.fa"
    reads.write_text("".join(f">seq_{i}_x{n}\n{s}\n" for i, (s, n) in enumerate(inserts, 1)))
    bam = tmp_path / "trna.bam"
    cmd = (
        f"bowtie -f -v 1 -a --best --strata --norc --sam --no-unal -x {tmp_path / 'trna'} "
        f"{reads} 2>/dev/null | samtools view -b -o {bam} -"
    )
    subprocess.run(cmd, shell=True, check=True)
    hits = trna.trna_hits(bam, features)
    assert set(hits["seq_1_x50"].units) == {"tRNA-Gly-GCC|5'-half"}
    assert hits["seq_1_x50"].evidence == (0, 0) and hits["seq_2_x5"].evidence == (1, 0)
    assert hits["seq_3_x30"].units == ("tRNA-Lys-CTT|3'-tRF",)
    assert hits["seq_4_x4"].units == ("tRNA-Lys-CTT|i-tRF",)
    counts, ambiguous = trna.count_fragments(hits, sorted(hits, key=count.insert_order), count.EM)
    assert counts["tRNA-Gly-GCC|5'-half"] == pytest.approx(55.0)
    assert counts["tRNA-Lys-CTT|3'-tRF"] == pytest.approx(30.0)
    assert sum(counts.values()) == pytest.approx(89.0)
    per_sample = tmp_path / "S1.trna.tsv"
    count.write_counts(counts, ambiguous, per_sample, "unit")
    matrix = trna.count_matrix({"S1": per_sample}, features)
    assert matrix.index.name == "trna" and len(matrix) == 70 * len(trna.FRAGMENT_TYPES)
    assert matrix.loc["tRNA-Gly-GCC|5'-half", "S1"] == 55 and matrix["S1"].sum() == 89
    with pytest.raises(trna.TrnaReferenceError, match="not in the tRNA feature table"):
        trna.trna_hits(bam, {k: v for k, v in features.items() if "Gly" not in k})


def test_fragments_shared_by_families_follow_the_families_abundance():
    u = trna.unit
    hits = {
        "seq_1_x90": trna.TrnaHits(90, (0, 0), (u("tRNA-Val-CAC", trna.FIVE_HALF),)),
        "seq_2_x10": trna.TrnaHits(10, (0, 0), (u("tRNA-Val-AAC", trna.FIVE_HALF),)),
        "seq_3_x50": trna.TrnaHits(
            50, (0, 0), (u("tRNA-Val-AAC", trna.FIVE_TRF), u("tRNA-Val-CAC", trna.FIVE_TRF))
        ),
    }
    counts, ambiguous = trna.count_fragments(hits, list(hits), count.EM)
    assert counts[u("tRNA-Val-CAC", trna.FIVE_TRF)] == pytest.approx(45.0, rel=1e-6)
    assert counts[u("tRNA-Val-AAC", trna.FIVE_TRF)] == pytest.approx(5.0, rel=1e-5)
    assert ambiguous[u("tRNA-Val-CAC", trna.FIVE_TRF)] == pytest.approx(45.0, rel=1e-6)
    assert u("tRNA-Val-CAC", trna.FIVE_HALF) not in ambiguous
    split, _ = trna.count_fragments(hits, list(hits), count.SPLIT)
    assert split[u("tRNA-Val-AAC", trna.FIVE_TRF)] == pytest.approx(25.0)
