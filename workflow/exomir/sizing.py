"""Memory, run time and threads of the per-sample jobs, from the size of their input
(and the threads of DE and of the biomarker fit, measured below).

Used by the rules' ``resources:`` and ``threads:`` (see the rules in the
workflow). Every figure is a linear model ``fixed + per million reads``
fitted to measured peaks (``benchmarks/workflow_benchmark.py``, simulated
TruSeq, NEXTflex and QIAseq libraries of 0.1, 1 and 20 M reads; the
measurements are in the benchmark notes) with a margin on top:

* the reads of a FASTQ are estimated from its size and the bytes per read of
  its first 32 kB (decompressed when gzipped, at most 128 kB of text), so a
  well-compressed file is not mistaken for a small one. Snakemake asks for every
  sample's figure when it builds the DAG, dry runs included. 32 kB estimated the
  simulated libraries (TruSeq 0.1 and 1 M reads, NEXTflex and QIAseq 1 and 20 M)
  within 1.2 % (256 kB: 0.9 %), a file of random reads of varying length 2.6 % low
  (gzip compresses its first blocks less well; 8 kB would be 7 % low), well inside
  ``MEMORY_MARGIN``. The simulated files compress 16-fold: 32 kB are 546 kB of
  text, 0.64 ms a file (0.64 s of a 1,000-sample dry run); the 128 kB cap takes
  0.13 ms and leaves the simulated estimates within 3 % (TruSeq 1 M reads 2.9 %
  low; real FASTQ compresses 3-5 fold, its 32 kB stay under the cap);
* memory is ``MEMORY_MARGIN`` times the model, and doubles with every retry
  (``attempt``: ``snakemake --retries 1`` reruns a job killed for memory
  with twice as much);
* run time (minutes) is ``RUNTIME_MARGIN`` times the measured CPU time, as if
  the threads gave no speed-up (they give little: one stage of each chain is
  serial), at least ``MIN_RUNTIME``.

The trimming job's memory follows the distinct sequences it holds: the
distinct quality-trimmed raw reads (TruSeq-like kits), the distinct inserts
(NEXTflex), or for QIAseq the distinct inserts plus GNU sort's buffer
(:data:`exomir.umi.SORT_BUFFER_MB`); the model's per-million figure is the
simulation's (12 % of reads random non-miRNA inserts, all distinct), a
library with more distinct reads needs more and gets it on a retry.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .protocols import Protocol, trims_distinct_reads
from .umi import SORT_BUFFER_MB

SAMPLE_BYTES = 32 * 2**10  # bytes read to estimate the bytes per read of a FASTQ
TEXT_BYTES = 128 * 2**10  # at most this much of them decompressed (very repetitive files)
FASTA_BYTES_PER_RECORD = 35  # collapsed inserts: ">seq_<rank>_x<count>\n" + 16-30 nt
MEMORY_MARGIN = 1.5
RUNTIME_MARGIN = 3.0
MIN_RUNTIME = 5  # minutes


@dataclass(frozen=True)
class Model:
    """Measured cost of a job: fixed + per unit of input (million reads, or MB of BAM)."""

    mem_mb: float  # peak RSS of the job's processes without input
    mem_mb_per_unit: float
    cpu_s_per_unit: float
    threads: int  # useful maximum (measured)
    mem_mb_per_extra_thread: float = 0.0  # each thread beyond the first (cutadapt workers)


# Calibrated with `benchmarks/workflow_benchmark.py --only-kits --kits truseq nextflex qiaseq
# --memory-reads 100000 1000000 20000000` (peak RSS of the job's processes, MB, at 0.1 / 1 /
# 20 M reads): distinct (TruSeq) 57 / 104 / 907, every read (NEXTflex) 147 / 169 / 583, UMI
# (QIAseq) 331 / 389 / 892; CPU seconds per million reads 2.3-2.9, 9.2-9.7, 46-49. A later
# measurement at 20 M reads: NEXTflex 702 MB (6.7 cpu-s per M), QIAseq 938 MB, TruSeq 741 MB
# (1.7 cpu-s per M).
# trimming: per million raw reads
TRIM_MODELS = {
    # one process at a time does most of the work: the counting pass, then cutadapt
    "distinct": Model(mem_mb=150, mem_mb_per_unit=42, cpu_s_per_unit=3.0, threads=1),
    # cutadapt --cores on the adapter pass, the clip pass and the counting run side by side;
    # every cutadapt worker is one more Python process: NEXTflex at 1 M reads peaked at 203,
    # 280 and 331 MB with 1, 2 and 4 threads (`--cores` of the benchmark's kit run)
    "every": Model(
        mem_mb=150, mem_mb_per_unit=25, cpu_s_per_unit=12.0, threads=4, mem_mb_per_extra_thread=65
    ),
    # umi_tools extract (one core) limits the speed; GNU sort holds its buffer
    "umi": Model(mem_mb=200 + SORT_BUFFER_MB, mem_mb_per_unit=26, cpu_s_per_unit=50.0, threads=2),
}
# align: per million collapsed inserts (estimated from the FASTA size); the job's Python
# process (exomir.align) and bowtie: peak 43 MB at 1 M and 20 M reads. One thread: bowtie
# writes its --al and --un files in input order only on one (the inserts left for the
# cascade keep the collapsed order)
ALIGN_MODEL = Model(mem_mb=120, mem_mb_per_unit=10, cpu_s_per_unit=5.0, threads=1)
# count: per MB of the sample's stage BAMs (the job holds their aligned inserts): peak RSS
# 117 MB at 0.11 MB (TruSeq, 0.1 M reads), 134 MB at 0.31 MB (TruSeq, 1 M), 193 MB at
# 1.0 MB (NEXTflex, 20 M), 108 MB for the imports alone (MB: 2**20 bytes)
COUNT_MODEL = Model(mem_mb=130, mem_mb_per_unit=90, cpu_s_per_unit=3.0, threads=1)

#: Processes of the biomarker fit's permutation reruns (the tables do not depend on it).
BIOMARKER_THREADS = 2
# PyDESeq2 (0.5.4) on 1 vs 2 processes: the example's DE job 15.3 vs 17.5 s (289 miRNAs
# tested, 12 samples; 257 vs 747 MB); simulated 600 miRNAs x 12, 100 and 400 samples
# 2.7/3.4/3.9 vs 4.5/5.5/5.8 s; only at 2,600 miRNAs (all of miRBase) 2 processes win
# (50 and 500 samples: 14.7/18.6 vs 12.1/12.6 s). Plasma DE tests a few hundred miRNAs.
DE_THREADS = 1
# a composition reference's bowtie job (the align model) also holds that reference's index:
# peak RSS 15 MB with the hairpin index (8.7 MB of .ebwt files), 143 and 298 MB with indexes
# of 0.6 and 1.5 M random sequences (63 and 159 MB), with 1 or 200,000 reads
INDEX_MB_PER_MB = 2.0


@lru_cache(maxsize=4096)
def _reads_in(path: str, size: int, mtime: float) -> float:
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if size == 0 or not head:
        return 0.0
    text, consumed = head, len(head)
    if head[:2] == b"\x1f\x8b":
        text, consumed = _decompressed_start(head)
    records = text.count(b"\n") / 4
    return records * size / max(consumed, 1)


def _decompressed_start(head: bytes) -> tuple[bytes, int]:
    """The text of the gzipped ``head`` (at most ``TEXT_BYTES``) and the bytes it took."""
    text, rest = b"", head
    while rest[:2] == b"\x1f\x8b" and len(text) < TEXT_BYTES:  # every bgzip member
        member = zlib.decompressobj(31)
        text += member.decompress(rest, TEXT_BYTES - len(text))
        if member.unconsumed_tail:  # the text is full: the input it came from
            return text, len(head) - len(member.unconsumed_tail)
        rest = member.unused_data
    return text, len(head) - len(rest)


def estimate_reads(fastq: str | Path) -> float:
    """Reads in a plain or gzipped FASTQ, from its size and its first bytes."""
    stat = os.stat(fastq)
    return _reads_in(str(fastq), stat.st_size, stat.st_mtime)


def trim_path(protocol: Protocol) -> str:
    """Which trimming path a kit takes: 'umi', 'distinct' or 'every' (read).

    ``auto`` is sized as the most demanding path (its kit is known only in the job).
    """
    if protocol.umi_length or protocol.is_auto:
        return "umi"
    return "distinct" if trims_distinct_reads(protocol) else "every"


def _memory(model: Model, units: float, attempt: int, held_mb: float = 0, threads: int = 1) -> int:
    extra_threads = model.mem_mb_per_extra_thread * (max(1, threads) - 1)
    peak = model.mem_mb + model.mem_mb_per_unit * units + held_mb + extra_threads
    return math.ceil(peak * MEMORY_MARGIN) * 2 ** (attempt - 1)


def _runtime(model: Model, units: float) -> int:
    minutes = model.cpu_s_per_unit * units / 60 * RUNTIME_MARGIN
    return max(MIN_RUNTIME, math.ceil(minutes))


def trim_threads(protocol: Protocol) -> int:
    """Useful maximum threads of the trimming job (Snakemake caps them at ``--cores``)."""
    return TRIM_MODELS[trim_path(protocol)].threads


def trim_mem_mb(fastq: str | Path, protocol: Protocol, threads: int, attempt: int = 1) -> int:
    """Memory (MB) of the trimming job of ``fastq`` on ``threads`` (as Snakemake capped them)."""
    model = TRIM_MODELS[trim_path(protocol)]
    return _memory(model, estimate_reads(fastq) / 1e6, attempt, threads=threads)


def trim_runtime(fastq: str | Path, protocol: Protocol) -> int:
    """Run time (minutes) of the trimming job of ``fastq``."""
    return _runtime(TRIM_MODELS[trim_path(protocol)], estimate_reads(fastq) / 1e6)


def biomarker_threads(may_run: bool) -> int:
    """Threads of the biomarker fit: its permutation reruns run in parallel; one thread
    where it cannot run (the job only writes why), so it does not hold CPUs for nothing."""
    return BIOMARKER_THREADS if may_run else 1


def _inserts(collapsed_fasta: str | Path) -> float:
    return os.path.getsize(collapsed_fasta) / FASTA_BYTES_PER_RECORD / 1e6


def align_mem_mb(collapsed_fasta: str | Path, attempt: int = 1) -> int:
    """Memory (MB) of a bowtie job on a sample's collapsed inserts."""
    return _memory(ALIGN_MODEL, _inserts(collapsed_fasta), attempt)


def align_runtime(collapsed_fasta: str | Path) -> int:
    """Run time (minutes) of a bowtie job."""
    return _runtime(ALIGN_MODEL, _inserts(collapsed_fasta))


def composition_mem_mb(
    collapsed_fasta: str | Path, index_files: list[str | Path], attempt: int = 1
) -> int:
    """Memory (MB) of the bowtie job of a composition reference: inserts and its index.

    ``index_files`` are every ``.ebwt`` file of the index (the sizes measured above).
    """
    held = INDEX_MB_PER_MB * _megabytes(index_files)
    return _memory(ALIGN_MODEL, _inserts(collapsed_fasta), attempt, held)


def count_mem_mb(inputs: list[str | Path], attempt: int = 1) -> int:
    """Memory (MB) of the counting job of a sample, from its stage BAMs."""
    return _memory(COUNT_MODEL, _megabytes(inputs), attempt)


def count_runtime(inputs: list[str | Path]) -> int:
    """Run time (minutes) of the counting job of a sample."""
    return _runtime(COUNT_MODEL, _megabytes(inputs))


def _megabytes(paths: list[str | Path]) -> float:
    return sum(os.path.getsize(p) for p in paths) / 2**20
