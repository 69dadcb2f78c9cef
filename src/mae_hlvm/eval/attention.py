"""Self-attention maps of a ViT (Figures 6 and 7 of Kong et al.).

Works on any model with ``.blocks`` (timm ``Block``s whose ``.attn`` is timm's ``Attention``) and a
token forward (``.encode`` for the library's MAE, ``.forward_features`` for timm ViTs). The attention
probabilities are read with a forward hook on the last block's ``attn.attn_drop``: timm computes them
explicitly only on its non-fused path, so ``fused_attn`` is switched off on that block for the call and
restored afterwards (the same trick as ``timm.utils.AttentionExtract``'s hook mode).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_images
from .features import num_prefix_tokens, token_fn


@contextmanager
def _capture_attention(block: nn.Module) -> Iterator[list[torch.Tensor]]:
    attn = getattr(block, "attn", None)
    if attn is None or not hasattr(attn, "attn_drop") or not hasattr(attn, "fused_attn"):
        raise ValueError(f"block {type(block).__name__} has no timm-style .attn with attn_drop/fused_attn")
    store: list[torch.Tensor] = []
    fused = attn.fused_attn
    attn.fused_attn = False
    handle = attn.attn_drop.register_forward_hook(lambda m, inp, out: store.append(out.detach()))
    try:
        yield store
    finally:
        handle.remove()
        attn.fused_attn = fused


@torch.no_grad()
def attention_maps(model: nn.Module, images: torch.Tensor, layer: int = -1) -> torch.Tensor:
    """Attention probabilities of block ``layer`` for ``images`` [N, C, H, W]: [N, heads, T, T].

    Rows are queries, columns keys; T = prefix tokens + patches. The model runs in eval mode.
    """
    images = check_images(images, "images")
    blocks = getattr(model, "blocks", None)
    if blocks is None or len(blocks) == 0:
        raise ValueError(f"{type(model).__name__} has no non-empty .blocks")
    if not -len(blocks) <= layer < len(blocks):
        raise ValueError(f"layer {layer} out of range for a model with {len(blocks)} blocks")
    was_training = model.training
    model.eval()
    try:
        with _capture_attention(blocks[layer]) as store:
            token_fn(model)(images.to(next(model.parameters()).device))
    finally:
        model.train(was_training)
    if len(store) != 1:
        raise RuntimeError(f"expected one attention map from block {layer}, captured {len(store)}")
    return store[0].float().cpu()


def _grid(model: nn.Module, num_patches: int) -> tuple[int, int]:
    grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
    if grid is not None and grid[0] * grid[1] == num_patches:
        return int(grid[0]), int(grid[1])
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(f"cannot arrange {num_patches} patch tokens on a grid; give the model a patch_embed.grid_size")
    return side, side


def cls_attention(model: nn.Module, images: torch.Tensor, layer: int = -1) -> torch.Tensor:
    """Attention of the CLS token (query 0) to every patch, averaged over heads: [N, h, w] (Figure 6)."""
    if num_prefix_tokens(model) < 1:
        raise ValueError(f"{type(model).__name__} has no CLS token")
    attn = attention_maps(model, images, layer)  # [N, heads, T, T]
    prefix = num_prefix_tokens(model)
    h, w = _grid(model, attn.shape[-1] - prefix)
    return attn[:, :, 0, prefix:].mean(dim=1).reshape(-1, h, w)


def token_attention(model: nn.Module, images: torch.Tensor, row: int, col: int, layer: int = -1) -> torch.Tensor:
    """Attention from the patch at grid position (row, col) to every patch, head-averaged: [N, h, w] (Figure 7)."""
    attn = attention_maps(model, images, layer)
    prefix = num_prefix_tokens(model)
    h, w = _grid(model, attn.shape[-1] - prefix)
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"token (row={row}, col={col}) lies outside the {h}x{w} patch grid")
    query = prefix + row * w + col
    return attn[:, :, query, prefix:].mean(dim=1).reshape(-1, h, w)


def upsample(maps: torch.Tensor, size: tuple[int, int], mode: str = "nearest") -> torch.Tensor:
    """Patch-grid maps [N, h, w] -> image-size maps [N, H, W], each rescaled to [0, 1] (min-max per map)."""
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape [N, h, w], got {tuple(maps.shape)}")
    up = F.interpolate(maps[:, None].float(), size=size, mode=mode)[:, 0]
    lo = up.flatten(1).min(1).values[:, None, None]
    hi = up.flatten(1).max(1).values[:, None, None]
    return (up - lo) / (hi - lo).clamp_min(1e-12)


def overlay(image: torch.Tensor, heat: torch.Tensor, alpha: float = 0.5, cmap: str = "inferno") -> np.ndarray:
    """Blend a heat map [H, W] in [0, 1] over an image [C, H, W] in [0, 1]: an RGB array [H, W, 3]."""
    import matplotlib

    if image.ndim != 3 or heat.shape != image.shape[1:]:
        raise ValueError(f"image {tuple(image.shape)} and heat map {tuple(heat.shape)} must be [C, H, W] and [H, W]")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    rgb = image.detach().cpu().float().clamp(0, 1).expand(3, -1, -1).permute(1, 2, 0).numpy()
    colour = matplotlib.colormaps[cmap](heat.detach().cpu().numpy())[..., :3]
    return (1 - alpha) * rgb + alpha * colour


def attention_on_mask(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How much of each attention map falls on an object: (mass [N], area [N]).

    ``maps`` [N, h, w] (non-negative, patch grid) are spread evenly over the pixels of each patch and
    normalised to sum 1; ``mass`` is the share on the pixels of ``masks`` [N, H, W] (bool), ``area``
    the object's share of the image, i.e. the mass a uniform map would put there. mass / area > 1
    means the map prefers the object.
    """
    masks = torch.as_tensor(masks)
    if maps.ndim != 3 or masks.ndim != 3 or maps.shape[0] != masks.shape[0]:
        raise ValueError(f"maps [N, h, w] and masks [N, H, W] must agree in N, got {tuple(maps.shape)}, {tuple(masks.shape)}")
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be bool, got {masks.dtype}")
    h, w = maps.shape[1:]
    H, W = masks.shape[1:]
    if H % h or W % w:
        raise ValueError(f"a {h}x{w} map does not tile {H}x{W} masks")
    if (maps < 0).any() or not torch.isfinite(maps).all():
        raise ValueError("attention maps must be finite and non-negative")
    total = maps.flatten(1).sum(1)
    if (total <= 0).any():
        raise ValueError("an attention map sums to zero")
    frac = F.avg_pool2d(masks[:, None].float(), (H // h, W // w))[:, 0]  # object share of each patch
    mass = (maps * frac).flatten(1).sum(1) / total
    return mass, masks.flatten(1).float().mean(1)


def object_preference_text(ratio: float) -> str:
    """How a CLS token's attention treats the object, for prose, from ``ratio`` = mass / area
    (:func:`attention_on_mask`; 1 = uniform): "concentrates on the object" above 1.5, "leans only
    slightly towards" above 1.1, "spread about evenly" within 0.9-1.1, and "puts less weight on the
    object than uniform attention would" below 0.9."""
    if not ratio >= 0:
        raise ValueError(f"ratio = {ratio!r}: an attention ratio (mass / area) is a number >= 0")
    if ratio > 1.5:
        return "concentrates on the object"
    if ratio > 1.1:
        return "leans only slightly towards the object"
    if ratio >= 0.9:
        return "is spread about evenly: it puts about as much weight on the object as uniform attention would"
    return "looks away from the object: it puts less weight there than uniform attention would"
