"""A sample's raw FASTQ: format checks, and the counting pass of identical raw reads.

:func:`inspect` runs before any trimming and stops with a one-line message
(sample, file, what was found, the fix) where a file would otherwise be
trimmed into a silently wrong result:

* a FASTA file (``>`` records): cutadapt would read it, but there are no
  qualities to trim on and the sheet most likely points to a processed file;
* Phred+64 qualities (Illumina pipelines 1.3-1.7): read as Phred+33, every
  base has quality >= 26 and ``quality_cutoff`` silently trims nothing.
  Decided from the first reads' quality characters: any character below
  ``;`` (Phred+33 quality < 26) means Phred+33; all characters at least ``;``
  with some above ``J`` (Phred+33 quality 41, the Illumina 1.8+ maximum) means
  Phred+64. Files in between (all qualities 26-41) are Phred+33: as Phred+64
  every base would be below quality 11;
* anything that is not FASTQ.

Compression is recognised by the gzip magic bytes, not the file name, so a
gzipped file named ``.fastq`` is read as what it is.

:func:`count_raw_reads` is the counting pass of the distinct-read path
(:mod:`exomir.distinct`): it decompresses and parses the file in C (``xopen``
with ISA-L, ``dnaio``), finds each read's 3' quality-trimming position with
cutadapt's own ``quality_trim_index`` (the function behind cutadapt's
``--quality-cutoff``), and counts identical (sequence, trimming position)
pairs. Reads are never visited by Python code one at a time: the chain of
``map`` calls and ``Counter`` run in C.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import islice, repeat, tee
from operator import attrgetter, itemgetter
from pathlib import Path

import dnaio
from cutadapt.qualtrim import quality_trim_index
from xopen import xopen

GZIP_MAGIC = b"\x1f\x8b"
PHRED_BASE = 33  # exomir reads Phred+33 (Sanger, Illumina 1.8+) qualities
INSPECT_READS = 10_000
LOWEST_PHRED64 = ord(";")  # Solexa/Illumina 1.3+ qualities start here (Q -5)
HIGHEST_PHRED33 = ord("J")  # Illumina 1.8+ maximum (Q 41)
READ_ERRORS = (OSError, EOFError, UnicodeDecodeError, dnaio.exceptions.FileFormatError)


class InputError(RuntimeError):
    """A sample's input cannot be processed; the message says which and how to fix it."""


@dataclass(frozen=True)
class FastqFormat:
    """What :func:`inspect` found at the start of a FASTQ file."""

    gzipped: bool
    reads_inspected: int
    lowest_quality: str  # lowest quality character among the inspected reads ("" if none)
    highest_quality: str


def is_gzipped(path: str | Path) -> bool:
    """Whether the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _problem(sample: str, fastq: str | Path, found: str, fix: str) -> InputError:
    return InputError(f"sample '{sample}': cannot trim {fastq}: {found}.\nFix: {fix}.")


def _unreadable(sample: str, fastq: str | Path, error: Exception) -> InputError:
    return _problem(
        sample,
        fastq,
        str(error).strip().rstrip("."),
        "check that the file is a complete FASTQ (plain or gzipped) and that the sample "
        "sheet points to the right file",
    )


def _first_records(sample: str, fastq: str | Path, n: int) -> list[dnaio.SequenceRecord]:
    try:
        with xopen(fastq, "rb", threads=0) as handle:
            first = handle.read(1)
            if first == b">":
                raise _problem(
                    sample,
                    fastq,
                    "it is FASTA (its first line starts with '>'), not FASTQ: there are no base "
                    "qualities to trim on, and a FASTA is usually already processed",
                    "point the sample sheet's fastq column to this sample's raw FASTQ "
                    "(.fastq or .fastq.gz, 4 lines per read, as the sequencer wrote it)",
                )
            if first not in (b"@", b""):
                raise _problem(
                    sample,
                    fastq,
                    f"it is not FASTQ (it starts with {first!r}, a FASTQ record with '@')",
                    "point the sample sheet's fastq column to this sample's raw FASTQ "
                    "(.fastq or .fastq.gz)",
                )
        with dnaio.open(fastq, mode="r", fileformat="fastq", open_threads=0) as reader:
            return list(islice(reader, n))
    except READ_ERRORS as error:
        raise _unreadable(sample, fastq, error) from None


def inspect(sample: str, fastq: str | Path, n_reads: int = INSPECT_READS) -> FastqFormat:
    """Check the format of ``fastq`` from its first ``n_reads`` reads (see the module doc)."""
    gzipped = is_gzipped(fastq)
    records = _first_records(sample, fastq, n_reads)
    qualities = [r.qualities for r in records if r.qualities]
    lowest = min(map(min, qualities), default="")
    highest = max(map(max, qualities), default="")
    if qualities and ord(lowest) >= LOWEST_PHRED64 and ord(highest) > HIGHEST_PHRED33:
        raise _problem(
            sample,
            fastq,
            f"it has Phred+64 base qualities (characters '{lowest}' to '{highest}' in its first "
            f"{len(records)} reads; Phred+33 files have characters below ';'), as Illumina "
            "pipelines 1.3-1.7 wrote them; read as Phred+33 no base would be quality-trimmed",
            "convert the file to Phred+33, e.g. `seqtk seq -Q64 -V in.fastq.gz | gzip > "
            "out.fastq.gz`, and point the sample sheet to the converted file",
        )
    return FastqFormat(gzipped, len(records), lowest, highest)


@dataclass
class RawCounts:
    """Identical raw reads of one sample, after cutadapt's 3' quality trimming.

    ``sequences[i]`` (quality-trimmed, distinct) was seen in ``counts[i]`` raw reads.
    """

    sequences: list[str]
    counts: list[int]
    raw_reads: int
    raw_bp: int  # bases of the raw reads
    quality_trimmed_bp: int  # bases removed by quality trimming


def count_pairs(fastq: str | Path, quality_cutoff: int) -> Counter:
    """Counts of (raw sequence, 3' quality-trimming position) over the reads of ``fastq``."""
    with xopen(fastq, "rb", threads=0) as raw, dnaio.open(raw, fileformat="fastq") as reader:
        for_sequence, for_quality = tee(reader)
        stops = map(
            itemgetter(1),
            map(
                quality_trim_index,
                map(attrgetter("qualities"), for_quality),
                repeat(0),
                repeat(quality_cutoff),
                repeat(PHRED_BASE),
            ),
        )
        return Counter(zip(map(attrgetter("sequence"), for_sequence), stops))


def count_raw_reads(sample: str, fastq: str | Path, quality_cutoff: int) -> RawCounts:
    """Distinct quality-trimmed raw reads of ``fastq`` and their multiplicities.

    Pairs are merged when their trimmed sequences are equal; the pair table is
    emptied while the distinct table fills, so both never hold every entry.
    """
    try:
        pairs = count_pairs(fastq, quality_cutoff)
    except READ_ERRORS as error:
        raise _unreadable(sample, fastq, error) from None
    reads: dict[str, int] = {}  # quality-trimmed sequence → raw reads, in first-seen order
    raw_reads = raw_bp = kept_bp = 0
    while pairs:
        (sequence, stop), n = pairs.popitem()
        raw_reads += n
        raw_bp += n * len(sequence)
        kept_bp += n * stop
        trimmed = sequence[:stop]
        reads[trimmed] = reads.get(trimmed, 0) + n
    return RawCounts(list(reads), list(reads.values()), raw_reads, raw_bp, raw_bp - kept_bp)
