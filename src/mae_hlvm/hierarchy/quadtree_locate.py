"""Algorithms 1/2 on a quadtree, vectorised over a batch of image masks (no graph needed).

In the quadtree of :func:`~mae_hlvm.hierarchy.graphs.quadtree` the latent z{l}_{i}_{j} is an
ancestor of exactly the pixels of its block, so it is in A = An[m] ∩ An[m^c] iff its block is
*mixed* (holds masked and visible pixels), and it is in c iff it is mixed and none of its four
children is. Block counts come from summing 2 x 2 neighbourhoods level by level.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QuadtreeLocated", "locate_quadtree"]


@dataclass(frozen=True)
class QuadtreeLocated:
    """Per-level answers for a batch of B masks on a depth-d quadtree.

    common[l], c[l]: [B, 2^l, 2^l] bool for latent levels l = 0 (root) .. d-1.
    """

    common: list[np.ndarray]
    c: list[np.ndarray]

    @property
    def depth(self) -> int:
        return len(self.c)

    def size_common(self) -> np.ndarray:
        """|A| per mask. [B]"""
        return sum(a.sum((1, 2)) for a in self.common)

    def size_c(self) -> np.ndarray:
        """|c| per mask. [B]"""
        return sum(c.sum((1, 2)) for c in self.c)

    def mean_level_c(self) -> np.ndarray:
        """Mean level of the nodes of c per mask (0 = root). [B]"""
        return sum(l * c.sum((1, 2)) for l, c in enumerate(self.c)) / self.size_c()

    def frac_in_c(self) -> np.ndarray:
        """Fraction of level-l latents that are in c, per mask and level. [B, d]"""
        return np.stack([c.mean((1, 2)) for c in self.c], axis=1)


def _pool(x: np.ndarray, op: np.ufunc) -> np.ndarray:
    """Combine each aligned 2 x 2 block with ``op``: [B, 2s, 2s] -> [B, s, s] (slices beat .any/.all)."""
    return op(op(x[:, 0::2, 0::2], x[:, 0::2, 1::2]), op(x[:, 1::2, 0::2], x[:, 1::2, 1::2]))


def locate_quadtree(masks: np.ndarray) -> QuadtreeLocated:
    """c and A for masks [B, S, S] (or [S, S]) on the quadtree with S = 2^depth pixels a side."""
    masks = np.asarray(masks)
    if masks.dtype != bool:
        raise ValueError(f"masks must be boolean, got dtype {masks.dtype}")
    if masks.ndim == 2:
        masks = masks[None]
    if masks.ndim != 3 or masks.shape[1] != masks.shape[2]:
        raise ValueError(f"masks must have shape [B, S, S], got {masks.shape}")
    side = masks.shape[1]
    depth = side.bit_length() - 1
    if side < 2 or side != 2 ** depth:
        raise ValueError(f"grid side {side} is not a power of two >= 2; a quadtree needs one")
    n = masks.sum((1, 2))
    bad = np.nonzero((n == 0) | (n == side * side))[0]
    if bad.size:
        raise ValueError(f"mask {int(bad[0])} masks {int(n[bad[0]])} of {side * side} pixels; "
                         "a mask must be a non-empty proper subset of the pixels")
    any_m, all_m = masks, masks  # per block: does it hold a masked pixel / only masked pixels?
    common: list[np.ndarray] = [None] * depth  # type: ignore[list-item]
    c: list[np.ndarray] = [None] * depth  # type: ignore[list-item]
    child_mixed = None
    for level in range(depth - 1, -1, -1):
        any_m, all_m = _pool(any_m, np.logical_or), _pool(all_m, np.logical_and)
        mixed = any_m & ~all_m
        common[level] = mixed
        c[level] = mixed if child_mixed is None else mixed & ~_pool(child_mixed, np.logical_or)
        child_mixed = mixed
    return QuadtreeLocated(common, c)
