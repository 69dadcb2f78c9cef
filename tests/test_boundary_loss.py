"""The boundary-ignoring loss of Section 3.6: weights on a hand-made mask, the model's loss, training."""
from __future__ import annotations

import pytest
import torch

from mae_hlvm.mae import MAEConfig, MaskedAutoencoder, PretrainConfig, pretrain
from mae_hlvm.mae.masking import boundary_loss_weights

MICRO = dict(img_size=8, patch_size=2, embed_dim=16, depth=1, num_heads=2, decoder_embed_dim=16, decoder_depth=1,
             decoder_num_heads=2)


def _left_half_mask() -> torch.Tensor:
    m = torch.zeros(1, 4, 4)
    m[:, :, :2] = 1                          # patch columns 0-1 removed: pixel columns 0-3
    return m.reshape(1, 16)


def _pixels(w: torch.Tensor) -> torch.Tensor:
    """[1, 16, 4] weights back to the 8 x 8 image."""
    return w.reshape(1, 4, 4, 2, 2).permute(0, 1, 3, 2, 4).reshape(8, 8)


def test_weights_on_a_hand_made_mask():
    m = _left_half_mask()
    assert torch.equal(_pixels(boundary_loss_weights(m, 4, 2, 0)), m.reshape(4, 4).repeat_interleave(2, 0)
                       .repeat_interleave(2, 1))
    w1 = _pixels(boundary_loss_weights(m, 4, 2, 1))
    assert w1[:, :3].eq(1).all() and w1[:, 3:].eq(0).all()       # pixel column 3 touches the visible half
    w3 = _pixels(boundary_loss_weights(m, 4, 2, 3))
    assert w3[:, :1].eq(1).all() and w3[:, 1:].eq(0).all()
    assert boundary_loss_weights(m, 4, 2, 4).sum() == 0


def test_a_removed_block_inside_visible_pixels_loses_its_rim():
    m = torch.zeros(1, 4, 4)
    m[:, 1:3, 1:3] = 1                       # a 4 x 4 px hole in the middle
    w = _pixels(boundary_loss_weights(m.reshape(1, 16), 4, 2, 1))
    assert w.sum() == 4 and w[3:5, 3:5].eq(1).all()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="ignore_px -1"):
        boundary_loss_weights(_left_half_mask(), 4, 2, -1)
    with pytest.raises(ValueError, match="not a 3 x 3 grid"):
        boundary_loss_weights(_left_half_mask(), 3, 2, 1)


def test_default_loss_is_unchanged_and_the_share_is_reported():
    torch.manual_seed(0)
    model = MaskedAutoencoder(MAEConfig(**MICRO))
    x = torch.rand(2, 3, 8, 8)
    mask = _left_half_mask().repeat(2, 1).bool()
    plain = model(x, mask=mask)
    old = ((plain.pred - model.target(x)).pow(2).mean(-1) * plain.mask).sum() / plain.mask.sum()
    assert torch.equal(plain.loss, old) and plain.loss_share is None
    ignoring = model(x, mask=mask, ignore_boundary_px=1)
    assert ignoring.loss_share == pytest.approx(0.75) and not torch.equal(ignoring.loss, plain.loss)
    w = boundary_loss_weights(plain.mask, 4, 2, 1).repeat_interleave(3, -1)
    want = ((plain.pred - model.target(x)).pow(2) * w).sum() / w.sum()
    assert ignoring.loss.item() == pytest.approx(want.detach().item())


def test_training_with_the_option_logs_the_share_and_is_off_by_default():
    x = torch.rand(16, 3, 8, 8)
    base = dict(model="mae_tiny", model_overrides=MICRO, steps=2, warmup_steps=0, batch_size=8, device="cpu",
                progress=False, mask_unit=4)
    off = pretrain(PretrainConfig(**base), x)
    assert "loss_share" not in off.history[0]
    on = pretrain(PretrainConfig(**base, ignore_boundary_px=1), x)
    assert 0 < on.history[0]["loss_share"] < 1
    with pytest.raises(ValueError, match="ignore_boundary_px = -2"):
        PretrainConfig(**base, ignore_boundary_px=-2)
