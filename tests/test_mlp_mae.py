"""The MLP masked autoencoder on vector data (mae_hlvm.mae.mlp): shapes, mask handling, training."""
import pytest
import torch

from mae_hlvm.mae.mlp import MLPMaskedAutoencoder, check_mask, train_mlp_mae

DIMS = [2, 3, 1, 2]  # four observables, D = 8


def test_single_model_shapes():
    model = MLPMaskedAutoencoder(DIMS, width=3, hidden=16)
    x = torch.randn(10, 8)
    m = torch.tensor([True, False, False, True])
    assert model.encode(x, m).shape == (10, 3)
    assert model(x, m).shape == (10, 8)
    assert model.decode(torch.randn(10, 3), m).shape == (10, 8)
    per_sample = m.expand(10, -1).clone()
    per_sample[0] = torch.tensor([False, True, True, True])
    assert model.encode(x, per_sample).shape == (10, 3)
    assert model.loss(x, m).ndim == 0


def test_group_shapes_and_unused_width_is_zero():
    model = MLPMaskedAutoencoder(DIMS, width=[1, 4, 2], hidden=16)
    x = torch.randn(3, 7, 8)
    masks = torch.tensor([[True, False, False, False], [False, True, True, False], [True, True, True, False]])
    c_hat = model.encode(x, masks)
    assert c_hat.shape == (3, 7, 4)
    assert torch.all(c_hat[0, :, 1:] == 0) and torch.all(c_hat[2, :, 2:] == 0)
    assert c_hat[1].abs().sum() > 0
    assert model(x, masks).shape == (3, 7, 8)
    assert model.member_losses(x, masks).shape == (3,)


def test_encoder_sees_only_visible_coordinates():
    model = MLPMaskedAutoencoder(DIMS, width=2, hidden=16)
    m = torch.tensor([False, True, False, True])          # hide observables 1 (3 dims) and 3 (2 dims)
    x = torch.randn(5, 8)
    y = x.clone()
    y[:, 2:5] = 100.0                                     # coordinates of observable 1
    y[:, 6:8] = -7.0                                      # coordinates of observable 3
    assert torch.equal(model.encode(x, m), model.encode(y, m))
    z = x.clone()
    z[:, 0] += 1.0                                        # a visible coordinate does matter
    assert not torch.equal(model.encode(x, m), model.encode(z, m))


@pytest.mark.parametrize("width", [0, -2])
def test_width_below_one_refused(width):
    with pytest.raises(ValueError, match=rf"width = {width}: must be an int >= 1"):
        MLPMaskedAutoencoder(DIMS, width=width)
    with pytest.raises(ValueError, match=rf"width = {width}"):
        MLPMaskedAutoencoder(DIMS, width=[2, width])


@pytest.mark.parametrize("mask, what", [([False] * 4, "no observable hidden"), ([True] * 4, "no observable visible")])
def test_masks_without_hidden_or_visible_refused(mask, what):
    model = MLPMaskedAutoencoder(DIMS, width=1)
    with pytest.raises(ValueError, match=what):
        model.encode(torch.randn(2, 8), torch.tensor(mask))
    with pytest.raises(ValueError, match="at least one"):
        check_mask(torch.tensor([[True, False, False, False], mask]), 4)


def test_mask_shape_and_dtype_refused():
    model = MLPMaskedAutoencoder(DIMS, width=1)
    with pytest.raises(ValueError, match="boolean"):
        model.encode(torch.randn(2, 8), torch.tensor([1, 0, 0, 0]))
    with pytest.raises(ValueError, match="one entry per observable"):
        model.encode(torch.randn(2, 8), torch.tensor([True, False]))
    with pytest.raises(ValueError, match="8 columns"):
        model.encode(torch.randn(2, 7), torch.tensor([True, False, False, False]))
    grouped = MLPMaskedAutoencoder(DIMS, width=[1, 1])
    with pytest.raises(ValueError, match="2 members"):
        grouped.encode(torch.randn(2, 8), torch.tensor([True, False, False, False]))


def test_training_learns_a_copy():
    """Observable 1 copies observable 0; hiding 1 leaves a task the model can solve exactly."""
    torch.manual_seed(0)
    a = torch.randn(2000, 2)
    x = torch.cat([a, a, torch.randn(2000, 1)], dim=1)        # patches of dims 2, 2, 1
    model = MLPMaskedAutoencoder([2, 2, 1], width=2, hidden=32, seed=0)
    mask = torch.tensor([False, True, False])
    with torch.no_grad():
        before = float(model.loss(x, mask))
    res = train_mlp_mae(model, x, mask, steps=300, batch_size=128, lr=1e-2, log_every=50)
    with torch.no_grad():
        after = float(model.loss(x, mask))
    assert after < 0.1 * before and after < 0.05
    assert len(res.losses) == 6 and len(res.final_loss) == 1


def test_grouped_training_with_shared_data_and_sampler():
    torch.manual_seed(0)
    data = torch.randn(2, 500, 8)
    model = MLPMaskedAutoencoder(DIMS, width=[1, 2, 3], hidden=8)

    def sampler(b, gen):
        m = torch.rand(3, b, 4, generator=gen) < 0.5
        m[..., 0], m[..., 1] = True, False                     # always a proper mask
        return m

    res = train_mlp_mae(model, data, sampler, steps=20, batch_size=16, data_of_member=[0, 1, 1], log_every=10)
    assert len(res.final_loss) == 3
    with pytest.raises(ValueError, match="data_of_member"):
        train_mlp_mae(model, data, sampler, steps=1, data_of_member=[0, 2, 1])
    with pytest.raises(ValueError, match="steps = 0"):
        train_mlp_mae(model, data, sampler, steps=0, data_of_member=[0, 1, 1])


def test_subtree_sampler_draws_structure_aware_masks_and_trains():
    from mae_hlvm.data.vectors import sample_hierarchy
    from mae_hlvm.hierarchy import kary_tree, observables
    from mae_hlvm.mae.mlp import subtree_sampler

    g = kary_tree(3, 2)
    draw = subtree_sampler(g, 2, seed=0)
    m = draw(6, torch.Generator())
    assert m.shape == (6, len(observables(g))) and m.dtype == torch.bool
    assert (m.sum(1) == 2).all()  # one level-2 latent of a binary tree has two observed leaves
    assert (subtree_sampler(g, 1, ratio=0.75)(4, torch.Generator()).sum(1) == 6).all()
    sample = sample_hierarchy(g, 400, seed=0)
    model = MLPMaskedAutoencoder([sample.values[v].shape[1] for v in sample.observed], width=2)
    res = train_mlp_mae(model, sample.x, subtree_sampler(g, 2, seed=1), steps=150, batch_size=64, log_every=50)
    assert res.losses[-1][0] < res.losses[0][0]
    with pytest.raises(ValueError, match="level 5"):
        subtree_sampler(g, 5)
