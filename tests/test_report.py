"""`snakemake --report report.html` after a run from FASTQ: one self-contained HTML file
with every figure and table grouped by category, the methods rendered from the
config, software versions and the checksums of the miRBase files."""

import base64
import hashlib
import io
import json
import re
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from conftest import run_snakemake as run_workflow

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parents[1]
FIGURES = [
    "results/plots/qc/sample_qc.png",
    "results/plots/pca.png",
    "results/plots/heatmap_top_de.png",
    "results/plots/review_mirnas_boxplots.png",
    "results/plots/volcano/resistant_vs_sensitive.png",
    "results/plots/ma/resistant_vs_sensitive.png",
    "results/plots/volcano/batch_A.png",
    "results/plots/ma/batch_A.png",
]
CATEGORIES = {
    "QC": ["results/plots/qc/sample_qc.png", "results/plots/pca.png"],
    "Counts": ["results/counts/mature_counts.tsv", "results/de/size_factors.tsv"],
    "Differential expression": [
        "results/de/resistant_vs_sensitive.tsv",
        "results/de/batch_A.tsv",
        "results/plots/volcano/resistant_vs_sensitive.png",
        "results/plots/heatmap_top_de.png",
    ],
    "Resistance annotation": [
        "results/annotation/resistance_hits.tsv",
        "results/annotation/enrichment.tsv",
        "results/plots/review_mirnas_boxplots.png",
    ],
    "Provenance": ["results/report/provenance.tsv"],
}


def run_snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """The shared runner of conftest, returning the process whatever its exit code."""
    return run_workflow(workdir, config, *args, check=False)


@pytest.fixture(scope="module")
def reported_run(example_dir, tmp_path_factory):
    """The simulated example with a batch covariate and an extra contrast, then its report."""
    workdir = tmp_path_factory.mktemp("report")
    config = {
        "samples": str(example_dir / "samples.tsv"),
        "design": "~ batch + condition",
        "de": {
            "extra_contrasts": [
                {
                    "name": "batch_A",
                    "variable": "condition",
                    "case": "resistant",
                    "control": "sensitive",
                    "subset": {"column": "batch", "value": "A"},
                    "design": "~ condition",
                }
            ]
        },
    }
    proc = run_snakemake(workdir, config)
    assert proc.returncode == 0, proc.stdout[-6000:]
    proc = run_snakemake(workdir, config, "--report", "report.html")
    assert proc.returncode == 0, proc.stdout[-6000:]
    return workdir


def _embedded(html: str, name: str) -> dict:
    """A JSON object the report embeds as ``var <name> = {...};``."""
    match = re.search(rf"var {name} = (\{{.*?\}});\s*\n", html, re.S)
    assert match, f"no {name} in the report"
    return json.loads(match.group(1))


def test_report_is_one_html_file_with_the_sections(reported_run):
    report = reported_run / "report.html"
    assert report.is_file() and report.stat().st_size > 200_000
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html")
    for category in ("QC", "Counts", "Differential expression", "Resistance annotation"):
        assert category in html, category


def test_every_figure_and_table_is_in_its_category(reported_run):
    categories = _embedded((reported_run / "report.html").read_text(), "categories")
    for category, expected in CATEGORIES.items():
        listed = {f for files in categories[category].values() for f in files}
        missing = set(expected) - listed
        assert not missing, f"{category}: {missing}"
    everything = {f for sub in categories.values() for files in sub.values() for f in files}
    assert set(FIGURES) <= everything


def test_figures_are_non_empty_images_on_disk_and_in_the_report(reported_run):
    for figure in FIGURES:
        path = reported_run / figure
        assert path.stat().st_size > 1000, figure
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 100
    results = _embedded((reported_run / "report.html").read_text(), "results")
    embedded = {path: r["data_uri"] for path, r in results.items() if path.endswith(".png")}
    assert set(FIGURES) <= set(embedded)
    for path, uri in embedded.items():
        header, data = uri.split(",", 1)
        assert header.startswith("data:image/png;") and header.endswith(";base64"), path
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            image.verify()


def test_methods_state_parameters_versions_and_checksums(reported_run):
    html = (reported_run / "report.html").read_text()
    mature = REPO / "resources" / "mirbase" / "hsa_mature.fa"
    hairpin = REPO / "resources" / "mirbase" / "hsa_hairpin.fa"
    for fasta in (mature, hairpin):
        assert f"sha256:{hashlib.sha256(fasta.read_bytes()).hexdigest()}" in html, fasta
    for text in (
        "~ batch + condition",  # design, from the config
        "miRBase release 22",
        "padj &lt; 0.05",
        "batch_A",  # the extra contrast
        "pydeseq2",
        "bowtie",
    ):
        assert text in html, text
    provenance = (reported_run / "results/report/provenance.tsv").read_text()
    assert "pydeseq2\t" in provenance and "sha256:" in provenance


def test_captions_are_rendered(reported_run):
    results = _embedded((reported_run / "report.html").read_text(), "results")
    volcano = results["results/plots/volcano/batch_A.png"]["caption"]
    assert "batch_A" in volcano and "{{" not in volcano
    pca = results["results/plots/pca.png"]["caption"]
    assert "marker: batch" in pca
