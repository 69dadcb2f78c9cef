"""Input checks shared by the evaluation modules: each raises :class:`~mae_hlvm.data.errors.DataError`
(a ValueError) naming the value and the rule."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from ..data.errors import DataError

Array = np.ndarray | torch.Tensor  # what the metrics take: a numpy array or a torch tensor


def check_images(images: Any, name: str = "images") -> torch.Tensor:
    """A non-empty, finite, floating [N, C, H, W] tensor (numpy arrays are converted)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, torch.Tensor):
        raise DataError(f"{name} must be a torch.Tensor or numpy array of shape [N, C, H, W], got {type(images).__name__}")
    if images.ndim != 4:
        raise DataError(f"{name} must have shape [N, C, H, W], got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DataError(f"{name} is empty (shape {tuple(images.shape)}): need at least one image")
    if not images.is_floating_point():
        raise DataError(f"{name} must be floating point (values in [0, data_range]), got dtype {images.dtype}")
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).sum())
        raise DataError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return images


def check_range(images: torch.Tensor, data_range: float, name: str = "images") -> None:
    """Every value must lie in [0, data_range] (reconstructions should be clamped by the caller)."""
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real) or not 0 < data_range < float("inf"):
        raise DataError(f"data_range must be a positive finite number, got {data_range!r}")
    lo, hi = float(images.min()), float(images.max())
    if lo < 0 or hi > data_range:
        raise DataError(
            f"{name} has values in [{lo:.4g}, {hi:.4g}], outside [0, {data_range}]: "
            f"rescale or clamp (e.g. recon.clamp(0, {data_range})) before scoring"
        )


def check_features(features: Any, name: str = "features") -> np.ndarray:
    """A non-empty finite float array [N, D] (torch tensors are moved to the CPU)."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    features = np.asarray(features)
    if features.ndim != 2:
        raise DataError(f"{name} must have shape [N, D], got shape {features.shape}")
    if features.shape[0] == 0 or features.shape[1] == 0:
        raise DataError(f"{name} is empty (shape {features.shape}): need at least one sample and one dimension")
    if not np.issubdtype(features.dtype, np.number):
        raise DataError(f"{name} must be numeric, got dtype {features.dtype}")
    features = features.astype(np.float64 if features.dtype == np.float64 else np.float32, copy=False)
    if not np.isfinite(features).all():
        rows = np.unique(np.nonzero(~np.isfinite(features))[0])
        raise DataError(f"{name} contains NaN or inf in {rows.size} row(s), first at row {int(rows[0])}")
    return features


def check_labels(labels: Any, n: int, name: str = "labels", num_classes: int | None = None) -> np.ndarray:
    """Integer class indices [n], each in [0, num_classes) when num_classes is given."""
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise DataError(f"{name} must have shape [{n}] to match the features, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name} must be integer class indices, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise DataError(f"{name} contains negative class index {int(labels.min())}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise DataError(f"{name} contains class index {int(labels.max())}, outside [0, {num_classes})")
    return labels.astype(np.int64, copy=False)
