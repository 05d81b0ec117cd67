"""isomiR annotation of the hairpin alignments with mirtop (mirGFF3), once per distinct insert.

The samples of a cohort share most of their inserts. Instead of one mirtop pass
per sample BAM, every distinct insert aligned to a hairpin in any sample goes
once, with its alignments, into one BAM (:func:`write_distinct_bam`, reads named
``u<n>_x<reads in all samples>``); ``mirtop gff`` annotates it, and
:func:`spread_expression` turns its single ``Expression`` column into one column
per sample (the counts of that insert in each sample's collapsed FASTA), the
layout of mirtop's own multi-sample GFF. Each insert is therefore annotated
once, against one precursor, in every sample alike; mirtop run per sample can
attribute the same sequence (miR-486-5p, two identical hairpins) to a different
precursor in different samples.

mirtop runs with ``--low-memory``: it annotates one insert (all its alignments)
at a time from a name-sorted copy of the BAM and writes its lines at once. The
default mode gives the same records but holds every insert, then reads its own
GFF back to merge samples, which for one input costs a quarter of its CPU. The
name-sorted copy is written beside the input: here a temporary folder of the
job, so a stale copy from an earlier run can never be read.

A library that ended with no insert (a wrong kit, an empty library) is reported
by the QC table and gets zeros here. When no sample has any alignment, empty
outputs say so and mirtop is not run (``mirtop stats`` fails on an empty GFF).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pysam

EXPRESSION = re.compile(r"(Expression[ =])([0-9,]+)")
READ = re.compile(r"Read[ =]([ACGTN]+)")


def has_alignments(bam: str | Path) -> bool:
    with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as handle:
        return next(iter(handle.fetch(until_eof=True)), None) is not None


def read_count(name: str) -> int:
    """Reads (or molecules) of a collapsed insert named ``<prefix>_x<count>``."""
    return int(name.rsplit("_x", 1)[1])


def write_distinct_bam(
    bams: Sequence[str | Path], out_bam: str | Path
) -> dict[str, dict[int, int]]:
    """Every distinct insert of ``bams`` once, with its alignments, into ``out_bam``.

    Returns insert sequence → {index of a BAM in ``bams``: its count there}. The
    alignments of an insert are the same in every sample (same index, same
    options); they are taken from the first sample that has it. Reads are
    named ``u<n>_x<count in all samples>``, ``n`` following the sorted sequences.
    """
    counts: dict[str, dict[int, int]] = {}
    records: dict[str, list[str]] = {}  # SAM text: a fraction of a pysam record's memory
    header = None
    for i, bam in enumerate(bams):
        with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as handle:
            header = header or handle.header
            for record in handle.fetch(until_eof=True):
                if record.is_unmapped:
                    continue
                per_sample = counts.setdefault(record.query_sequence, {})
                if not per_sample or next(iter(per_sample)) == i:  # first sample with it
                    records.setdefault(record.query_sequence, []).append(record.to_string())
                per_sample[i] = read_count(record.query_name)
    with pysam.AlignmentFile(str(out_bam), "wb", header=header) as out:
        for n, sequence in enumerate(sorted(counts), start=1):
            name = f"u{n}_x{sum(counts[sequence].values())}"
            for text in records.pop(sequence):
                record = pysam.AlignedSegment.fromstring(text, header)
                record.query_name = name
                out.write(record)
    return counts


def spread_expression(
    gff: str | Path, counts: dict[str, dict[int, int]], samples: Sequence[str], out_gff: str | Path
) -> int:
    """mirtop's GFF of the distinct inserts → one ``Expression`` column per sample.

    The header's ``COLDATA`` lists ``samples``; each line's ``Expression`` (the
    insert's reads in all samples) becomes its count in each sample (``counts``
    from :func:`write_distinct_bam`, keyed by the index in ``samples``). Returns
    the number of lines written.
    """
    written = 0
    with open(gff) as source, open(out_gff, "w") as out:
        for line in source:
            if line.startswith("## COLDATA:"):
                line = f"## COLDATA: {','.join(samples)}\n"
            elif line.strip() and not line.startswith("#"):
                line = _spread_line(line, counts, len(samples))
                written += 1
            out.write(line)
    return written


def _spread_line(line: str, counts: dict[str, dict[int, int]], n_samples: int) -> str:
    in_samples = counts[READ.search(line).group(1)]
    per_sample = [in_samples.get(i, 0) for i in range(n_samples)]
    expression = EXPRESSION.search(line)
    if int(expression.group(2)) != sum(per_sample):
        raise ValueError(f"mirtop counted {expression.group(2)} reads for {line.split()[0]}")
    joined = ",".join(map(str, per_sample))
    return line[: expression.start(2)] + joined + line[expression.end(2) :]


def run_mirtop(
    bams: Sequence[str], hairpin: str, gff: str, species: str, output: Any, log: TextIO
) -> None:
    """``mirtop gff`` on the distinct inserts, then ``mirtop stats``.

    ``output`` has gff, stats and stats_multiqc; the samples are named after
    their BAM files.
    """
    empty = [Path(bam).stem for bam in bams if not has_alignments(bam)]
    if empty:
        log.write(f"no hairpin alignment (zero counts in the GFF): {', '.join(empty)}\n")
    outdir = Path(output.gff).parent
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=outdir, prefix="mirtop.") as tmp:
        distinct = Path(tmp) / "distinct.bam"
        counts = write_distinct_bam(bams, distinct)
        log.write(f"{len(counts)} distinct inserts aligned to hairpins in {len(bams)} samples\n")
        if counts:
            command = ["mirtop", "gff", "--low-memory", "--format", "BAM", "--sps", species]
            command += ["--hairpin", hairpin, "--gtf", gff, "-o", tmp, str(distinct)]
            _call(command, log)
        samples = [Path(bam).stem for bam in bams]
        annotated = Path(tmp) / "distinct.gff"  # mirtop's GFF of one input, named after it
        if not counts or not _has_records(str(annotated)):
            _write_empty(output, species)
            log.write("no isomiR to annotate: mirtop stats not run\n")
            return
        spread_expression(annotated, counts, samples, output.gff)
    _call(["mirtop", "stats", "-o", str(outdir), output.gff], log)
    # MultiQC's mirtop module looks for *_mirtop_stats.log
    shutil.copyfile(outdir / "mirtop_stats.log", output.stats_multiqc)


def _call(command: list[str], log: TextIO) -> None:
    log.write("# " + " ".join(command) + "\n")
    log.flush()
    done = subprocess.run(command, stdout=log, stderr=log, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} {command[1]} exited with {done.returncode}; see the log")


def _has_records(gff: str) -> bool:
    if not Path(gff).is_file():
        return False
    with open(gff) as handle:
        return any(line.strip() and not line.startswith("#") for line in handle)


def _write_empty(output: Any, species: str) -> None:
    Path(output.gff).write_text("## mirGFF3. VERSION 1.2\n## no sample has isomiRs\n")
    Path(output.stats).write_text("# mirtop stats not run: no isomiR in any sample\n")
    meta = {"tool": "mirtop", "species": species, "note": "no isomiR in any sample"}
    Path(output.stats_multiqc).write_text(json.dumps({"meta": meta, "metrics": {}}) + "\n")
