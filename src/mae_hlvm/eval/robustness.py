"""Robustness (Table 1, right side, of Kong et al.): a probe trained on the clean training set, applied
unchanged to shifted test sets.

At CPU scale the shifted sets are the synthetic variants of ``mae_hlvm.data.shapes`` (same classes).
At paper scale: ImageNet-v2, -Sketch and ObjectNet use the 1000-way logits (ObjectNet's own protocol
maps to its 113 overlapping classes; give that as a class subset too), while ImageNet-R and -A cover
200 classes each: their logits are restricted to those 200 columns before the argmax
(``class_subset``), the standard protocol of Hendrycks et al. The subset must be given by the user
(e.g. with ``subset_from_wnids``), since nothing can be downloaded here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ._checks import Array, check_features, check_labels
from .linear_probe import Probe


def subset_accuracy(logits: Array, labels: Array, class_subset: Sequence[int] | None = None) -> float:
    """Top-1 accuracy with the argmax taken over ``class_subset`` columns only (all when None).

    ``labels`` are indices of the full logit space; each must belong to the subset.
    """
    logits = check_features(logits, "logits")
    y = check_labels(labels, logits.shape[0], num_classes=logits.shape[1])
    if class_subset is None:
        return float((logits.argmax(axis=1) == y).mean())
    subset = np.asarray(list(class_subset), dtype=np.int64)
    if subset.size == 0:
        raise ValueError("class_subset is empty")
    if np.unique(subset).size != subset.size:
        raise ValueError(f"class_subset has repeated classes: {sorted(subset.tolist())}")
    if subset.min() < 0 or subset.max() >= logits.shape[1]:
        raise ValueError(f"class_subset contains class {int(subset.max() if subset.max() >= logits.shape[1] else subset.min())}, "
                         f"outside the probe's [0, {logits.shape[1]})")
    outside = sorted(set(np.unique(y).tolist()) - set(subset.tolist()))
    if outside:
        raise ValueError(f"labels contain class(es) {outside} that are not in class_subset")
    pred = subset[logits[:, subset].argmax(axis=1)]
    return float((pred == y).mean())


def subset_from_wnids(subset_wnids: Sequence[str], class_wnids: Sequence[str]) -> list[int]:
    """Logit indices of ``subset_wnids`` (e.g. ImageNet-R's 200) in the model's class order ``class_wnids``."""
    index = {w: i for i, w in enumerate(class_wnids)}
    if len(index) != len(class_wnids):
        raise ValueError("class_wnids has repeated entries")
    unknown = [w for w in subset_wnids if w not in index]
    if unknown:
        raise ValueError(f"wnid(s) {unknown[:5]}{' ...' if len(unknown) > 5 else ''} are not among the model's classes")
    return [index[w] for w in subset_wnids]


@dataclass(frozen=True)
class ShiftedSet:
    """Features [N, D] and labels [N] of one evaluation set; ``class_subset`` restricts the argmax."""

    features: object
    labels: object
    class_subset: Sequence[int] | None = None


def evaluate_robustness(probe: Probe, sets: Mapping[str, ShiftedSet]) -> dict[str, float]:
    """Top-1 accuracy of ``probe`` on every named set, in the given order: {name: accuracy in [0, 1]}."""
    if not sets:
        raise ValueError("no evaluation sets given")
    out = {}
    for name, s in sets.items():
        try:
            out[name] = subset_accuracy(probe.logits(s.features), s.labels, s.class_subset)
        except ValueError as err:
            raise ValueError(f"set {name!r}: {err}") from None
    return out
