"""Procedural hierarchical images with ground truth: the book's default image dataset.

Each image shows one textured object on a background; its content is generated from explicit
latents at three levels (``FACTOR_LEVELS``):

- global: object class (= shape), object colour, background colour, lighting direction and strength;
- region: position, scale, orientation, aspect ratio and a class-specific "part" parameter
  (star depth, ring thickness, arm width, ...), which together fix the silhouette;
- local: texture family and its frequency, angle, phase and contrast, and per-pixel noise.

Texture is informative of the class but not decisive: with probability ``texture_match`` (0.75 by
default) an object wears its own class's texture family, otherwise another family chosen at random,
so a classifier needs the shape as well and a shape-vs-texture bias is measurable on the
``"cue_conflict"`` variant. Variants mirror the paper's robustness test sets (``VARIANTS``).

Rendering is vectorised in torch: signed distance functions of the shapes in the object frame,
anti-aliased coverage, textures evaluated per class group. Images are drawn in chunks of ``CHUNK``
with a NumPy generator keyed by ``(seed, variant stream, chunk)``, so a fixed seed gives the same
images and ``render_shapes(n, s)`` is a prefix of ``render_shapes(m, s)`` for n <= m.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

import networkx as nx
import numpy as np
import torch
from torch.utils.data import Dataset

from mae_hlvm.compute import torch_threads

CLASS_NAMES: tuple[str, ...] = (
    "circle", "square", "triangle", "star", "cross", "ring", "crescent", "heart", "arrow", "tee",
)
# Texture family k is class k's own family; 10-12 appear only in the "rendition" variant.
TEXTURE_NAMES: tuple[str, ...] = (
    "stripes", "checker", "dots", "rings", "zigzag", "crosshatch", "spokes", "blobs", "speckle", "bicolour",
    "spiral", "plaid", "dashes",
)
N_TRAIN_TEXTURES = len(CLASS_NAMES)
VARIANTS: dict[str, str] = {
    "iid": "training / test distribution",
    "v2": "fresh draw of the same distribution from another seed stream (ImageNet-v2 analogue)",
    "rendition": "unseen texture families, cartoon outline, light backgrounds (ImageNet-R analogue)",
    "sketch": "outlines only, grey ink on paper (ImageNet-Sketch analogue)",
    "objectnet": "unseen poses and aspect ratios, textured backgrounds (ObjectNet analogue)",
    "adversarial": "small, occluded objects among clutter (ImageNet-A analogue)",
    "cue_conflict": "shape of class A with the texture of class B != A (Geirhos et al. stimuli analogue)",
}
_STREAM = {name: i for i, name in enumerate(VARIANTS)}
CHUNK = 256

FACTOR_LEVELS: dict[str, str] = {
    "class": "global", "object_color": "global", "background_color": "global",
    "light_angle": "global", "light_strength": "global",
    "position": "region", "scale": "region", "orientation": "region", "aspect": "region", "part": "region",
    "texture": "local", "texture_frequency": "local", "texture_angle": "local", "texture_phase": "local",
    "texture_contrast": "local", "noise_std": "local",
}


# --------------------------------------------------------------------------- the batch
@dataclass
class ShapesBatch:
    """N rendered images with their ground truth.

    images [N, 3, H, W] float in [0, 1]; labels [N] int64 (object class = shape); masks [N, H, W] bool
    (visible object pixels); boxes [N, 4] float (x0, y0, x1, y1) in pixels, x1/y1 exclusive, tight
    around the mask; factors: name -> array [N] or [N, k] (see ``FACTOR_LEVELS`` and the variant's
    extras); shape_labels / texture_labels [N] only for "cue_conflict" (labels == shape_labels).
    """

    images: torch.Tensor
    labels: torch.Tensor
    factors: dict[str, np.ndarray]
    masks: torch.Tensor
    boxes: torch.Tensor
    class_names: tuple[str, ...] = CLASS_NAMES
    variant: str = "iid"
    shape_labels: torch.Tensor | None = None
    texture_labels: torch.Tensor | None = None
    factor_levels: dict[str, str] = field(default_factory=lambda: dict(FACTOR_LEVELS))

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, idx: Any) -> "ShapesBatch":
        """The images selected by ``idx`` (slice, int list / array / tensor or bool mask), with their truth."""
        if isinstance(idx, slice):
            sel = np.arange(len(self))[idx]
        else:
            sel = np.asarray(idx.cpu() if isinstance(idx, torch.Tensor) else idx)
            if sel.dtype == bool:
                if sel.shape != (len(self),):
                    raise ValueError(f"boolean index has shape {sel.shape}, expected ({len(self)},)")
                sel = np.flatnonzero(sel)
            elif sel.ndim != 1 or (sel.size and not np.issubdtype(sel.dtype, np.integer)):
                raise ValueError(f"index must be a slice, a 1-D integer array or a boolean mask, got {sel.dtype} {sel.shape}")
            if sel.size and (sel.min() < -len(self) or sel.max() >= len(self)):
                raise IndexError(f"index out of range for a batch of {len(self)} images")
        t = torch.as_tensor(sel, dtype=torch.long)
        opt = {k: (getattr(self, k)[t] if getattr(self, k) is not None else None) for k in ("shape_labels", "texture_labels")}
        return ShapesBatch(
            images=self.images[t], labels=self.labels[t], factors={k: v[sel] for k, v in self.factors.items()},
            masks=self.masks[t], boxes=self.boxes[t], class_names=self.class_names, variant=self.variant,
            factor_levels=dict(self.factor_levels), **opt,
        )


class ShapesDataset(Dataset):
    """A torch Dataset over a ShapesBatch: item i is ``(image [3, H, W], label)`` or, with
    ``return_factors=True``, ``(image, label, {factor: value})``. ``transform`` applies to the image."""

    def __init__(self, batch: ShapesBatch, transform: Any = None, return_factors: bool = False) -> None:
        self.batch, self.transform, self.return_factors = batch, transform, return_factors

    @classmethod
    def render(cls, n: int, seed: int, size: int = 32, variant: str = "iid", **kwargs: Any) -> "ShapesDataset":
        """Render ``render_shapes(n, seed, size, variant)`` and wrap it."""
        return cls(render_shapes(n, seed, size, variant, **kwargs))

    def __len__(self) -> int:
        return len(self.batch)

    def __getitem__(self, i: int):
        img = self.batch.images[i]
        if self.transform is not None:
            img = self.transform(img)
        label = int(self.batch.labels[i])
        if self.return_factors:
            return img, label, {k: torch.as_tensor(v[i]) for k, v in self.batch.factors.items()}
        return img, label


# --------------------------------------------------------------------------- geometry
def _box(u: torch.Tensor, v: torch.Tensor, bx: float | torch.Tensor, by: float | torch.Tensor,
         cx: float | torch.Tensor = 0.0, cy: float | torch.Tensor = 0.0) -> torch.Tensor:
    """Exact signed distance to an axis-aligned box with half sizes (bx, by) centred at (cx, cy)."""
    qx, qy = (u - cx).abs() - bx, (v - cy).abs() - by
    outside = torch.sqrt(qx.clamp_min(0) ** 2 + qy.clamp_min(0) ** 2)
    return outside + torch.maximum(qx, qy).clamp_max(0)


def _polygon(u: torch.Tensor, v: torch.Tensor, verts: Sequence[tuple[float, float]]) -> torch.Tensor:
    """Signed distance (exact inside, a lower bound outside) to a convex polygon: max over edges."""
    pts = np.asarray(verts, dtype=np.float64)
    centre = pts.mean(0)
    out = None
    for a, b in zip(pts, np.roll(pts, -1, axis=0)):
        n = np.array([b[1] - a[1], a[0] - b[0]])
        n /= np.linalg.norm(n)
        if n @ (centre - a) > 0:  # make the normal point outwards
            n = -n
        d = (u - a[0]) * n[0] + (v - a[1]) * n[1]
        out = d if out is None else torch.maximum(out, d)
    return out


def _regular(k: int, radius: float, start: float) -> list[tuple[float, float]]:
    return [(radius * math.cos(start + 2 * math.pi * i / k), radius * math.sin(start + 2 * math.pi * i / k)) for i in range(k)]


_TRIANGLE = _regular(3, 1.15, -math.pi / 2)          # apex up (image y points down)
_HEART_TIP = [(-0.93, -0.05), (0.93, -0.05), (0.0, 1.0)]


def _sdf(cls: int, u: torch.Tensor, v: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """Signed distance in object units (radius ~1) of class ``cls``; part [n, 1, 1] in [0, 1]."""
    r = torch.sqrt(u * u + v * v)
    name = CLASS_NAMES[cls]
    if name == "circle":  # part: a faint six-fold scallop of the rim
        return r - (0.92 + 0.07 * part * torch.cos(6 * torch.atan2(v, u)))
    if name == "square":  # part: corners cut by a circle
        return torch.maximum(_box(u, v, 0.8, 0.8), r - (1.13 - 0.2 * part))
    if name == "triangle":
        return torch.maximum(_polygon(u, v, _TRIANGLE), r - (1.15 - 0.35 * part))
    if name == "star":  # part: depth of the notches between the five points
        ang = torch.remainder(torch.atan2(v, u) + math.pi / 2, 2 * math.pi / 5) - math.pi / 5
        tip = 1.0 - ang.abs() / (math.pi / 5)                   # 1 at a point, 0 between two
        inner = 0.35 + 0.25 * part
        return 0.6 * (r - (inner + (1.02 - inner) * tip))
    if name == "cross":  # part: arm width
        w = 0.22 + 0.16 * part
        return torch.minimum(_box(u, v, 0.95, w), _box(u, v, w, 0.95))
    if name == "ring":  # part: band thickness
        t = 0.14 + 0.14 * part
        return (r - (0.95 - t)).abs() - t
    if name == "crescent":  # part: how far the bite is offset
        off = 0.3 + 0.3 * part
        return torch.maximum(r - 0.95, -(torch.sqrt((u - off) ** 2 + (v + 0.1) ** 2) - 0.8))
    if name == "heart":  # part: spacing of the two lobes
        o = 0.36 + 0.14 * part
        lobes = torch.minimum(torch.sqrt((u - o) ** 2 + (v + 0.3) ** 2), torch.sqrt((u + o) ** 2 + (v + 0.3) ** 2)) - 0.52
        return torch.minimum(lobes, _polygon(u, v, _HEART_TIP))
    if name == "arrow":  # part: shaft thickness and head length
        w = 0.13 + 0.1 * part
        hx = 0.1 - 0.25 * part                                   # x of the head's base
        head = _polygon(u - hx, v, [(0.0, -0.72), (0.0, 0.72), (0.9, 0.0)])
        return torch.minimum(_box(u, v, (hx + 0.95) / 2, w, cx=(hx - 0.95) / 2), head)
    if name == "tee":  # part: thickness of the top bar
        t = 0.16 + 0.12 * part
        return torch.minimum(_box(u, v, 0.95, t, cy=-0.75 + t), _box(u, v, 0.22, 0.85, cy=0.1))
    raise ValueError(f"unknown class index {cls}")


def _texture(fam: int, pu: torch.Tensor, pv: torch.Tensor, ou: torch.Tensor, ov: torch.Tensor,
             f: torch.Tensor, ph: torch.Tensor, speckle: torch.Tensor) -> torch.Tensor:
    """Texture value in [0, 1] of family ``fam``.  pu, pv: object-frame pixel coordinates rotated by
    the texture angle; ou, ov: object-frame pixel coordinates (polar coordinates are derived from them
    only by the families that need them); f [n,1,1] angular frequency (rad / px), ph [n,1,1] phase,
    speckle [n,H,W] a random field."""
    name = TEXTURE_NAMES[fam]
    if name in ("rings", "spokes", "spiral"):
        r, theta = torch.sqrt(ou * ou + ov * ov), torch.atan2(ov, ou)
    if name == "stripes":
        return 0.5 + 0.5 * torch.sin(f * pu + ph)
    if name == "checker":
        return torch.sigmoid(8 * torch.sin(f * pu + ph) * torch.sin(f * pv + ph))
    if name == "dots":
        period = 2 * math.pi / f
        du = torch.remainder(pu + ph * period, period) - period / 2
        dv = torch.remainder(pv, period) - period / 2
        return (0.3 * period - torch.sqrt(du * du + dv * dv) + 0.5).clamp(0, 1)
    if name == "rings":
        return 0.5 + 0.5 * torch.sin(f * r + ph)
    if name == "zigzag":
        tri = torch.asin(torch.sin(f * pu)) * (2 / math.pi)
        return 0.5 + 0.5 * torch.sin(f * pv + 2.2 * tri + ph)
    if name == "crosshatch":
        a, b = torch.sin(0.5 * f * pu + ph).abs(), torch.sin(0.5 * f * pv + ph).abs()
        return torch.maximum(torch.sigmoid(10 * (0.4 - a)), torch.sigmoid(10 * (0.4 - b)))
    if name == "spokes":
        k = torch.round(3 + 4 * f)
        return 0.5 + 0.5 * torch.sin(k * theta + ph)
    if name == "blobs":
        s = torch.sin(0.5 * f * pu + ph) + torch.sin(0.5 * f * (-0.5 * pu + 0.87 * pv) + 2 * ph) \
            + torch.sin(0.5 * f * (-0.5 * pu - 0.87 * pv) + 3 * ph)
        return torch.sigmoid(2.5 * s)
    if name == "speckle":
        return speckle
    if name == "bicolour":
        return torch.sigmoid(1.5 * (pu + 2 * torch.cos(ph)))
    if name == "spiral":
        return 0.5 + 0.5 * torch.sin(f * r + 3 * theta + ph)
    if name == "plaid":
        return 0.5 + 0.25 * (torch.sin(f * pu + ph) + torch.sin(0.6 * f * pv))
    if name == "dashes":
        return torch.sigmoid(6 * torch.sin(f * pv + ph)) * torch.sigmoid(6 * torch.sin(0.5 * f * pu))
    raise ValueError(f"unknown texture index {fam}")


def _hsv(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """HSV in [0, 1] -> RGB [n, 3] (vectorised)."""
    k = np.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], 1)
    return (v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)).astype(np.float32)


@dataclass
class _Layer:
    """Per-object parameters of one drawn object (the main object or a distractor)."""

    cls: np.ndarray; cx: np.ndarray; cy: np.ndarray; scale: np.ndarray; theta: np.ndarray
    aspect: np.ndarray; part: np.ndarray; tex: np.ndarray; tfreq: np.ndarray; tangle: np.ndarray
    tphase: np.ndarray; contrast: np.ndarray; color: np.ndarray; light_angle: np.ndarray
    light_strength: np.ndarray


def _draw(p: _Layer, xs: torch.Tensor, ys: torch.Tensor, speckle: torch.Tensor
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render objects: coverage alpha [n,H,W] in [0,1], colour [n,3,H,W], signed distance (px) [n,H,W]."""
    q = {f.name: torch.as_tensor(np.asarray(getattr(p, f.name), dtype=np.float32))[:, None, None]
         for f in fields(_Layer) if f.name not in ("cls", "tex", "color")}    # each [n, 1, 1]
    dx, dy = xs - q["cx"], ys - q["cy"]                                   # [n, H, W] pixels
    c, s = torch.cos(q["theta"]), torch.sin(q["theta"])
    ou, ov = c * dx + s * dy, -s * dx + c * dy                             # object frame, pixels
    sq = torch.sqrt(q["aspect"])
    u, v = ou / (q["scale"] * sq), ov * sq / q["scale"]                    # object units
    n, h, w = ou.shape
    sdf = torch.empty(n, h, w)
    for k in np.unique(p.cls):
        sel = torch.as_tensor(np.flatnonzero(p.cls == k))
        sdf[sel] = _sdf(int(k), u[sel], v[sel], q["part"][sel])
    sdf = sdf * q["scale"]                                                # ~pixels
    alpha = (0.5 - sdf).clamp(0, 1)
    ca, sa = torch.cos(q["tangle"]), torch.sin(q["tangle"])
    pu, pv = ca * ou + sa * ov, -sa * ou + ca * ov
    tex = torch.zeros(n, h, w)
    for k in np.unique(p.tex):
        if k < 0:
            continue
        sel = torch.as_tensor(np.flatnonzero(p.tex == k))
        tex[sel] = _texture(int(k), pu[sel], pv[sel], ou[sel], ov[sel], q["tfreq"][sel], q["tphase"][sel], speckle[sel])
    shade = 1 + q["light_strength"] / q["scale"] * (dx * torch.cos(q["light_angle"]) + dy * torch.sin(q["light_angle"]))
    tone = shade.clamp(0.4, 1.6) * (1 - q["contrast"] * tex)              # [n, H, W]
    colour = torch.as_tensor(p.color)[:, :, None, None] * tone[:, None]
    return alpha, colour, sdf                     # colour may exceed 1 under strong light: clamped once at the end


# --------------------------------------------------------------------------- sampling
def _sample_layer(rng: np.random.Generator, n: int, size: int, variant: str, texture_match: float,
                  cls: np.ndarray | None = None) -> _Layer:
    """Draw the latents of n objects for a variant (positions and scales scale with ``size``)."""
    k = len(CLASS_NAMES)
    if cls is None:
        cls = rng.integers(0, k, n)
    # region latents
    if variant == "objectnet":  # poses and proportions outside the training ranges
        theta = rng.choice([-1, 1], n) * rng.uniform(math.radians(45), math.pi, n)
        aspect = np.where(rng.random(n) < 0.5, rng.uniform(0.5, 0.75, n), rng.uniform(1.35, 2.0, n))
        scale = rng.uniform(0.2, 0.34, n) * size
        cx, cy = (0.5 + rng.uniform(-0.22, 0.22, (2, n))) * size
    elif variant == "adversarial":
        theta = rng.uniform(-math.pi, math.pi, n)
        aspect = np.exp(rng.uniform(-0.25, 0.25, n))
        scale = rng.uniform(0.11, 0.16, n) * size
        cx, cy = (0.5 + rng.uniform(-0.28, 0.28, (2, n))) * size
    else:
        theta = rng.uniform(-math.pi / 6, math.pi / 6, n)
        aspect = np.exp(rng.uniform(-0.22, 0.22, n))
        scale = rng.uniform(0.22, 0.32, n) * size
        cx, cy = (0.5 + rng.uniform(-0.14, 0.14, (2, n))) * size
    part = rng.random(n)
    # local latents: class-informative texture family
    if variant == "rendition":
        tex = rng.integers(N_TRAIN_TEXTURES, len(TEXTURE_NAMES), n)
    elif variant == "cue_conflict":
        tex = (cls + rng.integers(1, k, n)) % k                          # any class but the shape's
    else:
        other = (cls + rng.integers(1, k, n)) % k
        tex = np.where(rng.random(n) < texture_match, cls, other)
    period = rng.uniform(3.5, 7.0, n) * size / 32
    tfreq = 2 * math.pi / period
    tangle = rng.uniform(-math.pi, math.pi, n)
    tphase = rng.uniform(0, 2 * math.pi, n)
    contrast = rng.uniform(0.8, 0.95, n) if variant == "cue_conflict" else rng.uniform(0.45, 0.8, n)
    # global latents
    sat = rng.uniform(0.85, 1.0, n) if variant == "rendition" else rng.uniform(0.45, 1.0, n)
    color = _hsv(rng.random(n), sat, rng.uniform(0.7, 1.0, n))
    return _Layer(cls, cx, cy, scale, theta, aspect, part, tex, tfreq, tangle, tphase, contrast, color,
                  rng.uniform(0, 2 * math.pi, n), rng.uniform(0.0, 0.35, n))


def _render_chunk(seed: int, chunk: int, m: int, size: int, variant: str, texture_match: float
                  ) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, dict[str, np.ndarray]]:
    """Render the first m images of chunk ``chunk``: images, labels, visible-object masks, factors."""
    rng = np.random.default_rng([seed, _STREAM[variant], chunk])
    n = CHUNK  # every draw has chunk size, then is cut to m, so a chunk's images do not depend on m
    main = _sample_layer(rng, n, size, variant, texture_match)
    bg_col = _hsv(rng.random(n), rng.uniform(0.0, 0.6, n), rng.uniform(0.05, 0.45, n))
    if variant == "rendition":  # light, pale backgrounds: reversed contrast polarity
        bg_col = _hsv(rng.random(n), rng.uniform(0.0, 0.25, n), rng.uniform(0.8, 1.0, n))
    noise_std = rng.uniform(0.005, 0.03, n).astype(np.float32)
    speckle = rng.random((n, (size + 1) // 2, (size + 1) // 2), dtype=np.float32)
    noise_gen = torch.Generator().manual_seed(int(rng.integers(2**62)))    # torch's randn is faster
    # Variant-only draws; like every draw they have chunk size n and are cut to m.
    extra_rng = np.random.default_rng([seed, _STREAM[variant], chunk, 1])

    cut = lambda a: a[:m]  # noqa: E731
    main = _Layer(**{f.name: cut(getattr(main, f.name)) for f in fields(_Layer)})
    bg_col, noise_std = cut(bg_col), cut(noise_std)
    speckle_t = torch.from_numpy(np.repeat(np.repeat(speckle[:m], 2, 1), 2, 2)[:, :size, :size].copy())
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = coords[None, :, None], coords[None, None, :]

    # background
    img = torch.as_tensor(bg_col)[:, :, None, None].expand(m, 3, size, size).clone()
    grad = ((xs - size / 2) * torch.cos(torch.as_tensor(main.light_angle, dtype=torch.float32))[:, None, None]
            + (ys - size / 2) * torch.sin(torch.as_tensor(main.light_angle, dtype=torch.float32))[:, None, None]) / size
    img = img * (1 + 0.5 * torch.as_tensor(main.light_strength, dtype=torch.float32)[:, None, None, None] * grad[:, None])
    factors: dict[str, np.ndarray] = {}
    if variant == "objectnet":  # a low-frequency two-colour pattern behind the object
        bg2 = _hsv(extra_rng.random(n)[:m], extra_rng.uniform(0.2, 0.8, n)[:m], extra_rng.uniform(0.2, 0.6, n)[:m])
        kind = extra_rng.integers(0, 3, n)[:m]
        ang = extra_rng.uniform(-math.pi, math.pi, n)[:m]
        f = torch.as_tensor(2 * math.pi / extra_rng.uniform(8, 16, n)[:m] * size / 32, dtype=torch.float32)[:, None, None]
        a = torch.as_tensor(ang, dtype=torch.float32)[:, None, None]
        pu, pv = torch.cos(a) * xs + torch.sin(a) * ys, -torch.sin(a) * xs + torch.cos(a) * ys
        pat = torch.stack([0.5 + 0.5 * torch.sin(f * pu), torch.sigmoid(6 * torch.sin(f * pu) * torch.sin(f * pv)),
                           torch.sigmoid(3 * (torch.sin(f * pu) + torch.sin(0.7 * f * pv + 1)))], 1)
        pat = pat[torch.arange(m), torch.as_tensor(kind)]                  # [m, H, W]
        img = img * (1 - pat[:, None]) + torch.as_tensor(bg2)[:, :, None, None] * pat[:, None]
        factors["background_pattern"] = kind
        factors["background_color2"] = bg2
    if variant == "adversarial":  # clutter: fragments of other objects behind the main one
        n_clutter = extra_rng.integers(2, 4, n)[:m]
        for j in range(3):
            d = _sample_layer(extra_rng, n, size, "iid", texture_match)
            d = _Layer(**{f.name: cut(getattr(d, f.name)) for f in fields(_Layer)})
            d.scale = extra_rng.uniform(0.05, 0.09, n)[:m] * size            # smaller than the object
            d.cx, d.cy = extra_rng.uniform(0, size, (2, n))[:, :m]
            d.theta = extra_rng.uniform(-math.pi, math.pi, n)[:m]
            da, dc, _ = _draw(d, xs, ys, speckle_t)
            da = da * torch.as_tensor(j < n_clutter, dtype=torch.float32)[:, None, None]
            img = torch.lerp(img, dc, da[:, None])
        factors["n_clutter"] = n_clutter

    if variant == "sketch":  # ink outline on paper; no texture, no colour
        _, _, sdf = _draw(_Layer(**{**main.__dict__, "tex": np.full(m, -1)}), xs, ys, speckle_t)
        width = extra_rng.uniform(0.8, 1.6, n)[:m].astype(np.float32)
        ink = extra_rng.uniform(0.0, 0.3, n)[:m].astype(np.float32)
        stroke = (torch.as_tensor(width)[:, None, None] / 2 + 0.5 - sdf.abs()).clamp(0, 1)
        paper = torch.as_tensor(extra_rng.uniform(0.88, 1.0, n)[:m], dtype=torch.float32)[:, None, None]
        gray = paper * (1 - stroke) + torch.as_tensor(ink)[:, None, None] * stroke
        img = gray[:, None].expand(m, 3, size, size).clone()
        mask = sdf < 0
        factors["stroke_width"] = width
        tex_factor = np.full(m, -1)
    else:
        alpha, colour, sdf = _draw(main, xs, ys, speckle_t)
        if variant == "rendition":  # cartoon outline around the flat-ish fill
            outline = (1.0 + 0.5 - (sdf + 0.6).abs()).clamp(0, 1)
            colour = colour * (1 - outline[:, None]) + 0.05 * outline[:, None]
            alpha = torch.maximum(alpha, outline * (sdf < 1.2))
        img = torch.lerp(img, colour, alpha[:, None])
        mask = alpha > 0.5
        tex_factor = main.tex
    if variant == "adversarial":  # an occluder hides one side of the object, never its centre
        side = extra_rng.integers(0, 4, n)[:m]
        gap = extra_rng.uniform(0.15, 0.5, n)[:m] * main.scale
        half = 1.3 * main.scale
        x0 = np.select([side == 0, side == 1], [np.zeros(m), main.cx + gap], main.cx - half)
        x1 = np.select([side == 0, side == 1], [main.cx - gap, np.full(m, float(size))], main.cx + half)
        y0 = np.select([side == 2, side == 3], [np.zeros(m), main.cy + gap], main.cy - half)
        y1 = np.select([side == 2, side == 3], [main.cy - gap, np.full(m, float(size))], main.cy + half)
        occ = np.stack([x0, y0, x1, y1], 1).astype(np.float32)
        o = torch.as_tensor(occ)
        inside = ((xs >= o[:, 0, None, None]) & (xs < o[:, 2, None, None])
                  & (ys >= o[:, 1, None, None]) & (ys < o[:, 3, None, None]))      # [m, H, W]
        occ_col = _hsv(extra_rng.random(n)[:m], extra_rng.uniform(0, 1, n)[:m], extra_rng.uniform(0.1, 0.9, n)[:m])
        img = torch.where(inside[:, None], torch.as_tensor(occ_col)[:, :, None, None], img)
        mask = mask & ~inside
        factors["occluder"] = occ

    noise = torch.randn(n, 1, size, size, generator=noise_gen)[:m]      # luminance noise, same in R, G, B
    img = (img + torch.as_tensor(noise_std)[:, None, None, None] * noise).clamp(0, 1)
    factors.update({
        "class": main.cls, "object_color": main.color, "background_color": bg_col,
        "light_angle": main.light_angle, "light_strength": main.light_strength,
        "position": np.stack([main.cx, main.cy], 1), "scale": main.scale, "orientation": main.theta,
        "aspect": main.aspect, "part": main.part,
        "texture": tex_factor, "texture_frequency": main.tfreq, "texture_angle": main.tangle,
        "texture_phase": main.tphase, "texture_contrast": main.contrast, "noise_std": noise_std,
    })
    return img, main.cls, mask, factors


def _boxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight boxes (x0, y0, x1, y1), x1/y1 exclusive, of masks [N, H, W] -> [N, 4] float."""
    n, h, w = masks.shape
    rows, cols = masks.any(2), masks.any(1)
    empty = ~rows.any(1)
    if empty.any():
        i = int(torch.nonzero(empty)[0])
        raise RuntimeError(f"image {i} has an empty object mask; the renderer should keep part of every object visible")
    y0 = rows.int().argmax(1)
    y1 = h - rows.flip(1).int().argmax(1)
    x0 = cols.int().argmax(1)
    x1 = w - cols.flip(1).int().argmax(1)
    return torch.stack([x0, y0, x1, y1], 1).float()


def render_shapes(n: int, seed: int, size: int = 32, variant: str = "iid", *,
                  texture_match: float = 0.75) -> ShapesBatch:
    """Render n images of the hierarchical shapes dataset.

    Args:
        n: number of images (>= 1).
        seed: non-negative int; the same (seed, variant, size) always gives the same images.
        size: image side in pixels (>= 16); geometry and texture periods scale with it.
        variant: one of ``VARIANTS``.
        texture_match: probability that an object wears its own class's texture family (ignored by
            "rendition", "sketch" and "cue_conflict").
    Returns:
        ShapesBatch with images [n, 3, size, size] in [0, 1], labels, factors, masks, boxes.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int >= 16 pixels, got {size!r}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
    if not 0.0 <= texture_match <= 1.0:
        raise ValueError(f"texture_match is a probability, got {texture_match!r}")
    with torch_threads(1):  # small ops: see torch_threads
        parts = [_render_chunk(int(seed), c, min(CHUNK, n - c * CHUNK), int(size), variant, texture_match)
                 for c in range(math.ceil(n / CHUNK))]
    images = torch.cat([p[0] for p in parts])
    labels = torch.as_tensor(np.concatenate([p[1] for p in parts]), dtype=torch.long)
    masks = torch.cat([p[2] for p in parts])
    factors = {k: np.concatenate([p[3][k] for p in parts]) for k in parts[0][3]}
    extra = {}
    if variant == "cue_conflict":
        extra = {"shape_labels": labels.clone(),
                 "texture_labels": torch.as_tensor(factors["texture"], dtype=torch.long)}
    return ShapesBatch(images=images.contiguous(), labels=labels, factors=factors, masks=masks,
                       boxes=_boxes(masks), class_names=CLASS_NAMES, variant=variant, **extra)


TIERS = ("global", "region", "local", "patch")


def shapes_hierarchy(patch_grid: int = 4) -> nx.DiGraph:
    """The dependency graph of the renderer, for drawing: latent nodes and ``patch_grid``² observed
    image patches (``observed=True``).  Every node has ``tier`` (global / region / local / patch) and
    ``level`` (its index in ``TIERS``, the convention of ``mae_hlvm.hierarchy`` plots); patches also
    ``row`` and ``col``.

    Edges say which latents a quantity is computed from: the silhouette from class, pose and part;
    the texture family from the class (it matches with probability ``texture_match``); each patch
    from the silhouette and every colour / texture / noise latent.
    """
    if isinstance(patch_grid, bool) or not isinstance(patch_grid, int) or patch_grid < 1:
        raise ValueError(f"patch_grid must be a positive int, got {patch_grid!r}")
    g = nx.DiGraph()
    latents = [("class", "global"), ("colour", "global"), ("lighting", "global"), ("background", "global"),
               ("pose", "region"), ("part", "region"), ("silhouette", "region"),
               ("texture family", "local"), ("texture params", "local"), ("pixel noise", "local")]
    for col, (name, tier) in enumerate(latents):
        g.add_node(name, tier=tier, level=TIERS.index(tier), observed=False, col=col)
    g.add_edges_from([("class", "silhouette"), ("pose", "silhouette"), ("part", "silhouette"),
                      ("class", "texture family")])
    for i in range(patch_grid):
        for j in range(patch_grid):
            p = f"x{i}_{j}"
            g.add_node(p, tier="patch", level=TIERS.index("patch"), observed=True, row=i, col=i * patch_grid + j)
            for src in ("silhouette", "colour", "lighting", "background", "texture family", "texture params", "pixel noise"):
                g.add_edge(src, p)
    return g
