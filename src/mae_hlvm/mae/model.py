"""Masked autoencoder (He et al. 2021) from timm parts, with mask units decoupled from the patch.

Parameter names follow facebookresearch/mae ``models_mae.py`` (``patch_embed.proj``, ``cls_token``,
``pos_embed``, ``blocks.*``, ``norm``, ``decoder_*``, ``mask_token``), so its checkpoints load as is and
the encoder keys are those of a timm ``VisionTransformer``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn as nn
from timm.layers import PatchEmbed, build_sincos2d_pos_embed
from timm.models.vision_transformer import Block

from .configs import MAEConfig, model_config
from .masking import (MaskGrid, as_patch_mask, boundary_loss_weights, make_grid, random_masking_indices,
                      shuffle_from_mask)


@dataclass
class MAEOutput:
    """Result of a forward pass.

    Attributes:
        loss: scalar, per-patch MSE averaged over removed patches of the batch.
        pred: [N, L, p*p*C] decoder prediction for every patch (normalised space if norm_pix_loss).
        mask: [N, L] float, 1 = removed.
        ids_restore: [N, L] un-shuffles [kept, removed] tokens into patch order.
        loss_share: with a boundary-ignoring loss, the share of removed pixels that the loss still
            counts (scalar tensor); None otherwise.
    """

    loss: torch.Tensor
    pred: torch.Tensor
    mask: torch.Tensor
    ids_restore: torch.Tensor
    loss_share: torch.Tensor | None = None

    def __iter__(self):  # `loss, pred, mask, ids_restore = out`, as the official forward's tuple unpacks
        return iter((self.loss, self.pred, self.mask, self.ids_restore))


def sincos_pos_embed(dim: int, grid: int, cls_token: bool = True) -> torch.Tensor:
    """MAE's fixed 2-D sin-cos embedding [1, (1+)grid^2, dim], channels [sin x, cos x, sin y, cos y].

    Here x is the column and y the row of a patch (row-major patch order). timm's
    ``build_sincos2d_pos_embed`` has the same frequencies ``10000^(-k/(dim/4))`` but orders channels
    [sin y, sin x, cos y, cos x]; a channel permutation gives MAE's layout (that of official
    checkpoints). The CLS row is zeros.
    """
    pe = build_sincos2d_pos_embed([grid, grid], dim=dim)  # [grid^2, dim]
    sy, sx, cy, cx = pe.chunk(4, dim=1)
    pe = torch.cat([sx, cx, sy, cy], dim=1)
    if cls_token:
        pe = torch.cat([torch.zeros(1, dim), pe], dim=0)
    return pe.unsqueeze(0)


class MaskedAutoencoder(nn.Module):
    """MAE with a ViT encoder on visible tokens only, CLS token and a light decoder.

    ``blocks`` / ``decoder_blocks`` are ``nn.ModuleList`` of timm ``Block`` (fused attention can be
    switched off with ``timm.layers.set_fused_attn(False)`` to read attention maps via
    ``timm.utils.AttentionExtract``).
    """

    def __init__(self, cfg: MAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        norm_layer = partial(nn.LayerNorm, eps=1e-6)
        D, Dd = cfg.embed_dim, cfg.decoder_embed_dim
        self.patch_embed = PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, D)
        L = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, L + 1, D), requires_grad=False)  # fixed sin-cos
        self.blocks = nn.ModuleList([Block(D, cfg.num_heads, cfg.mlp_ratio, qkv_bias=True, norm_layer=norm_layer)
                                     for _ in range(cfg.depth)])
        self.norm = norm_layer(D)

        self.decoder_embed = nn.Linear(D, Dd, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, L + 1, Dd), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(Dd, cfg.decoder_num_heads, cfg.mlp_ratio, qkv_bias=True,
                                                   norm_layer=norm_layer) for _ in range(cfg.decoder_depth)])
        self.decoder_norm = norm_layer(Dd)
        self.decoder_pred = nn.Linear(Dd, cfg.patch_size ** 2 * cfg.in_chans, bias=True)
        self.initialize_weights()

    # ---------------------------------------------------------------- init
    def initialize_weights(self) -> None:
        """MAE's init: sin-cos position embeddings, xavier on the flattened patch conv and Linears."""
        grid = self.cfg.img_size // self.cfg.patch_size
        self.pos_embed.data.copy_(sincos_pos_embed(self.cfg.embed_dim, grid))
        self.decoder_pos_embed.data.copy_(sincos_pos_embed(self.cfg.decoder_embed_dim, grid))
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))  # like nn.Linear, not a conv
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(self._init_module)

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """Parameters kept out of weight decay besides biases and norms (timm convention)."""
        return {"cls_token", "mask_token", "pos_embed", "decoder_pos_embed"}

    # ---------------------------------------------------------------- geometry
    @property
    def num_patches(self) -> int:
        return self.patch_embed.num_patches

    def mask_grid(self, mask_unit: int | None = None) -> MaskGrid:
        return make_grid(self.cfg.img_size, self.cfg.patch_size, mask_unit)

    def _check_images(self, imgs: torch.Tensor) -> None:
        c, s = self.cfg.in_chans, self.cfg.img_size
        if not isinstance(imgs, torch.Tensor):
            raise ValueError(f"images must be a float tensor [N, {c}, {s}, {s}], got {type(imgs).__name__}")
        if imgs.ndim != 4 or imgs.shape[1:] != (c, s, s):
            raise ValueError(f"images must be [N, {c}, {s}, {s}] for this model, got shape {tuple(imgs.shape)}")
        if not imgs.is_floating_point():
            raise ValueError(f"images must be floating point, got dtype {imgs.dtype} (8-bit images: x.float() / 255)")

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, L, p*p*C] (pixels within a patch row-major, channel last, as MAE)."""
        p, c = self.cfg.patch_size, self.cfg.in_chans
        N, _, H, W = imgs.shape
        x = imgs.reshape(N, c, H // p, p, W // p, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(N, (H // p) * (W // p), p * p * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """[N, L, p*p*C] -> [N, C, H, W] (inverse of :meth:`patchify`, square images)."""
        p, c = self.cfg.patch_size, self.cfg.in_chans
        h = w = int(round(x.shape[1] ** 0.5))
        if h * w != x.shape[1]:
            raise ValueError(f"unpatchify needs a square patch grid, got L = {x.shape[1]}")
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, w * p)

    # ---------------------------------------------------------------- masks
    def masking(self, batch: int, mask_ratio: float = 0.75, mask_unit: int | None = None,
                mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
                device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ids_keep [N, K], ids_restore [N, L], mask [N, L] float 1=removed), random or explicit.

        An explicit ``mask`` is boolean, True = removed, either [N, L] on the patch grid or [N, U] on
        the ``mask_unit`` grid; every image must keep the same number of patches.
        """
        grid = self.mask_grid(mask_unit)
        if mask is not None:
            if mask.shape[0] != batch:
                raise ValueError(f"explicit mask is for {mask.shape[0]} images but the batch has {batch}")
            return shuffle_from_mask(as_patch_mask(mask.to(device) if device is not None else mask, grid))
        return random_masking_indices(batch, grid, mask_ratio, generator=generator, device=device)

    # ---------------------------------------------------------------- encoder / decoder
    def _embed(self, imgs: torch.Tensor) -> torch.Tensor:
        self._check_images(imgs)
        return self.patch_embed(imgs) + self.pos_embed[:, 1:, :]  # [N, L, D]

    def _with_cls(self, x: torch.Tensor) -> torch.Tensor:
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1)

    def forward_encoder(self, imgs: torch.Tensor, ids_keep: torch.Tensor) -> torch.Tensor:
        """Encode the kept patches only: [N, C, H, W], [N, K] -> [N, 1+K, D] (after the final norm)."""
        x = self._embed(imgs)
        x = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # [N, K, D]
        x = self._with_cls(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """[N, 1+K, D] visible latents -> [N, L, p*p*C] predictions for every patch."""
        x = self.decoder_embed(latent)  # [N, 1+K, Dd]
        n_mask = ids_restore.shape[1] + 1 - x.shape[1]
        x_ = torch.cat([x[:, 1:, :], self.mask_token.expand(x.shape[0], n_mask, -1)], dim=1)  # [N, L, Dd]
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # patch order
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]

    def target(self, imgs: torch.Tensor) -> torch.Tensor:
        """Regression target [N, L, p*p*C]: pixels, or per-patch normalised pixels (norm_pix_loss)."""
        t = self.patchify(imgs)
        if self.cfg.norm_pix_loss:
            mean = t.mean(dim=-1, keepdim=True)
            var = t.var(dim=-1, keepdim=True)  # unbiased, as in MAE
            t = (t - mean) / (var + 1.0e-6) ** 0.5
        return t

    def to_pixels(self, pred: torch.Tensor, imgs: torch.Tensor) -> torch.Tensor:
        """Predictions [N, L, p*p*C] -> images [N, C, H, W] in the input's value space: the inverse of
        :meth:`target`, so with ``norm_pix_loss`` each patch takes the mean and variance of ``imgs``'
        own patch (as MAE's demo does; the colours and contrast are then not the model's guess)."""
        pred = pred.float()
        if self.cfg.norm_pix_loss:
            t = self.patchify(imgs).float()
            pred = pred * (t.var(dim=-1, keepdim=True) + 1.0e-6) ** 0.5 + t.mean(dim=-1, keepdim=True)
        return self.unpatchify(pred).to(imgs.dtype)

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor,
                     weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mean squared error per patch, averaged over removed patches only; with per-pixel
        ``weights`` [N, L, p*p] (see :func:`~.masking.boundary_loss_weights`), the mean squared error
        over the pixels whose weight is 1 (0 when no pixel counts)."""
        if weights is None:
            loss = (pred.float() - self.target(imgs).float()).pow(2).mean(dim=-1)  # [N, L]
            return (loss * mask).sum() / mask.sum()
        w = weights.repeat_interleave(self.cfg.in_chans, dim=-1)                   # [N, L, p*p*C]
        err = (pred.float() - self.target(imgs).float()).pow(2)                     # [N, L, p*p*C]
        return (err * w).sum() / w.sum().clamp_min(1.0)

    def forward_from_indices(self, imgs: torch.Tensor, ids_keep: torch.Tensor, ids_restore: torch.Tensor,
                             mask: torch.Tensor, ignore_boundary_px: int = 0) -> MAEOutput:
        """Forward with precomputed indices (what ``forward`` calls; the benchmark encodes all tokens
        by passing ``ids_keep = arange(L)``)."""
        latent = self.forward_encoder(imgs, ids_keep)
        pred = self.forward_decoder(latent, ids_restore)
        if not ignore_boundary_px:
            return MAEOutput(self.forward_loss(imgs, pred, mask), pred, mask, ids_restore)
        p = self.cfg.patch_size
        w = boundary_loss_weights(mask, self.cfg.img_size // p, p, ignore_boundary_px)   # [N, L, p*p]
        share = w.sum() / (mask.sum() * p * p)
        return MAEOutput(self.forward_loss(imgs, pred, mask, w), pred, mask, ids_restore, share)

    def forward(self, imgs: torch.Tensor, mask_ratio: float = 0.75, mask_unit: int | None = None,
                mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
                ignore_boundary_px: int = 0) -> MAEOutput:
        """Mask, encode the visible patches, decode all, and score the removed ones.

        Args:
            imgs: [N, C, H, W] images in the value space the model is trained on.
            mask_ratio: requested ratio r in (0, 1), counted in whole units (ignored with ``mask``).
            mask_unit: masking unit in pixels, a multiple of the patch; None = the patch.
            mask: optional explicit boolean mask, True = removed: [N, L] patch mask, or [N, U] unit
                mask on the ``mask_unit`` grid. Each image must keep the same number of patches.
                Kept indices convert with :func:`mae_hlvm.mae.masking.mask_from_ids_keep`.
            generator: torch.Generator for the random mask noise (default: the global RNG).
            ignore_boundary_px: 0 (MAE's loss), or leave out of the loss every removed pixel within
                this many pixels of a visible one (Section 3.6 of Kong et al.); ``loss_share`` of the
                output says how much of the removed area the loss still counts.
        """
        ids_keep, ids_restore, m = self.masking(imgs.shape[0], mask_ratio, mask_unit, mask, generator, imgs.device)
        return self.forward_from_indices(imgs, ids_keep, ids_restore, m, ignore_boundary_px)

    # ---------------------------------------------------------------- features for evaluation
    def encode(self, imgs: torch.Tensor) -> torch.Tensor:
        """All tokens of the full, unmasked image after the final norm: [N, 1+L, D] (CLS first)."""
        x = self._with_cls(self._embed(imgs))
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def features(self, imgs: torch.Tensor, pool: str = "cls") -> torch.Tensor:
        """One vector per image [N, D]: the CLS token ("cls", MAE's linear probe) or the mean of the
        patch tokens ("mean"), both after the final norm, unmasked input."""
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool {pool!r} must be 'cls' or 'mean'")
        x = self.encode(imgs)
        return x[:, 0] if pool == "cls" else x[:, 1:].mean(dim=1)

    @torch.no_grad()
    def reconstruct(self, imgs: torch.Tensor, mask_ratio: float = 0.75, mask_unit: int | None = None,
                    generator: torch.Generator | None = None,
                    mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Images for display, all [N, C, H, W] in the input's value space.

        Returns ``masked`` (removed patches set to 0), ``recon`` (the prediction for every patch),
        ``pasted`` (prediction with the visible patches replaced by the input) and ``mask_pixels``
        [N, 1, H, W] (1 = removed), plus ``loss`` (scalar).

        With ``norm_pix_loss`` the model predicts per-patch normalised pixels; they are mapped back
        with each patch's ORIGINAL mean and variance, as MAE's demo does. Those statistics come from the
        masked pixels themselves, so the displayed colours/contrast are not the model's own guess.
        """
        out = self.forward(imgs, mask_ratio, mask_unit, mask=mask, generator=generator)
        recon = self.to_pixels(out.pred, imgs)
        p, c = self.cfg.patch_size, self.cfg.in_chans
        mask_px = self.unpatchify(out.mask.unsqueeze(-1).expand(-1, -1, p * p * c))  # [N, C, H, W]
        return dict(masked=imgs * (1 - mask_px), recon=recon, pasted=imgs * (1 - mask_px) + recon * mask_px,
                    mask_pixels=mask_px[:, :1], loss=out.loss)

    @torch.no_grad()
    def reconstruct_unmasked(self, imgs: torch.Tensor) -> torch.Tensor:
        """The decoder's prediction of every patch when the encoder sees all of them: [N, C, H, W] ->
        [N, C, H, W], in the input's value space (``norm_pix_loss`` predictions mapped back as in
        :meth:`reconstruct`). This is the paper's protocol for its Figure 5 ("the validation set
        without masking"); MAE's loss never scores a visible patch, so it asks the decoder for
        something training never asked of it."""
        n, L = imgs.shape[0], self.cfg.num_patches
        ids = torch.arange(L, device=imgs.device).expand(n, L)             # keep all, in patch order
        pred = self.forward_decoder(self.forward_encoder(imgs, ids), ids)  # [N, L, p*p*C]
        return self.to_pixels(pred, imgs)


def create_mae(name: str = "mae_tiny", **overrides: Any) -> MaskedAutoencoder:
    """A freshly initialised preset (``mae_tiny``, ``mae_vit_base_patch16``, ``mae_vit_base_patch8``, ...),
    with any :class:`MAEConfig` field overridden, e.g. ``create_mae("mae_tiny", in_chans=1, img_size=28)``."""
    return MaskedAutoencoder(model_config(name, **overrides))


def timm_encoder_kwargs(cfg: MAEConfig) -> dict[str, Any]:
    """Keyword arguments of ``timm.models.vision_transformer.VisionTransformer`` whose state dict is
    :func:`export_timm_encoder`'s (no classifier head, CLS pooling, LayerNorm eps 1e-6)."""
    return dict(img_size=cfg.img_size, patch_size=cfg.patch_size, in_chans=cfg.in_chans, embed_dim=cfg.embed_dim,
                depth=cfg.depth, num_heads=cfg.num_heads, mlp_ratio=cfg.mlp_ratio, qkv_bias=True,
                num_classes=0, global_pool="token", class_token=True)


def to_timm_vit(model: MaskedAutoencoder) -> nn.Module:
    """A timm ``VisionTransformer`` carrying the encoder weights (its ``forward_features`` equals
    ``model.encode``)."""
    from timm.models.vision_transformer import VisionTransformer

    vit = VisionTransformer(**timm_encoder_kwargs(model.cfg))
    vit.load_state_dict(export_timm_encoder(model))
    return vit.to(next(model.parameters()).device).eval()


def export_timm_encoder(model: MaskedAutoencoder) -> dict[str, torch.Tensor]:
    """Encoder state dict in timm's VisionTransformer layout (loads strictly into
    ``timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)`` for ViT-B/16, or a
    ``VisionTransformer(**timm_encoder_kwargs(cfg))`` in general)."""
    keep = ("patch_embed.", "blocks.", "norm.")
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k in ("cls_token", "pos_embed") or k.startswith(keep)}
