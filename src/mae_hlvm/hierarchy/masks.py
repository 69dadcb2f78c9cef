"""Random masks on the theory side: an image grid masked in aligned square units.

A unit of size u covers an aligned u x u block of pixels (the paper's "patch size", the minimal
masking unit). A mask with ratio r masks whole units: the kept count is round(n_units * (1 - r))
(half to even), so the effective ratio n_masked / n_units is reported beside r, and for an even
n_units the masked counts at r and 1 - r add up to n_units (complementary effective ratios).
The training side (mae_hlvm.mae.masking) truncates instead, as MAE's int() does; the two can
differ by one unit when U(1 - r) is not whole, which is why both report the effective ratio.
"""
from __future__ import annotations

import numpy as np

__all__ = ["unit_counts", "random_unit_masks", "grid_mask_nodes"]


def _check_grid(side: int, unit: int) -> int:
    for label, value in (("side", side), ("unit", unit)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    if unit & (unit - 1):
        raise ValueError(f"mask unit {unit} is not a power of two (units are aligned 1, 2, 4, ... px blocks)")
    if side % unit:
        raise ValueError(f"mask unit {unit} does not divide the grid side {side}")
    return (side // unit) ** 2


def unit_counts(n_units: int, ratio: float) -> tuple[int, float]:
    """Masked unit count and effective ratio for ``ratio`` over ``n_units`` units.

    Raises ValueError when the rounded count masks nothing or everything (Theorem 1 needs a
    non-empty proper mask).
    """
    if not 0.0 < float(ratio) < 1.0:
        raise ValueError(f"mask ratio must lie strictly between 0 and 1, got {ratio!r}")
    n_keep = int(round(round(n_units * (1.0 - float(ratio)), 9)))  # inner round: float noise before ties
    n_mask = n_units - n_keep
    if n_mask == 0 or n_keep == 0:
        raise ValueError(f"ratio {ratio} over {n_units} units masks {n_mask} of them; a mask must hide at "
                         "least one unit and leave at least one visible (use a smaller unit or milder ratio)")
    return n_mask, n_mask / n_units


def random_unit_masks(side: int, ratio: float, unit: int, n_masks: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``n_masks`` uniform random unit masks over a ``side`` x ``side`` grid.

    Each mask hides a uniformly random set of exactly ``n_mask`` units (see :func:`unit_counts`).
    Returns (masks [n_masks, side, side] bool with True = masked, effective ratio).
    """
    n_units = _check_grid(side, unit)
    if not isinstance(n_masks, (int, np.integer)) or n_masks < 1:
        raise ValueError(f"n_masks must be a positive int, got {n_masks!r}")
    n_mask, effective = unit_counts(n_units, ratio)
    noise = rng.random((n_masks, n_units))
    # MAE's recipe (uniform noise per unit, the n_mask largest hidden), with a partial sort: O(n_units)
    hidden = np.argpartition(noise, n_units - n_mask, axis=1)[:, n_units - n_mask:]
    units = np.zeros((n_masks, n_units), dtype=bool)
    np.put_along_axis(units, hidden, True, axis=1)
    g = side // unit
    units = units.reshape(n_masks, g, g)
    masks = units.repeat(unit, axis=1).repeat(unit, axis=2)
    return masks, effective


def grid_mask_nodes(mask: np.ndarray) -> list[str]:
    """Pixel ids ``"x_{row}_{col}"`` (the :func:`~mae_hlvm.hierarchy.graphs.quadtree` naming) of a [H, W] mask."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"mask must be a 2-D boolean array, got shape {mask.shape} dtype {mask.dtype}")
    return [f"x_{r}_{c}" for r, c in zip(*np.nonzero(mask))]
