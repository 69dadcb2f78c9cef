"""Hierarchical latent graphs (Assumption 1 of Kong et al. 2023): validation and builders.

The rules themselves live in :mod:`~mae_hlvm.hierarchy.assumption`; this module applies them.

A model is a ``networkx.DiGraph``. Observables (pixels) carry the node attribute ``observed=True``;
every other node is a latent. A node may carry ``dim`` (a positive int, default 1): the dimension of
its own exogenous noise eps_v. Under Assumption 1 each v = g_v(Pa(v), eps_v) with g_v invertible, so
the dimension of the vector v itself is ``dim(eps_v) + sum of its parents' dimensions``
(:func:`node_dims`); that is the "dim" Theorem 1's minimality counts.

Node-id conventions of the builders (the data sampler relies on them):

- :func:`quadtree`: latent ``"z{level}_{i}_{j}"`` at ``level`` 0 (root) .. depth-1, block (i, j) of the
  2^level x 2^level grid of that level; pixel ``"x_{row}_{col}"`` at ``level = depth``. Every node has the
  attributes ``level``, ``row``, ``col`` (for a latent: its block's (i, j) at its own level).
- :func:`kary_tree`: latent ``"z{level}_{i}"``, pixel ``"x_{i}"`` in a single image row; attributes
  ``level``, ``row`` (always 0), ``col`` (i).
"""
from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable

import networkx as nx
import numpy as np

from .assumption import check_assumption1, is_observed

__all__ = [
    "observables", "latents", "validate_graph", "validate_mask", "node_dims",
    "quadtree", "kary_tree", "random_layered_dag", "tree_positions",
    "note_tree", "note_dag", "note_forest", "figure1_graph", "figure2_graph", "figure4_graph",
]


def observables(graph: nx.DiGraph) -> list[Hashable]:
    """The nodes with ``observed=True`` (pixels), in the graph's node order."""
    return [v for v in graph if is_observed(graph, v)]


def latents(graph: nx.DiGraph) -> list[Hashable]:
    """The nodes without ``observed=True`` (latents z), in the graph's node order."""
    return [v for v in graph if not is_observed(graph, v)]


def validate_graph(graph: nx.DiGraph) -> None:
    """Raise :class:`~mae_hlvm.hierarchy.assumption.GraphError` unless ``graph`` satisfies Assumption 1.

    The strict reading Algorithms 1 and 2 need: a ``networkx.DiGraph``; every ``observed`` a bool and
    every ``dim`` a positive int; no edge out of an observable (so none between two observables);
    acyclic; at least two observables; every latent has an observable descendant. O(|V| + |E|);
    see :func:`~mae_hlvm.hierarchy.assumption.check_assumption1`.
    """
    check_assumption1(graph)


def validate_mask(graph: nx.DiGraph, masked: Iterable[Hashable]) -> frozenset:
    """Return ``masked`` as a frozenset after checking it is a non-empty proper subset of X."""
    if isinstance(masked, (str, bytes)):
        raise ValueError(f"masked must be a collection of node ids, got the string {masked!r}")
    m = frozenset(masked)
    if not m:
        raise ValueError("mask is empty; Theorem 1 needs at least one masked observable")
    for v in m:
        if v not in graph:
            raise ValueError(f"masked node {v!r} is not in the graph")
        if not is_observed(graph, v):
            raise ValueError(f"masked node {v!r} is a latent; only observables (observed=True) can be masked")
    n_obs = sum(1 for v in graph if is_observed(graph, v))
    if len(m) == n_obs:
        raise ValueError(f"mask covers all {n_obs} observables; at least one must stay visible")
    return m


def node_dims(graph: nx.DiGraph) -> dict[Hashable, int]:
    """Dimension of every node's vector: dim(v) = dim(eps_v) + sum of dim(p) over parents p.

    Invertibility of v = g_v(Pa(v), eps_v) forces this count (Assumption 1).
    """
    out: dict[Hashable, int] = {}
    for v in nx.topological_sort(graph):
        out[v] = int(graph.nodes[v].get("dim", 1)) + sum(out[p] for p in graph.predecessors(v))
    return out


# --------------------------------------------------------------------------------------------- builders
def quadtree(depth: int) -> nx.DiGraph:
    """Quadtree over a 2^depth x 2^depth pixel grid: each latent block splits into its 4 sub-blocks.

    Nodes: ``"z{l}_{i}_{j}"`` (latent, level l in 0..depth-1, block (i, j) of side 2^(depth-l) pixels)
    and ``"x_{r}_{c}"`` (pixel, level ``depth``); attributes ``level``, ``row``, ``col``, ``observed``.
    (4^(depth+1) - 1) / 3 nodes in all, added level by level and pixels in row-major order, so the
    observables of ``compile_graph(quadtree(d))`` are ``mask.reshape(-1)`` of a [2^d, 2^d] pixel mask.
    """
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"quadtree depth must be a positive int, got {depth!r}")

    def name(level: int, i: int, j: int) -> str:
        return f"x_{i}_{j}" if level == depth else f"z{level}_{i}_{j}"

    g = nx.DiGraph()
    for level in range(depth + 1):
        side = 2 ** level
        g.add_nodes_from((name(level, i, j), {"level": level, "row": i, "col": j, "observed": level == depth})
                         for i in range(side) for j in range(side))
        if level:
            g.add_edges_from((name(level - 1, i // 2, j // 2), name(level, i, j))
                             for i in range(side) for j in range(side))
    return g


def kary_tree(depth: int, branching: int) -> nx.DiGraph:
    """Complete k-ary tree with ``branching**depth`` pixels in one row.

    Nodes ``"z{l}_{i}"`` (latent, level l in 0..depth-1, i-th from the left) and ``"x_{i}"`` (pixel,
    level ``depth``); attributes ``level``, ``row`` (0), ``col`` (i), ``observed``.
    """
    for label, value, low in (("depth", depth, 1), ("branching", branching, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"k-ary tree {label} must be an int >= {low}, got {value!r}")
    g = nx.DiGraph()
    for level in range(depth + 1):
        obs = level == depth
        names = [f"x_{i}" if obs else f"z{level}_{i}" for i in range(branching ** level)]
        g.add_nodes_from((n, {"level": level, "row": 0, "col": i, "observed": obs}) for i, n in enumerate(names))
        if level:
            g.add_edges_from((f"z{level - 1}_{i // branching}", n) for i, n in enumerate(names))
    return g


def random_layered_dag(n_latent_layers: int, width: int, n_observed: int, p_edge: float = 0.4,
                       seed: int = 0) -> nx.DiGraph:
    """Random layered DAG: latent layers ``z{l}_{k}`` (l = 0 top) and pixels ``x_{k}`` at the bottom.

    Each non-top node gets at least one parent in the layer just above (so every latent has a pixel
    descendant) plus, with probability ``p_edge`` each, extra parents from any higher layer, which makes
    it a non-tree DAG. ``width`` latents per layer; attribute ``level`` on every node.
    """
    if n_latent_layers < 1 or width < 1 or n_observed < 2:
        raise ValueError(f"need n_latent_layers >= 1, width >= 1, n_observed >= 2; got "
                         f"{n_latent_layers}, {width}, {n_observed}")
    if not 0.0 <= p_edge <= 1.0:
        raise ValueError(f"p_edge must lie in [0, 1], got {p_edge!r}")
    rng = np.random.default_rng(seed)
    layers = [[f"z{l}_{k}" for k in range(width)] for l in range(n_latent_layers)]
    layers.append([f"x_{k}" for k in range(n_observed)])
    g = nx.DiGraph()
    for l, layer in enumerate(layers):
        g.add_nodes_from(layer, level=l, observed=l == n_latent_layers)
    for l in range(1, len(layers)):
        above = layers[l - 1]
        # each node of layer l-1 gets a child in layer l where possible, so no latent is a dead end
        children = rng.permutation(len(layers[l]))
        for v in layers[l]:
            g.add_edge(above[int(rng.integers(len(above)))], v)
        for k, u in enumerate(above):
            if g.out_degree(u) == 0:
                g.add_edge(u, layers[l][int(children[k % len(children)])])
        higher = [u for layer in layers[:l] for u in layer]
        for v in layers[l]:
            for u in higher:
                if rng.random() < p_edge:
                    g.add_edge(u, v)
    return g


def _from_edges(edges: str, **attrs) -> nx.DiGraph:
    g = nx.DiGraph()
    for item in edges.split(";"):
        parent, kids = item.split("->")
        g.add_edges_from((parent.strip(), k.strip()) for k in kids.split(","))
    for v in g:
        g.nodes[v]["observed"] = str(v).startswith("x")
    for v, a in attrs.items():
        g.nodes[v].update(a)
    return g


def note_tree() -> nx.DiGraph:
    """Tree T of the worked examples: z1 -> z2, z3; z2 -> z4, z5; z3 -> z6, z7; z4..z7 -> 2 pixels each."""
    g = _from_edges("z1->z2,z3; z2->z4,z5; z3->z6,z7; z4->x1,x2; z5->x3,x4; z6->x5,x6; z7->x7,x8")
    levels = {"z1": 0, "z2": 1, "z3": 1, "z4": 2, "z5": 2, "z6": 2, "z7": 2}
    for v in g:
        g.nodes[v]["level"] = levels.get(v, 3)
    return g


def note_dag() -> nx.DiGraph:
    """Non-tree DAG D: z1 -> z2, z3; z2 -> x1, x2; z3 -> x2, x3 (x2 has two parents)."""
    g = _from_edges("z1->z2,z3; z2->x1,x2; z3->x2,x3")
    for v in g:
        g.nodes[v]["level"] = {"z1": 0, "z2": 1, "z3": 1}.get(v, 2)
    return g


def note_forest() -> nx.DiGraph:
    """Forest: a -> x1, x2; b -> x3, x4 (two independent roots)."""
    g = _from_edges("a->x1,x2; b->x3,x4")
    for v in g:
        g.nodes[v]["level"] = 0 if v in ("a", "b") else 1
    return g


def figure1_graph() -> nx.DiGraph:
    """A small hierarchy in the spirit of the paper's Figure 1 (re-drawn from its caption, not traced).

    z1 (high level: semantics) -> z2, z3, z4 (low level: texture), each generating a few pixels.
    """
    g = _from_edges("z1->z2,z3,z4; z2->x1,x2; z3->x3,x4; z4->x5,x6")
    for v in g:
        g.nodes[v]["level"] = {"z1": 0}.get(v, 1 if str(v).startswith("z") else 2)
    return g


def figure2_graph() -> nx.DiGraph:
    """A generic hierarchical DAG like the paper's Figure 2: latent layers with shared parents
    (not a tree) above a row of pixels; no edge between pixels."""
    g = _from_edges("z1->z3,z4; z2->z4,z5; z3->z6,z7; z4->z7,z8; z5->z8;"
                    " z6->x1,x2; z7->x3,x4; z8->x5,x6; z4->x4")
    levels = {"z1": 0, "z2": 0, "z3": 1, "z4": 1, "z5": 1, "z6": 2, "z7": 2, "z8": 2}
    for v in g:
        g.nodes[v]["level"] = levels.get(v, 3)
    return g


def figure4_graph() -> nx.DiGraph:
    """The tree used to re-draw Figure 4: :func:`note_tree`, the worked examples' tree T.

    Its three masks give c = {z3}, {z6}, {z1}."""
    return note_tree()


def tree_positions(graph: nx.DiGraph) -> dict[Hashable, tuple[float, float]]:
    """Plot positions: y = -level, x spread evenly within each level (sorted by ``col`` then name)."""
    by_level: dict[int, list] = {}
    for v, lvl in graph.nodes(data="level"):
        if lvl is None:
            raise ValueError(f"node {v!r} has no 'level' attribute; tree_positions needs one on every node")
        by_level.setdefault(int(lvl), []).append(v)
    width = max(len(vs) for vs in by_level.values())
    pos = {}
    for lvl, vs in by_level.items():
        vs = sorted(vs, key=lambda v: (graph.nodes[v].get("col", 0), _natural(v)))
        for k, v in enumerate(vs):
            pos[v] = ((k + 0.5) * width / len(vs), -float(lvl))
    return pos


def _natural(v: Hashable) -> tuple:
    s = str(v)
    return tuple(int(t) if t.isdigit() else t for t in
                 ("".join(g) for _, g in itertools.groupby(s, str.isdigit)))
