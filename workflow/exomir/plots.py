"""Figures of the exomir report: QC bars, volcano, MA, PCA, heatmap and boxplots.

Every function takes tidy tables (the workflow's own TSV outputs, read with
pandas) and writes one PNG. The logic that decides *what* is drawn (which
features are labelled, PCA coordinates, z-scores, QC columns) is in small
functions of its own so it can be tested without looking at pixels.

Figures are reproducible: the Agg backend, fixed random seeds for jitter,
a fixed resolution and no ``Software`` tag or timestamp in the PNG metadata,
so the same tables give byte-identical files with the same matplotlib.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.transforms  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .design import Contrast  # noqa: E402

__all__ = [
    "DPI",
    "condition_colours",
    "save_figure",
    "sample_qc_from_summaries",
    "qc_bars",
    "labelled_features",
    "volcano",
    "ma_plot",
    "pca_coordinates",
    "pca_plot",
    "top_features",
    "zscore_rows",
    "heatmap",
    "significant_review_features",
    "review_boxplots",
    "hemolysis_by_group",
]

DPI = 120
SEED = 20240501
#: PNG metadata: no software version or creation time, so files are reproducible.
PNG_METADATA = {"Software": None}
CASE_COLOUR = "#c0392b"
CONTROL_COLOUR = "#2e86c1"
OTHER_COLOURS = ("#27ae60", "#8e44ad", "#d68910", "#16a085", "#7f8c8d")
NOT_SIGNIFICANT = "#b3b3b3"
SIGNIFICANT = "#555555"
REVIEW = "#e67e22"
CAUTION = "#b03a2e"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
QC_FAIL = "#c0392b"
QC_WARN = "#e67e22"


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def condition_colours(levels: Sequence[str], case: str = "", control: str = "") -> dict[str, str]:
    """Colour of each level: case red, control blue, others from a fixed palette."""
    colours = {}
    others = iter(OTHER_COLOURS * (len(levels) // len(OTHER_COLOURS) + 1))
    for level in levels:
        if level == case:
            colours[level] = CASE_COLOUR
        elif level == control:
            colours[level] = CONTROL_COLOUR
        else:
            colours[level] = next(others)
    return colours


def _ordered_levels(values: Iterable[str], case: str = "", control: str = "") -> list[str]:
    """Control first, then case, then any other level in sorted order."""
    present = sorted({str(v) for v in values})
    first = [lvl for lvl in (control, case) if lvl in present]
    return first + [lvl for lvl in present if lvl not in first]


@dataclass(frozen=True)
class SampleLayout:
    """How samples are shown: grouped by the contrast variable (control, case, others), coloured."""

    order: list[str]
    groups: pd.Series  # sample -> level ("" where unknown)
    levels: list[str]
    colours: dict[str, str]

    @classmethod
    def of(cls, names: Iterable[str], samples: pd.DataFrame | None, contrast: Contrast | None):
        names = [str(n) for n in names]
        groups = pd.Series("", index=names, dtype=object)
        if contrast is not None and samples is not None and contrast.variable in samples:
            groups = samples[contrast.variable].astype(str).reindex(names).fillna("")
        case, control = (contrast.case, contrast.control) if contrast else ("", "")
        levels = _ordered_levels([g for g in groups if g], case, control)
        rank = {level: i for i, level in enumerate(levels)}
        order = sorted(names, key=lambda s: (rank.get(groups[s], len(rank)), s))
        return cls(order, groups, levels, condition_colours(levels, case, control))

    def colour(self, sample: str) -> str:
        return self.colours.get(self.groups[sample], "#7f8c8d")

    def legend(self, marker: str = "s") -> list[Line2D]:
        return [
            Line2D([], [], marker=marker, ls="", color=self.colours[lvl], label=lvl)
            for lvl in self.levels
        ]


def save_figure(fig: plt.Figure, path: str | Path, tight: bool = False) -> None:
    """Write ``fig`` as a reproducible PNG and close it (``tight``: crop to the drawn area)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"bbox_inches": "tight", "pad_inches": 0.15} if tight else {}
    fig.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA, **extra)
    plt.close(fig)


def _empty_figure(path: str | Path, title: str, message: str, size=(6.0, 3.0)) -> None:
    """A figure that says why there is nothing to plot (the workflow still needs a file)."""
    fig, ax = plt.subplots(figsize=size)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    save_figure(fig, path)


def _neg_log10(values: pd.Series) -> np.ndarray:
    """-log10 of p-values; zeros (underflow) are placed just above the largest finite value."""
    p = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.log10(p)
    finite = np.isfinite(out)
    if (~finite & (p == 0)).any():
        top = out[finite].max() if finite.any() else 300.0
        out[p == 0] = top * 1.05 + 1
    return out


# --------------------------------------------------------------------------
# Per-sample QC
# --------------------------------------------------------------------------

QC_COLUMNS = (
    "sample",
    "raw_reads",
    "reads_kept",
    "mirna_reads",
    "mirna_fraction",
    "hemolysis_index",
    "qc_status",
)


QC_LABELS = {"raw_reads": "raw reads", "reads_kept": "reads kept", "mirna_reads": "miRNA reads"}


def sample_qc_from_summaries(
    summaries: Sequence[Mapping[str, object] | str | Path],
    counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per-sample QC table from preprocessing summaries and the mature count matrix.

    ``summaries`` are the per-sample JSON files of the trimming step (or the
    parsed dictionaries), with ``sample``, ``raw_reads`` and ``reads_kept``.
    ``counts`` is the mature miRNA x sample matrix; its column sums are the
    miRNA reads. ``mirna_fraction`` is miRNA reads / kept molecules (reads
    kept after trimming, after UMI deduplication when the summary has
    ``molecules_kept``), as in the workflow's QC table.
    With no summaries (a run that starts from a count matrix) the table has
    the miRNA reads only.
    """
    rows = []
    for item in summaries:
        if not isinstance(item, Mapping):
            with open(item) as handle:
                item = json.load(handle)
        rows.append(
            {
                "sample": str(item["sample"]),
                "raw_reads": float(item.get("raw_reads", math.nan)),
                "reads_kept": float(item.get("reads_kept", math.nan)),
                "_molecules": float(item.get("molecules_kept", item.get("reads_kept", math.nan))),
            }
        )
    qc = pd.DataFrame(rows, columns=["sample", "raw_reads", "reads_kept", "_molecules"])
    if counts is not None:
        mirna = counts.sum(axis=0).astype(float)
        mirna.index = mirna.index.astype(str)
        if qc.empty:
            qc = pd.DataFrame({"sample": list(mirna.index)})
        qc["mirna_reads"] = qc["sample"].map(mirna)
        if "reads_kept" in qc:
            with np.errstate(divide="ignore", invalid="ignore"):
                qc["mirna_fraction"] = qc["mirna_reads"] / qc["_molecules"]
    qc = qc.drop(columns=["_molecules"], errors="ignore")
    return qc.dropna(axis=1, how="all").reset_index(drop=True)


@dataclass(frozen=True)
class _BarStyle:
    """Colours and QC outlines of the per-sample bars."""

    colours: list[str]
    edges: list[str]
    widths: list[float]
    failed: np.ndarray
    warned: np.ndarray

    @classmethod
    def of(cls, qc: pd.DataFrame, layout: SampleLayout) -> _BarStyle:
        status = pd.Series("pass", index=qc.index)
        if "qc_status" in qc.columns:
            status = qc["qc_status"].astype(str).str.strip().str.lower()
        failed, warned = (status == "fail").to_numpy(), (status == "warn").to_numpy()
        edges = [QC_FAIL if f else QC_WARN if w else "white" for f, w in zip(failed, warned)]
        widths = [1.4 if f or w else 0.0 for f, w in zip(failed, warned)]
        colours = [layout.colour(s) for s in qc.index]
        return cls(colours, edges, widths, failed, warned)


def _library_panel(ax, x, qc: pd.DataFrame, columns: list[str], style: _BarStyle, _) -> None:
    scale = 1e6 if _large(qc, columns) else 1.0
    width = 0.8 / len(columns)
    shades = (0.35, 0.65, 1.0)[-len(columns) :]
    for i, column in enumerate(columns):
        values = pd.to_numeric(qc[column], errors="coerce").to_numpy(float) / scale
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            values,
            width=width,
            color=[matplotlib.colors.to_rgba(c, shades[i]) for c in style.colours],
            edgecolor=style.edges,
            linewidth=style.widths,
            label=QC_LABELS[column],
        )
    ax.legend(
        handles=[
            plt.Rectangle((0, 0), 1, 1, color=matplotlib.colors.to_rgba("#444444", s))
            for s in shades
        ],
        labels=[QC_LABELS[c] for c in columns],
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
    )
    ax.set_title("Library size")


def _value_bars(ax, x, values: np.ndarray, style: _BarStyle) -> None:
    bars = ax.bar(
        x,
        np.nan_to_num(values),
        color=style.colours,
        width=0.7,
        edgecolor=style.edges,
        linewidth=style.widths,
    )
    for bar, fail in zip(bars, style.failed):
        if fail:
            bar.set_hatch("//")


def _fraction_panel(ax, x, qc: pd.DataFrame, columns: list[str], style: _BarStyle, _) -> None:
    values = pd.to_numeric(qc[columns[0]], errors="coerce").to_numpy(float)
    _value_bars(ax, x, values, style)
    ax.set_ylim(0, max(1.0, np.nanmax(values) if np.isfinite(values).any() else 1.0))
    ax.set_title("miRNA fraction")


def _hemolysis_panel(ax, x, qc, columns: list[str], style: _BarStyle, threshold) -> None:
    values = pd.to_numeric(qc[columns[0]], errors="coerce").to_numpy(float)
    _value_bars(ax, x, values, style)
    ax.set_title("Hemolysis index")
    for i in np.flatnonzero(~np.isfinite(values)):
        ax.text(x[i], 0, "NA", ha="center", va="bottom", fontsize=7, color="#555555")
    if threshold is not None:
        ax.axhline(threshold, color=QC_FAIL, lw=0.8, ls="--")
        ax.text(
            x[-1] + 0.45, threshold, "threshold", fontsize=7, color=QC_FAIL, ha="right", va="bottom"
        )


QC_PANELS: dict[str, Callable] = {
    "library": _library_panel,
    "mirna_fraction": _fraction_panel,
    "hemolysis_index": _hemolysis_panel,
}


def _qc_panels(qc: pd.DataFrame) -> list[tuple[str, list[str], str]]:
    """(panel, columns, y label) of the QC values present."""
    panels: list[tuple[str, list[str], str]] = []
    sizes = [c for c in ("raw_reads", "reads_kept", "mirna_reads") if c in qc.columns]
    if sizes:
        panels.append(("library", sizes, "reads (millions)" if _large(qc, sizes) else "reads"))
    if "mirna_fraction" in qc.columns:
        panels.append(("mirna_fraction", ["mirna_fraction"], "miRNA / kept reads"))
    if "hemolysis_index" in qc.columns and qc["hemolysis_index"].notna().any():
        panels.append(("hemolysis_index", ["hemolysis_index"], "hemolysis index"))
    return panels


def _qc_legend(fig, layout: SampleLayout, style: _BarStyle) -> None:
    handles: list = layout.legend()
    if style.warned.any():
        handles.append(
            plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor=QC_WARN, label="QC warn")
        )
    if style.failed.any():
        handles.append(
            plt.Rectangle(
                (0, 0), 1, 1, facecolor="white", edgecolor=QC_FAIL, hatch="//", label="QC fail"
            )
        )
    if handles:
        fig.legend(handles=handles, loc="upper right", fontsize=8, frameon=False, ncol=len(handles))


def qc_bars(
    qc: pd.DataFrame,
    path: str | Path,
    samples: pd.DataFrame | None,
    contrast: Contrast | None,
    hemolysis_threshold: float | None,
) -> list[str]:
    """Bars per sample: library size, miRNA fraction and hemolysis index where available.

    ``qc`` has a ``sample`` column and any of :data:`QC_COLUMNS`. Samples are
    grouped by the contrast variable (control first), then name, and coloured
    by it. A ``qc_status`` of ``fail`` gives a red outline and hatch, ``warn`` an
    orange outline. ``hemolysis_threshold`` draws the hemolysis cut-off.
    Returns the panels drawn.
    """
    layout = SampleLayout.of(qc["sample"], samples, contrast)
    qc = qc.assign(sample=qc["sample"].astype(str)).set_index("sample").loc[layout.order]
    panels = _qc_panels(qc)
    if not panels:
        _empty_figure(path, "Per-sample QC", "No QC values available.")
        return []
    style = _BarStyle.of(qc, layout)
    width = max(6.0, 0.45 * len(qc) + 2.0)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(width, 2.6 * len(panels) + 0.8), sharex=True, squeeze=False
    )
    x = np.arange(len(qc))
    for ax, (name, columns, ylabel) in zip(axes[:, 0], panels):
        QC_PANELS[name](ax, x, qc, columns, style, hemolysis_threshold)
        ax.set_ylabel(ylabel)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1, 0].set_xticks(x)
    axes[-1, 0].set_xticklabels(layout.order, rotation=90, fontsize=8)
    _qc_legend(fig, layout, style)
    fig.suptitle("Per-sample QC", x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    save_figure(fig, path)
    return [p[0] for p in panels]


def _large(qc: pd.DataFrame, columns: Sequence[str]) -> bool:
    values = pd.concat([pd.to_numeric(qc[c], errors="coerce") for c in columns])
    return bool(values.max() >= 1e6)


# --------------------------------------------------------------------------
# Volcano and MA plots
# --------------------------------------------------------------------------


def labelled_features(
    de: pd.DataFrame, highlight: Iterable[str], max_labels: int = 25
) -> list[str]:
    """Highlighted features of ``de`` to label: smallest p-value first, at most ``max_labels``."""
    wanted = set(highlight)
    present = de[de["feature"].isin(wanted)].copy()
    present["_p"] = pd.to_numeric(present["pvalue"], errors="coerce").fillna(2.0)
    present = present.sort_values(["_p", "feature"], kind="mergesort")
    return list(present["feature"].head(max_labels))


def _short(name: str) -> str:
    """Compact label: species prefix dropped, merged features shortened to the first name."""
    first = name.split("/")[0]
    short = first.split("-", 1)[1] if first.count("-") >= 2 else first
    return short + ("/…" if "/" in name else "")


def _annotate(ax, text: str, xy, dx: float, dy: float, leader: bool = False):
    """A label ``dx, dy`` points away from ``xy``, with a thin leader line if asked."""
    return ax.annotate(
        text,
        xy,
        xytext=(dx, dy),
        textcoords="offset points",
        fontsize=7,
        ha="left" if dx >= 0 else "right",
        va="center",
        arrowprops=(
            {"arrowstyle": "-", "lw": 0.5, "color": "#777777", "shrinkA": 0, "shrinkB": 3}
            if leader
            else None
        ),
    )


def _place_labels(ax, xs, ys, names, shorten: bool = True) -> None:
    """Label points without overlaps: greedy search of offsets around each point.

    Labels are placed from the highest point down; for each, offsets on
    growing rings around the point are tried in a fixed order and the first
    whose text box stays inside the axes and clears the labels and labelled
    points placed so far is kept (else the last candidate). A thin leader line
    joins labels set away from their point. Deterministic for given inputs;
    call after the layout is final.
    """
    label = _short if shorten else str
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    ax_box = ax.get_window_extent(renderer)
    points = [ax.transData.transform((x, y)) for x, y in zip(xs, ys)]
    scale = fig.dpi / 72.0
    obstacles = [
        matplotlib.transforms.Bbox.from_bounds(px - 4 * scale, py - 4 * scale, 8 * scale, 8 * scale)
        for px, py in points
    ]
    angles = (0, 30, -30, 60, -60, 90, -90, 150, -150, 180, 120, -120)
    candidates = [
        (r * math.cos(math.radians(a)), r * math.sin(math.radians(a)))
        for r in (6, 14, 24, 36, 50, 66)
        for a in angles
    ]
    order = sorted(range(len(names)), key=lambda i: (-ys[i], names[i]))
    for i in order:
        text, xy = label(names[i]), (xs[i], ys[i])
        chosen = None
        for dx, dy in candidates:
            probe = _annotate(ax, text, xy, dx, dy)
            box = probe.get_window_extent(renderer).expanded(1.05, 1.15)
            probe.remove()
            inside = (
                box.x0 >= ax_box.x0
                and box.x1 <= ax_box.x1
                and box.y0 >= ax_box.y0
                and box.y1 <= ax_box.y1
            )
            chosen = (dx, dy, box)
            if inside and not any(box.overlaps(other) for other in obstacles):
                break
        dx, dy, box = chosen
        _annotate(ax, text, xy, dx, dy, leader=math.hypot(dx, dy) > 10)
        obstacles.append(box)


def _ring_review(ax, xs: np.ndarray, ys: np.ndarray) -> None:
    """Orange rings around the review-list miRNAs."""
    ax.scatter(
        xs, ys, s=40, facecolors="none", edgecolors=REVIEW, linewidths=1.3, label="review list"
    )


def volcano(
    de: pd.DataFrame,
    path: str | Path,
    highlight: Iterable[str] = (),
    alpha: float = 0.05,
    title: str = "",
    max_labels: int = 25,
    caution: Iterable[str] = (),
) -> list[str]:
    """log2 fold change vs -log10 p-value; review-list miRNAs highlighted and labelled.

    Grey: not significant; dark grey: ``padj < alpha``; orange ring: on the
    review list (labelled, most significant first, at most ``max_labels``).
    ``caution``: features with ``blood_cell_caution`` (red cross, labelled too);
    without it the figure is the one drawn before the hemolysis guard existed.
    Returns the labelled features.
    """
    de = de[pd.to_numeric(de["pvalue"], errors="coerce").notna()].copy()
    if de.empty:
        _empty_figure(path, title or "Volcano plot", "No feature has a p-value.")
        return []
    lfc = pd.to_numeric(de["log2FoldChange"], errors="coerce").to_numpy(float)
    y = _neg_log10(de["pvalue"])
    sig = (pd.to_numeric(de["padj"], errors="coerce") < alpha).to_numpy()
    review = de["feature"].isin(set(highlight)).to_numpy()

    fig, ax = plt.subplots(figsize=(7.0, 5.5))
    ax.scatter(lfc[~sig], y[~sig], s=9, c=NOT_SIGNIFICANT, linewidths=0, label="not significant")
    ax.scatter(lfc[sig], y[sig], s=11, c=SIGNIFICANT, linewidths=0, label=f"padj < {alpha:g}")
    _ring_review(ax, lfc[review], y[review])
    cautioned = de["feature"].isin(set(caution)).to_numpy()
    if cautioned.any():
        ax.scatter(
            lfc[cautioned],
            y[cautioned],
            s=46,
            marker="x",
            c=CAUTION,
            linewidths=1.4,
            label="blood-cell caution",
        )
        highlight = set(highlight) | set(de["feature"][cautioned])
    labels = labelled_features(de, highlight, max_labels)
    keep = de["feature"].isin(labels).to_numpy()
    half = max(float(np.nanmax(np.abs(lfc[np.isfinite(lfc)]), initial=0.5)), 0.5) * 1.35
    ax.axvline(0, color="#999999", lw=0.6)
    ax.set_xlabel("log2 fold change")
    ax.set_ylabel("-log10 p-value")
    ax.set_xlim(-half, half)
    ax.set_ylim(-0.04 * max(float(np.nanmax(y)), 1.0), max(float(np.nanmax(y)), 1.0) * 1.08)
    ax.set_title(title or "Volcano plot")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    _place_labels(ax, list(lfc[keep]), list(y[keep]), list(de["feature"].to_numpy()[keep]))
    save_figure(fig, path)
    return labels


def ma_plot(
    de: pd.DataFrame,
    path: str | Path,
    alpha: float = 0.05,
    title: str = "",
    highlight: Iterable[str] = (),
    shrunk: bool = True,
) -> str:
    """Mean of normalised counts (log10) vs log2 fold change.

    Uses the apeglm-shrunk fold changes when ``shrunk`` and the column holds
    values, else the unshrunk ones. Returns the column plotted.
    """
    column = "log2FoldChange"
    if (
        shrunk
        and "log2FoldChange_shrunk" in de.columns
        and pd.to_numeric(de["log2FoldChange_shrunk"], errors="coerce").notna().any()
    ):
        column = "log2FoldChange_shrunk"
    base = pd.to_numeric(de["baseMean"], errors="coerce").to_numpy(float)
    lfc = pd.to_numeric(de[column], errors="coerce").to_numpy(float)
    ok = np.isfinite(base) & (base > 0) & np.isfinite(lfc)
    if not ok.any():
        _empty_figure(path, title or "MA plot", "No feature has a fold change.")
        return column
    sig = (pd.to_numeric(de["padj"], errors="coerce") < alpha).to_numpy() & ok
    review = de["feature"].isin(set(highlight)).to_numpy() & ok
    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    ax.scatter(
        base[ok & ~sig],
        lfc[ok & ~sig],
        s=9,
        c=NOT_SIGNIFICANT,
        linewidths=0,
        label="not significant",
    )
    ax.scatter(base[sig], lfc[sig], s=11, c=CASE_COLOUR, linewidths=0, label=f"padj < {alpha:g}")
    if review.any():
        _ring_review(ax, base[review], lfc[review])
    ax.set_xscale("log")
    ax.axhline(0, color="#999999", lw=0.6)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change" + (" (apeglm-shrunk)" if column.endswith("shrunk") else ""))
    ax.set_title(title or "MA plot")
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
    return column


# --------------------------------------------------------------------------
# PCA and heatmap on variance-stabilised values
# --------------------------------------------------------------------------


def pca_coordinates(vst: pd.DataFrame, ntop: int = 500) -> tuple[pd.DataFrame, np.ndarray]:
    """PCA of samples on the ``ntop`` most variable features (DESeq2's ``plotPCA``).

    ``vst`` is features x samples. Returns samples x components coordinates
    (``PC1``, ``PC2``, …) and the fraction of variance of each component.
    The sign of each component is fixed (largest absolute loading positive),
    so the result does not depend on the SVD implementation.
    """
    values = vst.astype(float)
    values = values[np.isfinite(values.to_numpy()).all(axis=1)]  # VST is NaN where a fit failed
    variance = values.var(axis=1, ddof=1)
    order = sorted(range(len(variance)), key=lambda i: (-variance.iat[i], str(values.index[i])))
    top = values.iloc[order[: min(ntop, len(order))]]
    matrix = top.to_numpy().T  # samples x features
    matrix = matrix - matrix.mean(axis=0)
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    for k in range(vt.shape[0]):
        if vt[k, np.argmax(np.abs(vt[k]))] < 0:
            u[:, k] *= -1
            vt[k] *= -1
    coords = u * s
    total = float((s**2).sum())
    explained = (s**2) / total if total > 0 else np.zeros_like(s)
    frame = pd.DataFrame(
        coords, index=values.columns.astype(str), columns=[f"PC{i + 1}" for i in range(len(s))]
    )
    return frame, explained


def pca_plot(
    vst: pd.DataFrame,
    samples: pd.DataFrame,
    path: str | Path,
    contrast: Contrast,
    covariate: str,
    ntop: int,
) -> pd.DataFrame:
    """PC1 vs PC2 of the VST values, coloured by condition, marker by ``covariate``."""
    if vst.shape[1] < 3 or vst.shape[0] < 2:
        _empty_figure(path, "PCA", "PCA needs at least 3 samples and 2 features.")
        return pd.DataFrame()
    coords, explained = pca_coordinates(vst, ntop)
    if not explained.size or not explained.any():
        _empty_figure(path, "PCA", "No variation between samples: nothing to project.")
        return pd.DataFrame()
    if coords.shape[1] < 2:
        coords["PC2"] = 0.0
        explained = np.append(explained, 0.0)
    layout = SampleLayout.of(coords.index, samples, contrast)
    marks = pd.Series("", index=coords.index)
    mark_levels: list[str] = []
    if covariate and covariate in samples.columns:
        marks = samples[covariate].astype(str).reindex(coords.index).fillna("")
        mark_levels = sorted(set(marks))
    markers = {lvl: MARKERS[i % len(MARKERS)] for i, lvl in enumerate(mark_levels)}

    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    for sample in coords.index:
        ax.scatter(
            coords.at[sample, "PC1"],
            coords.at[sample, "PC2"],
            s=55,
            c=layout.colour(sample),
            marker=markers.get(marks[sample], "o"),
            edgecolors="black",
            linewidths=0.4,
        )
    handles = layout.legend(marker="o")
    if mark_levels:
        handles += [
            Line2D([], [], marker=markers[lvl], ls="", color="#444444", label=f"{covariate} {lvl}")
            for lvl in mark_levels
        ]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="best")
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f}% variance)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.1f}% variance)")
    ax.set_title(f"PCA of variance-stabilised counts (top {min(ntop, vst.shape[0])} features)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(0.12)
    fig.tight_layout()
    _place_labels(ax, list(coords["PC1"]), list(coords["PC2"]), list(coords.index), shorten=False)
    save_figure(fig, path)
    return coords


def top_features(de: pd.DataFrame, n: int = 30, alpha: float = 0.05) -> list[str]:
    """The ``n`` features with the smallest adjusted p-value (then p-value, then name).

    Significant features (``padj < alpha``) come first; when fewer than ``n``
    are significant the list is completed with the next smallest p-values,
    so the heatmap always shows the strongest signal available.
    """
    table = de.copy()
    table["_padj"] = pd.to_numeric(table["padj"], errors="coerce").fillna(2.0)
    table["_p"] = pd.to_numeric(table["pvalue"], errors="coerce").fillna(2.0)
    table = table[table["_p"] <= 1.0]
    table = table.sort_values(["_padj", "_p", "feature"], kind="mergesort")
    return list(table["feature"].head(n))


def zscore_rows(values: pd.DataFrame) -> pd.DataFrame:
    """Row-wise z-scores (sample standard deviation); constant rows become 0."""
    mean = values.mean(axis=1)
    sd = values.std(axis=1, ddof=1).replace(0, np.nan)
    return values.sub(mean, axis=0).div(sd, axis=0).fillna(0.0)


def heatmap(
    vst: pd.DataFrame,
    de: pd.DataFrame,
    samples: pd.DataFrame,
    path: str | Path,
    contrast: Contrast,
    n: int,
    alpha: float,
) -> list[str]:
    """Z-scored VST values of the top DE features; samples grouped by condition.

    Rows are ordered by the sign of the fold change, then adjusted p-value;
    columns by condition (control first), then sample name. Returns the rows.
    """
    features = [f for f in top_features(de, n, alpha) if f in vst.index]
    if not features:
        _empty_figure(path, "Top differentially expressed miRNAs", "No tested feature to show.")
        return []
    lfc = pd.to_numeric(de.set_index("feature")["log2FoldChange"], errors="coerce")
    rank_of = {f: i for i, f in enumerate(features)}

    def row_key(feature: str) -> tuple[int, int]:
        value = lfc.get(feature, math.nan)
        direction = 0 if not np.isfinite(value) else (-1 if value > 0 else 1)
        return direction, rank_of[feature]

    features = sorted(features, key=row_key)
    layout = SampleLayout.of(vst.columns, samples, contrast)
    columns = layout.order
    z = zscore_rows(vst.loc[features, columns].astype(float))

    height = max(3.0, 0.2 * len(features) + 1.6)
    width = max(6.0, 0.38 * len(columns) + 3.5)
    fig = plt.figure(figsize=(width, height))
    grid = fig.add_gridspec(
        2, 2, height_ratios=(0.35, len(features)), width_ratios=(40, 1), hspace=0.03, wspace=0.05
    )
    bar_ax = fig.add_subplot(grid[0, 0])
    ax = fig.add_subplot(grid[1, 0], sharex=bar_ax)
    cax = fig.add_subplot(grid[1, 1])
    bar_colours = [matplotlib.colors.to_rgb(layout.colour(s)) for s in columns]
    bar_ax.imshow([bar_colours], aspect="auto", interpolation="nearest")
    bar_ax.set_yticks([])
    bar_ax.tick_params(labelbottom=False, bottom=False)
    limit = max(2.0, float(np.nanmax(np.abs(z.to_numpy()))))
    image = ax.imshow(
        z.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    ax.set_yticks(range(len(features)))
    ax.set_yticklabels([_short(f) for f in features], fontsize=7)
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=90, fontsize=7)
    fig.colorbar(image, cax=cax, label="z-score (VST)")
    bar_ax.legend(
        handles=layout.legend(),
        fontsize=7,
        frameon=False,
        ncol=len(layout.levels),
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        borderaxespad=0.2,
    )
    bar_ax.set_title(f"Top {len(features)} differentially expressed miRNAs", fontsize=10, pad=22)
    fig.subplots_adjust(left=0.25, right=0.9, top=1 - 0.6 / height, bottom=0.9 / height)
    save_figure(fig, path, tight=True)
    return features


# --------------------------------------------------------------------------
# Normalised counts of significant review-list miRNAs
# --------------------------------------------------------------------------


def significant_review_features(hits: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """Review-list features with ``padj < alpha``, most significant first."""
    if hits.empty or "feature" not in hits.columns:
        return []
    padj = pd.to_numeric(hits["padj"], errors="coerce")
    chosen = hits[padj < alpha].assign(_padj=padj[padj < alpha])
    chosen = chosen.sort_values(["_padj", "feature"], kind="mergesort")
    return list(dict.fromkeys(chosen["feature"]))


def _box_strip(ax, data: list, layout: SampleLayout, point_size: int, rng=None) -> None:
    """Boxes per group (no fliers) with the samples as points, jittered with a fixed seed."""
    rng = rng if rng is not None else np.random.default_rng(SEED)
    box = ax.boxplot(data, widths=0.55, patch_artist=True, showfliers=False)
    for patch, lvl in zip(box["boxes"], layout.levels):
        patch.set_facecolor(layout.colours[lvl])
        patch.set_alpha(0.35)
    for median in box["medians"]:
        median.set_color("black")
    for i, (lvl, points) in enumerate(zip(layout.levels, data), start=1):
        jitter = rng.uniform(-0.12, 0.12, size=len(points))
        ax.scatter(
            np.full(len(points), i) + jitter,
            points,
            s=point_size,
            c=layout.colours[lvl],
            edgecolors="black",
            linewidths=0.3,
            zorder=3,
        )
    ax.set_xticks(range(1, len(layout.levels) + 1))


def review_boxplots(
    de: pd.DataFrame,
    hits: pd.DataFrame,
    samples: pd.DataFrame,
    path: str | Path,
    contrast: Contrast,
    alpha: float,
    max_panels: int = 24,
) -> list[str]:
    """One panel per significant review-list miRNA: normalised counts by condition.

    Uses the ``norm_<sample>`` columns of the DE table (counts divided by the
    size factor), on a log2(x + 1) axis, with the samples as jittered points
    (fixed seed). Returns the features drawn.
    """
    features = [f for f in significant_review_features(hits, alpha) if f in set(de["feature"])]
    features = features[:max_panels]
    if not features:
        _empty_figure(
            path,
            "Significant review-list miRNAs",
            f"No miRNA of the review list has padj < {alpha:g}.",
        )
        return []
    norm_columns = [c for c in de.columns if c.startswith("norm_")]
    layout = SampleLayout.of([c[len("norm_") :] for c in norm_columns], samples, contrast)
    groups, levels = layout.groups, layout.levels
    table = de.set_index("feature")
    padj = table["padj"]

    ncols = min(4, len(features))
    nrows = math.ceil(len(features) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.6 * ncols + 0.4, 2.7 * nrows + 0.6), squeeze=False
    )
    rng = np.random.default_rng(SEED)
    for ax, feature in zip(axes.flat, features):
        values = np.log2(table.loc[feature, norm_columns].to_numpy(dtype=float) + 1)
        data = [values[(groups == lvl).to_numpy()] for lvl in levels]
        _box_strip(ax, data, layout, point_size=12, rng=rng)
        ax.set_xticklabels(levels, fontsize=8)
        ax.set_title(f"{_short(feature)}\npadj {float(padj[feature]):.2g}", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.flat[len(features) :]:
        ax.set_axis_off()
    for ax in axes[:, 0]:
        ax.set_ylabel("log2(normalised count + 1)", fontsize=8)
    fig.suptitle(f"Review-list miRNAs with padj < {alpha:g}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return features


# --------------------------------------------------------------------------
# Hemolysis index by group
# --------------------------------------------------------------------------


def hemolysis_by_group(
    index: pd.Series,
    samples: pd.DataFrame,
    path: str | Path,
    contrast: Contrast,
    subtitle: str,
    threshold: float | None,
) -> list[str]:
    """Hemolysis index per sample by group: boxes with the samples as jittered points.

    ``index`` is indexed by sample (NaN: not computed; those samples are counted
    in the title, not drawn); ``subtitle`` carries the group test's result;
    ``threshold`` draws ``qc.hemolysis_threshold``. Returns the groups drawn.
    """
    values = pd.to_numeric(index, errors="coerce")
    known = values[np.isfinite(values.to_numpy(dtype=float))]
    layout = SampleLayout.of(known.index, samples, contrast)
    title = "Hemolysis index by group"
    if known.empty or not layout.levels:
        _empty_figure(path, title, "No sample has a hemolysis index.")
        return []
    data = [known.to_numpy(float)[(layout.groups == lvl).to_numpy()] for lvl in layout.levels]
    fig, ax = plt.subplots(figsize=(max(3.6, 1.3 * len(layout.levels) + 1.8), 4.2))
    _box_strip(ax, data, layout, point_size=16)
    if threshold is not None:
        ax.axhline(threshold, color=QC_FAIL, lw=0.8, ls="--")
    ax.set_xticklabels([f"{lvl}\n(n={len(d)})" for lvl, d in zip(layout.levels, data)], fontsize=8)
    ax.set_ylabel("hemolysis index\nlog2 (miR-451a + 1) / (miR-23a-3p + 1)", fontsize=8)
    missing = len(values) - len(known)
    note = f"; {missing} sample(s) without an index" if missing else ""
    ax.set_title(f"{title}\n{subtitle}{note}".strip(), fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)
    return layout.levels
