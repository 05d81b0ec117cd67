"""isomiR annotation of the hairpin alignments with mirtop (mirGFF3), for every sample at once.

mirtop is run on the BAMs that hold at least one alignment: a library that ended
with no insert (a wrong kit, an empty library) is reported by the QC table and left
out here, instead of stopping mirtop. When no sample has any alignment, empty
outputs say so and mirtop is not run (``mirtop stats`` fails on an empty GFF).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pysam


def has_alignments(bam: str | Path) -> bool:
    with pysam.AlignmentFile(str(bam), "rb", check_sq=False) as handle:
        return next(iter(handle.fetch(until_eof=True)), None) is not None


def run_mirtop(
    bams: Sequence[str], hairpin: str, gff: str, species: str, output: Any, log: TextIO
) -> None:
    """``mirtop gff`` then ``mirtop stats``; ``output`` has gff, stats and stats_multiqc."""
    aligned = [bam for bam in bams if has_alignments(bam)]
    left_out = [Path(bam).stem for bam in bams if bam not in aligned]
    if left_out:
        log.write(f"no hairpin alignment, left out of mirtop: {', '.join(left_out)}\n")
    outdir = Path(output.gff).parent
    if aligned:
        command = ["mirtop", "gff", "--format", "BAM", "--sps", species, "--hairpin", hairpin]
        _call([*command, "--gtf", gff, "-o", str(outdir), *aligned], log)
    if not aligned or not _has_records(output.gff):
        _write_empty(output, species)
        log.write("no isomiR to annotate: mirtop stats not run\n")
        return
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
