"""Monte Carlo of what Theorem 1 predicts under random masking of a quadtree hierarchy.

For every (mask unit, ratio) the sweep draws ``n_masks`` uniform random unit masks
(:func:`~mae_hlvm.hierarchy.masks.random_unit_masks`), locates c and A with
:func:`~mae_hlvm.hierarchy.quadtree_locate.locate_quadtree`, and averages:

- ``mean_level``: mean level of the nodes of c (0 = root = most abstract, depth-1 = lowest latent);
- ``size_common``: |A|, the number of latents whose noise c carries (root's included);
- ``p_in_c[..., l]``: probability that a given level-l latent is itself in c.

Standard errors are over masks (``*_se``). All arrays are indexed [unit, ratio(, level)].
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .masks import _check_grid, random_unit_masks, unit_counts
from .quadtree_locate import locate_quadtree

__all__ = ["MaskingSweep", "masking_sweep", "feasible_units", "noise_bound", "mirror_noise_text"]


@dataclass(frozen=True)
class MaskingSweep:
    """Results of :func:`masking_sweep`; arrays are [n_units, n_ratios] or [n_units, n_ratios, depth]."""

    depth: int
    units: np.ndarray
    ratios: np.ndarray
    n_masks: int
    effective_ratio: np.ndarray
    mean_level: np.ndarray
    mean_level_se: np.ndarray
    size_common: np.ndarray
    size_common_se: np.ndarray
    p_in_c: np.ndarray
    p_in_c_se: np.ndarray

    @property
    def n_latents(self) -> int:
        return (4 ** self.depth - 1) // 3

    def mirror_gap(self, stat: str = "mean_level") -> tuple[np.ndarray, np.ndarray]:
        """Compare ``stat`` at r with its value at 1 - r, for every r whose mirror is in ``ratios``.

        Returns (|difference| / combined standard error, mask of compared cells), both [units, ratios];
        each mirrored pair appears twice (at r and at 1 - r). A z-score near 1 or below is what
        sampling noise alone gives.
        """
        value, se = getattr(self, stat), getattr(self, stat + "_se")
        if value.ndim == 3:
            raise ValueError(f"mirror_gap needs a [units, ratios] statistic; {stat!r} has levels, slice it first")
        z = np.full(value.shape, np.nan)
        for j, r in enumerate(self.ratios):
            k = np.flatnonzero(np.isclose(self.ratios, 1.0 - r) & (np.arange(self.ratios.size) != j))
            if k.size:  # r = 0.5 is its own mirror: nothing to compare
                denom = np.hypot(se[:, j], se[:, k[0]])
                diff = np.abs(value[:, j] - value[:, k[0]])
                z[:, j] = np.where(denom > 0, diff / np.where(denom > 0, denom, 1.0), np.where(diff > 0, np.inf, 0.0))
        return z, ~np.isnan(z)


def noise_bound(n_comparisons: int, alpha: float = 0.05) -> float:
    """The |z| that the largest of ``n_comparisons`` standard-normal |z| scores exceeds with probability
    at most ``alpha`` (Bonferroni: valid whatever their dependence)."""
    if not isinstance(n_comparisons, (int, np.integer)) or isinstance(n_comparisons, bool) or n_comparisons < 1:
        raise ValueError(f"n_comparisons must be a positive int, got {n_comparisons!r}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return NormalDist().inv_cdf(1.0 - alpha / (2 * int(n_comparisons)))


def mirror_noise_text(z_max: float, n_comparisons: int, alpha: float = 0.05) -> str:
    """Whether the largest mirror z-score (:meth:`MaskingSweep.mirror_gap`) is within sampling noise:
    compared with :func:`noise_bound` for that many comparisons."""
    if not n_comparisons:
        return "there are no mirrored pairs of ratios to compare"
    bound = noise_bound(n_comparisons, alpha)
    level = f"{100 * alpha:g} %"
    if np.isnan(z_max):
        raise ValueError("z_max is NaN; pass the largest of the compared z-scores")
    if z_max <= bound:
        return (f"below {bound:.2f}, the value that the largest of {n_comparisons} such scores exceeds with "
                f"probability at most {level} when r and 1 - r give the same distribution (Bonferroni): "
                "within what sampling noise alone produces")
    return (f"above {bound:.2f}, the value that the largest of {n_comparisons} such scores exceeds with "
            f"probability at most {level} when r and 1 - r give the same distribution (Bonferroni): "
            "more than sampling noise alone explains, which the symmetry argument says should not happen")


def feasible_units(depth: int, ratios: Sequence[float], units: Sequence[int]) -> list[int]:
    """The units for which every ratio masks at least one unit and keeps at least one visible."""
    out = []
    for u in units:
        n_units = _check_grid(2 ** depth, int(u))
        try:
            for r in ratios:
                unit_counts(n_units, r)
        except ValueError:
            continue
        out.append(int(u))
    return out


def masking_sweep(depth: int, ratios: Sequence[float], units: Sequence[int], n_masks: int,
                  seed: int = 0, batch: int = 512) -> MaskingSweep:
    """Monte Carlo over random unit masks on a depth-``depth`` quadtree (2^depth px a side).

    Every (unit, ratio) pair must give a non-empty proper mask; an infeasible pair raises
    ValueError naming it (see :func:`feasible_units` to pick units beforehand).
    """
    if not isinstance(depth, (int, np.integer)) or not 1 <= depth <= 12:
        raise ValueError(f"depth must be an int in 1..12, got {depth!r}")
    if not isinstance(n_masks, (int, np.integer)) or n_masks < 2:
        raise ValueError(f"n_masks must be an int >= 2 (standard errors need two), got {n_masks!r}")
    ratios = np.asarray(ratios, dtype=float)
    units = np.asarray(units, dtype=int)
    if ratios.ndim != 1 or units.ndim != 1 or not ratios.size or not units.size:
        raise ValueError("ratios and units must be non-empty 1-D sequences")
    side = 2 ** depth
    for u in units:  # refuse before spending time
        n_units = _check_grid(side, int(u))
        for r in ratios:
            try:
                unit_counts(n_units, r)
            except ValueError as err:
                raise ValueError(f"unit {u}, ratio {r}: {err}") from None
    shape = (units.size, ratios.size)
    eff, lvl, lvl_se, sa, sa_se = (np.zeros(shape) for _ in range(5))
    pin, pin_se = np.zeros(shape + (depth,)), np.zeros(shape + (depth,))
    rng = np.random.default_rng(seed)
    for i, u in enumerate(units):
        for j, r in enumerate(ratios):
            levels, sizes, fracs = [], [], []
            for start in range(0, n_masks, batch):
                masks, eff[i, j] = random_unit_masks(side, float(r), int(u), min(batch, n_masks - start), rng)
                found = locate_quadtree(masks)
                levels.append(found.mean_level_c())
                sizes.append(found.size_common())
                fracs.append(found.frac_in_c())
            levels_a, sizes_a, fracs_a = np.concatenate(levels), np.concatenate(sizes), np.concatenate(fracs)
            root_n = np.sqrt(n_masks)
            lvl[i, j], lvl_se[i, j] = levels_a.mean(), levels_a.std(ddof=1) / root_n
            sa[i, j], sa_se[i, j] = sizes_a.mean(), sizes_a.std(ddof=1) / root_n
            pin[i, j], pin_se[i, j] = fracs_a.mean(0), fracs_a.std(0, ddof=1) / root_n
    return MaskingSweep(int(depth), units, ratios, int(n_masks), eff, lvl, lvl_se, sa, sa_se, pin, pin_se)
