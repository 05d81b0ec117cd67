"""Trimming each distinct raw read once, for kits without random bases or UMIs.

What cutadapt does to a read depends only on its sequence once the 3' quality
trimming is done (quality trimming comes first in cutadapt, and the adapter is
searched in what is left). So identical quality-trimmed raw reads are trimmed
identically, and a sample is processed as:

1. **counting pass** (:func:`exomir.fastq.count_raw_reads`): every raw read is
   quality-trimmed at the position cutadapt's own ``quality_trim_index``
   gives for ``--quality-cutoff`` and identical results are counted;
2. **cutadapt's adapter matching on the distinct sequences**, in this process
   (:func:`trim`): the adapter pass's arguments (``-a``, ``-e``,
   ``--discard-untrimmed``, without ``--quality-cutoff``, already applied) are
   parsed by cutadapt's own argument parser into cutadapt's own adapter
   (:func:`adapter_from_args`), whose ``match_to`` is what cutadapt's adapter
   cutter calls for every read; a match removes the adapter and what follows it
   (``match.trimmed``), as cutadapt does. The kit's 5' adapter and clip passes
   then run as cutadapt commands on the distinct inserts (:func:`insert_chunks`);
3. **multiplicities carried through**: each distinct sequence adds its
   raw-read count to its insert, so the collapsed inserts, the length histogram
   and every read fate are read counts, exactly as if every read had been
   trimmed.

The report written for the sample (the one MultiQC reads) is cutadapt's JSON
report for the adapter pass's arguments, written by cutadapt itself for no
reads (its frame: version, arguments, adapter settings, zero counts), with the
counts of all raw reads added: every number of the adapter pass is a sum over
reads of what the read's match (or its absence) contributes, so the sums over
the distinct sequences, each weighted by its raw reads, are the per-read
path's numbers. Reads in, reads with adapter, reads written, bases in /
quality-trimmed / written, adapter matches, the bases preceding the adapter
and the table of removed lengths by number of errors are added that way
(tests compare them with cutadapt run on every read); ``expect`` is computed
with cutadapt's own random-match probabilities for the raw read count. The
report says so under ``exomir``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, NamedTuple

from cutadapt.adapters import BackAdapter, EndStatistics
from cutadapt.cli import adapters_from_args, get_argument_parser
from cutadapt.json import OneLine, dumps
from cutadapt.report import AdjacentBaseStatistics

from .fastq import RawCounts

BATCH = 65_536  # distinct sequences per chunk written to cutadapt
PLACEHOLDER_QUALITY = "I"
GC_CONTENT = 0.5  # cutadapt's default --gc-content, used for 'expect'
# cutadapt options of the adapter pass that trim() reproduces (see adapter_from_args);
# adapter matching settings (error rate, overlap, indels, wildcards) are the adapter's own
HANDLED_OPTIONS = {
    "adapters",
    "cores",
    "error_rate",
    "overlap",
    "indels",
    "match_read_wildcards",
    "match_adapter_wildcards",
    "discard_untrimmed",
    "inputs",
}


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


class Trimmed(NamedTuple):
    """The adapter pass over the distinct sequences, in raw reads."""

    inserts: Counter  # insert (bytes) → raw reads
    # (read length, adapter start or -1 without adapter, errors, base before the adapter)
    # → raw reads: what the report's numbers are sums of
    fates: Counter


def adapter_from_args(adapter_args: Sequence[str]) -> BackAdapter:
    """The 3' adapter cutadapt builds from the adapter pass's command ``adapter_args``.

    Parsed by cutadapt's own argument parser and adapter factory, so that the
    error rate, overlap and indel settings are cutadapt's for these arguments.
    Only what :func:`trim` reproduces is accepted: one 3' adapter, no option
    that changes the pass beyond matching and ``--discard-untrimmed``.
    """
    parser = get_argument_parser()
    args = parser.parse_args([*adapter_args[1:], "-"])
    defaults = parser.parse_args(["-"])
    changed = {
        key
        for key, value in vars(args).items()
        if value != getattr(defaults, key) and key not in HANDLED_OPTIONS
    }
    adapters, _ = adapters_from_args(args)
    if changed or len(adapters) != 1 or type(adapters[0]) is not BackAdapter:
        raise ValueError(
            f"the distinct-read path trims one 3' adapter and nothing else, not "
            f"{' '.join(adapter_args)}"
        )
    return adapters[0]


def trim(raw: RawCounts, adapter: BackAdapter, keep_untrimmed: bool) -> Trimmed:
    """Inserts and read fates of the distinct sequences of ``raw``, weighted by raw reads."""
    inserts: Counter = Counter()  # keyed by bytes, as the other paths' inserts
    fates: Counter = Counter()
    for sequence, n, match in zip(raw.sequences, raw.counts, map(adapter.match_to, raw.sequences)):
        if match is None:
            fates[len(sequence), -1, 0, ""] += n
            if not keep_untrimmed:
                continue
            insert = sequence
        else:
            insert = match.trimmed(sequence)
            base = match.adjacent_base()
            fates[len(sequence), match.rstart, match.errors, base if base in "ACGT" else ""] += n
        key = insert.encode()
        inserts[key] = inserts.get(key, 0) + n
    return Trimmed(inserts, fates)


def insert_chunks(inserts: Counter) -> tuple[list[int], Iterator[bytes]]:
    """(raw reads per record, FASTQ chunks) of the distinct inserts, records named by index."""
    sequences = [insert.decode() for insert in inserts]
    return list(inserts.values()), fastq_chunks(sequences, range(len(sequences)))


def _add_fates(report: dict, fates: Counter, keep_untrimmed: bool) -> tuple[dict, dict]:
    """Add the raw reads of every fate of :func:`trim` to cutadapt's report of no reads.

    Returns the removed lengths by number of errors (reads per length and errors) and
    the reads per base before the adapter, which the report shows only with matches.
    """
    reads, bases = report["read_counts"], report["basepair_counts"]
    adapter = report["adapters_read1"][0]
    end = adapter["three_prime_end"]
    adjacent = dict.fromkeys(("A", "C", "G", "T", ""), 0)
    errors: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (length, start, n_errors, base), n in sorted(fates.items()):
        reads["input"] += n
        bases["input"] += n * length
        if start < 0:
            if not keep_untrimmed:
                reads["filtered"]["discard_untrimmed"] += n
                continue
            written = length
        else:
            written = start
            reads["read1_with_adapter"] += n
            adapter["total_matches"] += n
            end["matches"] += n
            adjacent[base] += n
            errors[length - start][n_errors] += n
        reads["output"] += n
        bases["output"] += n * written
    return errors, adjacent


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
    fates: Counter,
    raw: RawCounts,
    keep_untrimmed: bool,
    fastq: str,
    quality_cutoff: int,
) -> dict:
    """cutadapt's report of no reads with the counts of all raw reads (see the module doc)."""
    if report["read_counts"]["input"]:
        raise RuntimeError("the report to fill must be cutadapt's report of no reads")
    end = report["adapters_read1"][0]["three_prime_end"]
    errors, adjacent = _add_fates(report, fates, keep_untrimmed)
    reads, bases = report["read_counts"], report["basepair_counts"]
    if reads["input"] != raw.raw_reads:
        raise RuntimeError(f"weighted report counts {reads['input']} reads, not {raw.raw_reads}")
    bases["input"] += raw.quality_trimmed_bp
    bases["quality_trimmed"] = raw.quality_trimmed_bp
    for key in ("input", "quality_trimmed", "output"):
        bases[f"{key}_read1"] = bases[key]
    if end["matches"]:  # cutadapt leaves these empty (null) without any match
        end["adjacent_bases"] = adjacent
        end["dominant_adjacent_base"] = AdjacentBaseStatistics(adjacent).warnbase
        end["trimmed_lengths"] = _histogram(
            errors, end["sequence"], end["error_rate"], raw.raw_reads
        )
    report["input"]["path1"] = fastq
    report["exomir"] = {
        "distinct_sequences": len(raw.sequences),
        "counts": "raw reads: cutadapt's adapter matching was applied once to each distinct "
        "quality-trimmed read and counted as many times as the read occurs; the frame is "
        "cutadapt's report of these arguments for no reads",
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
