"""Real circulating small-RNA libraries (../shared/data/real): skipped where that folder is absent."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import run_snakemake, shared_data

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def compsra_run(tmp_path_factory):
    """The 12 COMPSRA NEXTflex libraries counted with protocol nextflex."""
    data = shared_data("real", "compsra_nextflex")
    workdir = tmp_path_factory.mktemp("compsra")
    fastqs = sorted(data.glob("sample*.fastq.gz"))
    assert len(fastqs) == 12
    # No phenotype is known: the two groups only let the sheet validate.
    rows = [
        f"{fq.name.split('.')[0]}\t{'resistant' if i % 2 else 'sensitive'}\t{fq}"
        for i, fq in enumerate(fastqs)
    ]
    sheet = workdir / "samples.tsv"
    sheet.write_text("sample\tcondition\tfastq\n" + "\n".join(rows) + "\n")
    run_snakemake(
        workdir,
        {"samples": str(sheet), "protocol": "nextflex"},
        "results/counts/mature_counts.tsv",
        "results/qc/composition.tsv",
    )
    return workdir


def _table(run, name):
    return pd.read_csv(run / name, sep="\t", index_col=0)


def test_compsra_composition_accounts_for_every_read(compsra_run):
    composition = _table(compsra_run, "results/qc/composition.tsv")
    assert len(composition) == 12
    fates = composition.drop(columns="raw_reads")
    assert (fates >= 0).all().all()
    assert (fates.sum(axis=1) == composition["raw_reads"]).all()
    assert (composition["raw_reads"] == 10_000).all()  # the shared files hold 10,000 reads each
    # plasma: tRNA fragments in every library, fewer than the miRNAs in most
    assert (composition["trna"] > 0).all()
    assert (composition["trna"] < composition["mirna"]).sum() >= 10


def test_compsra_plasma_markers_in_top10(compsra_run):
    compsra_counts = _table(compsra_run, "results/counts/mature_counts.tsv")
    assert compsra_counts.shape[1] == 12
    for sample in compsra_counts.columns:
        top10 = compsra_counts[sample].sort_values(ascending=False, kind="mergesort").index[:10]
        for mirna in ("hsa-miR-486-5p", "hsa-miR-92a-3p"):
            assert mirna in top10, f"{mirna} not in the top 10 of {sample}: {list(top10)}"
