"""The MAE model (mae_hlvm.mae.model): shapes, masks, features, and agreement with an independent
per-sample implementation of facebookresearch/mae's math on a state dict in the official layout."""
import math

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block, VisionTransformer

from mae_hlvm.mae import (MAEConfig, create_mae, export_timm_encoder, load_pretrained,
                          mask_from_ids_keep, model_config, sincos_pos_embed, timm_encoder_kwargs, to_timm_vit)

MICRO = dict(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2,
             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


@pytest.fixture(scope="module")
def micro():
    torch.manual_seed(0)
    return create_mae("mae_tiny", **MICRO).eval()


def test_presets_and_config_validation():
    assert model_config("mae_tiny") == MAEConfig(img_size=32, patch_size=4, embed_dim=192, depth=6, num_heads=3,
                                                 decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4)
    b8 = model_config("mae_vit_base_patch8")
    assert (b8.img_size, b8.patch_size, b8.num_patches, b8.decoder_embed_dim, b8.decoder_depth,
            b8.decoder_num_heads) == (224, 8, 784, 512, 8, 16)
    assert model_config("mae_tiny", in_chans=1, img_size=28).num_patches == 49
    with pytest.raises(ValueError, match="unknown MAE preset 'vit_x'"):
        model_config("vit_x")
    with pytest.raises(ValueError, match="unknown MAEConfig field"):
        model_config("mae_tiny", width=3)
    with pytest.raises(ValueError, match="img_size 30 must be divisible by patch_size 4"):
        model_config("mae_tiny", img_size=30)
    with pytest.raises(ValueError, match="embed_dim 190 must be divisible by its number of heads 3"):
        model_config("mae_tiny", embed_dim=190)


def test_sincos_matches_mae_formula():
    """MAE: channels [sin(x w), cos(x w), sin(y w), cos(y w)], w_k = 10000^(-k / (D/4)), CLS row 0."""
    D, G = 16, 3
    pe = sincos_pos_embed(D, G)[0].numpy()
    omega = 1.0 / 10000 ** (np.arange(D // 4) / (D / 4))
    for i in range(G * G):
        y, x = divmod(i, G)
        ref = np.concatenate([np.sin(x * omega), np.cos(x * omega), np.sin(y * omega), np.cos(y * omega)])
        np.testing.assert_allclose(pe[1 + i], ref, atol=1e-6)
    assert not pe[0].any()


def test_forward_shapes_and_loss_only_on_removed(micro):
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        out = micro(x, mask_ratio=0.75, generator=torch.Generator().manual_seed(0))
    assert out.pred.shape == (3, 16, 48) and out.mask.shape == (3, 16) and out.ids_restore.shape == (3, 16)
    assert out.mask.sum() == 3 * 12
    ref = ((out.pred - micro.patchify(x)) ** 2).mean(-1)
    assert out.loss.detach().item() == pytest.approx(float((ref * out.mask).sum() / out.mask.sum()), rel=1e-5)
    with pytest.raises(ValueError, match=r"images must be \[N, 3, 16, 16\]"):
        micro(torch.rand(1, 3, 32, 32))


def test_patchify_roundtrip_and_layout(micro):
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(micro.unpatchify(micro.patchify(x)), x)
    # patch (row 1, col 2), pixel (0, 1), channel 2 lives at index (0 * 4 + 1) * 3 + 2
    assert micro.patchify(x)[0, 1 * 4 + 2, (0 * 4 + 1) * 3 + 2] == x[0, 2, 4, 9]


def test_explicit_unit_mask_equals_its_patch_mask(micro):
    x = torch.rand(2, 3, 16, 16)
    unit = torch.tensor([[True, False, True, True], [False, True, True, True]])  # 2x2 units of 8 px
    a = micro(x, mask=unit, mask_unit=8)
    patch = unit.reshape(2, 2, 1, 2, 1).expand(2, 2, 2, 2, 2).reshape(2, 16)
    b = micro(x, mask=patch)
    torch.testing.assert_close(a.loss, b.loss)
    assert torch.equal(a.mask, patch.float())
    with pytest.raises(ValueError, match="same count"):
        micro(x, mask=torch.tensor([[True, False, True, True], [False, False, True, True]]), mask_unit=8)
    with pytest.raises(ValueError, match="mask unit 6"):
        micro(x, mask_unit=6)


def test_random_and_explicit_masks_agree(micro):
    """Random masking and the same mask given explicitly give the same loss (token order inside the
    encoder differs; attention is permutation-equivariant)."""
    x = torch.rand(2, 3, 16, 16)
    out = micro(x, 0.5, mask_unit=8, generator=torch.Generator().manual_seed(1))
    again = micro(x, mask=out.mask.bool())
    torch.testing.assert_close(out.loss, again.loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.pred, again.pred, rtol=1e-4, atol=1e-5)


def test_encode_features_and_timm_blocks(micro):
    x = torch.rand(2, 3, 16, 16)
    tokens = micro.encode(x)
    assert tokens.shape == (2, 17, 32)
    torch.testing.assert_close(micro.features(x, "cls"), tokens[:, 0])
    torch.testing.assert_close(micro.features(x, "mean"), tokens[:, 1:].mean(1))
    with pytest.raises(ValueError, match="pool 'max'"):
        micro.features(x, "max")
    assert isinstance(micro.blocks, torch.nn.ModuleList) and all(isinstance(b, Block) for b in micro.blocks)
    # encoding with every patch kept is encode()
    torch.testing.assert_close(micro.forward_encoder(x, torch.arange(16).expand(2, 16)), tokens)


def test_attention_maps_via_timm(micro, monkeypatch):
    from timm.layers import config as timm_config
    from timm.utils import AttentionExtract

    monkeypatch.setattr(timm_config, "_USE_FUSED_ATTN", 0)  # timm's own switch, given back after the test
    model = create_mae("mae_tiny", **MICRO).eval()  # the fused flag is read at construction
    x = torch.rand(1, 3, 16, 16)
    # on the MAE itself, forward() masks: CLS + 4 kept of 16 patches at ratio 0.75
    maps = AttentionExtract(model, method="hook", names=["blocks.*.attn.attn_drop"])(x)
    assert len(maps) == 2 and all(m.shape == (1, 2, 5, 5) for m in maps.values())
    # the full image goes through the exported timm ViT: CLS + 16 patches
    maps = AttentionExtract(to_timm_vit(model), method="hook", names=["blocks.*.attn.attn_drop"])(x)
    assert len(maps) == 2 and all(m.shape == (1, 2, 17, 17) for m in maps.values())
    for m in maps.values():
        torch.testing.assert_close(m.sum(-1), torch.ones(1, 2, 17))


def test_reconstruct_panels(micro):
    x = torch.rand(2, 3, 16, 16)
    r = micro.reconstruct(x, 0.75, mask_unit=8, generator=torch.Generator().manual_seed(0))
    m = r["mask_pixels"]
    assert m.shape == (2, 1, 16, 16) and set(m.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(r["pasted"] * (1 - m), x * (1 - m))  # visible pixels are the input's
    assert torch.equal(r["masked"] * m, torch.zeros_like(x))
    torch.testing.assert_close(r["pasted"] * m, r["recon"] * m)
    # norm_pix models: prediction mapped back with each patch's own mean and std
    torch.manual_seed(0)
    npm = create_mae("mae_tiny", **MICRO, norm_pix_loss=True).eval()
    rn = npm.reconstruct(x, 0.75, generator=torch.Generator().manual_seed(0))
    out = npm(x, 0.75, generator=torch.Generator().manual_seed(0))
    t = npm.patchify(x)
    expect = out.pred * (t.var(-1, keepdim=True) + 1e-6) ** 0.5 + t.mean(-1, keepdim=True)
    torch.testing.assert_close(rn["recon"], npm.unpatchify(expect))


@pytest.mark.parametrize("norm_pix", [False, True])
def test_to_pixels_inverts_the_regression_target(norm_pix):
    m = create_mae("mae_tiny", **MICRO, norm_pix_loss=norm_pix)
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(m.to_pixels(m.target(x), x), x, atol=1e-5, rtol=1e-5)


def test_reconstruct_unmasked_decodes_every_patch_from_all_of_them(micro):
    # the paper's Figure 5 protocol: nothing removed, the decoder predicts every patch. It equals the
    # masked path's prediction for a patch when that path keeps every token (all ids kept, no mask token)
    x = torch.rand(2, 3, 16, 16)
    rec = micro.reconstruct_unmasked(x)
    assert not rec.requires_grad  # an evaluation: no graph kept, like reconstruct
    L = micro.cfg.num_patches
    ids = torch.arange(L).expand(2, L)
    out = micro.forward_from_indices(x, ids, ids, torch.zeros(2, L))
    assert rec.shape == x.shape
    torch.testing.assert_close(rec, micro.unpatchify(out.pred))
    # it depends on every patch: change one patch, and the prediction of another changes
    y = x.clone()
    y[:, :, :8, :8] = 0
    assert not torch.allclose(micro.reconstruct_unmasked(y)[:, :, 8:, 8:], rec[:, :, 8:, 8:])


# ---------------------------------------------------------------- official layout, independent math
def official_state_dict(D=32, depth=2, Dd=16, ddepth=1, p=4, C=3, L=16, hidden=4, seed=0):
    """Random tensors under facebookresearch/mae's key names (written out here, not taken from our model)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.2  # noqa: E731
    sd = {"cls_token": r(1, 1, D), "pos_embed": r(1, L + 1, D), "patch_embed.proj.weight": r(D, C, p, p),
          "patch_embed.proj.bias": r(D), "norm.weight": 1 + r(D), "norm.bias": r(D),
          "decoder_embed.weight": r(Dd, D), "decoder_embed.bias": r(Dd), "mask_token": r(1, 1, Dd),
          "decoder_pos_embed": r(1, L + 1, Dd), "decoder_norm.weight": 1 + r(Dd), "decoder_norm.bias": r(Dd),
          "decoder_pred.weight": r(p * p * C, Dd), "decoder_pred.bias": r(p * p * C)}
    for prefix, n, d in (("blocks", depth, D), ("decoder_blocks", ddepth, Dd)):
        for i in range(n):
            b = f"{prefix}.{i}."
            sd.update({b + "norm1.weight": 1 + r(d), b + "norm1.bias": r(d), b + "attn.qkv.weight": r(3 * d, d),
                       b + "attn.qkv.bias": r(3 * d), b + "attn.proj.weight": r(d, d), b + "attn.proj.bias": r(d),
                       b + "norm2.weight": 1 + r(d), b + "norm2.bias": r(d),
                       b + "mlp.fc1.weight": r(hidden * d, d), b + "mlp.fc1.bias": r(hidden * d),
                       b + "mlp.fc2.weight": r(d, hidden * d), b + "mlp.fc2.bias": r(d)})
    return sd


def _ref_block(x, sd, b, heads):
    d = x.shape[-1]
    h = F.layer_norm(x, (d,), sd[b + "norm1.weight"], sd[b + "norm1.bias"], eps=1e-6)
    q, k, v = (h @ sd[b + "attn.qkv.weight"].T + sd[b + "attn.qkv.bias"]).split(d, dim=-1)
    hd = d // heads
    outs = []
    for j in range(heads):  # one head at a time
        s = slice(j * hd, (j + 1) * hd)
        a = torch.softmax(q[:, s] @ k[:, s].T / math.sqrt(hd), dim=-1)
        outs.append(a @ v[:, s])
    x = x + torch.cat(outs, -1) @ sd[b + "attn.proj.weight"].T + sd[b + "attn.proj.bias"]
    h = F.layer_norm(x, (d,), sd[b + "norm2.weight"], sd[b + "norm2.bias"], eps=1e-6)
    h = F.gelu(h @ sd[b + "mlp.fc1.weight"].T + sd[b + "mlp.fc1.bias"])
    return x + h @ sd[b + "mlp.fc2.weight"].T + sd[b + "mlp.fc2.bias"]


def reference_mae(sd, imgs, keep, p, heads, dheads, depth, ddepth, norm_pix):
    """MAE's forward for one image at a time, kept patch indices given: returns (loss, pred [N, L, p*p*C])."""
    N, C, H, W = imgs.shape
    w = W // p
    L = (H // p) * w
    preds, errs = [], []
    for n in range(N):
        patches = [imgs[n, :, (j // w) * p:(j // w + 1) * p, (j % w) * p:(j % w + 1) * p] for j in range(L)]
        emb = [sd["patch_embed.proj.weight"].flatten(1) @ t.flatten() + sd["patch_embed.proj.bias"] for t in patches]
        kept = list(keep[n])
        x = torch.stack([sd["cls_token"][0, 0] + sd["pos_embed"][0, 0]]
                        + [emb[j] + sd["pos_embed"][0, 1 + j] for j in kept])
        for i in range(depth):
            x = _ref_block(x, sd, f"blocks.{i}.", heads)
        x = F.layer_norm(x, x.shape[-1:], sd["norm.weight"], sd["norm.bias"], eps=1e-6)
        y = x @ sd["decoder_embed.weight"].T + sd["decoder_embed.bias"]
        seq = [y[0]] + [y[1 + kept.index(j)] if j in kept else sd["mask_token"][0, 0] for j in range(L)]
        y = torch.stack(seq) + sd["decoder_pos_embed"][0]
        for i in range(ddepth):
            y = _ref_block(y, sd, f"decoder_blocks.{i}.", dheads)
        y = F.layer_norm(y, y.shape[-1:], sd["decoder_norm.weight"], sd["decoder_norm.bias"], eps=1e-6)
        pred = (y @ sd["decoder_pred.weight"].T + sd["decoder_pred.bias"])[1:]
        preds.append(pred)
        for j in range(L):
            if j in kept:
                continue
            t = patches[j].permute(1, 2, 0).flatten()  # (row, col, channel) order
            if norm_pix:
                t = (t - t.mean()) / (t.var() + 1e-6) ** 0.5
            errs.append(((pred[j] - t) ** 2).mean())
    return torch.stack(errs).mean(), torch.stack(preds)


@pytest.mark.parametrize("norm_pix", [False, True])
def test_official_layout_loss_and_prediction_match_reference(norm_pix):
    sd = official_state_dict()
    wrapped = {"model": sd, "epoch": 3, "args": None}  # a checkpoint with the weights under "model"
    model = load_pretrained(wrapped, num_heads=2, decoder_num_heads=2, norm_pix_loss=norm_pix).eval()
    assert model.cfg == MAEConfig(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=2,
                                  decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, norm_pix_loss=norm_pix)
    imgs = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    keep = torch.tensor([[0, 5, 9, 14], [3, 4, 10, 15]])  # kept-patch indices per image
    with torch.no_grad():
        out = model(imgs, mask=mask_from_ids_keep(keep, 16))
        loss_ref, pred_ref = reference_mae(sd, imgs, keep.tolist(), 4, 2, 2, 2, 1, norm_pix)
    torch.testing.assert_close(out.pred, pred_ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.loss, loss_ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- timm encoder
def test_export_loads_into_timm_vit_and_matches_encode(micro):
    vit = VisionTransformer(**timm_encoder_kwargs(micro.cfg)).eval()
    vit.load_state_dict(export_timm_encoder(micro))  # strict
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(vit.forward_features(x), micro.encode(x))
        torch.testing.assert_close(to_timm_vit(micro)(x), micro.features(x, "cls"))


def test_export_fits_timm_vit_base_patch16_224():
    with torch.device("meta"):
        mae = create_mae("mae_vit_base_patch16")
        vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    exported = export_timm_encoder(mae)
    own = vit.state_dict()
    assert set(exported) == set(own)
    assert all(exported[k].shape == own[k].shape for k in own)


def test_timm_mae_encoder_weights_import():
    """A timm ViT state dict (the vit_*_224.mae layout, encoder only) loads with a fresh decoder."""
    torch.manual_seed(1)
    vit = VisionTransformer(**timm_encoder_kwargs(MAEConfig(**MICRO))).eval()
    with pytest.warns(UserWarning, match="encoder only"):
        model = load_pretrained(vit.state_dict(), num_heads=2, decoder_embed_dim=16, decoder_depth=1,
                                decoder_num_heads=2).eval()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model.encode(x), vit.forward_features(x))
