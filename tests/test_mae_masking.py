"""Masks with mask units decoupled from the ViT patch (mae_hlvm.mae.masking)."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mae_hlvm.mae.masking import (as_patch_mask, effective_mask_ratio, make_grid, mask_from_ids_keep,
                                  num_kept_units, random_masking_indices, shuffle_from_mask, unit_to_patch_mask)


def test_grid_geometry():
    g = make_grid(224, 8, 32)
    assert g.patch_grid == (28, 28) and g.unit_grid == (7, 7)
    assert g.num_patches == 784 and g.num_units == 49 and g.patches_per_unit == 16
    assert make_grid(32, 4).unit == 4  # None = the patch


@pytest.mark.parametrize("img,patch,unit,value,rule", [
    (32, 4, 6, "mask unit 6 px", "multiple of the ViT patch size 4"),
    (32, 4, 0, "mask unit 0 px", "positive multiple"),
    (24, 4, 16, r"image size \(24, 24\) px", "divisible by the mask unit 16"),
    (30, 4, None, r"image size \(30, 30\)", "divisible by the patch size 4"),
])
def test_grid_refuses_bad_units(img, patch, unit, value, rule):
    """The message names the refused value and the rule it breaks."""
    with pytest.raises(ValueError, match=f"{value} must be .*{rule}"):
        make_grid(img, patch, unit)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_ratio_outside_open_interval_refused(ratio):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        num_kept_units(16, ratio)


def test_ratio_takes_any_real_number_and_names_what_is_not_one():
    import numpy as np

    assert num_kept_units(64, np.float32(0.75)) == num_kept_units(64, 0.75) == 16
    with pytest.raises(ValueError, match=r"must be a number, got Tensor .* pass float\(t\)"):
        num_kept_units(64, torch.tensor(0.5))
    with pytest.raises(ValueError, match="must be a number, got str '0.5'$"):
        num_kept_units(64, "0.5")


def test_ratio_leaving_no_visible_or_no_masked_unit_refused():
    with pytest.raises(ValueError, match=r"ratio 0.8 leaves no visible unit: floor\(4 units"):
        num_kept_units(4, 0.8)  # floor(4 * 0.2) = 0
    with pytest.raises(ValueError, match="removes no unit"):
        num_kept_units(20, 1e-12)  # floor(20 * (1 - 1e-12)) within tolerance of 20
    with pytest.raises(ValueError, match="leaves no visible unit"):
        random_masking_indices(2, make_grid(32, 4, 16), 0.9)  # 4 units of 16 px


def test_kept_counts_in_whole_units():
    assert num_kept_units(196, 0.75) == 49  # MAE: int(196 * 0.25)
    assert num_kept_units(10, 0.9) == 1  # 10 * (1 - 0.9) = 0.9999999999999998 must not floor to 0
    g = make_grid(224, 8, 32)  # 49 units
    assert effective_mask_ratio(g, 0.75) == pytest.approx(1 - 12 / 49)
    assert effective_mask_ratio(make_grid(224, 16, 16), 0.75) == pytest.approx(0.75)


def test_random_masking_matches_mae_argsort_when_unit_is_patch():
    g = make_grid(32, 4, 4)
    ids_keep, ids_restore, mask = random_masking_indices(5, g, 0.75, generator=torch.Generator().manual_seed(3))
    noise = torch.rand(5, 64, generator=torch.Generator().manual_seed(3))
    shuffle = torch.argsort(noise, dim=1)  # the official recipe, written out
    assert torch.equal(ids_keep, shuffle[:, :16])
    assert torch.equal(ids_restore, torch.argsort(shuffle, dim=1))
    ref = torch.ones(5, 64)
    ref[:, :16] = 0
    assert torch.equal(mask, torch.gather(ref, 1, ids_restore))


@settings(max_examples=25, deadline=None)
@given(unit_mult=st.sampled_from([1, 2, 4]), ratio=st.floats(0.3, 0.74), seed=st.integers(0, 10_000))
def test_random_masks_remove_whole_units(unit_mult, ratio, seed):
    g = make_grid(32, 4, 4 * unit_mult)
    ids_keep, ids_restore, mask = random_masking_indices(3, g, ratio, generator=torch.Generator().manual_seed(seed))
    k = num_kept_units(g.num_units, ratio)
    assert ids_keep.shape == (3, k * g.patches_per_unit)
    assert torch.equal(mask.sum(1), torch.full((3,), float(g.num_patches - ids_keep.shape[1])))
    # kept indices are exactly the zeros of the mask
    assert torch.equal(mask_from_ids_keep(ids_keep, g.num_patches).float(), mask)
    # every unit is all kept or all removed
    m = mask.reshape(3, g.unit_grid[0], unit_mult, g.unit_grid[1], unit_mult)
    per_unit = m.permute(0, 1, 3, 2, 4).reshape(3, g.num_units, -1)
    assert bool(((per_unit == 0).all(-1) | (per_unit == 1).all(-1)).all())
    assert 1 - k / g.num_units == pytest.approx(float(mask.mean()))


def test_unit_mask_expands_to_patches():
    g = make_grid(16, 4, 8)  # 2x2 units over a 4x4 patch grid
    u = torch.tensor([[True, False, False, True]])
    p = unit_to_patch_mask(u, g).reshape(4, 4)
    expect = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(p, expect)
    assert torch.equal(as_patch_mask(u, g), p.reshape(1, 16))
    assert torch.equal(as_patch_mask(p.reshape(1, 16), g), p.reshape(1, 16))
    with pytest.raises(ValueError, match="5 entries"):
        as_patch_mask(torch.zeros(1, 5, dtype=torch.bool), g)
    with pytest.raises(ValueError, match="boolean"):
        as_patch_mask(torch.zeros(1, 4), g)


def test_explicit_mask_rules():
    m = torch.tensor([[True, False, True, False], [False, True, True, False]])
    ids_keep, ids_restore, mf = shuffle_from_mask(m)
    assert ids_keep.tolist() == [[1, 3], [0, 3]]
    assert torch.equal(mf, m.float())
    # ids_restore puts [kept, removed] back into patch order
    order = torch.cat([ids_keep, torch.tensor([[0, 2], [1, 2]])], 1)
    assert torch.equal(torch.gather(order, 1, ids_restore), torch.arange(4).expand(2, 4))
    with pytest.raises(ValueError, match=r"different number of patches per image \(\[2, 1\]\)"):
        shuffle_from_mask(torch.tensor([[True, False, True, False], [True, True, True, False]]))
    with pytest.raises(ValueError, match="keeps 0 of 4"):
        shuffle_from_mask(torch.ones(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="repeats"):
        mask_from_ids_keep(torch.tensor([[1, 1]]), 4)
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        mask_from_ids_keep(torch.tensor([[1, 4]]), 4)
