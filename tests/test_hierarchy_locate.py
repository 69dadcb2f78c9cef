"""Algorithms 1 and 2 (reconstructed from Theorem 1): worked examples, brute force, properties."""
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_hlvm.hierarchy import (brute_force_locate, compile_graph, grid_mask_nodes, latents, locate,
                                locate_quadtree, note_dag, note_forest, note_tree, observables, quadtree,
                                random_unit_masks)

X = {f"x{i}" for i in range(1, 9)}
# (mask, A, c) on note_tree(): the worked examples of Algorithm 1 as reconstructed in the book's chapter 03
# (notebooks/03_locating_c.ipynb, "The worked examples"), with A and c as defined in the docstring of
# src/mae_hlvm/hierarchy/locate.py
TREE_TABLE = [
    ({"x5", "x6", "x7", "x8"}, {"z1"}, {"z1"}),
    ({"x5", "x6"}, {"z1", "z3"}, {"z3"}),
    ({"x5"}, {"z1", "z3", "z6"}, {"z6"}),
    (X - {"x1"}, {"z1", "z2", "z4"}, {"z4"}),
    (X - {"x1", "x2"}, {"z1", "z2"}, {"z2"}),
    ({"x4", "x5"}, {"z1", "z2", "z3", "z5", "z6"}, {"z5", "z6"}),
    ({"x2", "x3", "x6", "x7"}, {f"z{i}" for i in range(1, 8)}, {"z4", "z5", "z6", "z7"}),
]


@pytest.mark.parametrize("mask, common, c", TREE_TABLE)
def test_tree_worked_examples(mask, common, c):
    found = locate(note_tree(), mask)
    assert found.common == common and found.c == c


def test_tree_noise_sets():
    found = locate(note_tree(), {"x5", "x6", "x7", "x8"})
    assert repr(found) == "Located(c=['z1'], |A|=1)"
    assert found.c_array.sum() == 1 and found.index.ids(found.c_array) == found.c
    assert found.s_m == {"z3", "z6", "z7", "x5", "x6", "x7", "x8"}
    assert found.s_mc == {"z2", "z4", "z5", "x1", "x2", "x3", "x4"}
    assert locate(note_tree(), {"x5", "x6"}).s_m == {"z6", "x5", "x6"}


@pytest.mark.parametrize("mask, c, s_m", [
    ({"x2"}, {"z2", "z3"}, None), ({"x1", "x2"}, {"z3"}, {"z2", "x1", "x2"}), ({"x1"}, {"z2"}, None)])
def test_dag_worked_examples(mask, c, s_m):
    found = locate(note_dag(), mask)
    assert found.c == c
    if s_m is not None:
        assert found.s_m == s_m


def test_forest_worked_examples():
    assert locate(note_forest(), {"x3", "x4"}).c == frozenset()
    assert locate(note_forest(), {"x1", "x3"}).c == {"a", "b"}


def test_locate_rejects_bad_masks():
    g = note_tree()
    for masked, message in [([], "empty"), (["x1", "q"], "not in the graph"), (["z3"], "latent"),
                            (sorted(X), "covers all"), ("x1", "string")]:
        with pytest.raises(ValueError, match=message):
            locate(g, masked)
    index = compile_graph(g)
    with pytest.raises(ValueError, match="shape"):
        index.locate_many(np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        index.locate_many(np.zeros((1, 8), dtype=int))


def test_cache_follows_graph_edits():
    g = note_tree()
    assert locate(g, {"x5"}).c == {"z6"}
    g.add_edge("z2", "x5")  # x5 now also under z2: A changes
    assert locate(g, {"x5"}).c == {"z2", "z6"}


def test_cache_follows_edits_that_keep_the_node_and_edge_counts():
    """Silently wrong before: the cache keyed on (nodes, edges) counts answered from a stale index."""
    g = note_tree()
    fresh = lambda: locate(compile_graph(g), {"x5"}).c  # noqa: E731 (the answer without the cache)
    assert locate(g, {"x5"}).c == fresh()
    parent = next(iter(g.predecessors("x5")))
    g.remove_edge(parent, "x5")
    g.add_edge("z2", "x5")  # one edge moved: counts unchanged
    assert locate(g, {"x5"}).c == fresh() != {parent}
    g.nodes["z2"]["dim"] = 3  # attributes are read too
    assert locate(g, {"x5"}).c == fresh()


def random_dag(rng: np.random.Generator, max_latents: int = 7, max_obs: int = 5) -> nx.DiGraph:
    """A random valid hierarchy: latents in a random order, pixels as sinks, random dims."""
    n_z, n_x = int(rng.integers(1, max_latents + 1)), int(rng.integers(2, max_obs + 1))
    zs, xs = [f"z{i}" for i in range(n_z)], [f"x{i}" for i in range(n_x)]
    g = nx.DiGraph()
    g.add_nodes_from(zs, observed=False)
    g.add_nodes_from(xs, observed=True)
    p = rng.uniform(0.1, 0.6)
    for i in range(n_z):
        g.nodes[zs[i]]["dim"] = int(rng.integers(1, 4))
        for j in range(i + 1, n_z):
            if rng.random() < p:
                g.add_edge(zs[i], zs[j])
    for x in xs:
        for z in rng.choice(zs, size=int(rng.integers(1, min(3, n_z) + 1)), replace=False):
            g.add_edge(str(z), x)
    for z in zs:  # a latent must reach a pixel
        if not any(g.nodes[d]["observed"] for d in nx.descendants(g, z)):
            g.add_edge(z, xs[int(rng.integers(n_x))])
    return g


def random_mask(rng: np.random.Generator, g: nx.DiGraph) -> set:
    xs = observables(g)
    k = int(rng.integers(1, len(xs)))
    return {xs[i] for i in rng.choice(len(xs), size=k, replace=False)}


def test_brute_force_agrees_on_500_random_dags():
    rng = np.random.default_rng(20230607)
    for trial in range(500):
        g = random_dag(rng)
        m = random_mask(rng, g)
        fast, slow = locate(g, m), brute_force_locate(g, m)
        assert (fast.c, fast.common, fast.s_m, fast.s_mc) == (slow.c, slow.common, slow.s_m, slow.s_mc), (
            trial, sorted(g.edges), sorted(m))


def test_brute_force_refuses_large_graphs():
    with pytest.raises(ValueError, match="at most"):
        brute_force_locate(quadtree(3), ["x_0_0"])


@st.composite
def graph_and_mask(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    g = random_dag(rng, max_latents=9, max_obs=7)
    return g, random_mask(rng, g)


def ancestors_closed(g, nodes) -> bool:
    return all(nx.ancestors(g, v) <= nodes for v in nodes)


@settings(max_examples=150, deadline=None)
@given(graph_and_mask())
def test_properties(gm):
    g, m = gm
    found = locate(g, m)
    assert found.c <= found.common <= set(latents(g))
    assert ancestors_closed(g, found.common)
    an_c = set(found.c).union(*(nx.ancestors(g, v) for v in found.c))
    assert an_c == found.common
    assert found.s_m.isdisjoint(found.s_mc) and found.common.isdisjoint(found.s_m)
    assert m <= found.s_m
    mirror = locate(g, set(observables(g)) - m)
    assert mirror.common == found.common and mirror.c == found.c
    assert mirror.s_m == found.s_mc


def test_locate_many_matches_single_calls():
    g = note_dag()
    index = compile_graph(g)
    masks = np.array([[True, False, False], [True, True, False], [False, True, True]])
    cols = [index.nodes[i] for i in index.observed_ids]
    batch = index.locate_many(masks)
    for b, row in enumerate(masks):
        one = locate(g, {v for v, on in zip(cols, row) if on})
        assert index.ids(batch["c"][b]) == one.c and index.ids(batch["common"][b]) == one.common


def test_quadtree_vectorised_path_matches_graph_path():
    depth = 4
    g = quadtree(depth)
    index = compile_graph(g)
    rng = np.random.default_rng(1)
    for ratio, unit in [(0.1, 1), (0.5, 2), (0.75, 4), (0.9, 1)]:
        masks, _ = random_unit_masks(2 ** depth, ratio, unit, 6, rng)
        q = locate_quadtree(masks)
        for b in range(len(masks)):
            found = locate(index, grid_mask_nodes(masks[b]))
            for name in ("c", "common"):
                qs = {f"z{l}_{i}_{j}" for l, lv in enumerate(getattr(q, name))
                      for i, j in zip(*np.nonzero(lv[b]))}
                assert qs == getattr(found, name)
            assert q.size_common()[b] == len(found.common)


def test_quadtree_aligned_masks():
    mask = np.zeros((8, 8), dtype=bool)
    mask[4:, :] = True  # two whole quadrants: only the root is shared
    q = locate_quadtree(mask)
    assert q.c[0].all() and q.size_common()[0] == 1 and q.mean_level_c()[0] == 0
    with pytest.raises(ValueError, match="power of two"):
        locate_quadtree(np.ones((1, 6, 6), dtype=bool))
    with pytest.raises(ValueError, match="non-empty proper"):
        locate_quadtree(np.zeros((8, 8), dtype=bool))
