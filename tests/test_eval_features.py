"""Feature extraction and attention maps on tiny timm ViTs with known answers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from timm.models.vision_transformer import VisionTransformer

from mae_hlvm.eval import (attention_maps, attention_on_mask, cls_attention, extract_features, feature_fn, overlay, token_attention,
                           token_fn, upsample)


def _vit(**kw):
    torch.manual_seed(0)
    return VisionTransformer(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=4, num_classes=0, **kw)


def test_features_equal_the_model_tokens_and_restore_training_mode():
    vit, x = _vit(), torch.rand(5, 3, 16, 16)
    vit.train()
    enc = feature_fn(vit, "cls")
    feats = extract_features(enc, x, batch_size=2)
    assert vit.training, "extract_features must restore the training mode"
    vit.eval()
    with torch.no_grad():
        tokens = vit.forward_features(x)
    np.testing.assert_allclose(feats.numpy(), tokens[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(extract_features(feature_fn(vit, "mean"), x).numpy(), tokens[:, 1:].mean(1).numpy(),
                               atol=1e-5)


def test_features_use_a_models_own_pooling():
    class Own(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def features(self, x, pool="cls"):
            return x.flatten(1)[:, :3] * (1 if pool == "cls" else 2)

    x = torch.rand(4, 3, 8, 8)
    np.testing.assert_allclose(extract_features(feature_fn(Own(), "mean"), x).numpy(), 2 * x.flatten(1)[:, :3].numpy())


def test_feature_extraction_refuses_bad_input():
    vit = _vit()
    with pytest.raises(ValueError, match="empty"):
        extract_features(feature_fn(vit), torch.rand(0, 3, 16, 16))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        extract_features(feature_fn(vit), torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="non-finite features"):
        extract_features(lambda x: torch.full((x.shape[0], 2), float("nan")), torch.rand(2, 3, 4, 4))
    with pytest.raises(ValueError, match="pool"):
        feature_fn(vit, "max")
    with pytest.raises(ValueError, match="encode"):
        token_fn(nn.Linear(2, 2))


def test_attention_rows_are_distributions_and_model_is_unchanged():
    vit, x = _vit(), torch.rand(3, 3, 16, 16)
    vit.eval()
    before = vit.forward_features(x).detach()
    attn = attention_maps(vit, x)
    assert attn.shape == (3, 4, 17, 17)
    np.testing.assert_allclose(attn.sum(-1).numpy(), 1.0, atol=1e-5)
    assert vit.blocks[-1].attn.fused_attn == type(vit.blocks[-1].attn)(32, 4).fused_attn  # restored
    np.testing.assert_allclose(vit.forward_features(x).detach().numpy(), before.numpy(), atol=1e-6)


def test_zero_queries_give_uniform_attention():
    vit = _vit()
    with torch.no_grad():  # q = k = 0 in the last block -> every query attends uniformly to all 17 tokens
        vit.blocks[-1].attn.qkv.weight[:64].zero_()
        vit.blocks[-1].attn.qkv.bias[:64].zero_()
    x = torch.rand(2, 3, 16, 16)
    np.testing.assert_allclose(cls_attention(vit, x).numpy(), 1 / 17, atol=1e-6)
    tok = token_attention(vit, x, row=1, col=2)
    assert tok.shape == (2, 4, 4)
    np.testing.assert_allclose(tok.numpy(), 1 / 17, atol=1e-6)


def test_token_attention_picks_the_right_query():
    vit, x = _vit(), torch.rand(2, 3, 16, 16)
    attn = attention_maps(vit, x)
    np.testing.assert_allclose(token_attention(vit, x, 2, 3).numpy(),
                               attn[:, :, 1 + 2 * 4 + 3, 1:].mean(1).reshape(2, 4, 4).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="outside the 4x4"):
        token_attention(vit, x, 4, 0)
    with pytest.raises(ValueError, match="layer"):
        attention_maps(vit, x, layer=5)


def test_upsample_and_overlay():
    maps = torch.arange(8.).reshape(2, 2, 2)
    up = upsample(maps, (4, 4))
    assert up.shape == (2, 4, 4) and float(up.min()) == 0 and float(up.max()) == 1
    assert torch.equal(up[0, :2, :2], torch.zeros(2, 2))
    img = torch.rand(3, 4, 4)
    blend = overlay(img, up[0], alpha=0.0)
    np.testing.assert_allclose(blend, img.permute(1, 2, 0).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, up[0], alpha=2)


def test_attention_on_mask_hand_computed():
    maps = torch.tensor([[[3.0, 1.0], [0.0, 0.0]]])  # 3/4 of the mass on the top-left patch
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, :2, :2] = True  # object = the top-left patch
    mass, area = attention_on_mask(maps, masks)
    assert float(mass) == pytest.approx(0.75) and float(area) == pytest.approx(0.25)
    masks[0, :2, :1] = False  # half the patch -> half its mass
    assert float(attention_on_mask(maps, masks)[0]) == pytest.approx(0.375)
    uniform = torch.ones(1, 2, 2)
    assert float(attention_on_mask(uniform, masks)[0]) == pytest.approx(float(attention_on_mask(uniform, masks)[1]))
    with pytest.raises(ValueError, match="bool"):
        attention_on_mask(maps, masks.float())
    with pytest.raises(ValueError, match="tile"):
        attention_on_mask(maps, torch.zeros(1, 5, 5, dtype=torch.bool))


def test_object_preference_text_reads_the_attention_ratio():
    from mae_hlvm.eval.attention import object_preference_text

    assert object_preference_text(2.0) == "concentrates on the object"
    assert object_preference_text(1.2).startswith("leans only slightly")
    assert object_preference_text(1.0).startswith("is spread about evenly")
    assert object_preference_text(0.78).startswith("looks away from the object")
    with pytest.raises(ValueError, match="ratio = nan"):
        object_preference_text(float("nan"))
