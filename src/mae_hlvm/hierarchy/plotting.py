"""Pictures of hierarchies, masks and the located c (matplotlib + networkx), shared by the chapters."""
from __future__ import annotations

import html
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.patches import Rectangle

from .graphs import tree_positions

if TYPE_CHECKING:
    from IPython.display import HTML

__all__ = ["draw_hierarchy", "draw_quadtree_located", "html_table"]

C_COLOR, A_COLOR, LATENT_COLOR, PIXEL_COLOR = "#1f77b4", "#aec7e8", "#f2f2f2", "#ffffff"


def draw_hierarchy(graph: nx.DiGraph, ax: plt.Axes, masked: Iterable[Hashable] = (),
                   c: Iterable[Hashable] = (), common: Iterable[Hashable] = (), title: str | None = None,
                   node_size: int = 520, font_size: int = 8) -> None:
    """Draw ``graph`` top-down by ``level``: latents as circles, pixels as squares.

    Masked pixels are drawn dark with a cross, nodes of ``c`` filled blue, the rest of A light blue.
    """
    masked, c, common = set(masked), set(c), set(common)
    pos = tree_positions(graph)
    obs = [v for v, o in graph.nodes(data="observed", default=False) if o]
    lat = [v for v in graph if v not in set(obs)]
    nx.draw_networkx_edges(graph, pos, ax=ax, arrows=True, arrowsize=8, edge_color="#777777",
                           node_size=node_size, width=0.8)
    lat_colors = [C_COLOR if v in c else A_COLOR if v in common else LATENT_COLOR for v in lat]
    nx.draw_networkx_nodes(graph, pos, nodelist=lat, node_color=lat_colors, edgecolors="black",
                           node_shape="o", node_size=node_size, ax=ax, linewidths=0.8)
    pix_colors = ["#444444" if v in masked else PIXEL_COLOR for v in obs]
    nx.draw_networkx_nodes(graph, pos, nodelist=obs, node_color=pix_colors, edgecolors="black",
                           node_shape="s", node_size=node_size * 0.8, ax=ax, linewidths=0.8)
    labels = {v: ("×" if v in masked else str(v)) for v in graph}
    colors = {v: ("white" if v in masked or v in c else "black") for v in graph}
    for v, (x, y) in pos.items():
        ax.text(x, y, labels[v], ha="center", va="center", fontsize=font_size, color=colors[v],
                fontweight="bold" if v in masked else "normal")
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_axis_off()


def draw_quadtree_located(mask: np.ndarray, c_levels: list[np.ndarray], ax: plt.Axes,
                          title: str | None = None, cmap: str = "plasma") -> None:
    """A [S, S] mask (masked pixels dark) with the blocks of c outlined, coloured by level.

    ``c_levels[l]`` is the [2^l, 2^l] bool map of c at level l (one mask of
    :class:`~mae_hlvm.hierarchy.quadtree_locate.QuadtreeLocated`).
    """
    side = mask.shape[0]
    depth = len(c_levels)
    ax.imshow(~mask, cmap="gray", vmin=-0.6, vmax=1.0, extent=(0, side, side, 0), interpolation="nearest")
    colors = plt.get_cmap(cmap)(np.linspace(0.0, 0.9, depth))
    for level, cl in enumerate(c_levels):
        block = side // 2 ** level
        inset = 0.04 * block  # keeps a root-sized outline inside the axes frame
        for i, j in zip(*np.nonzero(cl)):
            ax.add_patch(Rectangle((j * block + inset, i * block + inset), block - 2 * inset, block - 2 * inset,
                                   fill=False, edgecolor=colors[level],
                                   linewidth=3.0 - 1.8 * level / max(depth - 1, 1)))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def html_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> "HTML":
    """A plain HTML table for a chapter (the book renders notebook Markdown as CommonMark: no tables).

    Cells are escaped; a cell wrapped as ``("b", text)`` is shown in bold.
    """
    header = list(header)

    def cell(value: object, tag: str) -> str:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "b":
            return f"<{tag}><b>{html.escape(str(value[1]))}</b></{tag}>"
        return f"<{tag}>{html.escape(str(value))}</{tag}>"

    body = []
    for k, row in enumerate(rows):
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"table row {k} has {len(row)} cells, the header has {len(header)}")
        body.append("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>")
    head = "<tr>" + "".join(cell(h, "th") for h in header) + "</tr>"
    from IPython.display import HTML  # here, not at import: the library runs where IPython is not (a GPU box)

    return HTML(f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>")
