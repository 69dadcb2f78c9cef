"""Superpixel masks: hide whole regions of similar pixels instead of random units (Section 3.6).

Kong et al. suggest designing masks from the latent structure of the data instead of at random. On
real images the structure is unknown; superpixels (scikit-image's SLIC) are a cheap estimate of it:
regions of one colour and texture, which on an object-centred image tend to follow object parts.

A superpixel mask is drawn per image: each patch takes the superpixel that covers most of its pixels;
superpixels are taken in a random order and hidden whole while they fit, and the next one is hidden
in part (random patches of it), so that exactly ``L - n_keep`` patches are removed, the same count
as random masking at the same ratio (``num_kept_units``). The ratio is therefore exact in whole
patches, and at most one superpixel per image is split.
"""
from __future__ import annotations

import numpy as np
import torch

from .masking import num_kept_units


def patch_segments(images: torch.Tensor, patch: int, n_segments: int = 16) -> torch.Tensor:
    """Superpixel label of every patch [N, L] (int64) for images [N, C, H, W] in [0, 1].

    SLIC runs in Lab colour on 3-channel images (compactness 10) and on grey values for 1-channel
    ones (compactness 0.1, for values in [0, 1]); a patch takes the label most of its pixels have."""
    from skimage.segmentation import slic

    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be [N, 1 or 3, H, W], got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError(f"image size {h} x {w} px is not divisible by the patch {patch} px")
    if n_segments < 2:
        raise ValueError(f"n_segments {n_segments} must be >= 2 (one superpixel cannot be half hidden)")
    arr = images.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    labels = np.stack([
        slic(im, n_segments=n_segments, compactness=10.0, start_label=0) if c == 3 else
        slic(im[..., 0], n_segments=n_segments, compactness=0.1, start_label=0, channel_axis=None)
        for im in arr])                                                                   # [N, H, W]
    per_patch = torch.from_numpy(labels).reshape(n, h // patch, patch, w // patch, patch)
    per_patch = per_patch.permute(0, 1, 3, 2, 4).reshape(n, (h // patch) * (w // patch), patch * patch)
    return per_patch.mode(dim=-1).values.long()                                           # [N, L]


def superpixel_mask(segments: torch.Tensor, n_remove: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean mask [N, L] (True = removed) hiding whole superpixels of ``segments`` [N, L] in a
    random order, then part of one more, so that exactly ``n_remove`` patches of each image go."""
    n, L = segments.shape
    if not 0 < n_remove < L:
        raise ValueError(f"n_remove {n_remove} must lie in 1..{L - 1} (some patches removed, some kept)")
    mask = torch.zeros(n, L, dtype=torch.bool)
    for i in range(n):
        ids = segments[i].unique()
        order = ids[torch.randperm(len(ids), generator=generator)]
        left = n_remove
        for sid in order.tolist():
            where = (segments[i] == sid).nonzero().flatten()
            if len(where) <= left:
                mask[i, where] = True
                left -= len(where)
            else:  # the last superpixel: a random part of it fills the count exactly
                mask[i, where[torch.randperm(len(where), generator=generator)[:left]]] = True
                left = 0
            if left == 0:
                break
    return mask


def superpixel_masks(images: torch.Tensor, patch: int, mask_ratio: float, n_segments: int = 16,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Superpixel masks [N, L] for images [N, C, H, W] at ``mask_ratio``, removing exactly as many
    patches as random masking at that ratio in units of one patch."""
    segments = patch_segments(images, patch, n_segments)
    L = segments.shape[1]
    return superpixel_mask(segments, L - num_kept_units(L, mask_ratio), generator)
