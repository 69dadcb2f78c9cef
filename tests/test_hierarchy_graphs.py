"""Assumption-1 validation and the graph builders of mae_hlvm.hierarchy."""
import ast
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import mae_hlvm.hierarchy as hierarchy
from mae_hlvm.data.vectors import check_graph
from mae_hlvm.hierarchy import (GraphError, check_assumption1, compile_graph, figure1_graph, figure2_graph,
                                figure4_graph, kary_tree, latents, node_dims, note_dag, note_forest, note_tree,
                                observables, quadtree, random_layered_dag, tree_positions, validate_graph,
                                validate_mask)


def _graph(edges, observed):
    g = nx.DiGraph(edges)
    for v in g:
        g.nodes[v]["observed"] = v in observed
    return g


@pytest.mark.parametrize("edges, observed, message", [
    ([("z", "x1"), ("x1", "x2")], {"x1", "x2"}, "joins two observables"),
    ([("z", "x1"), ("z", "x2"), ("x1", "w"), ("w", "x2")], {"x1", "x2"}, "has a child"),
    ([("a", "b"), ("b", "a"), ("a", "x1"), ("b", "x2")], {"x1", "x2"}, "cycle"),
    ([("z", "x1")], {"x1"}, "1 observable"),
    ([("z", "x1"), ("z", "x2"), ("z", "w")], {"x1", "x2"}, "no observable descendant"),
])
def test_validate_graph_rejects(edges, observed, message):
    with pytest.raises(ValueError, match=message):
        validate_graph(_graph(edges, observed))


def test_validate_graph_rejects_bad_attributes_and_types():
    g = note_tree()
    g.nodes["z1"]["dim"] = 0
    with pytest.raises(ValueError, match="dim"):
        validate_graph(g)
    g = note_tree()
    g.nodes["z1"]["dim"] = np.int64(2)  # numpy ints are fine
    validate_graph(g)
    g.nodes["z2"]["dim"] = True
    with pytest.raises(ValueError, match="'z2' has dim=True"):
        validate_graph(g)
    g = note_tree()
    g.nodes["x1"]["observed"] = "yes"
    with pytest.raises(ValueError, match="observed='yes'"):
        validate_graph(g)
    with pytest.raises(ValueError, match="DiGraph"):
        validate_graph(nx.Graph(note_tree()))


def test_validate_mask_rules():
    g = note_tree()
    assert validate_mask(g, ["x1", "x1", "x2"]) == frozenset({"x1", "x2"})
    for masked, message in [([], "empty"), (["x9"], "not in the graph"), (["z2"], "latent"),
                            (observables(g), "covers all 8"), ("x1", "string")]:
        with pytest.raises(ValueError, match=message):
            validate_mask(g, masked)


@pytest.mark.parametrize("build", [note_tree, note_dag, note_forest, figure1_graph, figure2_graph, figure4_graph])
def test_example_graphs_are_valid_and_have_levels(build):
    g = build()
    validate_graph(g)
    assert set(tree_positions(g)) == set(g)
    assert all(g.out_degree(x) == 0 for x in observables(g))


def test_figure2_graph_is_not_a_tree():
    g = figure2_graph()
    assert any(g.in_degree(v) > 1 for v in latents(g))


def test_quadtree_ids_levels_positions():
    g = quadtree(3)
    assert g.number_of_nodes() == (4 ** 4 - 1) // 3
    assert len(observables(g)) == 64
    assert g.nodes["x_5_6"] == {"level": 3, "row": 5, "col": 6, "observed": True}
    assert g.nodes["z2_2_3"]["level"] == 2 and not g.nodes["z2_2_3"]["observed"]
    assert set(g.successors("z2_2_3")) == {"x_4_6", "x_4_7", "x_5_6", "x_5_7"}
    assert set(g.predecessors("z1_1_0")) == {"z0_0_0"}
    validate_graph(g)
    with pytest.raises(ValueError, match="depth"):
        quadtree(0)


def test_kary_tree_ids():
    g = kary_tree(2, 3)
    assert len(observables(g)) == 9 and len(latents(g)) == 4
    assert set(g.successors("z1_2")) == {"x_6", "x_7", "x_8"}
    assert g.nodes["x_7"]["col"] == 7 and g.nodes["x_7"]["level"] == 2
    with pytest.raises(ValueError, match="branching"):
        kary_tree(2, 1)


def test_random_layered_dag_valid_and_seeded():
    g1 = random_layered_dag(3, 3, 5, p_edge=0.3, seed=4)
    g2 = random_layered_dag(3, 3, 5, p_edge=0.3, seed=4)
    validate_graph(g1)
    assert set(g1.edges) == set(g2.edges)
    with pytest.raises(ValueError, match="p_edge"):
        random_layered_dag(2, 2, 3, p_edge=1.5)


def test_node_dims_follow_invertibility():
    g = note_dag()
    g.nodes["z1"]["dim"] = 3
    d = node_dims(g)
    assert d["z1"] == 3 and d["z2"] == 4 and d["x2"] == 1 + d["z2"] + d["z3"]


def test_one_validator_one_error_type():
    dead_end = _graph([("z", "x1"), ("z", "x2"), ("z", "w")], {"x1", "x2"})
    one_pixel = _graph([("z", "x1")], {"x1"})
    for strict in (validate_graph, compile_graph):
        for g, message in [(dead_end, "'w'.*no observable descendant"), (one_pixel, "1 observable"),
                           (nx.DiGraph(), "no nodes")]:
            with pytest.raises(GraphError, match=message):
                strict(g)
    # the sampler's relaxed reading: one observable and a dead-end latent are fine, the rest is not
    check_assumption1(dead_end, min_observables=1, latents_reach_observables=False)
    assert check_graph(one_pixel) == ["z", "x1"]
    with pytest.raises(GraphError, match="edge 'x1' -> 'x2' leaves an observable"):
        check_graph(_graph([("z", "x1"), ("x1", "x2")], {"x1", "x2"}))
    assert issubclass(GraphError, ValueError)


def test_checked_arrays():
    checked = check_assumption1(note_dag())
    assert checked.nodes == tuple(note_dag())
    heights = dict(zip(checked.nodes, checked.height.tolist()))
    assert heights == {"z1": 2, "z2": 1, "z3": 1, "x1": 0, "x2": 0, "x3": 0}
    assert checked.observed.sum() == 3 and (checked.noise_dim == 1).all()


def test_hierarchy_modules_import_one_way():
    # assumption <- graphs <- locate: no module imports (at top or inside a function) one that imports it
    folder = Path(hierarchy.__file__).parent
    imports = {p.stem: {n.module for n in ast.walk(ast.parse(p.read_text()))
                        if isinstance(n, ast.ImportFrom) and n.level == 1}
               for p in folder.glob("*.py")}
    assert imports["assumption"] == set()
    assert "locate" not in imports["graphs"]
    for module, targets in imports.items():
        for target in targets:
            assert module not in imports.get(target, set()), f"{module} <-> {target}"
