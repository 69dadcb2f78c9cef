"""Procedural hierarchical images: API shapes, ground truth consistency, variants, seeding, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mae_hlvm.data.shapes import (CHUNK, CLASS_NAMES, FACTOR_LEVELS, N_TRAIN_TEXTURES, VARIANTS, ShapesBatch,
                                  ShapesDataset, render_shapes, shapes_hierarchy)
from mae_hlvm.data.vectors import check_graph


@pytest.fixture(scope="module")
def batches() -> dict[str, ShapesBatch]:
    return {v: render_shapes(300, seed=11, variant=v) for v in VARIANTS}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_batch_fields_have_the_pinned_shapes(batches, variant):
    b = batches[variant]
    n = len(b)
    assert b.images.shape == (n, 3, 32, 32) and b.images.dtype == torch.float32
    assert 0 <= b.images.min() and b.images.max() <= 1
    assert b.labels.shape == (n,) and b.labels.dtype == torch.long
    assert b.masks.shape == (n, 32, 32) and b.masks.dtype == torch.bool
    assert b.boxes.shape == (n, 4) and b.boxes.dtype == torch.float32
    assert b.class_names == CLASS_NAMES and len(CLASS_NAMES) == 10
    assert set(FACTOR_LEVELS) <= set(b.factors)
    for name, f in b.factors.items():
        assert isinstance(f, np.ndarray) and f.shape[0] == n and f.ndim in (1, 2), name
    assert np.array_equal(b.factors["class"], b.labels.numpy())
    assert set(b.labels.tolist()) == set(range(10))
    assert b.masks.any(dim=(1, 2)).all()              # every object is visible somewhere


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_boxes_are_tight_around_masks(batches, variant):
    b = batches[variant]
    for i in range(0, len(b), 37):
        ys, xs = torch.nonzero(b.masks[i], as_tuple=True)
        expected = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
        assert torch.equal(b.boxes[i], expected)


def test_masks_follow_position_and_scale(batches):
    b = batches["iid"]
    ys, xs = torch.meshgrid(torch.arange(32) + 0.5, torch.arange(32) + 0.5, indexing="ij")
    m = b.masks.float()
    centroid = torch.stack([(m * xs).sum((1, 2)), (m * ys).sum((1, 2))], 1) / m.sum((1, 2))[:, None]
    err = (centroid - torch.as_tensor(b.factors["position"], dtype=torch.float32)).norm(dim=1)
    assert err.median() < 2.0                       # pixels; most shapes are centred on their position
    area = m.sum((1, 2)).numpy()
    assert np.corrcoef(area, b.factors["scale"] ** 2)[0, 1] > 0.5


def test_texture_is_class_informative_but_not_decisive():
    b = render_shapes(1500, seed=3)
    match = (b.factors["texture"] == b.labels.numpy()).mean()
    assert 0.7 < match < 0.8                        # texture_match = 0.75
    assert (render_shapes(300, 3, texture_match=1.0).factors["texture"] == render_shapes(300, 3).labels.numpy()).all()


def test_cue_conflict_pairs_shape_a_with_texture_b(batches):
    b = batches["cue_conflict"]
    assert torch.equal(b.labels, b.shape_labels)
    assert (b.texture_labels != b.shape_labels).all()
    assert np.array_equal(b.texture_labels.numpy(), b.factors["texture"])
    assert batches["iid"].shape_labels is None and batches["iid"].texture_labels is None


def test_variants_differ_as_documented(batches):
    iid = batches["iid"]
    assert (batches["rendition"].factors["texture"] >= N_TRAIN_TEXTURES).all()
    sk = batches["sketch"].images
    assert torch.equal(sk[:, 0], sk[:, 1]) and torch.equal(sk[:, 1], sk[:, 2])    # grey ink only
    assert (batches["sketch"].factors["texture"] == -1).all()
    assert (np.abs(batches["objectnet"].factors["orientation"]) > math.pi / 6).all()
    assert (np.abs(iid.factors["orientation"]) <= math.pi / 6).all()
    adv = batches["adversarial"]
    assert adv.factors["scale"].max() < iid.factors["scale"].min()
    assert adv.masks.float().mean() < 0.5 * iid.masks.float().mean()
    assert adv.factors["occluder"].shape == (len(adv), 4)
    v2 = batches["v2"]
    assert not torch.equal(v2.images, iid.images)


@given(seed=st.integers(0, 2**32 - 1), variant=st.sampled_from(list(VARIANTS)))
@settings(max_examples=8, deadline=None)
def test_fixed_seed_gives_identical_images(seed, variant):
    a, b = render_shapes(4, seed, variant=variant), render_shapes(4, seed, variant=variant)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert all(np.array_equal(a.factors[k], b.factors[k]) for k in a.factors)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_is_prefix_consistent(variant):
    small, big = render_shapes(5, 2, variant=variant), render_shapes(9, 2, variant=variant)
    assert torch.equal(small.images, big.images[:5]) and torch.equal(small.masks, big.masks[:5])
    assert all(np.array_equal(small.factors[k], big.factors[k][:5]) for k in small.factors)


def test_smaller_draws_are_prefixes_and_seeds_differ():
    big = render_shapes(CHUNK + 20, 5)
    small = render_shapes(CHUNK + 3, 5)
    assert torch.equal(big.images[: CHUNK + 3], small.images)
    assert not torch.equal(render_shapes(8, 6).images, big.images[:8])


def test_size_scales_the_geometry():
    b = render_shapes(64, 1, size=64)
    assert b.images.shape == (64, 3, 64, 64)
    assert 12 < b.factors["scale"].mean() < 20       # 0.22..0.32 of the side


def test_subset_keeps_truth_aligned(batches):
    b = batches["cue_conflict"]
    idx = torch.tensor([5, 1, 7])
    s = b.subset(idx)
    assert torch.equal(s.images, b.images[idx]) and torch.equal(s.texture_labels, b.texture_labels[idx])
    assert np.array_equal(s.factors["position"], b.factors["position"][[5, 1, 7]])
    assert len(b.subset(slice(0, 10, 2))) == 5
    sel = (b.labels == 3).numpy()
    assert (b.subset(sel).labels == 3).all() and len(b.subset(sel)) == sel.sum()
    with pytest.raises(IndexError, match="out of range"):
        b.subset([len(b)])
    with pytest.raises(ValueError, match="boolean index"):
        b.subset(np.ones(3, dtype=bool))


def test_dataset_wrapper(batches):
    ds = ShapesDataset(batches["iid"], transform=lambda x: x * 2, return_factors=True)
    img, label, factors = ds[3]
    assert len(ds) == 300 and torch.equal(img, batches["iid"].images[3] * 2)
    assert label == int(batches["iid"].labels[3]) and factors["scale"].ndim == 0
    loader = torch.utils.data.DataLoader(ShapesDataset.render(40, 2), batch_size=16)
    x, y = next(iter(loader))
    assert x.shape == (16, 3, 32, 32) and y.dtype == torch.long




def test_hierarchy_graph_is_a_valid_generating_graph():
    g = shapes_hierarchy(patch_grid=4)
    check_graph(g)
    assert sum(1 for _, o in g.nodes(data="observed") if o) == 16
    assert {t for _, t in g.nodes(data="tier")} == {"global", "region", "local", "patch"}
    assert all(g.nodes[u]["level"] <= g.nodes[v]["level"] for u, v in g.edges)      # edges point downwards
    assert g.has_edge("class", "texture family") and g.has_edge("class", "silhouette")


def test_hierarchy_refuses_bad_grid():
    with pytest.raises(ValueError, match="patch_grid must be a positive int"):
        shapes_hierarchy(0)


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0, "seed": 0}, "n must be a positive int"),
    ({"n": 2, "seed": -1}, "seed must be a non-negative int"),
    ({"n": 2, "seed": 0, "size": 8}, "size must be an int >= 16"),
    ({"n": 2, "seed": 0, "variant": "imagenet"}, "unknown variant 'imagenet'"),
    ({"n": 2, "seed": 0, "texture_match": 1.5}, "probability"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        render_shapes(**kwargs)
