"""Object masks: hide the known object first (Section 3.6, suggestion 2, on the shapes images).

Kong et al. suggest masks designed from the latent structure of the data. The shapes renderer knows
it: the object's pixels are the descendants of the region latents (silhouette, pose, part) and of the
object's own colour and texture, the background's pixels are not. An object mask removes, at the
same ratio as random masking, the patches of the object first, in a random order, and then random
background patches until exactly ``L - n_keep`` patches are removed (``num_kept_units``, as random
masking). When the object covers more patches than are removed, a random part of it is removed and
all of the background stays.

Which patches are the object's: those with more than ``min_share`` of their pixels on it. The
default, 0, takes every patch the object touches, so that the whole object is hidden and nothing of
its colour or texture stays visible, which is the case Algorithm 1's prediction is about; a majority
rule (0.5) leaves the thin edge patches visible, and on the shapes images that leaves part of the
object visible in about nine images of ten (``experiments.section36.object_mask_coverage``).

The training loop gets the object as one extra image channel (1 = object pixel) after the image
channels, so that augmentation (flip, random resized crop) moves it with the image; it is split off
before the model sees the batch.
"""
from __future__ import annotations

import torch

from .masking import num_kept_units


def object_patches(objects: torch.Tensor, patch: int, min_share: float = 0.0) -> torch.Tensor:
    """Which patches [N, L] (bool) are object patches, for object pixel masks [N, H, W] (bool or [0, 1]
    float): those with more than ``min_share`` (in [0, 1)) of their pixels on the object; 0 (the
    default) = every patch the object touches."""
    if not 0.0 <= min_share < 1.0:
        raise ValueError(f"min_share = {min_share!r}: must lie in [0, 1) (0: every patch the object touches)")
    if objects.ndim != 3:
        raise ValueError(f"object masks must be [N, H, W], got shape {tuple(objects.shape)}")
    n, h, w = objects.shape
    if h % patch or w % patch:
        raise ValueError(f"object masks of {h} x {w} px are not divisible by the patch {patch} px")
    share = objects.float().reshape(n, h // patch, patch, w // patch, patch).mean(dim=(2, 4))  # [N, h, w]
    return share.reshape(n, -1) > min_share


def object_mask(is_object: torch.Tensor, n_remove: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask [N, L] (True = removed) removing exactly ``n_remove`` patches of each image: its
    object patches ``is_object`` [N, L] first, in a random order, then random background patches."""
    n, L = is_object.shape
    if not 0 < n_remove < L:
        raise ValueError(f"n_remove {n_remove} must lie in 1..{L - 1} (some patches removed, some kept)")
    # object patches score in [0, 1), background in [1, 2): the n_remove lowest scores are removed
    score = torch.rand(n, L, generator=generator) + (~is_object.cpu()).float()
    removed = score.argsort(dim=1)[:, :n_remove]
    return torch.zeros(n, L, dtype=torch.bool).scatter_(1, removed, True)


def object_masks(objects: torch.Tensor, patch: int, mask_ratio: float,
                 generator: torch.Generator | None = None, min_share: float = 0.0) -> torch.Tensor:
    """Object masks [N, L] for object pixel masks [N, H, W] at ``mask_ratio``, removing as many patches
    as random masking at that ratio in units of one patch (object patches: :func:`object_patches`)."""
    is_object = object_patches(objects, patch, min_share)
    L = is_object.shape[1]
    return object_mask(is_object, L - num_kept_units(L, mask_ratio), generator)
