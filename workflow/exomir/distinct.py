"""Trimming each distinct raw read once, for kits without random bases or UMIs.

What cutadapt does to a read depends only on its sequence once the 3' quality
trimming is done (quality trimming comes first in cutadapt, and the adapter is
searched in what is left). So identical quality-trimmed raw reads are trimmed
identically, and a sample is processed as:

1. **counting pass** (:func:`exomir.fastq.count_raw_reads`): every raw read is
   quality-trimmed at the position cutadapt's own ``quality_trim_index``
   gives for ``--quality-cutoff`` and identical results are counted;
2. **cutadapt on the distinct sequences** (one record per distinct sequence,
   named by its index; FASTA output): the same adapter pass (``-a``, ``-e``,
   ``--discard-untrimmed``) and the kit's 5' adapter and clip passes as the
   per-read path, without ``--quality-cutoff`` (already applied);
3. **multiplicities carried through**: each trimmed record adds its raw-read
   count to its insert, so the collapsed inserts, the length histogram and
   every read fate are read counts, exactly as if every read had been trimmed.

cutadapt's JSON report of step 2 counts distinct sequences once each. The
report written for the sample (the one MultiQC reads) is made to count raw
reads, as the per-read path's report does: every number of the adapter pass
is a sum over reads, so the report of the distinct sequences plus ``m - 1``
times the contribution of each sequence seen ``m > 1`` times is the report of
all reads. Those contributions come from cutadapt itself: the sequences seen
more than once (a few percent of the distinct ones) are run through the same
adapter pass again with ``--info-file``, which lists each read's match
(errors, position, matched bases). Reads in, reads with adapter, reads
written, bases in / quality-trimmed / written, adapter matches, the bases
preceding the adapter and the table of removed lengths by number of errors
are then the per-read path's numbers (tests compare them with cutadapt run
on every read); ``expect`` is recomputed with cutadapt's own random-match
probabilities for the raw read count. The report says so under ``exomir``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO

from cutadapt.adapters import BackAdapter, EndStatistics
from cutadapt.json import OneLine, dumps
from cutadapt.report import AdjacentBaseStatistics

from .fastq import RawCounts

BATCH = 65_536  # distinct sequences per chunk written to cutadapt
PLACEHOLDER_QUALITY = "I"
GC_CONTENT = 0.5  # cutadapt's default --gc-content, used for 'expect'


def fastq_chunks(sequences: Sequence[str], names: Iterable[int]) -> Iterator[bytes]:
    """FASTQ records ``@name`` of ``sequences[name]``, ``BATCH`` records per chunk.

    The qualities are a placeholder (``I``): quality trimming is done, and
    cutadapt parses FASTQ in C but FASTA in Python.
    """
    names = iter(names)
    while batch := list(islice(names, BATCH)):
        yield "".join(
            f"@{i}\n{sequences[i]}\n+\n{PLACEHOLDER_QUALITY * len(sequences[i])}\n" for i in batch
        ).encode()


def read_trimmed(stream: IO[bytes], counts: Sequence[int]) -> Counter:
    """Inserts from cutadapt's FASTA output (``>index``), weighted by raw reads."""
    lines = stream.read().split(b"\n")
    weights = map(counts.__getitem__, map(int, map(itemgetter(slice(1, None)), lines[0:-1:2])))
    inserts: Counter = Counter()
    for sequence, weight in zip(lines[1::2], weights):
        inserts[sequence] += weight
    return inserts


def repeated_read_matches(
    raw: RawCounts, adapter_args: Sequence[str], log_handle: IO[str]
) -> list[tuple[int, list[str]]]:
    """(extra reads, info-file fields) of every distinct sequence seen more than once.

    The sequences go through the adapter pass ``adapter_args`` once more,
    with ``--info-file``; ``extra reads`` is the raw read
    count minus the one read the distinct report already counts.
    """
    repeated = [i for i, n in enumerate(raw.counts) if n > 1]
    if not repeated:
        return []
    with tempfile.TemporaryDirectory(prefix="exomir-info-") as tmp:
        info = Path(tmp) / "info.tsv"
        command = [*adapter_args, "--quiet", "--info-file", str(info)]
        subprocess.run(
            [*command, "--output", "/dev/null", "-"],
            input=b"".join(fastq_chunks(raw.sequences, repeated)),
            stderr=log_handle,
            check=True,
        )
        with open(info) as handle:
            rows = [line.rstrip("\n").split("\t") for line in handle]
    return [(raw.counts[int(fields[0])] - 1, fields) for fields in rows]


def _trimmed_lengths(report_end: dict) -> dict[int, dict[int, int]]:
    errors: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in report_end["trimmed_lengths"]:
        for n_errors, n in enumerate(row["counts"]):
            errors[row["len"]][n_errors] += n
    return errors


def _add_matches(report: dict, matches: list[tuple[int, list[str]]], keep_untrimmed: bool):
    """Add ``extra`` times each listed read's contribution to the adapter pass's report.

    Returns the removed lengths by number of errors (reads per length and errors).
    """
    reads, bases = report["read_counts"], report["basepair_counts"]
    adapter = report["adapters_read1"][0]
    end = adapter["three_prime_end"]
    errors = _trimmed_lengths(end)
    for extra, fields in matches:
        reads["input"] += extra
        if fields[1] == "-1":  # no adapter: name, -1, sequence, qualities
            length = written = len(fields[2])
            if not keep_untrimmed:
                written = None
                reads["filtered"]["discard_untrimmed"] += extra
        else:  # name, errors, start, end, before, matched, after, adapter name, ...
            before, matched, after = fields[4], fields[5], fields[6]
            length, written = len(before) + len(matched) + len(after), len(before)
            reads["read1_with_adapter"] += extra
            adapter["total_matches"] += extra
            end["matches"] += extra
            base = before[-1:] if before[-1:] in ("A", "C", "G", "T") else ""
            end["adjacent_bases"][base] += extra
            errors[len(matched) + len(after)][int(fields[1])] += extra
        bases["input"] += extra * length
        if written is not None:
            reads["output"] += extra
            bases["output"] += extra * written
    return errors


def _histogram(errors: dict[int, dict[int, int]], adapter: str, error_rate: float, n: int):
    """cutadapt's 'trimmed_lengths' rows for ``n`` reads (see ``cutadapt.report``)."""
    probabilities = EndStatistics(
        BackAdapter(adapter, max_errors=error_rate, name="1")
    ).random_match_probabilities(GC_CONTENT)
    rows = []
    for length in sorted(errors):
        by_errors = errors[length]
        most = max(e for e, count in by_errors.items() if count) if any(by_errors.values()) else 0
        rows.append(
            OneLine(
                {
                    "len": length,
                    "expect": round(n * probabilities[min(len(adapter), length)], 1),
                    "counts": [by_errors.get(e, 0) for e in range(most + 1)],
                }
            )
        )
    return rows


def weighted_report(
    report: dict,
    matches: list[tuple[int, list[str]]],
    raw: RawCounts,
    keep_untrimmed: bool,
    fastq: str,
    quality_cutoff: int,
) -> dict:
    """The adapter pass's report over all raw reads (see the module docstring)."""
    end = report["adapters_read1"][0]["three_prime_end"]
    errors = _add_matches(report, matches, keep_untrimmed)
    reads, bases = report["read_counts"], report["basepair_counts"]
    if reads["input"] != raw.raw_reads:
        raise RuntimeError(f"weighted report counts {reads['input']} reads, not {raw.raw_reads}")
    bases["input"] += raw.quality_trimmed_bp
    bases["quality_trimmed"] = raw.quality_trimmed_bp
    for key in ("input", "quality_trimmed", "output"):
        bases[f"{key}_read1"] = bases[key]
    if end["matches"]:  # cutadapt leaves these empty (null) without any match
        end["dominant_adjacent_base"] = AdjacentBaseStatistics(end["adjacent_bases"]).warnbase
        end["trimmed_lengths"] = _histogram(
            errors, end["sequence"], end["error_rate"], raw.raw_reads
        )
    report["input"]["path1"] = fastq
    report["exomir"] = {
        "distinct_sequences": len(raw.sequences),
        "counts": "raw reads: each distinct quality-trimmed read was trimmed once and "
        "counted as many times as it occurs",
        "quality_trimming": f"cutoff {quality_cutoff}, applied to every raw read before "
        "cutadapt with cutadapt's quality_trim_index",
    }
    return report


def write_report(report: dict, path: str | Path) -> None:
    """Write a cutadapt-style JSON report (one-line rows as cutadapt writes them)."""
    with open(path, "w") as out:
        out.write(dumps(report))
        out.write("\n")


def read_report(path: str | Path) -> dict:
    with open(path) as handle:
        return json.load(handle)
