"""Theory-side random unit masks and the masking Monte Carlo."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_hlvm.hierarchy import (feasible_units, grid_mask_nodes, locate_quadtree, masking_sweep,
                                mirror_counts, mirror_noise_text, noise_bound, random_unit_masks,
                                unit_counts)


def test_unit_counts_and_complement():
    assert unit_counts(64, 0.75) == (48, 0.75)
    assert unit_counts(64, 0.05)[0] == 3 and unit_counts(64, 0.95)[0] == 61  # 3 + 61 = 64
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="strictly between"):
            unit_counts(16, bad)
    with pytest.raises(ValueError, match="masks 0 of them"):
        unit_counts(4, 0.05)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.floats(0.01, 0.99))
def test_masked_counts_of_mirror_ratios_add_up(half, r):
    """On an even unit count r and 1 - r hide complementary numbers of units, and when one of them masks
    nothing the other masks everything: both are refused together, never one alone."""
    n = 2 * half
    hidden = []
    for ratio in (r, 1 - r):
        try:
            hidden.append(unit_counts(n, ratio)[0])
        except ValueError as err:
            assert "a mask must hide at least one unit" in str(err)
            hidden.append(None)
    if None in hidden:
        assert hidden == [None, None] and min(r, 1 - r) * n <= 0.5
    else:
        assert sum(hidden) == n


def test_random_unit_masks_shape_units_and_ratio():
    rng = np.random.default_rng(0)
    masks, eff = random_unit_masks(16, 0.3, 4, 50, rng)
    assert masks.shape == (50, 16, 16) and masks.dtype == bool
    assert eff == unit_counts(16, 0.3)[1]
    assert np.allclose(masks.mean((1, 2)), eff)
    blocks = masks.reshape(50, 4, 4, 4, 4)
    assert (blocks.all((2, 4)) | ~blocks.any((2, 4))).all()  # every aligned 4x4 unit is all-or-nothing
    per_unit = blocks[:, :, 0, :, 0].mean(0)
    assert abs(per_unit.mean() - eff) < 1e-12 and per_unit.std() < 0.15  # no unit favoured
    for args, message in [((16, 0.5, 3, 2), "power of two"), ((12, 0.5, 8, 2), "does not divide"),
                          ((16, 0.5, 4, 0), "n_masks")]:
        with pytest.raises(ValueError, match=message):
            random_unit_masks(*args, rng=rng)


def test_grid_mask_nodes():
    m = np.zeros((4, 4), dtype=bool)
    m[1, 2] = m[3, 0] = True
    assert grid_mask_nodes(m) == ["x_1_2", "x_3_0"]
    with pytest.raises(ValueError, match="2-D boolean"):
        grid_mask_nodes(m.astype(int))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 4))
def test_quadtree_locate_is_mirror_symmetric(seed, depth):
    rng = np.random.default_rng(seed)
    side = 2 ** depth
    m = rng.random((3, side, side)) < rng.uniform(0.05, 0.95)
    m[:, 0, 0], m[:, -1, -1] = True, False  # keep every mask proper
    a, b = locate_quadtree(m), locate_quadtree(~m)
    for la, lb in zip(a.c + a.common, b.c + b.common):
        assert (la == lb).all()


def test_masking_sweep_known_values_and_symmetry():
    # depth 2, unit 2: each unit is a quadrant, so any proper mask leaves c = {root}
    s = masking_sweep(2, [0.25, 0.5, 0.75], [2], n_masks=20, seed=0)
    assert np.all(s.mean_level == 0) and np.all(s.size_common == 1) and np.all(s.p_in_c[..., 0] == 1)
    # depth 1 unit 1: 4 pixels under one root
    s = masking_sweep(1, [0.25, 0.75], [1], n_masks=10, seed=0)
    assert np.all(s.p_in_c[..., 0] == 1)
    # r and 1 - r give the same distribution of c: estimates agree within sampling error
    s = masking_sweep(3, [0.25, 0.5, 0.75], [1, 2], n_masks=400, seed=3)
    z, compared = s.mirror_gap("size_common")
    assert compared[:, [0, 2]].all() and np.nanmax(z) < 4.5
    assert np.allclose(s.effective_ratio[:, 0] + s.effective_ratio[:, 2], 1.0)
    assert s.p_in_c.shape == (2, 3, 3) and (s.size_common >= 1).all()
    with pytest.raises(ValueError, match="has levels"):
        s.mirror_gap("p_in_c")


def test_masking_sweep_rejects_infeasible_and_feasible_units():
    with pytest.raises(ValueError, match="unit 4, ratio 0.05"):
        masking_sweep(3, [0.05, 0.5], [1, 4], n_masks=4)
    assert feasible_units(3, [0.05, 0.5], [1, 2, 4]) == [1, 2]
    with pytest.raises(ValueError, match="n_masks"):
        masking_sweep(3, [0.5], [1], n_masks=1)


def test_node_levels_from_attributes_or_depth():
    import networkx as nx

    from mae_hlvm.hierarchy import kary_tree, node_levels
    g = kary_tree(2, 2)
    assert node_levels(g) == {v: d["level"] for v, d in g.nodes(data=True)}
    bare = nx.DiGraph([("a", "b"), ("b", "x"), ("a", "x"), ("a", "y")])  # longest path decides
    assert node_levels(bare) == {"a": 0, "b": 1, "x": 2, "y": 1}


@settings(max_examples=25, deadline=None)
@given(depth=st.integers(2, 4), branching=st.integers(2, 3), seed=st.integers(0, 10**6))
def test_one_subtree_puts_c_at_the_parent(depth, branching, seed):
    # Hiding every observed descendant of one latent z of a tree leaves c = {parent of z}: Algorithm 1
    # (locate) decides each drawn mask, so the claim in the docstring is checked case by case.
    import networkx as nx

    from mae_hlvm.hierarchy import kary_tree, locate, observables, subtree_masks
    g = kary_tree(depth, branching)
    obs = observables(g)
    level = int(np.random.default_rng(seed).integers(1, depth))
    masks, eff = subtree_masks(g, level, 5, np.random.default_rng(seed))
    assert masks.shape == (5, len(obs)) and eff == pytest.approx(masks.mean())
    for m in masks:
        hidden = {obs[i] for i in np.flatnonzero(m)}
        (z,) = {v for v in g if g.nodes[v]["level"] == level and hidden == set(nx.descendants(g, v)) & set(obs)}
        assert locate(g, hidden).c == frozenset(g.predecessors(z))


@settings(max_examples=25, deadline=None)
@given(ratio=st.sampled_from([0.25, 0.5, 0.75, 0.9]), seed=st.integers(0, 10**6), dag=st.booleans())
def test_subtree_masks_at_a_ratio_hide_the_exact_count_with_at_most_one_split(ratio, seed, dag):
    import networkx as nx

    from mae_hlvm.hierarchy import kary_tree, observables, random_layered_dag, subtree_masks, unit_counts
    g = random_layered_dag(2, 4, 16, seed=seed % 1000) if dag else kary_tree(4, 2)
    obs = observables(g)
    masks, eff = subtree_masks(g, 1, 20, np.random.default_rng(seed), ratio=ratio)
    n_hide, effective = unit_counts(len(obs), ratio)
    assert (masks.sum(1) == n_hide).all() and eff == pytest.approx(effective)
    if not dag:  # disjoint blocks: every block is hidden whole or not at all, save at most one
        blocks = [[obs.index(d) for d in nx.descendants(g, v) if d in obs] for v in g if g.nodes[v]["level"] == 1]
        for m in masks:
            assert sum(m[b].any() and not m[b].all() for b in blocks) <= 1


def test_subtree_masks_refuse_a_level_without_a_usable_latent():
    from mae_hlvm.hierarchy import kary_tree, subtree_masks
    with pytest.raises(ValueError, match=r"level 0 .* latent levels here: \[0, 1, 2\]"):
        subtree_masks(kary_tree(3, 2), 0, 2, np.random.default_rng(0))  # the root hides everything
    with pytest.raises(ValueError, match="n_masks"):
        subtree_masks(kary_tree(3, 2), 1, 0, np.random.default_rng(0))


def test_mirror_counts_rounded_are_complements_floored_off_by_at_most_one():
    from mae_hlvm.mae.masking import num_kept_units  # the trainer's floor(U (1 - r))

    counts = mirror_counts(64, [0.1, 0.25, 0.5, 0.75, 0.9], num_kept_units)
    assert counts.ratios == (0.1, 0.25)  # 0.5 is its own mirror; 0.75 and 0.9 fold onto 0.25 and 0.1
    assert counts.floored == ((7, 58), (16, 48)) and counts.rounded == ((6, 58), (16, 48))
    assert list(counts.excess()) == [1, 0] and list(counts.excess("rounded")) == [0, 0]
    text = counts.sentence("the grid")
    assert "hides 7 units at ratio 0.1 and 58 at 0.9, 65 in all rather than 64" in text
    assert "1 of the 2 mirrored pairs of this chapter's ratios is off" in text and "by at most 1 unit " in text
    exact = mirror_counts(64, [0.25], num_kept_units).sentence("the grid")
    assert "exact complements too, for the one mirrored pair" in exact
    # a pair that masks nothing under either count is skipped, not an error
    tiny = mirror_counts(4, [0.05, 0.25], num_kept_units)
    assert tiny.skipped == (0.05,) and tiny.ratios == (0.25,)
    assert "nothing to compare" in mirror_counts(4, [0.05], num_kept_units).sentence("g")


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 400), st.floats(0.01, 0.99))
def test_floored_mirror_counts_exceed_complements_by_zero_or_one(n_units, r):
    from mae_hlvm.mae.masking import num_kept_units

    counts = mirror_counts(n_units, [r], num_kept_units)
    assert set(counts.excess().tolist()) <= {0, 1}
    if n_units % 2 == 0:
        assert set(counts.excess("rounded").tolist()) <= {0}


def test_noise_bound_and_mirror_verdict():
    assert noise_bound(1) == pytest.approx(1.959964, abs=1e-5)
    assert noise_bound(90) > noise_bound(10) > noise_bound(1)
    assert "within what sampling noise" in mirror_noise_text(1.0, 10)
    assert "more than sampling noise" in mirror_noise_text(10.0, 10)
    assert "no mirrored pairs" in mirror_noise_text(float("nan"), 0)
    with pytest.raises(ValueError, match="n_comparisons must be a positive int, got 0"):
        noise_bound(0)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 5))
def test_root_in_c_exactly_when_a_is_the_root_alone(seed, depth):
    """On a tree the root is a member of c iff A = {root}: c then carries the root's noise alone."""
    rng = np.random.default_rng(seed)
    side = 2 ** depth
    m = rng.random((8, side, side)) < rng.uniform(0.05, 0.95)
    m[:, 0, 0], m[:, -1, -1] = True, False
    m[:2] = False
    m[0, :, : side // 2] = True  # aligned halves: A = {root}
    m[1, 0, 0] = True
    found = locate_quadtree(m)
    root_in_c = found.c[0][:, 0, 0]
    assert (found.common[0][:, 0, 0]).all()  # the root is in A for every proper mask
    assert (root_in_c == (found.size_common() == 1)).all()
    assert root_in_c[0] and (depth == 1 or not root_in_c[1])


def test_random_unit_masks_needs_a_generator():
    with pytest.raises(ValueError, match="rng must be a numpy Generator"):
        random_unit_masks(4, 0.5, 1, 2, None)
