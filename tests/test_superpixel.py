"""Superpixel masks (Section 3.6 suggestion 2): exact ratio in whole patches, whole superpixels."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_hlvm.data.shapes import render_shapes
from mae_hlvm.mae import PretrainConfig, pretrain
from mae_hlvm.mae.masking import num_kept_units
from mae_hlvm.mae.superpixel import patch_segments, superpixel_mask, superpixel_masks


def test_four_flat_quadrants_are_four_superpixels_and_a_half_ratio_hides_two_whole():
    x = torch.zeros(1, 3, 32, 32)
    x[:, 0, :16, 16:] = 1.0                                # quadrants: black, red, green, blue
    x[:, 1, 16:, :16] = 1.0
    x[:, 2, 16:, 16:] = 1.0
    seg = patch_segments(x, 4, n_segments=4).reshape(8, 8)
    quadrants = [seg[:4, :4], seg[:4, 4:], seg[4:, :4], seg[4:, 4:]]
    assert len(seg.unique()) == 4 and all((q == q[0, 0]).all() for q in quadrants)
    m = superpixel_masks(x, 4, 0.5, n_segments=4, generator=torch.Generator().manual_seed(0)).reshape(8, 8)
    hidden = [bool(q.all()) for q in (m[:4, :4], m[:4, 4:], m[4:, :4], m[4:, 4:])]
    assert m.sum() == 32 and sum(hidden) == 2


@settings(max_examples=40, deadline=None)
@given(ratio=st.floats(0.05, 0.95), seed=st.integers(0, 1000))
def test_the_ratio_is_exact_in_whole_patches_and_at_most_one_superpixel_is_split(ratio, seed):
    g = torch.Generator().manual_seed(seed)
    seg = torch.randint(0, 6, (3, 64), generator=g)
    n_remove = 64 - num_kept_units(64, ratio)
    if not 0 < n_remove < 64:
        return
    m = superpixel_mask(seg, n_remove, g)
    assert (m.sum(1) == n_remove).all()
    for i in range(3):
        split = [s for s in seg[i].unique() if 0 < m[i][seg[i] == s].sum() < (seg[i] == s).sum()]
        assert len(split) <= 1


def test_masks_on_real_renders_and_bad_arguments():
    imgs = render_shapes(4, seed=0).images
    m = superpixel_masks(imgs, 4, 0.75, generator=torch.Generator().manual_seed(1))
    assert m.shape == (4, 64) and (m.sum(1) == 64 - num_kept_units(64, 0.75)).all()
    with pytest.raises(ValueError, match="n_remove 64"):
        superpixel_mask(torch.zeros(1, 64, dtype=torch.long), 64)
    with pytest.raises(ValueError, match="n_segments 1"):
        patch_segments(imgs, 4, n_segments=1)
    with pytest.raises(ValueError, match="not divisible by the patch 5"):
        patch_segments(imgs, 5)


def test_training_with_superpixel_masks():
    imgs = render_shapes(16, seed=0).images
    base = dict(model="mae_tiny", steps=2, warmup_steps=0, batch_size=8, device="cpu", progress=False)
    res = pretrain(PretrainConfig(**base, mask_kind="superpixel", superpixel_segments=8), imgs)
    assert len(res.history) == 2 and res.history[-1]["mask_ratio"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="superpixel masks are counted in patches"):
        PretrainConfig(**base, mask_kind="superpixel", mask_unit=8)
    with pytest.raises(ValueError, match="mask_kind = 'blocks'"):
        PretrainConfig(**base, mask_kind="blocks")
