"""Library-kit presets: every kit's read layout, trimmed by the real cutadapt (and umi_tools
for QIAseq), gives back exactly the simulated inserts."""

from __future__ import annotations

import gzip
import random
import zlib
from collections import Counter
from pathlib import Path

import pytest

from conftest import preprocess_in
from exomir import preprocess
from exomir.protocols import (
    AUTO,
    PRESETS,
    PROTOCOL_NAMES,
    Protocol,
    adapter_pass_args,
    clip_pass_args,
    front_pass_args,
    kit_read,
    resolve_protocol,
    sample_protocols,
    umi_pattern,
)
from exomir.reference import read_fasta

REPO = Path(__file__).resolve().parents[1]

HEPG2_3P = "ACGGGCTAATATTTATCGGTGGAGCATCACGATCTCGTAT"


def mirna_inserts(n: int, seed: int, avoid_3p_a: bool = False) -> list[str]:
    """Real human mature miRNAs (16-30 nt) as inserts, plus 3' trimmed and extended variants."""
    rng = random.Random(seed)
    pool = [s for _, s in read_fasta(REPO / "resources" / "mirbase" / "hsa_mature.fa")]
    pool = [s for s in pool if 18 <= len(s) <= 25 and "N" not in s]
    chosen = []
    while len(chosen) < n:
        seq = rng.choice(pool)
        cut = rng.choice([0, 0, 1, 2])
        seq = seq[: len(seq) - cut] if cut else seq
        if avoid_3p_a and seq.endswith("A"):
            continue  # a poly(A) tail cannot be told from the insert's own 3' A
        chosen.append(seq)
    return chosen


def random_bases(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def write_fastq(path: Path, reads: list[str]) -> None:
    with gzip.open(path, "wt") as out:
        for i, read in enumerate(reads):
            out.write(f"@r{i} 1:N:0:ACGT\n{read}\n+\n{'I' * len(read)}\n")


def run_preprocess(tmp_path: Path, protocol: Protocol, reads: list[str]) -> tuple[Counter, dict]:
    fastq = tmp_path / "reads.fastq.gz"
    write_fastq(fastq, reads)
    summary = preprocess_in(tmp_path, "S1", fastq, protocol)
    collapsed = Counter()
    for name, seq in read_fasta(tmp_path / "collapsed.fa"):
        collapsed[seq] += int(name.rsplit("_x", 1)[1])
    return collapsed, summary


# Each case: protocol, read length, bases before / after the insert, UMI length.
KIT_CASES = {
    "truseq": (PRESETS["truseq"], 50, 0, 0, 0),
    "illumina": (PRESETS["illumina"], 50, 0, 0, 0),
    "illumina_v1": (PRESETS["illumina_v1"], 36, 0, 0, 0),
    "nextflex": (PRESETS["nextflex"], 50, 4, 4, 0),
    "qiaseq": (PRESETS["qiaseq"], 75, 0, 0, 12),
    "nebnext": (PRESETS["nebnext"], 50, 0, 0, 0),
    "cats": (PRESETS["cats"], 50, 3, 0, 0),
    "custom_clips": (
        resolve_protocol("custom", {"adapter": HEPG2_3P, "clip_5p": 6}),
        43,
        6,
        0,
        0,
    ),
    "custom_5p_adapter": (
        resolve_protocol(
            "custom",
            {"adapter": "TGGAATTCTCGGGTGCCAAGG", "adapter_5p": "GTTCAGAGTTCTACAGTCCGACGATC"},
        ),
        75,
        0,
        0,
        0,
    ),
    "custom_both_clips": (
        resolve_protocol(
            "custom", {"adapter": "AGATCGGAAGAGCACACGTCT", "clip_5p": 2, "clip_3p": 3}
        ),
        50,
        2,
        3,
        0,
    ),
}


def test_every_preset_has_a_layout_case():
    presets = {case[0].name for case in KIT_CASES.values()}
    assert set(PRESETS) <= presets | {"illumina"}
    assert "custom" in presets


@pytest.mark.parametrize("case", sorted(KIT_CASES))
def test_kit_layout_gives_back_the_inserts(tmp_path, case):
    protocol, read_length, n5, n3, n_umi = KIT_CASES[case]
    rng = random.Random(zlib.crc32(case.encode()))
    inserts = mirna_inserts(400, seed=len(case), avoid_3p_a=protocol.name == "cats")
    reads = []
    for insert in inserts:
        reads.append(
            kit_read(
                protocol,
                insert,
                read_length=read_length,
                random_5p=random_bases(rng, n5),
                random_3p=random_bases(rng, n3),
                umi=random_bases(rng, n_umi),
            )
        )
    n_dimers = 40
    for _ in range(n_dimers):  # adapter dimers: empty inserts
        reads.append(
            kit_read(
                protocol,
                "",
                read_length=read_length,
                random_5p=random_bases(rng, n5),
                random_3p=random_bases(rng, n3),
                umi=random_bases(rng, n_umi),
            )
        )
    collapsed, summary = run_preprocess(tmp_path, protocol, reads)
    assert collapsed == Counter(inserts)
    assert summary["raw_reads"] == len(reads)
    assert summary["reads_kept"] == len(inserts)
    assert summary["molecules_kept"] == len(inserts)  # every molecule sequenced once
    assert summary["adapter_dimers"] == n_dimers
    assert summary["umi"] == bool(n_umi)


def test_nextflex_without_clipping_would_keep_the_random_bases(tmp_path):
    """The clip pass is what removes NEXTflex's random bases (control for the test above)."""
    rng = random.Random(5)
    inserts = mirna_inserts(50, seed=5)
    reads = [
        kit_read(PRESETS["nextflex"], s, 50, random_bases(rng, 4), random_bases(rng, 4))
        for s in inserts
    ]
    unclipped = PRESETS["nextflex"]._replace(clip_5p=0, clip_3p=0)
    collapsed, _ = run_preprocess(tmp_path, unclipped, reads)
    assert not set(collapsed) & set(inserts)


def test_resolve_presets_and_overrides():
    assert resolve_protocol("illumina").adapter_3p == PRESETS["truseq"].adapter_3p
    assert resolve_protocol("truseq", {"adapter": "ACGTACGTAC"}).adapter_3p == "ACGTACGTAC"
    # the schema's defaults (empty adapter, clips 0) do not erase a preset's clips
    defaults = {"adapter": "", "adapter_5p": "", "clip_5p": 0, "clip_3p": 0}
    nextflex = resolve_protocol("nextflex", defaults)
    assert (nextflex.clip_5p, nextflex.clip_3p) == (4, 4)
    custom = resolve_protocol("custom", {"adapter": HEPG2_3P, "clip_5p": 6})
    assert (custom.adapter_3p, custom.clip_5p, custom.clip_3p) == (HEPG2_3P, 6, 0)
    assert resolve_protocol("auto").is_auto


@pytest.mark.parametrize(
    "name, overrides, message",
    [
        ("custom", {}, "needs the 3' adapter"),
        ("truseqq", {}, "unknown protocol 'truseqq'"),
        ("custom", {"adapter": "ADAPTER!"}, "must be a DNA sequence"),
    ],
)
def test_resolve_errors_name_the_fix(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve_protocol(name, overrides)


def test_sample_protocols_from_sheet_column():
    overrides = {"adapter": "ACGTACGTACGT", "adapter_5p": "", "clip_5p": 0, "clip_3p": 0}
    resolved = sample_protocols(
        "custom", overrides, {"a": "", "b": "qiaseq", "c": "custom", "d": "auto"}
    )
    assert resolved["a"].adapter_3p == "ACGTACGTACGT"  # config's protocol with its overrides
    assert resolved["b"] == PRESETS["qiaseq"]  # a named preset is not overridden
    assert resolved["c"].adapter_3p == "ACGTACGTACGT"
    assert resolved["d"].name == AUTO
    with pytest.raises(ValueError, match="sample 'x'"):
        sample_protocols("truseq", {"adapter": ""}, {"x": "custom"})


def test_command_lines():
    nextflex = PRESETS["nextflex"]
    assert "--discard-untrimmed" in adapter_pass_args(nextflex, 20, False, 0.1, 1)
    assert "--discard-untrimmed" not in adapter_pass_args(nextflex, 20, True, 0.1, 1)
    assert clip_pass_args(nextflex) == ["cutadapt", "--cut", "4", "--cut", "-4"]
    assert clip_pass_args(PRESETS["truseq"]) == []
    two = resolve_protocol("custom", {"adapter": "ACGTACGTAC", "adapter_5p": "^CAGTCG,^TGACTC"})
    assert front_pass_args(two) == ["cutadapt", "--front", "^CAGTCG", "--front", "^TGACTC"]
    assert front_pass_args(nextflex) == []
    pattern = umi_pattern(PRESETS["qiaseq"])
    assert "(?:AACTGTAGGCACCATCAAT){s<=2}" in pattern and "(?P<umi_1>.{12})" in pattern
    assert set(PROTOCOL_NAMES) >= {"truseq", "illumina", "illumina_v1", "nextflex", "qiaseq"}
    assert {"nebnext", "cats", "custom", "auto"} <= set(PROTOCOL_NAMES)


def test_truncated_fastq_is_a_clear_error(tmp_path):
    fastq = tmp_path / "broken.fastq.gz"
    write_fastq(fastq, [kit_read(PRESETS["truseq"], "TAGCTTATCAGACTGATGTTGA", 50)] * 10)
    data = fastq.read_bytes()
    fastq.write_bytes(data[: len(data) // 2])
    with pytest.raises(preprocess.InputError, match="sample 'S1'.*broken.fastq.gz"):
        preprocess_in(tmp_path, "S1", fastq, PRESETS["truseq"])


def test_sheet_protocol_column_is_validated(tmp_path):
    from exomir.samplesheet import SampleSheetError, read_sample_sheet

    fastq = tmp_path / "a.fastq.gz"
    write_fastq(fastq, ["ACGT" * 10])
    rows = [("R1", "resistant", "qiaseq"), ("R2", "resistant", ""), ("S1", "sensitive", "truseq")]
    rows.append(("S2", "sensitive", "nextflexx"))
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tcondition\tprotocol\tfastq\n"
        + "".join(f"{s}\t{c}\t{p}\t{fastq}\n" for s, c, p in rows)
    )
    with pytest.raises(SampleSheetError, match="sample 'S2' has protocol 'nextflexx'"):
        read_sample_sheet(sheet, require_fastq=True)
    sheet.write_text(sheet.read_text().replace("nextflexx", "auto"))
    table = read_sample_sheet(sheet, require_fastq=True)
    assert list(table["protocol"]) == ["qiaseq", "", "truseq", "auto"]


def test_error_rate_reaches_the_adapter_pass():
    truseq = PRESETS["truseq"]
    args = adapter_pass_args(truseq, 20, False, 0.15, 1)
    assert args[args.index("--error-rate") + 1] == "0.15"
    assert "--quality-cutoff" not in adapter_pass_args(truseq, None, False, 0.1, 1)
