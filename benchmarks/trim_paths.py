"""CPU, wall time and memory of the two trimming paths, per kit and number of cutadapt cores.

    python benchmarks/trim_paths.py                          # truseq, cats, nextflex; 1 M reads
    python benchmarks/trim_paths.py --kits nextflex --reads 200000 --cores 1 2 4

For each kit, one simulated library (``exomir.simulate_kits``, kept in ``--data``) is trimmed
by ``exomir.preprocess.trim_distinct_reads`` (identical raw reads trimmed once) and by
``exomir.preprocess.trim_every_read``, each in a fresh process; the inserts of both paths
must be equal. Prints the distinct raw reads per read, CPU seconds (all processes), wall
time and peak RSS: the measurements behind ``exomir.protocols.trims_distinct_reads`` and the
threads of ``exomir.sizing``. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

import pandas as pd
from jobmeter import run_measured
from workflow_benchmark import HAIRPIN, MATURE, tool_env

WORKER = """
import pickle, sys
from exomir import preprocess
from exomir.protocols import PRESETS
fastq, kit, path, cores, out = sys.argv[1:6]
trimming = preprocess.Trimming(20, False, None, int(cores))
function = getattr(preprocess, path)
with open(out + ".log", "w") as log:
    inserts = function("S", fastq, PRESETS[kit], trimming, out + ".json", log)
with open(out, "wb") as handle:
    pickle.dump(sorted(inserts.items()), handle)
"""


def distinct_fraction(fastq: Path) -> float:
    from exomir.fastq import count_raw_reads

    raw = count_raw_reads("S", fastq, 20)
    return len(raw.sequences) / max(raw.raw_reads, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kits", nargs="*", default=["truseq", "cats", "nextflex"])
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, nargs="*", default=[1, 2])
    default_data = Path(tempfile.gettempdir()) / "exomir-benchmark-data"
    parser.add_argument("--data", type=Path, default=default_data)
    args = parser.parse_args()
    from exomir.simulate_kits import simulate_library

    rows = []
    with tempfile.TemporaryDirectory(prefix="exomir-paths-") as tmp:
        for kit in args.kits:
            fastq = args.data / f"paths_{kit}_{args.reads}.fastq.gz"
            if not fastq.exists():
                args.data.mkdir(parents=True, exist_ok=True)
                simulate_library(kit, fastq, args.reads, 11, MATURE, HAIRPIN)
            digests = set()
            # the distinct path always runs cutadapt on one core
            for path, cores_tried in (
                ("trim_distinct_reads", [1]),
                ("trim_every_read", args.cores),
            ):
                for cores in cores_tried:
                    out = Path(tmp) / f"{kit}_{path}_{cores}.pickle"
                    cmd = [sys.executable, "-c", WORKER, str(fastq), kit, path, str(cores)]
                    run = run_measured([*cmd, str(out)], env=tool_env())
                    digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
                    rows.append(
                        {
                            "kit": kit,
                            "path": path.removeprefix("trim_"),
                            "cutadapt_cores": cores,
                            "cpu_s": round(run.cpu_s, 2),
                            "wall_s": round(run.wall_s, 1),
                            "peak_rss_mb": round(run.peak_rss_mb),
                        }
                    )
            if len(digests) != 1:
                raise SystemExit(f"{kit}: the two paths gave different inserts")
            rows[-1]["distinct_raw_reads"] = round(distinct_fraction(fastq), 3)
    print(pd.DataFrame(rows).fillna("").to_string(index=False))


if __name__ == "__main__":
    main()
