"""Trimming and collapsing of one sample: the read fates and the collapsed inserts.

The sample's FASTQ is first checked (:func:`exomir.fastq.inspect`: FASTA,
Phred+64, not FASTQ stop with a clear message; gzip is recognised by its
magic bytes) and its adapter detected from its first reads
(:mod:`exomir.adapters`), whatever its configured kit: the kit record
(``kit_record``) carries the detection for the QC table, and
``protocol: auto`` trims with it. Then one of three paths trims the reads
with cutadapt (:mod:`exomir.protocols` gives the passes), streamed through
pipes, and identical inserts become one FASTA record ``seq_<rank>_x<count>``:

* **distinct reads** (kits without random bases or UMIs,
  :func:`exomir.protocols.trims_distinct_reads`): identical quality-trimmed
  raw reads are counted first and trimmed once (:mod:`exomir.distinct`);
* **every read** (NEXTflex, custom or detected layouts with clipped ends):
  cutadapt's output is counted as it streams;
* **UMI** (QIAseq): ``umi_tools extract`` then cutadapt; (insert, UMI) pairs
  go through an external sort and are deduplicated insert by insert
  (:mod:`exomir.umi`); the count of an insert is its number of molecules.

All paths give the same numbers for the same reads: raw reads, reads with
adapter, the insert-length histogram (dimers, too short, too long, kept) and
cutadapt's JSON report, all counted in reads.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, NamedTuple

from . import adapters, distinct, pipes, umi
from . import fastq as fastq_input
from .fastq import InputError
from .protocols import (
    Protocol,
    adapter_pass_args,
    clip_pass_args,
    front_pass_args,
    trims_distinct_reads,
    umi_extract_args,
)

DIMER_MAX_LENGTH = 5  # inserts this short after trimming are adapter dimers
# first reads scanned to check a named kit (0.15 cpu-s; protocol auto scans qc.auto_reads)
CHECK_READS = 20_000

__all__ = ["InputError", "LengthWindow", "Trimming", "run"]


@dataclass(frozen=True)
class LengthWindow:
    """Insert lengths counted as miRNA candidates (config trimming.min_length, max_length)."""

    min_length: int
    max_length: int


@dataclass(frozen=True)
class Trimming:
    """Settings of the cutadapt passes (config ``trimming``) and the job's threads."""

    quality_cutoff: int
    keep_untrimmed: bool
    error_rate: float
    threads: int

    @classmethod
    def from_config(cls, trimming: Any, threads: int) -> Trimming:
        """From the validated config's ``trimming`` block."""
        return cls(
            trimming["quality_cutoff"], trimming["keep_untrimmed"], trimming["error_rate"], threads
        )


def count_sequences(stream: IO[bytes]) -> Counter:
    """Count the sequence lines (2nd of every 4) of a FASTQ byte stream."""
    return Counter(line.rstrip(b"\n") for line in islice(stream, 1, None, 4))


def collapsed_records(counts: Counter, window: LengthWindow) -> list[tuple[str, int]]:
    """Inserts inside the length window, most abundant first, ties by sequence."""
    kept = [
        (seq.decode(), n)
        for seq, n in counts.items()
        if window.min_length <= len(seq) <= window.max_length
    ]
    kept.sort(key=itemgetter(0))
    kept.sort(key=itemgetter(1), reverse=True)  # stable: equal counts stay by sequence
    return kept


def write_collapsed(records: list[tuple[str, int]], path: str | Path, prefix: str = "seq") -> None:
    """FASTA of collapsed inserts named ``<prefix>_<rank>_x<count>``."""
    with open(path, "w") as out:
        for rank, (seq, n) in enumerate(records, start=1):
            out.write(f">{prefix}_{rank}_x{n}\n{seq}\n")


def length_histogram(counts: Counter) -> dict[int, int]:
    hist: dict[int, int] = {}
    for seq, n in counts.items():
        hist[len(seq)] = hist.get(len(seq), 0) + n
    return dict(sorted(hist.items()))


def summarise(
    adapter_report: dict,
    hist: dict[int, int],
    window: LengthWindow,
    n_unique: int,
    raw_reads: int | None = None,
) -> dict[str, int]:
    """Read fates of one sample, from cutadapt's JSON report and the insert lengths.

    ``raw_reads`` replaces cutadapt's input count when a pass before cutadapt
    (UMI extraction) dropped reads.
    """
    counts = adapter_report["read_counts"]
    return {
        "raw_reads": counts["input"] if raw_reads is None else raw_reads,
        "reads_with_adapter": counts["read1_with_adapter"] or 0,
        "adapter_dimers": sum(n for length, n in hist.items() if length <= DIMER_MAX_LENGTH),
        "too_short": sum(
            n for length, n in hist.items() if DIMER_MAX_LENGTH < length < window.min_length
        ),
        "too_long": sum(n for length, n in hist.items() if length > window.max_length),
        "reads_kept": sum(
            n for length, n in hist.items() if window.min_length <= length <= window.max_length
        ),
        "unique_inserts": n_unique,
    }


def resolve_sample_protocol(
    sample: str,
    fastq_path: str,
    protocol: Protocol,
    kit_record: str,
    auto_reads: int,
    auto_min_confidence: float,
) -> Protocol:
    """The protocol to trim with: the configured one, or the detected one for ``auto``.

    The adapter is detected from the first reads of every sample
    (``auto_reads`` for ``auto``, at most ``CHECK_READS`` to check a named
    kit); the kit record ``kit_record`` holds the protocol used, whether it was
    chosen by the detection (``detected``, ``auto`` only) and the detection
    itself (``detection``: adapter found, its support, random 5'/3' bases), so
    that QC can flag a sample whose reads do not match its configured kit. For
    ``auto``, a detection below ``auto_min_confidence`` stops with a
    :class:`~exomir.adapters.DetectionError`.
    """
    chosen = protocol.is_auto
    detection = adapters.detect(fastq_path, auto_reads if chosen else min(auto_reads, CHECK_READS))
    if chosen:
        adapters.check_confidence(detection, auto_min_confidence, sample, fastq_path)
        protocol = adapters.protocol_from_detection(detection)
    record = {
        "sample": sample,
        "detected": chosen,
        **protocol.as_dict(),
        "confidence": detection.confidence if chosen else None,
        "random_5p": detection.random_5p if chosen else None,
        "random_3p": detection.random_3p if chosen else None,
        "detection": detection.to_dict(),
    }
    with open(kit_record, "w") as out:
        json.dump(record, out, indent=1, sort_keys=False)
        out.write("\n")
    return protocol


def _extra_passes(protocol: Protocol) -> list[list[str]]:
    """The 5' adapter and clip passes after the adapter pass (FASTA or FASTQ in and out)."""
    passes = [front_pass_args(protocol), clip_pass_args(protocol)]
    return [[*extra, "--quiet", "--output", "-", "-"] for extra in passes if extra]


def _run_chain(
    commands: list[Sequence[str]],
    log_handle: IO[str],
    sample: str,
    fastq_path: str,
    counter: Callable[[IO[bytes]], Any] = count_sequences,
    feed: Iterable[bytes] | None = None,
) -> Any:
    """Run commands connected by pipes; ``counter`` of the last one's output."""
    try:
        return pipes.run_chain(commands, log_handle, counter, feed)
    except pipes.ChainError as error:
        raise InputError(
            f"sample '{sample}': cannot trim {fastq_path}: {error}\n"
            "Fix: check that the file is a complete FASTQ (plain or gzipped) and that the "
            "sample sheet points to the right file."
        ) from None


def _log_commands(log_handle: IO[str], commands: list[Sequence[str]]) -> None:
    log_handle.write("# " + "\n# | ".join(" ".join(c) for c in commands) + "\n")
    log_handle.flush()


def trim_every_read(
    sample: str,
    fastq_path: str,
    protocol: Protocol,
    trimming: Trimming,
    cutadapt_report: str,
    log: IO[str],
) -> Counter:
    """Reads per insert, cutadapt run on every read."""
    adapter = adapter_pass_args(
        protocol,
        trimming.quality_cutoff,
        trimming.keep_untrimmed,
        trimming.error_rate,
        trimming.threads,
    )
    commands = [[*adapter, "--json", cutadapt_report, "--output", "-", fastq_path]]
    commands += _extra_passes(protocol)
    _log_commands(log, commands)
    return _run_chain(commands, log, sample, fastq_path)


def trim_distinct_reads(
    sample: str,
    fastq_path: str,
    protocol: Protocol,
    trimming: Trimming,
    cutadapt_report: str,
    log: IO[str],
) -> Counter:
    """Reads per insert, each distinct quality-trimmed raw read trimmed once.

    Writes cutadapt's report counted in raw reads (:mod:`exomir.distinct`).
    """
    raw = fastq_input.count_raw_reads(sample, fastq_path, trimming.quality_cutoff)
    log.write(
        f"# counting pass: {raw.raw_reads} raw reads, {len(raw.sequences)} distinct after "
        f"3' quality trimming (cutoff {trimming.quality_cutoff}, "
        f"{raw.quality_trimmed_bp} bases trimmed)\n"
    )
    keep = trimming.keep_untrimmed
    adapter_args = adapter_pass_args(protocol, None, keep, trimming.error_rate, 1)
    # cutadapt checks the arguments and writes its report for no reads where the sample's
    # report goes (so it names that file, as the other paths' reports do)
    frame = [*adapter_args, "--quiet", "--json", cutadapt_report, "--output", "-", "-"]
    log.write("# report frame: cutadapt on no reads\n")
    _log_commands(log, [frame])  # flushed before cutadapt writes to the same log
    _run_chain([frame], log, sample, fastq_path, lambda stream: stream.read(), ())
    trimmed = distinct.trim(raw, distinct.adapter_from_args(adapter_args), keep)
    log.write(
        f"# adapter pass: {' '.join(adapter_args)}, as cutadapt's adapter matching in this "
        f"process, on each of the {len(raw.sequences)} distinct reads\n"
    )
    inserts = trimmed.inserts
    if passes := _extra_passes(protocol):
        _log_commands(log, passes)
        counts, chunks = distinct.insert_chunks(inserts)
        passes[-1][-1:] = ["--fasta", "-"]  # FASTA out: the names are all that is read back
        inserts = _run_chain(
            passes,
            log,
            sample,
            fastq_path,
            lambda stream: distinct.read_trimmed(stream, counts),
            chunks,
        )
    report = distinct.weighted_report(
        distinct.read_report(cutadapt_report),
        trimmed.fates,
        raw,
        keep,
        fastq_path,
        trimming.quality_cutoff,
    )
    distinct.write_report(report, cutadapt_report)
    return inserts


def trim_umi_reads(
    sample: str,
    fastq_path: str,
    protocol: Protocol,
    trimming: Trimming,
    cutadapt_report: str,
    log: IO[str],
    umi_log: str,
) -> tuple[Counter, Counter, dict]:
    """(molecules, reads) per insert of a UMI kit, and the UMI extraction counts."""
    commands: list[Sequence[str]] = []
    source = fastq_path
    if fastq_input.is_gzipped(fastq_path) and not fastq_path.endswith(".gz"):
        commands.append(["gzip", "-dc", fastq_path])  # umi_tools goes by the file name
        source = "/dev/stdin"
    commands.append(umi_extract_args(protocol, source, umi_log))
    # one core: umi_tools extract, upstream, is several times slower than cutadapt
    adapter = adapter_pass_args(
        protocol, trimming.quality_cutoff, trimming.keep_untrimmed, trimming.error_rate, 1
    )
    commands.append([*adapter, "--json", cutadapt_report, "--output", "-", "-"])
    commands += _extra_passes(protocol)
    _log_commands(log, commands)
    with tempfile.TemporaryDirectory(prefix="exomir-umi-") as tmp:

        def deduplicate(stream: IO[bytes]) -> tuple[Counter, Counter]:
            rows = umi.sorted_pair_counts(umi.pair_lines(stream), tmp)
            return umi.deduplicate_sorted(umi.checked_rows(rows, protocol.umi_length))

        molecules, reads = _run_chain(commands, log, sample, fastq_path, deduplicate)
    return molecules, reads, umi.parse_extract_log(umi_log)


class SampleFiles(NamedTuple):
    """The files one trimming job writes (one name per file, as in the rule's outputs)."""

    collapsed: str  # inserts in the length window, >seq_<rank>_x<count>
    collapsed_long: str  # longer inserts (tRNA halves...), >long_<rank>_x<count>
    cutadapt_report: str  # cutadapt's JSON report, counted in raw reads
    lengths: str  # insert-length histogram
    read_fates: str  # the read-fate summary (JSON)
    kit_record: str  # the kit used and the adapter detection (JSON)
    log: str  # the commands and cutadapt's messages
    umi_log: str  # umi_tools extract's log (a line saying there is none without UMIs)


def run(
    sample: str,
    fastq: str,
    protocol: Protocol,
    window: LengthWindow,
    trimming: Trimming,
    detection: tuple[int, float],
    files: SampleFiles,
) -> dict[str, int]:
    """Check, trim and collapse ``fastq``; write the sample's files; return the read fates.

    ``detection`` is ``(qc.auto_reads, qc.auto_min_confidence)``.
    """
    fastq_input.inspect(sample, fastq)
    protocol = resolve_sample_protocol(sample, fastq, protocol, files.kit_record, *detection)
    extra: dict = {"protocol": protocol.name, "umi": bool(protocol.umi_length)}
    raw_reads = None
    with open(files.log, "w") as log_handle:
        if protocol.umi_length:
            molecules, counts, extracted = trim_umi_reads(
                sample, fastq, protocol, trimming, files.cutadapt_report, log_handle, files.umi_log
            )
            raw_reads = extracted["umi_input_reads"]
            extra["umi_extracted_reads"] = extracted["umi_extracted_reads"]
        else:
            path = trim_distinct_reads if trims_distinct_reads(protocol) else trim_every_read
            counts = path(sample, fastq, protocol, trimming, files.cutadapt_report, log_handle)
            molecules = counts
            extra["distinct_reads"] = path is trim_distinct_reads
    if not protocol.umi_length:
        with open(files.umi_log, "w") as out:
            out.write(f"no UMI extraction: protocol {protocol.name} has no UMI\n")
    return write_outputs(sample, molecules, counts, window, raw_reads, extra, files)


def write_outputs(
    sample: str,
    molecules: Counter,
    counts: Counter,
    window: LengthWindow,
    raw_reads: int | None,
    extra: dict,
    files: SampleFiles,
) -> dict:
    """Collapsed inserts (in the window, and longer), length histogram and read fates."""
    records = collapsed_records(molecules, window)
    write_collapsed(records, files.collapsed)
    longer = collapsed_records(molecules, LengthWindow(window.max_length + 1, sys.maxsize))
    write_collapsed(longer, files.collapsed_long, prefix="long")
    hist = length_histogram(counts)
    with open(files.lengths, "w") as out:
        out.write("length\treads\n")
        out.writelines(f"{length}\t{n}\n" for length, n in hist.items())
    with open(files.cutadapt_report) as handle:
        report = json.load(handle)
    summary = summarise(report, hist, window, len(records), raw_reads)
    summary["molecules_kept"] = sum(n for _, n in records)
    summary["long_molecules"] = sum(n for _, n in longer)
    summary.update(extra)
    with open(files.read_fates, "w") as out:
        json.dump({"sample": sample, **summary}, out, indent=1)
        out.write("\n")
    return summary
