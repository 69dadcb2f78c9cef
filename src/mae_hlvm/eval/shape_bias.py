"""Shape bias (Table 2 of Kong et al.), after Geirhos et al. (2019).

On cue-conflict images (the shape of one class, the texture of another),

    shape bias = (# decisions = shape class) / (# decisions = shape class or texture class),

counting only images whose shape and texture classes differ; decisions matching neither are left out
of both counts (they are reported, not hidden).

At paper scale a 1000-way ImageNet classifier decides among Geirhos's 16 categories by averaging its
softmax probabilities over the ImageNet classes of each category (their default aggregation, the
mean). That wnid -> category mapping cannot be downloaded here; give it as a text file, one
``<wnid> <category>`` pair per line (whitespace-separated, ``#`` starts a comment, ImageNet classes
in no category are simply absent), e.g.::

    n02084071 dog
    n02085620 dog
    n02690373 airplane

together with the model's class order as a list of 1000 wnids (``class_wnids``; for torchvision/timm
ImageNet models that is the sorted list of the 1000 training wnids).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..data.folders import GEIRHOS_CATEGORIES  # the cue-conflict images' 16 categories, defined with them
from ._checks import Array, check_features, check_labels



@dataclass(frozen=True)
class ShapeBias:
    """Shape bias and the counts behind it (nan when no decision matched either cue)."""

    shape_bias: float
    shape_decisions: int
    texture_decisions: int
    other_decisions: int
    excluded_same_class: int  # images whose shape and texture class coincide (not cue conflicts)

    @property
    def n(self) -> int:
        return self.shape_decisions + self.texture_decisions + self.other_decisions


def shape_bias(predictions: Array, shape_labels: Array, texture_labels: Array) -> ShapeBias:
    """Geirhos's shape bias from predicted classes [N] and the shape and texture classes [N]."""
    pred = np.asarray(predictions.detach().cpu() if hasattr(predictions, "detach") else predictions)
    if pred.ndim != 1 or pred.size == 0:
        raise ValueError(f"predictions must be a non-empty 1-D array of classes, got shape {pred.shape}")
    pred = check_labels(pred, pred.size, "predictions")
    shape = check_labels(shape_labels, pred.size, "shape_labels")
    texture = check_labels(texture_labels, pred.size, "texture_labels")
    conflict = shape != texture
    if not conflict.any():
        raise ValueError("no cue-conflict image: every shape label equals its texture label")
    p, s, t = pred[conflict], shape[conflict], texture[conflict]
    n_shape, n_texture = int((p == s).sum()), int((p == t).sum())
    bias = n_shape / (n_shape + n_texture) if n_shape + n_texture else float("nan")
    return ShapeBias(bias, n_shape, n_texture, int(conflict.sum()) - n_shape - n_texture, int((~conflict).sum()))


def load_category_mapping(path: str | Path) -> dict[str, list[str]]:
    """Read a ``<wnid> <category>`` file into {category: [wnid, ...]} (order of first appearance)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"category mapping file {path} does not exist")
    mapping: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{lineno}: expected '<wnid> <category>', got {raw!r}")
        wnid, cat = parts
        if wnid in seen:
            raise ValueError(f"{path}:{lineno}: wnid {wnid} is mapped twice ({seen[wnid]} and {cat})")
        seen[wnid] = cat
        mapping.setdefault(cat, []).append(wnid)
    if not mapping:
        raise ValueError(f"category mapping file {path} has no '<wnid> <category>' line")
    return mapping


def category_indices(mapping: Mapping[str, Sequence[str]], class_wnids: Sequence[str]) -> dict[str, list[int]]:
    """{category: logit indices} from {category: wnids} and the model's class order."""
    index = {w: i for i, w in enumerate(class_wnids)}
    if len(index) != len(class_wnids):
        raise ValueError("class_wnids has repeated entries")
    out = {}
    for cat, wnids in mapping.items():
        unknown = [w for w in wnids if w not in index]
        if unknown:
            raise ValueError(f"category {cat!r} lists wnid(s) {unknown[:5]} that are not among the model's classes")
        if not wnids:
            raise ValueError(f"category {cat!r} has no ImageNet class")
        out[cat] = [index[w] for w in wnids]
    return out


def aggregate_probabilities(logits: Array, categories: Mapping[str, Sequence[int]]) -> tuple[np.ndarray, list[str]]:
    """Softmax over all classes, then the mean probability of each category's classes: ([N, K], names)."""
    z = check_features(logits, "logits").astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    names = list(categories)
    for cat in names:
        idx = np.asarray(categories[cat])
        if idx.size == 0 or idx.min() < 0 or idx.max() >= prob.shape[1]:
            raise ValueError(f"category {cat!r} has indices outside [0, {prob.shape[1]}) or none")
    return np.stack([prob[:, np.asarray(categories[c])].mean(axis=1) for c in names], axis=1), names


def category_decisions(logits: Array, categories: Mapping[str, Sequence[int]]) -> np.ndarray:
    """Index (into ``list(categories)``) of the category with the highest mean probability: [N]."""
    agg, _ = aggregate_probabilities(logits, categories)
    return agg.argmax(axis=1)
