"""Streamed trimming and collapsing of one sample.

The passes of :mod:`exomir.protocols` (``umi_tools extract`` for QIAseq, then
cutadapt) are chained through pipes; the final FASTQ stream is never written
to disk: its sequence lines are counted (``collections.Counter`` runs in C)
and identical inserts become one FASTA record ``seq_<rank>_x<count>``. For a
UMI kit the count is the number of molecules (:mod:`exomir.umi`), not reads.

With ``protocol: auto`` the adapter is first detected from the sample's first
reads (:mod:`exomir.adapters`); the detection, or the configured protocol, is
written to the sample's adapter JSON for the QC table.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO

from . import adapters, umi
from .protocols import (
    Protocol,
    adapter_pass_args,
    clip_pass_args,
    front_pass_args,
    umi_extract_args,
)

DIMER_MAX_LENGTH = 5  # inserts this short after trimming are adapter dimers


class InputError(RuntimeError):
    """A sample's input cannot be processed; the message says which and how to fix it."""


@dataclass(frozen=True)
class LengthWindow:
    min_length: int = 16
    max_length: int = 30


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
    kept.sort(key=lambda item: (-item[1], item[0]))
    return kept


def write_collapsed(records: list[tuple[str, int]], path: str | Path) -> None:
    with open(path, "w") as out:
        for rank, (seq, n) in enumerate(records, start=1):
            out.write(f">seq_{rank}_x{n}\n{seq}\n")


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


def _input_error(sample: str, fastq: str, detail: str) -> InputError:
    return InputError(
        f"sample '{sample}': cannot trim {fastq}: {detail.strip()}\n"
        "Fix: check that the file is a complete FASTQ (plain or gzipped) and that the "
        "sample sheet points to the right file."
    )


def resolve_sample_protocol(
    sample: str,
    fastq: str,
    protocol: Protocol,
    adapter_json: str | None,
    auto_reads: int = adapters.DEFAULT_READS,
    auto_min_confidence: float = 0.25,
) -> Protocol:
    """The protocol to trim with: the configured one, or the detected one for ``auto``.

    Writes the sample's kit record: the protocol used and, for every sample, the
    adapter detection of its first reads (the QC compares the two). With
    ``auto``, a detection below ``auto_min_confidence`` stops with a
    :class:`~exomir.adapters.DetectionError`.
    """
    try:
        detection = adapters.detect(fastq, auto_reads)
    except adapters.DetectionError:
        raise
    except ValueError as error:
        raise _input_error(sample, fastq, str(error)) from None
    detected = protocol.is_auto
    if detected:
        adapters.check_confidence(detection, auto_min_confidence, sample, fastq)
        protocol = adapters.protocol_from_detection(detection)
    if adapter_json:
        record = {
            "sample": sample,
            "detected": detected,
            **protocol.as_dict(),
            "confidence": detection.confidence if detected else None,
            "random_5p": detection.random_5p if detected else None,
            "random_3p": detection.random_3p if detected else None,
            "detection": detection.to_dict(),
        }
        with open(adapter_json, "w") as out:
            json.dump(record, out, indent=1, sort_keys=False)
            out.write("\n")
    return protocol


def run(
    sample: str,
    fastq: str,
    protocol: Protocol,
    window: LengthWindow,
    quality_cutoff: int,
    keep_untrimmed: bool,
    threads: int,
    collapsed_fasta: str,
    adapter_json: str,
    lengths_tsv: str,
    summary_json: str,
    log: str,
    detection_json: str | None = None,
    umi_log: str | None = None,
    auto_reads: int = adapters.DEFAULT_READS,
    auto_min_confidence: float = 0.25,
) -> dict[str, int]:
    """Trim ``fastq`` (UMIs first for a UMI kit), collapse, and write the per-sample outputs.

    ``adapter_json`` is cutadapt's JSON report; ``detection_json`` the
    sample's protocol record (see :func:`resolve_sample_protocol`).
    """
    protocol = resolve_sample_protocol(
        sample, fastq, protocol, detection_json, auto_reads, auto_min_confidence
    )
    commands: list[Sequence[str]] = []
    if protocol.umi_length:
        if not umi_log:
            raise ValueError(f"sample '{sample}': protocol {protocol.name} needs a UMI log path")
        commands.append(umi_extract_args(protocol, fastq, umi_log))
        source = "-"
    else:
        source = fastq
    adapter_cmd = adapter_pass_args(protocol, quality_cutoff, keep_untrimmed, threads)
    commands.append([*adapter_cmd, "--json", adapter_json, "--output", "-", source])
    for extra in (front_pass_args(protocol), clip_pass_args(protocol)):
        if extra:
            commands.append([*extra, "--quiet", "--output", "-", "-"])
    if umi_log and not protocol.umi_length:
        with open(umi_log, "w") as out:
            out.write(f"no UMI extraction: protocol {protocol.name} has no UMI\n")
    with open(log, "w") as log_handle:
        log_handle.write("# " + "\n# | ".join(" ".join(c) for c in commands) + "\n")
        log_handle.flush()
        if protocol.umi_length:
            pairs = _run_chain(commands, log_handle, sample, fastq, umi.count_umi_sequences)
        else:
            counts = _run_chain(commands, log_handle, sample, fastq, count_sequences)
    with open(adapter_json) as handle:
        adapter_report = json.load(handle)
    extra_summary: dict = {"protocol": protocol.name, "umi": bool(protocol.umi_length)}
    raw_reads = None
    if protocol.umi_length:
        umi.umi_length_check(pairs, protocol.umi_length)
        molecules, counts = umi.deduplicate(pairs)
        extracted = umi.parse_extract_log(umi_log)
        raw_reads = extracted["umi_input_reads"]
        extra_summary["umi_extracted_reads"] = extracted["umi_extracted_reads"]
    else:
        molecules = counts
    records = collapsed_records(molecules, window)
    write_collapsed(records, collapsed_fasta)
    hist = length_histogram(counts)
    with open(lengths_tsv, "w") as out:
        out.write("length\treads\n")
        out.writelines(f"{length}\t{n}\n" for length, n in hist.items())
    summary = summarise(adapter_report, hist, window, len(records), raw_reads)
    summary["molecules_kept"] = sum(n for _, n in records)
    summary.update(extra_summary)
    with open(summary_json, "w") as out:
        json.dump({"sample": sample, **summary}, out, indent=1)
        out.write("\n")
    return summary


def _run_chain(
    commands: list[Sequence[str]],
    log_handle: IO[str],
    sample: str,
    fastq: str,
    counter: Callable[[IO[bytes]], Counter] = count_sequences,
) -> Counter:
    """Run commands connected by pipes; count the last one's output with ``counter``."""
    procs: list[subprocess.Popen] = []
    upstream = None
    for cmd in commands:
        proc = subprocess.Popen(cmd, stdin=upstream, stdout=subprocess.PIPE, stderr=log_handle)
        if upstream is not None:
            upstream.close()  # the downstream process owns the pipe now
        upstream = proc.stdout
        procs.append(proc)
    assert upstream is not None
    counts = counter(upstream)
    upstream.close()
    failed = [(cmd, p.wait()) for cmd, p in zip(commands, procs)]
    failed = [(cmd, rc) for cmd, rc in failed if rc != 0]
    if failed:
        log_handle.flush()
        detail = (
            _last_error_line(log_handle.name) or f"{failed[0][0][0]} exited with {failed[0][1]}"
        )
        raise _input_error(sample, fastq, detail)
    return counts


def _last_error_line(log_path: str) -> str:
    with open(log_path) as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    errors = [line for line in lines if "rror" in line]
    return (errors or lines or [""])[-1]
