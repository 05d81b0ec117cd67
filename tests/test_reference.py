"""Bundled miRBase v22 reference and the derived count features."""

from __future__ import annotations

from pathlib import Path

import pytest

from exomir import reference

MIRBASE = Path(__file__).resolve().parents[1] / "resources" / "mirbase"


def test_bundled_fastas_match_the_table_they_come_from(tmp_path):
    paths = reference.bundle_species(MIRBASE / "miRBase_v22_all.csv.gz", "hsa", tmp_path)
    for path in paths:
        assert path.read_bytes() == (MIRBASE / path.name).read_bytes()


def test_bundled_counts_and_alphabet():
    mature = reference.mature_from_fasta(MIRBASE / "hsa_mature.fa")
    hairpins = list(reference.read_fasta(MIRBASE / "hsa_hairpin.fa"))
    assert len(mature) == 2656 and len(hairpins) == 1917
    assert all(set(m.sequence) <= set("ACGT") for m in mature)
    assert all(m.accession.startswith("MIMAT") for m in mature)
    assert {m.name: m.accession for m in mature}["hsa-miR-21-5p"] == "MIMAT0000076"


def test_identical_mature_sequences_become_one_feature():
    features = reference.build_features(reference.mature_from_fasta(MIRBASE / "hsa_mature.fa"))
    assert len(features) == 2632
    by_name = {f: (accs, seq) for f, accs, seq in features}
    accs, seq = by_name["hsa-miR-199a-3p/hsa-miR-199b-3p"]
    assert accs == "MIMAT0000232;MIMAT0004563"
    assert seq == "ACAGTAGTCTGCACATTGGTTA"
    assert len({seq for _, _, seq in features}) == len(features)


def test_locations_of_mature_in_hairpin():
    mature = [
        reference.Mature("x-miR-1-5p", "MIMAT1", "ACGTACGTACGTACGTAC"),
        reference.Mature("x-miR-1-3p", "MIMAT2", "TTTTGGGGCCCCAAAATT"),
    ]
    hairpin = "GG" + "ACGTACGTACGTACGTAC" + "AAAAAAAA" + "TTTTGGGGCCCCAAAATT" + "C"
    locs = reference.locate_mature_in_hairpins(
        reference.build_features(mature), [("x-mir-1", hairpin)]
    )
    assert [(loc.feature, loc.start, loc.end) for loc in locs] == [
        ("x-miR-1-5p", 2, 20),
        ("x-miR-1-3p", 28, 46),
    ]


def test_other_species_from_the_table():
    mature, hairpins = reference.extract_species(MIRBASE / "miRBase_v22_all.csv.gz", "mmu")
    assert len(mature) > 1000 and len(hairpins) > 1000
    assert all(m.name.startswith("mmu-") for m in mature)


def test_unknown_species_is_a_clear_error():
    with pytest.raises(ValueError, match=r"species prefix 'xyz'.*hsa, mmu"):
        reference.extract_species(MIRBASE / "miRBase_v22_all.csv.gz", "xyz")


def test_mirtop_gff_in_hairpin_coordinates(tmp_path):
    mature = [
        reference.Mature("x-miR-1a-5p", "MIMAT1", "ACGTACGTACGTACGTAC"),
        reference.Mature("x-miR-1b-5p", "MIMAT2", "ACGTACGTACGTACGTAC"),
    ]
    hairpin = "GG" + "ACGTACGTACGTACGTAC" + "AAAAAAAA"
    paths = [tmp_path / n for n in ("m.fa", "h.fa", "f.tsv", "l.tsv", "p.gff3")]
    keys = ("mature_fasta", "hairpin_fasta", "features", "locations", "mirtop_gff")
    reference.write_reference(mature, [("x-mir-1", hairpin)], **dict(zip(keys, paths)))
    lines = [
        line.split("\t") for line in paths[4].read_text().splitlines() if not line.startswith("#")
    ]
    assert lines[0][:5] == ["x-mir-1", ".", "miRNA_primary_transcript", "1", str(len(hairpin))]
    # both identical-sequence members are annotated at the same place
    assert [(row[2], row[3], row[4]) for row in lines[1:]] == [("miRNA", "3", "20")] * 2
    assert "Name=x-miR-1b-5p;Derives_from=x-mir-1" in lines[2][8]
    assert "miRBase" in paths[4].read_text().splitlines()[1]
