"""Figures the chapters share: image grids, reconstruction panels, attention overlays, t-SNE plots.

Each function returns a matplotlib Figure (closed from pyplot's registry, so a notebook shows it only
where it is glued or displayed).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import eval as ev
from ..mae.model import MaskedAutoencoder


def _show(ax, img: torch.Tensor | np.ndarray) -> None:
    arr = img.clamp(0, 1).permute(1, 2, 0).numpy() if isinstance(img, torch.Tensor) else img
    if arr.ndim == 3 and arr.shape[-1] == 1:
        ax.imshow(arr[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(arr, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([]), ax.set_yticks([])


def image_grid(rows: Sequence[tuple[str, Sequence[Any]]], size: float = 1.3):
    """One row per ``(title, images)``; images are [C, H, W] tensors in [0, 1] or [H, W, 3] arrays."""
    n = max(len(imgs) for _, imgs in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, (size + 0.1) * len(rows)), squeeze=False)
    for r, (title, imgs) in enumerate(rows):
        for c in range(n):
            if c < len(imgs):
                _show(axes[r, c], imgs[c])
            else:
                axes[r, c].axis("off")
        axes[r, 0].set_ylabel(title, fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def reconstruction_panels(models: Mapping[str, MaskedAutoencoder], images: torch.Tensor, mask_ratio: float,
                          mask_unit: int | None, seed: int = 0, show_raw: bool = False):
    """Original, masked input (removed patches lightened), then each model's reconstruction with the
    visible patches pasted back, all on the same masks (drawn from ``seed``). ``show_raw`` adds each
    model's raw prediction for every patch (the visible ones are untrained output)."""
    rows: list[tuple[str, Sequence[Any]]] = [("original", images)]
    for i, (name, model) in enumerate(models.items()):
        rec = model.reconstruct(images, mask_ratio=mask_ratio, mask_unit=mask_unit,
                                generator=torch.Generator().manual_seed(seed))
        if i == 0:
            rows.append(("masked", rec["masked"] + 0.5 * rec["mask_pixels"]))
        if show_raw:
            rows.append((f"{name}: prediction", rec["recon"]))
        rows.append((f"{name}: + visible" if show_raw else name, rec["pasted"]))
    return image_grid(rows)


def attention_overlays(models: Mapping[str, MaskedAutoencoder], images: torch.Tensor, boxes: torch.Tensor):
    """Last-layer attention averaged over heads, overlaid: of the CLS token (as the paper's Figure 6),
    then of the token at the object's centre (Figure 7, that token outlined in red), per model."""
    any_model = next(iter(models.values()))
    p, size = any_model.cfg.patch_size, any_model.cfg.img_size
    grid = size // p
    cls_maps = {name: ev.cls_attention(m, images) for name, m in models.items()}   # [N, grid, grid]
    rows: list[tuple[str, list]] = [("image", list(images))]
    rows += [(f"CLS, {name}", []) for name in models] + [(f"token, {name}", []) for name in models]
    cells = []
    for c, img in enumerate(images):
        x0, y0, x1, y1 = boxes[c].tolist()
        row, col = min(int((y0 + y1) / 2) // p, grid - 1), min(int((x0 + x1) / 2) // p, grid - 1)
        cells.append((row, col))
        for k, name in enumerate(models):
            rows[1 + k][1].append(ev.overlay(img, ev.upsample(cls_maps[name][c:c + 1], (size, size))[0]))
            tok = ev.token_attention(models[name], img[None], row, col)
            rows[1 + len(models) + k][1].append(ev.overlay(img, ev.upsample(tok, (size, size))[0]))
    fig = image_grid(rows)
    for r in range(1 + len(models), 1 + 2 * len(models)):
        for c, (row, col) in enumerate(cells):
            fig.axes[r * len(images) + c].add_patch(plt.Rectangle(
                (col * p - 0.5, row * p - 0.5), p, p, fill=False, ec="red", lw=1))
    return fig


def tsne_panels(results: Mapping[str, Mapping[str, Any]]):
    """Side-by-side t-SNE embeddings from :func:`~.evaluation.evaluate` results (their ``tsne`` entry)."""
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4.6), squeeze=False)
    for ax, (name, res) in zip(axes[0], results.items()):
        t = res["tsne"]
        ev.plot_embedding(np.asarray(t["embedding"]), np.asarray(t["labels"]), t["class_names"], ax=ax, title=name)
    axes[0, -1].legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    plt.close(fig)
    return fig


def architecture_table(model: MaskedAutoencoder):
    """Width, depth, heads and trainable parameters (millions) of encoder and decoder, as a DataFrame."""
    import pandas as pd

    def count(decoder: bool) -> float:
        return sum(p.numel() for n, p in model.named_parameters()
                   if n.startswith(("decoder", "mask_token")) == decoder and p.requires_grad) / 1e6

    c = model.cfg
    return pd.DataFrame({"": ["encoder", "decoder"], "width": [c.embed_dim, c.decoder_embed_dim],
                         "depth": [c.depth, c.decoder_depth], "heads": [c.num_heads, c.decoder_num_heads],
                         "parameters (M)": [count(False), count(True)]}).set_index("")


def sweep_panels(frames: Mapping[str, Any], metrics: Sequence[str], data: str | Sequence[str], patch: int,
                 paper: bool = False, logy: Sequence[str] = ()):
    """Each metric against the masking ratio (units of one patch) and against the mask unit (ratio
    0.75), two rows per dataset of ``data``: mean over seeds with the range of seeds as error bars, one
    line per labelled frame (e.g. this execution and the recorded sweep), the untrained encoder
    dashed, and the paper's value (right axis, grey) where ``paper`` and it reports one. Metrics in
    ``logy`` get a logarithmic axis (a loss whose untrained value is orders of magnitude above)."""
    from . import sweep as S

    datas = [data] if isinstance(data, str) else list(data)
    fig, axes = plt.subplots(2 * len(datas), len(metrics), figsize=(3.1 * len(metrics), 2.8 * 2 * len(datas)),
                             squeeze=False)
    for i, d in enumerate(datas):
        for j, metric in enumerate(metrics):
            for row, name in enumerate(("ratio", "unit")):
                ax = axes[2 * i + row, j]
                drawn = _sweep_series(ax, frames, metric, d, patch, row)
                if metric in logy and drawn:
                    ax.set_yscale("log")
                if not drawn:
                    ax.text(0.5, 0.5, f"no values on {S.DATA_NAMES.get(d, d)}", ha="center", va="center",
                            transform=ax.transAxes, fontsize=8, color="0.4")
                if paper and drawn:
                    _paper_series(ax, metric, name)
                ax.set_xlabel("masking ratio" if name == "ratio" else "mask unit (patches)", fontsize=8)
                if name == "unit":
                    ax.set_xscale("log", base=2)
                    ax.set_xticks([1, 2, 4], ["1", "2", "4"])
                ax.set_title(S.METRICS[metric][0] + (f" ({S.DATA_NAMES.get(d, d)})" if len(datas) > 1 else ""),
                             fontsize=8)
                ax.tick_params(labelsize=7)
    handles, labels = [], []
    for ax in axes.flat:  # the first panel with lines gives the legend
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            break
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05 / len(datas), 1, 1))
    plt.close(fig)
    return fig


def _sweep_series(ax, frames: Mapping[str, Any], metric: str, data: str, patch: int, row: int) -> bool:
    """Draw each frame's series of ``metric`` on ``data`` (row 0: ratio, 1: unit); False if none."""
    from . import sweep as S

    drawn = False
    for k, (tag, frame) in enumerate(frames.items()):
        if metric not in frame:
            continue
        sub = S.series(frame, data, patch)[row].dropna(subset=[metric])
        if sub.empty:
            continue
        g = sub.groupby("x")[metric]
        x, m = np.asarray(g.mean().index, dtype=float), g.mean().to_numpy()
        ax.errorbar(x, m, yerr=[m - g.min().to_numpy(), g.max().to_numpy() - m], marker="o", ms=4,
                    capsize=3, label=tag, color=f"C{k}")
        rand = frame[(frame["data"] == data) & (frame["kind"] == "random init")][metric].dropna()
        if len(rand):
            ax.axhline(rand.mean(), color=f"C{k}", ls="--", lw=0.8)
        drawn = True
    return drawn


def _paper_series(ax, metric: str, series: str) -> None:
    """The paper's values of ``metric`` on its ratio or unit series, grey, on a right-hand axis."""
    from . import sweep as S

    px = [0.1, 0.25, 0.5, 0.75, 0.9] if series == "ratio" else [1, 2, 4]
    pv = [S.paper_value(metric, series, v) for v in px]
    if any(v is not None for v in pv):
        twin = ax.twinx()
        twin.plot([a for a, v in zip(px, pv) if v is not None], [v for v in pv if v is not None],
                  color="grey", marker="s", ms=3, lw=0.8)
        twin.tick_params(axis="y", colors="grey", labelsize=7)


def suggestion_panels(frame: Any, metrics: Sequence[str], labels: Mapping[str, str] | None = None):
    """One panel per metric: for each suggestion (x), the baseline's and the suggestion's mean over
    seeds (bars) and every seed (dots). ``frame`` has columns suggestion, arm, seed and the metrics."""
    labels = labels or {}
    metrics = [m for m in metrics if m in frame]
    suggestions = list(dict.fromkeys(frame["suggestion"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.6 * len(metrics), 2.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for k, (arm, colour) in enumerate((("baseline", "0.6"), ("suggestion", "C0"))):
            x = np.arange(len(suggestions)) + (k - 0.5) * 0.38
            sub = [frame[(frame["suggestion"] == s) & (frame["arm"] == arm)][m].dropna() for s in suggestions]
            ax.bar(x, [v.mean() if len(v) else np.nan for v in sub], width=0.36, color=colour, label=arm)
            for xi, v in zip(x, sub):
                ax.plot([xi] * len(v), v, "k.", ms=4)
        ax.set_xticks(np.arange(len(suggestions)), suggestions, rotation=30, ha="right")
        ax.set_title(labels.get(m, m), fontsize=9)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)  # shown where a chapter glues it, not again as the cell's output
    return fig


def cost_panels(frame: Any, ratios: Sequence[float] | None = None):
    """What a ratio costs and what it buys, per run of ``frame`` (columns ratio, seed, images_per_s,
    step_seconds, monitor = [(step, loss)] or None): training images per second against the ratio
    (dots: seeds, line: mean), and the monitor loss (held-out images, one common mask) against
    training time, step x the run's median step seconds (one line per run, a colour per ratio)."""
    ratios = sorted(set(frame["ratio"])) if ratios is None else list(ratios)
    frame = frame[frame["ratio"].isin(ratios)]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.0))
    speed = frame.dropna(subset=["images_per_s"])
    left.plot(speed["ratio"], speed["images_per_s"], "k.", ms=5)
    means = speed.groupby("ratio")["images_per_s"].mean()
    left.plot(means.index, means.values, "-", color="C0")
    left.set_xlabel("masking ratio"), left.set_ylabel("training images / s")
    left.set_title("cost of a step (median step of each run)", fontsize=9)
    for k, r in enumerate(ratios):
        runs = frame[(frame["ratio"] == r) & frame["monitor"].notna() & frame["step_seconds"].notna()]
        for i, (_, row) in enumerate(runs.iterrows()):
            steps, losses = zip(*row["monitor"])
            right.plot(np.array(steps) * row["step_seconds"] / 60, losses, color=f"C{k}", lw=1.2,
                       label=f"ratio {r}" if i == 0 else None)
    right.set_xlabel("training minutes"), right.set_ylabel("loss on the common mask")
    right.set_yscale("log")
    right.set_title("reconstruction loss against cost", fontsize=9)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=8)
    else:  # runs trained before the monitor existed have no curve
        right.text(0.5, 0.5, "no run with a monitor curve", ha="center", va="center", transform=right.transAxes,
                   fontsize=9, color="0.4")
    fig.tight_layout()
    plt.close(fig)
    return fig


def latent_heatmap(frame: Any, data: str, patch: int, unit_ratio: float = 0.75):
    """Kernel R² of every known latent (rows, grouped by level of the hierarchy) for every point of a
    sweep (columns: the ratio series in units of one patch, then the larger units at ``unit_ratio``,
    then the untrained encoder), means over seeds, values written in the cells. ``frame``: sweep rows
    with ``r2:<latent>`` columns (``sweep.latent_r2``); an empty figure with a note where it has none."""
    from ..data.shapes import FACTOR_LEVELS
    from .sweep import LATENT_PREFIX

    sub = frame[frame["data"] == data] if "data" in frame else frame.iloc[:0]
    cols = [c for c in sub.columns if c.startswith(LATENT_PREFIX) and sub[c].notna().any()]
    order = {"global": 0, "region": 1, "local": 2}
    cols.sort(key=lambda c: (order.get(FACTOR_LEVELS.get(c[len(LATENT_PREFIX):], ""), 3), c))
    points = []
    pre = sub[sub["kind"] == "pretrained"] if len(cols) else sub.iloc[:0]
    for r in sorted(set(pre.loc[pre["unit"] == patch, "ratio"])):
        points.append((f"r={r:g}", pre[(pre["unit"] == patch) & (pre["ratio"] == r)]))
    for u in sorted(set(pre.loc[pre["unit"] > patch, "unit"])):
        points.append((f"u={u // patch}", pre[(pre["unit"] == u) & np.isclose(pre["ratio"], unit_ratio)]))
    rand = sub[sub["kind"] == "random init"] if len(cols) else sub.iloc[:0]
    if len(rand):
        points.append(("untrained", rand))
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * max(len(points), 1), 0.9 + 0.32 * max(len(cols), 1)))
    if not cols or not points:
        ax.text(0.5, 0.5, "no per-latent R² here", ha="center", va="center", transform=ax.transAxes)
        ax.axis("off")
        plt.close(fig)
        return fig
    values = np.array([[g[c].mean() for _, g in points] for c in cols])          # [latents, points]
    im = ax.imshow(values, vmin=-0.1, vmax=1.0, cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    names = [c[len(LATENT_PREFIX):] for c in cols]
    ax.set_yticks(range(len(cols)), [f"{n} ({FACTOR_LEVELS.get(n, '?')})" for n in names], fontsize=7)
    ax.set_xticks(range(len(points)), [label for label, _ in points], fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig
