"""Hierarchical vector data: shapes, invertibility of every g_v, seeding, bad graphs."""
from __future__ import annotations


import networkx as nx
import pytest
import torch
from hypothesis import given, settings, strategies as st

import numpy as np

from mae_hlvm.data.vectors import HierarchicalVectorModel, canonical_dependence, check_graph, sample_hierarchy
from mae_hlvm.hierarchy import graphs


def binary_tree(depth: int = 2) -> nx.DiGraph:
    g = nx.balanced_tree(2, depth, create_using=nx.DiGraph)
    for v in g:
        g.nodes[v]["observed"] = g.out_degree(v) == 0
    return g


def test_joint_dims_follow_parent_plus_noise():
    g = binary_tree(2)
    g.nodes[0]["dim"] = 3
    m = HierarchicalVectorModel(g, seed=0)
    assert m.dims[0] == 3 and m.dims[1] == 4 and m.dims[3] == 5   # 3, +1, +1
    s = m.sample(50, seed=1)
    assert s.x.shape == (50, 4 * 5)
    assert set(s.values) == set(g) and set(s.noises) == set(g)
    assert s.noises[0].shape == (50, 3) and s.noises[3].shape == (50, 1)
    assert set(s.latents) == {0, 1, 2} and s.patches().shape == (50, 4, 5)


def test_dims_match_hierarchy_library():
    g = graphs.quadtree(2)
    assert HierarchicalVectorModel(g, 0).dims == graphs.node_dims(g)


@pytest.mark.parametrize("mechanism", ["joint", "additive"])
def test_every_noise_is_recovered_from_node_and_parents(mechanism):
    g = binary_tree(2)
    m = HierarchicalVectorModel(g, seed=3, mechanism=mechanism, n_layers=3, dtype=torch.float64)
    s = m.sample(500, seed=4)
    for v in g:
        eps = m.mechanisms[v].invert(s.values[v], m.parents_of(s.values, v))
        torch.testing.assert_close(eps, s.noises[v], atol=1e-8, rtol=1e-8)


def test_joint_mechanism_is_a_bijection_of_parents_and_noise():
    # (Pa, eps) -> v square and invertible: the Jacobian of g_v has full rank
    g = binary_tree(1)
    m = HierarchicalVectorModel(g, seed=0, dtype=torch.float64)
    mech = m.mechanisms[1]
    inp = torch.randn(mech.parent_dim + mech.noise_dim, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda z: mech(z[None, :mech.parent_dim], z[None, mech.parent_dim:])[0], inp)
    assert jac.shape == (mech.dim, mech.dim)
    assert torch.linalg.matrix_rank(jac) == mech.dim


def test_nodes_are_standardised_and_dependent_on_parents():
    g = binary_tree(2)
    s = sample_hierarchy(g, 20000, seed=5)
    for v in g:
        assert s.values[v].std(0).sub(1).abs().max() < 0.1, v
    # a leaf depends on its parent: some coordinate pair is clearly correlated
    c = torch.corrcoef(torch.cat([s.values[1], s.values[3]], 1).T)[:2, 2:].abs().max()
    assert c > 0.2


@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=10, deadline=None)
def test_same_seed_same_samples(seed):
    g = binary_tree(1)
    a, b = sample_hierarchy(g, 20, seed), sample_hierarchy(g, 20, seed)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, sample_hierarchy(g, 20, seed + 7).x)


@pytest.mark.parametrize("noise", ["gaussian", "uniform", "laplace"])
def test_noise_families_have_unit_variance(noise):
    s = HierarchicalVectorModel(binary_tree(1), 0, noise=noise).sample(40000, 1)
    assert abs(s.noises[0].var().item() - 1) < 0.05


def test_hundred_thousand_samples():
    g = binary_tree(3)  # 15 nodes; the speed is benchmarks/data_throughput.py's to measure
    s = sample_hierarchy(g, 100_000, 0)
    assert s.x.shape[0] == 100_000 and torch.isfinite(s.x).all()


def test_patches_need_equal_dims():
    g = nx.DiGraph([("z", "a"), ("z", "b"), ("a", "c")])
    for v in g:
        g.nodes[v]["observed"] = v in ("b", "c")
    with pytest.raises(ValueError, match="different dims"):
        HierarchicalVectorModel(g, 0).sample(5).patches()


@pytest.mark.parametrize("make, match", [
    (lambda: nx.Graph([(0, 1)]), "DiGraph"),
    (lambda: nx.DiGraph(), "no nodes"),
    (lambda: nx.DiGraph([(0, 1), (1, 0)]), "acyclic"),
    (lambda: nx.DiGraph([(0, 1)]), "0 observable"),
])
def test_bad_graphs_are_refused(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_graph(make())


def test_bad_node_attributes_are_refused():
    g = binary_tree(1)
    g.nodes[1]["observed"] = "yes"
    with pytest.raises(ValueError, match="node 1 has observed='yes'"):
        check_graph(g)
    g = binary_tree(1)
    g.nodes[0]["dim"] = 0
    with pytest.raises(ValueError, match="node 0 has dim=0"):
        check_graph(g)
    g = binary_tree(1)
    g.add_edge(1, 2)
    with pytest.raises(ValueError, match="edge 1 -> 2 leaves an observable"):
        check_graph(g)


@pytest.mark.parametrize("kwargs, match", [
    ({"mechanism": "affine"}, "mechanism"), ({"noise": "cauchy"}, "noise"), ({"n_layers": 0}, "n_layers"),
    ({"slope": 0.0}, "slope"), ({"noise_dim": 0}, "noise_dim"),
])
def test_bad_model_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HierarchicalVectorModel(binary_tree(1), 0, **kwargs)


def test_bad_sample_size_is_refused():
    with pytest.raises(ValueError, match="n must be a positive int"):
        HierarchicalVectorModel(binary_tree(1), 0).sample(0)


def test_canonical_dependence_is_higher_for_siblings():
    g = binary_tree(2)                     # leaves 3, 4 share parent 1; 3 and 5 share only the root
    s = sample_hierarchy(g, 20000, 2)
    d = canonical_dependence(s)
    assert d.shape == (4, 4) and np.allclose(np.diag(d), 1) and np.allclose(d, d.T)
    assert ((0 <= d) & (d <= 1 + 1e-9)).all()
    siblings, cousins = (d[0, 1] + d[2, 3]) / 2, d[[0, 0, 1, 1], [2, 3, 2, 3]].mean()
    assert siblings > cousins + 0.03


def test_canonical_dependence_of_independent_patches_is_small():
    g = nx.DiGraph([("a", "x"), ("b", "y")])
    nx.set_node_attributes(g, {"a": False, "b": False, "x": True, "y": True}, "observed")
    d = canonical_dependence(sample_hierarchy(g, 20000, 0))
    assert d[0, 1] < 0.05


def test_subset_keeps_nodes_aligned():
    s = sample_hierarchy(binary_tree(1), 30, 0)
    sub = s.subset(torch.tensor([4, 2]))
    assert len(sub) == 2 and torch.equal(sub.x, s.x[[4, 2]]) and torch.equal(sub.noises[0], s.noises[0][[4, 2]])
    assert len(s.subset(slice(0, 10))) == 10 and len(s.subset(s.values[0][:, 0] > 0)) == int((s.values[0][:, 0] > 0).sum())


@given(seed=st.integers(0, 10_000), mechanism=st.sampled_from(["joint", "additive"]))
@settings(max_examples=8, deadline=None)
def test_random_dags_are_sampled_invertibly(seed, mechanism):
    g = graphs.random_layered_dag(2, 3, 4, p_edge=0.4, seed=seed)   # nodes with several parents
    m = HierarchicalVectorModel(g, seed, mechanism=mechanism, dtype=torch.float64)
    s = m.sample(64, seed)
    for v in g:
        eps = m.mechanisms[v].invert(s.values[v], m.parents_of(s.values, v))
        torch.testing.assert_close(eps, s.noises[v], atol=1e-7, rtol=1e-7)
