"""Streamed trimming and collapsing of one sample.

cutadapt passes are chained through pipes; the final FASTQ stream is never
written to disk: its sequence lines are counted (``collections.Counter`` runs
in C) and identical inserts become one FASTA record ``seq_<rank>_x<count>``.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Sequence

from .protocols import Protocol, adapter_pass_args, clip_pass_args

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
    adapter_report: dict, hist: dict[int, int], window: LengthWindow, n_unique: int
) -> dict[str, int]:
    """Read fates of one sample, from cutadapt's JSON report and the insert lengths."""
    counts = adapter_report["read_counts"]
    return {
        "raw_reads": counts["input"],
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
) -> dict[str, int]:
    """Trim ``fastq`` with cutadapt, collapse, and write the per-sample outputs."""
    adapter_cmd = adapter_pass_args(protocol, quality_cutoff, keep_untrimmed, threads)
    adapter_cmd += ["--json", adapter_json, "--output", "-", fastq]
    commands: list[Sequence[str]] = [adapter_cmd]
    clip_cmd = clip_pass_args(protocol)
    if clip_cmd:
        commands.append([*clip_cmd, "--quiet", "--output", "-", "-"])
    with open(log, "w") as log_handle:
        log_handle.write("# " + "\n# | ".join(" ".join(c) for c in commands) + "\n")
        log_handle.flush()
        counts = _run_chain(commands, log_handle, sample, fastq)
    with open(adapter_json) as handle:
        adapter_report = json.load(handle)
    records = collapsed_records(counts, window)
    write_collapsed(records, collapsed_fasta)
    hist = length_histogram(counts)
    with open(lengths_tsv, "w") as out:
        out.write("length\treads\n")
        out.writelines(f"{length}\t{n}\n" for length, n in hist.items())
    summary = summarise(adapter_report, hist, window, len(records))
    with open(summary_json, "w") as out:
        json.dump({"sample": sample, **summary}, out, indent=1)
        out.write("\n")
    return summary


def _run_chain(commands: list[Sequence[str]], log_handle: IO[str], sample: str, fastq: str) -> Counter:
    """Run commands connected by pipes; count the sequences of the last one's output."""
    procs: list[subprocess.Popen] = []
    upstream = None
    for cmd in commands:
        proc = subprocess.Popen(cmd, stdin=upstream, stdout=subprocess.PIPE, stderr=log_handle)
        if upstream is not None:
            upstream.close()  # the downstream process owns the pipe now
        upstream = proc.stdout
        procs.append(proc)
    assert upstream is not None
    counts = count_sequences(upstream)
    upstream.close()
    failed = [(cmd, p.wait()) for cmd, p in zip(commands, procs)]
    failed = [(cmd, rc) for cmd, rc in failed if rc != 0]
    if failed:
        log_handle.flush()
        detail = _last_error_line(log_handle.name) or f"{failed[0][0][0]} exited with {failed[0][1]}"
        raise _input_error(sample, fastq, detail)
    return counts


def _last_error_line(log_path: str) -> str:
    with open(log_path) as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    errors = [line for line in lines if "rror" in line]
    return (errors or lines or [""])[-1]
