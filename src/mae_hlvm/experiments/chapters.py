"""Parameters of the chapters whose computations are short library calls in the notebook itself
(setup, theory, data): one frozen dataclass each, the only definition of their knobs.

The defaults are the ``default`` profile; ``notebooks/profiles/<chapter>.yaml`` lists what the
``smoke`` and ``paper`` profiles change.
"""
from __future__ import annotations

from dataclasses import dataclass

from .params import Params, knob

_RATIOS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def _positive(p: Params, *names: str) -> None:
    for name in names:
        p._require(getattr(p, name) >= 1, name, "must be >= 1")


@dataclass(frozen=True)
class SetupParams(Params):
    """Chapter 01: the machine and its measured matmul throughput."""

    matmul_sizes: tuple[int, ...] = knob((128, 256, 512, 1024, 2048), "square matmul sizes timed")
    seed: int = knob(0, "seed")

    def check(self) -> None:
        self._require(len(self.matmul_sizes) > 0 and min(self.matmul_sizes) >= 1, "matmul_sizes",
                      "must list at least one size >= 1")


@dataclass(frozen=True)
class HierarchyParams(Params):
    """Chapter 02: the hierarchical latent graphs drawn."""

    quadtree_depth: int = knob(3, "pixels per side of the image hierarchy: 2**quadtree_depth")
    kary_depth: int = knob(2, "depth of the one-row k-ary tree example")
    kary_branching: int = knob(3, "children per latent in that example")

    def check(self) -> None:
        _positive(self, "quadtree_depth", "kary_depth")
        self._require(self.kary_branching >= 2, "kary_branching", "must be >= 2")


@dataclass(frozen=True)
class LocatingParams(Params):
    """Chapter 03: Algorithm 1 on quadtrees and random DAGs."""

    quadtree_depth: int = knob(5, "image side 2**quadtree_depth pixels for the quadtree pictures")
    mask_ratio: float = knob(0.75, "ratio of the random quadtree masks")
    mask_units: tuple[int, ...] = knob((1, 4), "mask units (px) of the random quadtree masks, one picture each")
    n_random_dags: int = knob(500, "random small DAGs checked against the brute force")
    seed: int = knob(0, "seed")

    def check(self) -> None:
        _positive(self, "quadtree_depth", "n_random_dags")
        self._require(0 < self.mask_ratio < 1, "mask_ratio", "must lie in (0, 1)")
        self._require(all(u >= 1 and u & (u - 1) == 0 for u in self.mask_units), "mask_units",
                      "must be powers of two (aligned quadtree blocks)")


@dataclass(frozen=True)
class MaskingPredictionParams(Params):
    """Chapter 04: the Monte Carlo of where c sits under random masking."""

    depth: int = knob(6, "quadtree depth: images of 2**depth x 2**depth pixels")
    ratios: tuple[float, ...] = knob(_RATIOS, "masking ratios")
    units: tuple[int, ...] = knob((1, 2, 4, 8, 16), "mask units (px): aligned square blocks")
    n_masks: int = knob(2000, "random masks per (unit, ratio)")
    seed: int = knob(0, "seed")
    timing_depths: tuple[int, ...] = knob((4, 5, 6, 7, 8), "quadtree depths timed live in this chapter")

    def check(self) -> None:
        _positive(self, "depth", "n_masks")
        self._require(all(0 < r < 1 for r in self.ratios), "ratios", "must lie in (0, 1)")
        self._require(all(u >= 1 and u & (u - 1) == 0 and u <= 2 ** self.depth for u in self.units), "units",
                      f"must be powers of two no larger than the image side {2 ** self.depth}")


@dataclass(frozen=True)
class DataParams(Params):
    """Chapter 05: the datasets, their statistics and loading speed; roots of the paper's real sets."""

    seed: int = knob(0, "seed")
    quadtree_depth: int = knob(3, "vector data: a quadtree over a 2**depth x 2**depth grid of patches")
    n_vectors: int = knob(100_000, "vector samples drawn (and timed)")
    n_images: int = knob(4096, "images rendered per variant, for the statistics and the timing")
    image_size: int = knob(32, "side of the rendered images, pixels")
    n_show: int = knob(10, "images shown per row")
    fashion_root: str = knob("", "empty: $FASHION_MNIST_ROOT, else /usr/share/datasets/fashion-mnist")
    imagenet_root: str = knob("", "holds train/<wnid>/ and val/<wnid>/ (empty: not available)")
    imagenet_v2_root: str = knob("", "<0..999>/")
    imagenet_r_root: str = knob("", "<wnid>/ (200 classes)")
    imagenet_a_root: str = knob("", "<wnid>/ (200 classes)")
    imagenet_sketch_root: str = knob("", "<wnid>/ (1000 classes)")
    objectnet_root: str = knob("", "objectnet-1.0/images/<class>/")
    objectnet_mapping: str = knob("", "JSON {objectnet folder: [ImageNet indices]}")
    cue_conflict_root: str = knob("", "<category>/<shape><i>-<texture><j>.png")

    def check(self) -> None:
        _positive(self, "quadtree_depth", "n_vectors", "n_images", "image_size", "n_show")
