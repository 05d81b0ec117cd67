"""tRNA fragments, library composition and paralog allocation (EM vs split), measured.

    PYTHONPATH=workflow python benchmarks/trna_composition_benchmark.py --out /tmp/trna-bench
    PYTHONPATH=workflow python benchmarks/trna_composition_benchmark.py --out /tmp/compsra \\
        --fastq-dir ../shared/data/real/compsra_nextflex --protocol nextflex

Runs, per sample and outside Snakemake, the steps the composition rules will run:
trimming and collapsing (``exomir.preprocess``, the length window widened to the read
length; the inserts are then split into the miRNA window, ``seq_<rank>_x<count>``, and the
longer ones, ``long_<rank>_x<count>``, as the collapse step is to emit them), bowtie to
the mature miRNAs and hairpins (window inserts) and to the mature tRNAs (all inserts),
``exomir.composition.classify_sample`` and the composition row.

Without ``--fastq-dir`` it first simulates a cohort with tRNA fragments
(``exomir.simulate`` with ``TrnaReads``) and compares with the truth: tRNA reads per
sample, miRNA reads counted for miRNAs the simulator did not express (EM and split), the
miRNA count error. CPU time: the composition stage (tRNA alignment, and the extra
Python over the miRNA-only count) against the rest of the per-sample work. Not a test:
times depend on the machine.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from exomir import composition, count, preprocess, protocols, reference, trna
from exomir.simulate import TrnaReads, simulate
from exomir.wrapper import prepare_job_environment

REPO = Path(__file__).resolve().parents[1]
MIRBASE = REPO / "resources" / "mirbase"
TRNA_REF = REPO / "resources" / "trna" / "hg38_mature_trnas"
WINDOW = preprocess.LengthWindow(16, 30)
TOLERANCE = count.Tolerance(2, 5)
BOWTIE = "bowtie --threads 1 -f -v 1 -a --best --strata --norc --sam --no-unal"


class Clock:
    """CPU seconds of this process and its children, per named step."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def __call__(self, step: str, function, *args, **kwargs):
        before = _cpu()
        result = function(*args, **kwargs)
        self.seconds[step] = self.seconds.get(step, 0.0) + _cpu() - before
        return result


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def build_indexes(folder: Path) -> dict[str, Path]:
    """miRBase mature features and hairpins, and the bundled tRNAs, indexed by bowtie."""
    folder.mkdir(parents=True, exist_ok=True)
    mature = reference.mature_from_fasta(MIRBASE / "hsa_mature.fa")
    hairpins = list(reference.read_fasta(MIRBASE / "hsa_hairpin.fa"))
    fastas = {"mature": folder / "mature.fa", "hairpin": folder / "hairpin.fa"}
    reference.write_reference(
        mature, hairpins, fastas["mature"], fastas["hairpin"], folder / "f.tsv", folder / "l.tsv"
    )
    fastas["trna"] = TRNA_REF.with_suffix(".fa")
    for key, fasta in fastas.items():
        subprocess.run(
            ["bowtie-build", "-q", "--seed", "1", str(fasta), str(folder / key)], check=True
        )
    return {key: folder / key for key in fastas} | {"locations": folder / "l.tsv"}


def trim(sample: str, fastq: Path, protocol, read_length: int, folder: Path) -> dict:
    """Trim and collapse as the workflow does: window and long inserts in two FASTA files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = preprocess.SampleFiles(
        collapsed=str(folder / "seq.fa"),
        collapsed_long=str(folder / "long.fa"),
        cutadapt_report=str(folder / "cutadapt.json"),
        lengths=str(folder / "lengths.tsv"),
        read_fates=str(folder / "summary.json"),
        kit_record=str(folder / "protocol.json"),
        log=str(folder / "trim.log"),
        umi_log=str(folder / "umi.log"),
    )
    trimming = preprocess.Trimming(20, False, 0.1, 1)
    return preprocess.run(sample, str(fastq), protocol, WINDOW, trimming, (50_000, 0.25), files)


def align(index: Path, reads: list[Path], bam: Path) -> None:
    """bowtie (one thread) to a BAM, as the workflow's alignment rules run it."""
    files = ",".join(str(r) for r in reads)
    cmd = f"{BOWTIE} -x {index} {files} 2>/dev/null | samtools view --no-PG -b -o {bam} -"
    subprocess.run(cmd, shell=True, check=True)


def run_sample(sample, fastq, protocol, read_length, indexes, features, folder, clock):
    """One sample through the cascade; returns (stages with EM, miRNA counts with split, row)."""
    summary = clock("trim", trim, sample, fastq, protocol, read_length, folder)
    window, long = folder / "seq.fa", folder / "long.fa"
    bams = {key: folder / f"{key}.bam" for key in ("mature", "hairpin", "trna")}
    for key in ("mature", "hairpin"):
        clock("mirna_align", align, indexes[key], [window], bams[key])
    clock("trna_align", align, indexes["trna"], [window, long], bams["trna"])
    locations = reference.read_locations(indexes["locations"])
    clock(
        "mirna_count",
        count.count_sample,
        bams["mature"],
        bams["hairpin"],
        locations,
        TOLERANCE,
        count.EM,
    )
    stages = clock(
        "classify",
        composition.classify_sample,
        [window, long],
        bams["mature"],
        bams["hairpin"],
        bams["trna"],
        locations,
        TOLERANCE,
        features,
        count.EM,
    )
    split = composition.classify_sample(
        [window, long],
        bams["mature"],
        bams["hairpin"],
        bams["trna"],
        locations,
        TOLERANCE,
        features,
        count.SPLIT,
    )
    row = composition.sample_fates(sample, summary, stages.summary(sample, True), {})
    return stages, split, row


def cohort(sheet: pd.DataFrame, protocol, read_length: int, out: Path) -> dict:
    """Every sample of ``sheet`` (columns sample, fastq); tables written to ``out``."""
    indexes = build_indexes(out / "index")
    features = trna.read_features(TRNA_REF.with_suffix(".tsv"))
    clock = Clock()
    rows, em, split, trna_counts, summaries = [], {}, {}, {}, []
    for sample, fastq in zip(sheet["sample"], sheet["fastq"]):
        stages, split_stages, row = run_sample(
            sample, Path(fastq), protocol, read_length, indexes, features, out / sample, clock
        )
        rows.append(row)
        em[sample], split[sample] = stages.mirna.mature, split_stages.mirna.mature
        trna_counts[sample] = stages.trna_counts
        summaries.append(stages.summary(sample, True))
    table = composition.build_table(rows, [])
    composition.write_table(table, out / "composition.tsv")
    units = trna.count_units(features)
    trna_matrix = composition.merge_feature_counts(trna_counts, units, "unit")
    trna_matrix.to_csv(out / "trna_counts.tsv", sep="\t")
    names = sorted({f for counts in (*em.values(), *split.values()) for f in counts})
    matrices = {
        mode: composition.merge_feature_counts(values, names, "mirna")
        for mode, values in (("em", em), ("split", split))
    }
    derived = composition.trna_derived_mirnas(summaries, names, 0.5)
    derived.to_csv(out / "trna_compatible_mirnas.tsv", sep="\t", index=False)
    return {"table": table, "trna": trna_matrix, "mirna": matrices, "cpu": clock.seconds}


def leakage(matrix: pd.DataFrame, expressed: set[str]) -> tuple[int, float, pd.Series]:
    """Reads counted for features outside ``expressed``: total, share, the top features."""
    outside = matrix.loc[~matrix.index.isin(expressed)]
    total = int(outside.to_numpy().sum())
    top = outside.sum(axis=1).sort_values(ascending=False)
    return total, total / matrix.to_numpy().sum(), top[top > 0].head(8)


def accuracy(matrix: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float]:
    """Median relative error of features with ≥ 50 true molecules; share of molecules counted."""
    common = truth.reindex(index=truth.index, columns=matrix.columns)
    counted = matrix.reindex(index=truth.index, fill_value=0)
    big = common >= 50
    errors = (counted - common).abs() / common
    return float(np.nanmedian(errors.where(big).to_numpy())), float(
        counted.to_numpy().sum() / common.to_numpy().sum()
    )


def report_simulation(result: dict, data: Path) -> None:
    truth = pd.read_csv(data / "truth_counts.tsv", sep="\t", index_col=0)
    trna_truth = pd.read_csv(data / "truth_trna.tsv", sep="\t", index_col=0)
    table = result["table"].set_index("sample")
    found, expected = table["trna"], trna_truth.sum()
    print("sample  trna_truth  trna_counted  rel_error")
    for sample in table.index:
        error = (found[sample] - expected[sample]) / expected[sample]
        print(f"{sample}  {expected[sample]:>10}  {found[sample]:>12}  {error:+.4f}")
    by_type = result["trna"].groupby(lambda u: u.split("|")[1]).sum().sum(axis=1)
    truth_type = trna_truth.groupby(lambda u: u.split("|")[1]).sum().sum(axis=1)
    print("type totals (counted / truth):")
    for kind in truth_type.index:
        print(f"  {kind}: {by_type.get(kind, 0)} / {truth_type[kind]}")
    for mode, matrix in result["mirna"].items():
        total, share, top = leakage(matrix, set(truth.index))
        median, counted = accuracy(matrix, truth)
        print(
            f"miRNA {mode}: leakage {total} reads = {100 * share:.4f} % of miRNA reads; "
            f"median error {100 * median:.2f} %; molecules counted {100 * counted:.2f} %"
        )
        print("   top:", ", ".join(f"{k} {v}" for k, v in top.items()))


def report_cpu(cpu: dict[str, float]) -> None:
    base = cpu["trim"] + cpu["mirna_align"] + cpu["mirna_count"]
    extra = cpu["trna_align"] + max(0.0, cpu["classify"] - cpu["mirna_count"])
    print("CPU s: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(f"composition stage: +{extra:.2f} cpu-s on {base:.2f} = +{100 * extra / base:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--fastq-dir", type=Path, help="real libraries (*.fastq.gz)")
    parser.add_argument("--protocol", default="truseq")
    parser.add_argument("--read-length", type=int, default=75)
    parser.add_argument("--per-group", type=int, default=3)
    parser.add_argument("--reads", type=int, default=40_000)
    parser.add_argument("--trna-fraction", type=float, default=0.3)
    args = parser.parse_args()
    prepare_job_environment()  # cutadapt beside this Python
    args.out.mkdir(parents=True, exist_ok=True)
    protocol = protocols.PRESETS[args.protocol]
    if args.fastq_dir:
        fastqs = sorted(args.fastq_dir.glob("*.fastq.gz"))
        sheet = pd.DataFrame({"sample": [f.name.split(".")[0] for f in fastqs], "fastq": fastqs})
        result = cohort(sheet, protocol, args.read_length, args.out)
        print(result["table"].to_string(index=False))
        top = result["trna"].sum(axis=1).sort_values(ascending=False).head(10)
        print("top tRNA fragments:", ", ".join(f"{k} {v}" for k, v in top.items()))
    else:
        data = args.out / "data"
        t0 = time.perf_counter()
        simulate(
            MIRBASE / "hsa_mature.fa",
            MIRBASE / "hsa_hairpin.fa",
            data,
            n_per_group=args.per_group,
            reads_per_sample=args.reads,
            trna=TrnaReads(TRNA_REF.with_suffix(".tsv"), args.trna_fraction, 20261122),
        )
        print(f"simulated in {time.perf_counter() - t0:.1f} s")
        sheet = pd.read_csv(data / "samples.tsv", sep="\t")
        sheet["fastq"] = [data / f for f in sheet["fastq"]]
        result = cohort(sheet, protocol, args.read_length, args.out)
        report_simulation(result, data)
    report_cpu(result["cpu"])


if __name__ == "__main__":
    main()
