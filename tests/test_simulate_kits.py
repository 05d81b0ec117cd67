"""Kit layouts at depth: reads as each kit lays them out, PCR duplicates for UMI kits."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from exomir.protocols import PRESETS, QIASEQ_3P
from exomir.simulate_kits import simulate_library

REPO = Path(__file__).resolve().parents[1]
MATURE = REPO / "resources/mirbase/hsa_mature.fa"
HAIRPIN = REPO / "resources/mirbase/hsa_hairpin.fa"


def reads_of(path: Path) -> tuple[list[str], list[str]]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return lines[1::4], lines[3::4]


@pytest.mark.parametrize("kit", ["truseq", "nextflex", "qiaseq", "cats"])
def test_layout_duplicates_and_determinism(tmp_path, kit):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = tmp_path / "a/R01.fastq.gz", tmp_path / "b/R01.fastq.gz"
    assert simulate_library(kit, first, 5000, 3, MATURE, HAIRPIN) == 5000
    simulate_library(kit, second, 5000, 3, MATURE, HAIRPIN)
    assert first.read_bytes() == second.read_bytes()
    seqs, quals = reads_of(first)
    length = 75 if kit == "qiaseq" else 50
    assert len(seqs) == 5000 and {len(s) for s in seqs} == {length}
    assert any("#" in q for q in quals) and all(len(q) == length for q in quals)
    adapter = PRESETS[kit].adapter_3p[:12]
    with_adapter = sum(adapter in s for s in seqs) / len(seqs)
    assert with_adapter > (0.5 if kit == "cats" else 0.8)
    repeats = Counter(seqs).most_common(1)[0][1]
    if kit == "qiaseq":  # PCR duplicates: a molecule read several times, UMI included
        umis = Counter(s[s.find(QIASEQ_3P) + len(QIASEQ_3P) :][:12] for s in seqs if QIASEQ_3P in s)
        assert repeats > 1 and len(umis) < 0.6 * len(seqs)
    if kit == "nextflex":  # 4 random nt before the insert: first bases spread
        assert len(Counter(s[:4] for s in seqs)) > 200
