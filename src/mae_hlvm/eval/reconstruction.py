"""Reconstruction quality (Figure 5 of Kong et al.): SSIM, FSIM, PSNR and MSE, batched on a device.

Where each number comes from:

- **SSIM**: a torch port of ``skimage.metrics.structural_similarity`` (same windows, constants and
  cropping; tests check agreement with scikit-image). Default ``gaussian=True`` is Wang et al.'s
  setting (Gaussian window, sigma 1.5, population covariance); ``gaussian=False`` is scikit-image's
  default (7x7 uniform window, sample covariance). Colour images: mean over channels, as
  scikit-image does with ``channel_axis``.
- **FSIM**: ``piq.fsim`` (reference implementation; FSIMc, the chromatic version, on RGB input).
- **PSNR**, **MSE**: per image over all of C, H, W, as ``skimage.metrics.peak_signal_noise_ratio`` and
  ``mean_squared_error``. Identical images have PSNR = inf, as in scikit-image.

All four are computed per image; a dataset score is the mean over images. Every public function
checks its images (floating point, finite, same shape, within [0, data_range]) and raises
:class:`~mae_hlvm.data.errors.DataError` naming what it refuses: integer images, for instance, would
otherwise be scored as if their data range were 1.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.errors import DataError
from ._checks import check_images, check_range

METRICS: tuple[str, ...] = ("ssim", "fsim", "psnr", "mse")


def _gaussian_kernel(sigma: float, truncate: float) -> torch.Tensor:
    """1-D Gaussian weights as scipy.ndimage.gaussian_filter builds them: radius int(truncate*sigma+0.5)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _valid_filter(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable 2-D filter of x [B, 1, H, W] keeping only positions where the window fits.

    scikit-image filters with padding and then crops (win-1)/2 pixels per side, which leaves exactly
    the positions whose window lies inside the image, so a 'valid' convolution gives the same values.
    """
    b, _, h, w = x.shape
    k, r = kernel.to(x), kernel.numel()
    x = x.reshape(1, b, h, w)  # one depthwise (grouped) conv over all maps: faster on CPU than a batch of 1-ch maps
    x = F.conv2d(x, k.view(1, 1, 1, r).expand(b, 1, 1, r), groups=b)
    x = F.conv2d(x, k.view(1, 1, r, 1).expand(b, 1, r, 1), groups=b)
    return x.reshape(b, 1, h - r + 1, w - r + 1)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, gaussian: bool = True,
         win_size: int = 7, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Per-image SSIM of x, y [N, C, H, W] in [0, data_range] -> [N] (scikit-image's algorithm).

    ``gaussian`` (the default, Wang et al.'s weighting) sets the window's width from ``sigma``
    (2 * int(3.5 * sigma + 0.5) + 1 px: 11 px at 1.5) and ignores ``win_size``, exactly as scikit-image's
    ``gaussian_weights=True`` does; ``win_size`` is the width of the uniform window (gaussian=False)."""
    x, y = _check_pair(x, y, data_range, ("x", "y"), any_channels=True)
    for name, value in (("sigma", sigma), ("k1", k1), ("k2", k2)):
        if not (isinstance(value, (int, float)) and 0 < value < float("inf")):
            raise ValueError(f"SSIM {name} must be a positive finite number, got {value!r}")
    return _ssim(x, y, data_range, gaussian, win_size, sigma, k1, k2)


def _ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, gaussian: bool = True,
          win_size: int = 7, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    n, c, h, w = x.shape
    if gaussian:
        kernel = _gaussian_kernel(sigma, truncate=3.5)
        cov_norm = 1.0  # Wang et al.: population covariance
    else:
        if win_size % 2 != 1 or win_size < 3:
            raise ValueError(f"win_size must be an odd integer >= 3, got {win_size}")
        kernel = torch.full((win_size,), 1.0 / win_size, dtype=torch.float64)
        np_ = win_size ** 2
        cov_norm = np_ / (np_ - 1)  # scikit-image default: sample covariance
    if min(h, w) < kernel.numel():
        raise ValueError(f"images of size {h}x{w} are smaller than the SSIM window ({kernel.numel()} px)")
    xs, ys = x.reshape(n * c, 1, h, w), y.reshape(n * c, 1, h, w)
    stats = _valid_filter(torch.cat([xs, ys, xs * xs, ys * ys, xs * ys]), kernel).split(n * c)
    ux, uy, uxx, uyy, uxy = stats
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))  # [N*C, 1, h', w']
    return s.reshape(n, c, -1).mean(dim=(1, 2))


def mse(x: torch.Tensor, y: torch.Tensor, data_range: float | None = None) -> torch.Tensor:
    """Per-image mean squared error over C, H, W: [N]. ``data_range``, when given, is checked too."""
    x, y = _check_pair(x, y, data_range, ("x", "y"), any_channels=True)
    return _mse(x, y)


def _mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).pow(2).flatten(1).mean(dim=1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image PSNR in dB, 10 log10(data_range^2 / MSE): [N] (inf where x == y)."""
    x, y = _check_pair(x, y, data_range, ("x", "y"), any_channels=True)
    return _psnr(x, y, data_range)


def _psnr(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    return 10 * torch.log10(data_range ** 2 / _mse(x, y))


def fsim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image FSIM (FSIMc for 3 channels) from piq: [N]."""
    x, y = _check_pair(x, y, data_range, ("x", "y"))
    return _fsim(x, y, data_range)


def _fsim(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    import piq

    return piq.fsim(x, y, data_range=data_range, reduction="none", chromatic=x.shape[1] == 3)


_FNS: dict[str, Callable[..., torch.Tensor]] = {  # on checked batches
    "ssim": lambda x, y, r: _ssim(x, y, r),
    "fsim": lambda x, y, r: _fsim(x, y, r),
    "psnr": lambda x, y, r: _psnr(x, y, r),
    "mse": lambda x, y, r: _mse(x, y),
}


def _check_pair(originals, reconstructions, data_range: float | None,
                names: tuple[str, str] = ("originals", "reconstructions"),
                any_channels: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    originals = check_images(originals, names[0])
    reconstructions = check_images(reconstructions, names[1])
    if originals.shape != reconstructions.shape:
        raise DataError(
            f"{names[0]} {tuple(originals.shape)} and {names[1]} {tuple(reconstructions.shape)} differ in shape"
        )
    if not any_channels and originals.shape[1] not in (1, 3):
        raise DataError(f"images need 1 or 3 channels, got {originals.shape[1]}")
    if data_range is not None:
        check_range(originals, data_range, names[0])
        check_range(reconstructions, data_range, names[1])
    return originals, reconstructions


@torch.no_grad()
def reconstruction_metrics(originals: torch.Tensor, reconstructions: torch.Tensor, data_range: float = 1.0,
                           metrics: Sequence[str] = METRICS, batch_size: int = 256,
                           device: str | torch.device | None = None) -> dict[str, np.ndarray]:
    """Per-image scores of reconstructions against originals, both [N, C, H, W] in [0, data_range].

    Returns {metric: float64 array [N]}. Work runs in batches of ``batch_size`` on ``device``
    (default: where the originals are).
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)  # "ssim" is one metric, not four letters
    unknown = [m for m in metrics if m not in _FNS]
    if unknown or not metrics:
        raise ValueError(f"unknown or no metric(s) {unknown or list(metrics)}; valid: {', '.join(METRICS)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    originals, reconstructions = _check_pair(originals, reconstructions, data_range)
    device = torch.device(device) if device is not None else originals.device
    out: dict[str, list[torch.Tensor]] = {m: [] for m in metrics}
    for start in range(0, originals.shape[0], batch_size):
        x = originals[start:start + batch_size].to(device, torch.float32)
        y = reconstructions[start:start + batch_size].to(device, torch.float32)
        for m in metrics:
            out[m].append(_FNS[m](x, y, data_range).double().cpu())
    return {m: torch.cat(v).numpy() for m, v in out.items()}


def summarize(scores: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and count per metric. A perfect reconstruction has an infinite PSNR; one
    such image makes the PSNR mean infinite and its spread unbounded, so both read inf (numpy's std
    would say NaN, which reads as a failed computation)."""
    def stats(v: np.ndarray) -> dict[str, float]:
        v = np.asarray(v, dtype=float)
        if np.isinf(v).any() and not np.isnan(v).any():
            return {"mean": float(np.mean(v)), "std": float("inf"), "n": int(len(v))}
        return {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": int(len(v))}
    return {m: stats(v) for m, v in scores.items()}


@torch.no_grad()
def evaluate_reconstruction(reconstruct: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                            data_range: float = 1.0, metrics: Sequence[str] = METRICS, batch_size: int = 256,
                            device: str | torch.device | None = None, clamp: bool = True
                            ) -> dict[str, np.ndarray]:
    """Run ``reconstruct`` (images [B, C, H, W] -> reconstructions of the same shape) over ``images`` in
    batches and score the result. ``clamp`` clips reconstructions to [0, data_range] first (a model's
    output is unbounded; the metrics need the range); with clamp=False out-of-range output is refused.
    """
    images = check_images(images, "images")
    check_range(images, data_range, "images")
    device = torch.device(device) if device is not None else images.device
    recons = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].to(device)
        r = reconstruct(x)
        if not isinstance(r, torch.Tensor) or r.shape != x.shape:
            raise ValueError(f"reconstruct must return a tensor of shape {tuple(x.shape)}, got "
                             f"{tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__}")
        recons.append((r.clamp(0, data_range) if clamp else r).float())
    return reconstruction_metrics(images.to(device), torch.cat(recons), data_range, metrics, batch_size, device)



@torch.no_grad()
def masked_loss_vs_mean_colour(model: torch.nn.Module, images: torch.Tensor, mask_ratio: float,
                               mask_unit: int | None = None, seed: int = 0) -> dict[str, float]:
    """The MAE loss on ``images`` [N, C, H, W] under random masks, beside a baseline that knows no shapes.

    The baseline predicts every removed pixel by the mean colour of the image's visible pixels (for a
    ``norm_pix_loss`` model, whose targets are per-patch normalised, a flat patch: zeros). Both are
    scored on the same masks (drawn from ``seed``) with the model's own loss, the mean over removed
    patches of the per-patch squared error. Returns ``loss``, ``baseline`` and ``ratio`` (loss/baseline).
    """
    images = check_images(images, "images")
    out = model(images, mask_ratio=mask_ratio, mask_unit=mask_unit, generator=torch.Generator().manual_seed(seed))
    target = model.target(images)                                   # [N, L, p*p*C]
    if model.cfg.norm_pix_loss:
        guess = torch.zeros_like(target)
    else:
        pix = model.patchify(images).unflatten(-1, (-1, model.cfg.in_chans))   # [N, L, p*p, C]
        visible = (1 - out.mask)[:, :, None, None]                             # [N, L, 1, 1]
        mean = (pix * visible).sum((1, 2)) / (visible.sum((1, 2)) * pix.shape[2])  # [N, C]
        guess = mean[:, None, None, :].expand_as(pix).flatten(2)
    baseline = float((((guess - target) ** 2).mean(-1) * out.mask).sum() / out.mask.sum())
    loss = float(out.loss)
    return {"loss": loss, "baseline": baseline, "ratio": loss / baseline}
