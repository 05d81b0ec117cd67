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

**Bounded memory.** UMIs make (insert, UMI) pairs nearly unique, so a table
of all pairs grows with the reads (20 M reads: ~10 M pairs, several GB in
Python). :func:`sorted_pair_counts` streams the pairs as ``insert<TAB>UMI``
lines through GNU ``sort`` (bytewise, ``-S`` memory buffer, spilling to
temporary files) and ``uniq -c``; the sorted counts arrive insert by insert,
and only one insert's UMIs are held at a time (:func:`deduplicate_sorted`).

**Neighbour search.** ``UMIClusterer`` finds UMI pairs one mismatch apart by
comparing each UMI with the UMIs that share a substring, and removes the
already visited UMIs with a list slice per UMI: quadratic in the UMIs of one
insert (an abundant plasma miRNA has ~10^5 UMIs at 20 M reads: hours).
:class:`HammingClusterer` gives ``UMIClusterer`` the same edges found in
linear time (every one-substitution variant of a UMI looked up in the UMI
table; for equal-length UMIs umi_tools' edit distance is the Hamming
distance); the clustering itself (directional edges, connected components,
groups) is umi_tools' code. Tests check the result against ``umi_tools
dedup`` and against ``UMIClusterer`` itself.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import groupby
from operator import itemgetter
from typing import IO

UMI_SEPARATOR = b"_"
SORT_BUFFER_MB = 256  # memory of GNU sort before it spills to temporary files


def _umi_tools_network():
    with warnings.catch_warnings():  # umi_tools imports numpy.matlib
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        from umi_tools import network  # only UMI kits need umi_tools

    return network


def count_umi_sequences(stream: IO[bytes]) -> Counter:
    """Count (insert, UMI) pairs of a FASTQ stream whose read names end in ``_UMI``."""
    return Counter(_pairs(stream))


def _pairs(stream: IO[bytes]) -> Iterator[tuple[bytes, bytes]]:
    lines = iter(stream)
    for header, seq, _, _ in zip(lines, lines, lines, lines):
        yield seq.rstrip(b"\n"), header.split(None, 1)[0].rsplit(UMI_SEPARATOR, 1)[-1]


def pair_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """``insert<TAB>UMI`` lines of a FASTQ stream whose read names end in ``_UMI``."""
    for insert, umi in _pairs(stream):
        yield b"%s\t%s\n" % (insert, umi)


def sorted_pair_counts(
    lines: Iterable[bytes], tmpdir: str, buffer_mb: int = SORT_BUFFER_MB
) -> Iterator[tuple[bytes, bytes, int]]:
    """(insert, UMI, reads) from ``insert<TAB>UMI`` lines, sorted bytewise, via ``sort | uniq -c``.

    Lines of one insert are adjacent: the tab sorts before every base.
    """
    env = {**os.environ, "LC_ALL": "C"}
    sort = subprocess.Popen(
        ["sort", "-S", f"{buffer_mb}M", "-T", tmpdir, "--parallel=1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    uniq = subprocess.Popen(["uniq", "-c"], stdin=sort.stdout, stdout=subprocess.PIPE, env=env)
    sort.stdout.close()
    try:
        sort.stdin.writelines(lines)
    finally:
        sort.stdin.close()
    for line in uniq.stdout:
        count, pair = line.lstrip().split(b" ", 1)
        insert, umi = pair.rstrip(b"\n").split(b"\t")
        yield insert, umi, int(count)
    uniq.stdout.close()
    if sort.wait() or uniq.wait():
        raise RuntimeError(f"sort | uniq -c failed (exit {sort.returncode}, {uniq.returncode})")


class HammingClusterer:
    """umi_tools' directional ``UMIClusterer`` with a linear-time one-mismatch neighbour search.

    Only for ``threshold = 1`` and UMIs of one length (checked by umi_tools).
    """

    def __init__(self) -> None:
        self.clusterer = _umi_tools_network().UMIClusterer(cluster_method="directional")
        self.clusterer.get_adj_list = self._adjacency

    @staticmethod
    def _adjacency(umis: list[bytes], counts: dict[bytes, int], threshold: int):
        """Directional edges of ``umis``, as ``UMIClusterer._get_adj_list_directional``."""
        if threshold != 1:
            raise ValueError("HammingClusterer supports threshold 1 only")
        adjacency: dict[bytes, list[bytes]] = {umi: [] for umi in umis}
        alphabet = [bytes([code]) for code in sorted(set(b"".join(umis)))]
        for umi in umis:
            own_count = counts[umi]
            for i in range(len(umi)):
                head, own, tail = umi[:i], umi[i : i + 1], umi[i + 1 :]
                for base in alphabet:
                    if base == own:
                        continue
                    neighbour = head + base + tail
                    count = counts.get(neighbour)
                    if count is not None and own_count >= count * 2 - 1:
                        adjacency[umi].append(neighbour)
        return adjacency

    def molecules(self, umis: dict[bytes, int]) -> int:
        """Number of molecules (directional clusters) of one insert's UMI counts."""
        return len(self.clusterer(umis, 1))


def umi_groups(pairs: Counter) -> dict[bytes, dict[bytes, int]]:
    """insert -> {UMI: reads}, inserts and UMIs in sorted order (deterministic ties)."""
    groups: dict[bytes, dict[bytes, int]] = defaultdict(dict)
    for (insert, umi), n in sorted(pairs.items()):
        groups[insert][umi] = n
    return groups


def deduplicate(pairs: Counter) -> tuple[Counter, Counter]:
    """Molecules and reads per insert from an in-memory table of (insert, UMI) read counts.

    Returns ``(molecules, reads)``: Counters keyed by insert sequence (bytes).
    """
    rows = ((insert, umi, n) for (insert, umi), n in sorted(pairs.items()))
    return deduplicate_sorted(rows)


def deduplicate_sorted(rows: Iterable[tuple[bytes, bytes, int]]) -> tuple[Counter, Counter]:
    """Molecules and reads per insert from (insert, UMI, reads) rows sorted by insert, UMI."""
    clusterer = HammingClusterer()
    molecules: Counter = Counter()
    reads: Counter = Counter()
    for insert, group in groupby(rows, key=itemgetter(0)):
        umis = {umi: n for _, umi, n in group}
        reads[insert] = sum(umis.values())
        molecules[insert] = clusterer.molecules(umis)
    return molecules, reads


def umi_length_check(pairs: Iterable[tuple[bytes, bytes]], expected: int) -> None:
    """Every UMI must have the kit's length; else the read names were not from umi_tools."""
    for _, umi in pairs:
        if len(umi) != expected:
            raise ValueError(
                f"UMI '{umi.decode(errors='replace')}' has {len(umi)} nt, expected {expected}: "
                "read names must end in _<UMI> as umi_tools extract writes them"
            )


def checked_rows(
    rows: Iterable[tuple[bytes, bytes, int]], expected: int
) -> Iterator[tuple[bytes, bytes, int]]:
    """``rows`` after :func:`umi_length_check` of each UMI."""
    for row in rows:
        umi_length_check([row[:2]], expected)
        yield row


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
