"""Frozen features and tokens from any encoder, batched and without gradients.

An *encoder* here is any callable ``images [B, C, H, W] -> features [B, D]``. ``feature_fn`` and
``token_fn`` build one from a model: the library's MAE (``.features`` / ``.encode``) or a timm
VisionTransformer (``forward_features`` / ``forward_head(pre_logits=True)``), so official checkpoints
loaded into timm work the same way.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from ._checks import check_images

Encoder = Callable[[torch.Tensor], torch.Tensor]


def token_fn(model: nn.Module) -> Encoder:
    """images [B, C, H, W] -> all tokens after the final norm [B, P + L, D] (P prefix tokens, e.g. CLS)."""
    if hasattr(model, "encode"):
        return model.encode
    if hasattr(model, "forward_features"):
        return model.forward_features
    raise ValueError(f"{type(model).__name__} has neither .encode nor .forward_features: cannot get its tokens")


class FeatureEncoder(nn.Module):
    """images [B, C, H, W] -> one vector per image [B, D]: the CLS token (``pool="cls"``) or the mean
    of the patch tokens (``pool="mean"``). Wraps the model, so .eval()/.to() reach it."""

    def __init__(self, model: nn.Module, pool: str = "cls"):
        super().__init__()
        if pool not in ("cls", "mean"):
            raise ValueError(f"pool must be 'cls' or 'mean', got {pool!r}")
        if pool == "cls" and not hasattr(model, "features") and num_prefix_tokens(model) < 1:
            raise ValueError(f"{type(model).__name__} has no CLS token (num_prefix_tokens=0); use pool='mean'")
        token_fn(model) if not hasattr(model, "features") else None  # refuse models without tokens now
        self.model, self.pool = model, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self.model, "features"):  # the library's MAE pools itself
            return self.model.features(x, pool=self.pool)
        tokens = token_fn(self.model)(x)  # [B, P + L, D]
        return tokens[:, 0] if self.pool == "cls" else tokens[:, num_prefix_tokens(self.model):].mean(dim=1)


def feature_fn(model: nn.Module, pool: str = "cls") -> FeatureEncoder:
    """The encoder ``images -> [B, D]`` of a model (see FeatureEncoder)."""
    return FeatureEncoder(model, pool)


def num_prefix_tokens(model: nn.Module) -> int:
    """Number of non-patch tokens in front of the patch tokens (1 for a CLS-only ViT)."""
    return int(getattr(model, "num_prefix_tokens", 1))


@torch.no_grad()
def extract_features(encoder: Encoder, images: torch.Tensor, batch_size: int = 256,
                     device: str | torch.device | None = None) -> torch.Tensor:
    """Apply ``encoder`` to ``images`` [N, C, H, W] in batches; returns float32 CPU features [N, ...].

    nn.Module encoders (and the module a bound method belongs to) are put in eval mode for the
    duration and restored afterwards. Non-finite features are refused.
    """
    images = check_images(images, "images")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    module = encoder if isinstance(encoder, nn.Module) else getattr(encoder, "__self__", None)
    was_training = module.training if isinstance(module, nn.Module) else None
    if isinstance(module, nn.Module):
        module.eval()
        device = device if device is not None else next(module.parameters(), torch.empty(0)).device
    try:
        chunks = [encoder(images[s:s + batch_size].to(device or images.device)).float().cpu()
                  for s in range(0, images.shape[0], batch_size)]
    finally:
        if was_training is not None:
            module.train(was_training)
    feats = torch.cat(chunks)
    if not torch.isfinite(feats).all():
        raise ValueError(f"the encoder produced non-finite features ({int((~torch.isfinite(feats)).sum())} values)")
    return feats
