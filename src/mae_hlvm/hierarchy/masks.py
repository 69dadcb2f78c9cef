"""Random masks on the theory side: an image grid masked in aligned square units.

A unit of size u covers an aligned u x u block of pixels (the paper's "patch size", the minimal
masking unit). A mask with ratio r masks whole units: the kept count is round(n_units * (1 - r))
(half to even), so the effective ratio n_masked / n_units is reported beside r, and for an even
n_units the masked counts at r and 1 - r add up to n_units (complementary effective ratios).
The training side (mae_hlvm.mae.masking) truncates instead, as MAE's int() does; the two can
differ by one unit when U(1 - r) is not whole, which is why both report the effective ratio.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

__all__ = ["unit_counts", "random_unit_masks", "grid_mask_nodes", "node_levels", "subtree_masks",
           "MirrorCounts", "mirror_counts"]


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


@dataclass(frozen=True)
class MirrorCounts:
    """Hidden unit counts at mirrored ratios r and 1 - r, rounded (this module) and floored (a trainer).

    ``ratios`` holds the smaller ratio r < 0.5 of each feasible pair; ``rounded[k]`` and ``floored[k]``
    are the hidden counts (at r, at 1 - r). ``skipped`` lists the pairs that mask nothing or
    everything under either count.
    """

    n_units: int
    ratios: tuple[float, ...]
    rounded: tuple[tuple[int, int], ...]
    floored: tuple[tuple[int, int], ...]
    skipped: tuple[float, ...] = ()

    def excess(self, which: str = "floored") -> np.ndarray:
        """Hidden count at r plus that at 1 - r, minus ``n_units`` (0: exact complements), per pair."""
        counts = getattr(self, which)
        return np.array([a + b - self.n_units for a, b in counts], dtype=int)

    def sentence(self, grid: str) -> str:
        """What the floored counts do to the r <-> 1 - r symmetry on ``grid`` (a description of it)."""
        m = len(self.ratios)
        if not m:
            return (f"on {grid} none of this chapter's mirrored pairs of ratios hides a non-empty proper "
                    "set of units under both counts, so there is nothing to compare")
        floor_x, round_x = self.excess("floored"), self.excess("rounded")
        n_round = int((round_x == 0).sum())
        off = np.flatnonzero(floor_x != 0)
        if not off.size:
            pairs = "the one mirrored pair" if m == 1 else f"all {m} mirrored pairs"
            return (f"on {grid} the trainer's floored counts are exact complements too, for {pairs} of "
                    f"this chapter's ratios (the rounded counts: {n_round} of {m})")
        k = int(off[0])
        r, (a, b), worst = self.ratios[k], self.floored[k], int(np.abs(floor_x).max())
        return (f"on {grid} the trainer hides {a} units at ratio {r:.3g} and {b} at {1 - r:.3g}, "
                f"{a + b} in all rather than {self.n_units}; {off.size} of the {m} mirrored pairs of "
                f"this chapter's ratios {'is' if off.size == 1 else 'are'} off like this, by at most "
                f"{worst} unit{'s' * (worst != 1)} "
                f"(the rounded counts are exact complements for {n_round} of the {m})")


def mirror_counts(n_units: int, ratios: Sequence[float],
                  kept_units: Callable[[int, float], int]) -> MirrorCounts:
    """Compare :func:`unit_counts` (rounded) with ``kept_units(n_units, r)`` (the trainer's kept count,
    e.g. ``mae_hlvm.mae.masking.num_kept_units``, floor(U (1 - r))) at each r and its mirror 1 - r.

    Every ratio other than 0.5 gives one pair (r, 1 - r) with r < 0.5, whether or not 1 - r is among
    ``ratios``; pairs either count refuses (a ValueError: nothing or everything hidden) are skipped.
    """
    if not isinstance(n_units, (int, np.integer)) or isinstance(n_units, bool) or n_units < 2:
        raise ValueError(f"n_units must be an int >= 2, got {n_units!r}")
    lows = sorted({round(min(float(r), 1.0 - float(r)), 9) for r in ratios
                   if not np.isclose(float(r), 0.5)})
    kept, rounded, floored, skipped = [], [], [], []
    for r in lows:
        try:
            rnd = (unit_counts(n_units, r)[0], unit_counts(n_units, 1.0 - r)[0])
            flo = (n_units - int(kept_units(n_units, r)), n_units - int(kept_units(n_units, 1.0 - r)))
        except ValueError:
            skipped.append(r)
            continue
        kept.append(r)
        rounded.append(rnd)
        floored.append(flo)
    return MirrorCounts(int(n_units), tuple(kept), tuple(rounded), tuple(floored), tuple(skipped))


def random_unit_masks(side: int, ratio: float, unit: int, n_masks: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """``n_masks`` uniform random unit masks over a ``side`` x ``side`` grid.

    Each mask hides a uniformly random set of exactly ``n_mask`` units (see :func:`unit_counts`).
    Returns (masks [n_masks, side, side] bool with True = masked, effective ratio).
    """
    n_units = _check_grid(side, unit)
    if not isinstance(n_masks, (int, np.integer)) or n_masks < 1:
        raise ValueError(f"n_masks must be a positive int, got {n_masks!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
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


def node_levels(graph: nx.DiGraph) -> dict:
    """Each node's level: its ``level`` attribute where every node has one (the book's graphs do),
    else its depth, the length of the longest path from a root (roots are level 0)."""
    if all("level" in d for _, d in graph.nodes(data=True)):
        return {v: int(d["level"]) for v, d in graph.nodes(data=True)}
    depth: dict = {}
    for v in nx.topological_sort(graph):
        depth[v] = max((depth[u] + 1 for u in graph.predecessors(v)), default=0)
    return depth


def subtree_masks(graph: nx.DiGraph, level: int, n_masks: int, rng: np.random.Generator,
                  ratio: float | None = None) -> tuple[np.ndarray, float]:
    """Structure-aware masks (Section 3.6, suggestion 2): hide the observed descendants of latents
    at ``level`` instead of random units.

    ``ratio=None``: each mask hides the descendants of one latent, drawn uniformly among the level's
    latents whose descendants leave an observable visible. In a tree, Algorithm 1 then puts c at that
    latent's parent, one level up, whatever the latent (``mae_hlvm.hierarchy.locate`` says so case by
    case). ``ratio=r``: the level's latents are taken in a random order and their descendant sets
    hidden whole while the hidden count stays within the count random masking hides
    (:func:`unit_counts` over the observables); the next set is hidden in part, at random, so that
    the count is exact and at most one latent's descendants are split.

    Returns (masks [n_masks, P] bool over ``observables(graph)`` in the graph's order, True = hidden;
    the effective ratio, the mean hidden share).
    """
    from .graphs import observables

    levels = node_levels(graph)
    obs = observables(graph)
    where = {v: i for i, v in enumerate(obs)}
    P = len(obs)
    if not isinstance(n_masks, (int, np.integer)) or isinstance(n_masks, bool) or n_masks < 1:
        raise ValueError(f"n_masks must be a positive int, got {n_masks!r}")
    at_level = [v for v in graph if levels[v] == level and not graph.nodes[v].get("observed", False)]
    blocks = [np.array(sorted(where[d] for d in nx.descendants(graph, v) if d in where)) for v in at_level]
    usable = [b for b in blocks if 0 < len(b) < P]
    if not usable:
        found = sorted({lv for v, lv in levels.items() if not graph.nodes[v].get("observed", False)})
        raise ValueError(f"level {level!r} has no latent whose observed descendants are a proper, non-empty "
                         f"part of the {P} observables; latent levels here: {found}")
    masks = np.zeros((n_masks, P), dtype=bool)
    if ratio is None:
        for i, k in enumerate(rng.integers(len(usable), size=n_masks)):
            masks[i, usable[k]] = True
        return masks, float(masks.mean())
    n_hide, _ = unit_counts(P, ratio)
    for i in range(n_masks):
        for k in rng.permutation(len(blocks)):
            free = blocks[k][~masks[i, blocks[k]]]  # a DAG's descendant sets may overlap
            left = n_hide - int(masks[i].sum())
            if len(free) <= left:
                masks[i, free] = True
            else:  # the last set: a random part of it makes the count exact
                masks[i, rng.choice(free, size=left, replace=False)] = True
            if masks[i].sum() == n_hide:
                break
    return masks, float(masks.mean())
