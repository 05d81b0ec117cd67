"""UMI deduplication of collapsed inserts (QIAseq).

``umi_tools extract`` moves each read's UMI, taken from the raw read right
after the 3' adapter, to the end of the read name (``@name_UMI``); cutadapt
then trims the adapter. Here the trimmed reads are counted per (insert, UMI)
and each insert's UMIs are clustered with umi_tools' own ``UMIClusterer``
(directional method, the default of ``umi_tools dedup``): a UMI seen ``n``
times absorbs a UMI one mismatch away seen at most ``(n + 1) / 2`` times, as
PCR and sequencing errors of one molecule would be. The number of clusters
is the number of molecules of that insert.

This is ``umi_tools dedup --method directional`` with the insert sequence in
the place of the alignment position: molecules are "same insert + same UMI,
tolerating one UMI mismatch".
"""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import IO

UMI_SEPARATOR = b"_"


def count_umi_sequences(stream: IO[bytes]) -> Counter:
    """Count (insert, UMI) pairs of a FASTQ stream whose read names end in ``_UMI``."""
    lines = iter(stream)
    return Counter(
        (seq.rstrip(b"\n"), header.split(None, 1)[0].rsplit(UMI_SEPARATOR, 1)[-1])
        for header, seq, _, _ in zip(lines, lines, lines, lines)
    )


def umi_groups(pairs: Counter) -> dict[bytes, dict[bytes, int]]:
    """insert -> {UMI: reads}, inserts and UMIs in sorted order (deterministic ties)."""
    groups: dict[bytes, dict[bytes, int]] = defaultdict(dict)
    for (insert, umi), n in sorted(pairs.items()):
        groups[insert][umi] = n
    return groups


def deduplicate(
    pairs: Counter, method: str = "directional", threshold: int = 1
) -> tuple[Counter, Counter]:
    """Molecules and reads per insert from (insert, UMI) read counts.

    Returns ``(molecules, reads)``: Counters keyed by insert sequence (bytes).
    """
    with warnings.catch_warnings():  # umi_tools imports numpy.matlib
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        from umi_tools.network import UMIClusterer  # only UMI kits need umi_tools

    clusterer = UMIClusterer(cluster_method=method)
    molecules: Counter = Counter()
    reads: Counter = Counter()
    for insert, umis in umi_groups(pairs).items():
        reads[insert] = sum(umis.values())
        molecules[insert] = len(clusterer(umis, threshold))
    return molecules, reads


def umi_length_check(pairs: Iterable[tuple[bytes, bytes]], expected: int) -> None:
    """Every UMI must have the kit's length; else the read names were not from umi_tools."""
    for _, umi in pairs:
        if len(umi) != expected:
            raise ValueError(
                f"UMI '{umi.decode(errors='replace')}' has {len(umi)} nt, expected {expected}: "
                "read names must end in _<UMI> as umi_tools extract writes them"
            )


def parse_extract_log(path: str) -> dict[str, int]:
    """Read counts from an ``umi_tools extract`` log: input reads and regex matches."""
    keys = {
        "Input Reads": "umi_input_reads",
        "regex matches read1": "umi_extracted_reads",
        "regex does not match read1": "umi_not_found",
    }
    found = {value: 0 for value in keys.values()}
    with open(path) as handle:
        for line in handle:
            for key, name in keys.items():
                marker = f" {key}: "
                if marker in line:
                    found[name] = int(line.rsplit(marker, 1)[1].strip())
    return found
