"""bowtie 1 passes over one sample's collapsed inserts, and the inserts no pass aligned.

Every pass aligns end to end (``-v``, ``-a --best --strata``, ``--norc``) and
writes the BAM of its stage (``samtools view``):

1. **hairpin**: the inserts of the miRNA length window; bowtie's ``--al`` and
   ``--un`` split them into hairpin hits and misses;
2. **mature**: the hairpin hits only, when every mature feature lies in a
   hairpin (the locations table of :mod:`exomir.reference` lists every feature).
   An insert aligned end to end to a mature sequence with k mismatches is then
   aligned to that hairpin with at most k, so the BAM is the one of all inserts
   for a fraction of the work (bowtie aligns each read on its own). Otherwise
   every insert goes through it, and the hairpin misses once more for ``--un``;
3. **tRNA** (when configured): the hairpin hits, then the misses and the long
   inserts, into one BAM; ``--un`` of the second pass is what no stage aligned.
   Without tRNAs, the misses and the long inserts are that.

bowtie's messages go to one log per stage (MultiQC reads the hairpin ones: that
pass sees every insert of the window); the commands go to the job's log. bowtie
also writes its command line into each BAM's header (``@PG``), so the hairpin
hits and misses go to a folder whose path depends only on the sample
(``results/align/hairpin/<sample>.tmp``, removed at the end): two runs on the
same input write byte-identical BAMs, which a random temporary folder would not.

The inserts no stage aligned (``remaining``) keep the order and the names of
the collapsed files: they go to the composition cascade
(:mod:`exomir.composition`), and the counting job never reads the collapsed
files, which hold mostly inserts of no stage.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class AlignmentError(RuntimeError):
    """A bowtie or samtools call failed; the message names the file and the log."""


def mature_within_hairpins(features_tsv: str | Path, locations_tsv: str | Path) -> bool:
    """Whether every mature feature lies (exactly) in at least one hairpin."""
    with open(features_tsv, newline="") as handle:
        features = {row["feature"] for row in csv.DictReader(handle, delimiter="\t")}
    with open(locations_tsv, newline="") as handle:
        located = {row["feature"] for row in csv.DictReader(handle, delimiter="\t")}
    return features <= located


def alignment_options(mismatches: int) -> list[str]:
    """bowtie's options of every pass, the composition cascade's included.

    FASTA in; end to end with at most ``mismatches``; every alignment of the
    best stratum; the reference strand only; SAM of the aligned reads.
    """
    return [
        "-f", "-v", str(mismatches), "-a", "--best", "--strata", "--norc", "--sam", "--no-unal",
    ]  # fmt: skip


def bowtie(index: str, reads: Sequence[str], mismatches: int, threads: int, *extra: str):
    """The bowtie command of one pass (FASTA in, SAM out, aligned reads only)."""
    options = alignment_options(mismatches)
    return ["bowtie", "--threads", str(threads), *options, *extra, "-x", index, ",".join(reads)]


def _run_into_bam(bam: str, commands: list[list[str]], stage_log: str, log: IO[str]) -> None:
    """Run ``commands`` one after the other, their SAM output into one BAM."""
    log.write("".join(f"# {' '.join(c)} | samtools view -b -o {bam}\n" for c in commands))
    log.flush()
    view = ["samtools", "view", "--no-PG", "-b", "-o", bam, "-"]
    with open(stage_log, "a") as messages:
        sink = subprocess.Popen(view, stdin=subprocess.PIPE, stderr=messages)
        codes = []
        try:
            for command in commands:
                done = subprocess.run(command, stdout=sink.stdin, stderr=messages)
                codes.append(done.returncode)
        finally:
            sink.stdin.close()
            codes.append(sink.wait())
    if any(codes):
        raise AlignmentError(f"{bam}: bowtie or samtools exited with {max(codes)}; see {stage_log}")


@contextmanager
def _split_folder(hairpin_bam: str) -> Iterator[str]:
    """``<hairpin BAM without .bam>.tmp``, empty; removed at the end."""
    folder = Path(hairpin_bam).with_suffix(".tmp")
    shutil.rmtree(folder, ignore_errors=True)  # left by a job that was killed
    folder.mkdir(parents=True)
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def align_sample(
    collapsed: tuple[str, str],
    indexes: Mapping[str, str],
    outputs: Mapping[str, str],
    mature_in_hairpins: bool,
    alignment: tuple[int, int],
    log: IO[str],
) -> None:
    """The stage BAMs and the remaining inserts of one sample (see the module docstring).

    ``collapsed`` is (window inserts, long inserts); ``indexes`` is keyed by stage
    (``mature``, ``hairpin`` and, when configured, ``trna``); ``outputs`` holds
    ``<stage>_bam`` and ``<stage>_log`` of each stage and ``remaining``;
    ``alignment`` is (mismatches, threads).
    """
    (reads, long), (mismatches, threads) = collapsed, alignment
    for stage in indexes:
        Path(outputs[f"{stage}_log"]).write_text("")
    with _split_folder(outputs["hairpin_bam"]) as tmp:
        hits, misses = f"{tmp}/hairpin_hits.fa", f"{tmp}/hairpin_misses.fa"
        split = ("--al", hits, "--un", misses)
        hairpin = bowtie(indexes["hairpin"], [reads], mismatches, threads, *split)
        _run_into_bam(outputs["hairpin_bam"], [hairpin], outputs["hairpin_log"], log)
        Path(hits).touch(), Path(misses).touch()  # absent when no read (or every read) aligns
        mature = bowtie(
            indexes["mature"], [hits if mature_in_hairpins else reads], mismatches, threads
        )
        _run_into_bam(outputs["mature_bam"], [mature], outputs["mature_log"], log)
        if not mature_in_hairpins:
            unaligned = f"{tmp}/mature_misses.fa"
            command = bowtie(indexes["mature"], [misses], mismatches, threads, "--un", unaligned)
            _run_into_bam(os.devnull, [command], outputs["mature_log"], log)  # for --un only
            Path(unaligned).touch()
            misses = unaligned
        if "trna" not in indexes:
            with open(outputs["remaining"], "wb") as out:
                for path in (misses, long):
                    with open(path, "rb") as source:
                        shutil.copyfileobj(source, out)
            return
        rest = ("--sam-nohead", "--un", outputs["remaining"])
        trna = [
            bowtie(indexes["trna"], [hits], mismatches, threads),
            bowtie(indexes["trna"], [misses, long], mismatches, threads, *rest),
        ]
        _run_into_bam(outputs["trna_bam"], trna, outputs["trna_log"], log)
        Path(outputs["remaining"]).touch()
