"""A masked autoencoder for vector data, in the paper's abstract sense (Section 2.2, Eq. 2).

The datum is a set of P observables ("patches") of possibly different sizes, concatenated into
x [N, D] (``mae_hlvm.data.vectors.VectorSample.x``). A mask m is a boolean vector over the P
observables, True = hidden. The model is

- encoder  E(x_visible, m) -> c_hat [N, width]: an MLP on x with the hidden coordinates zeroed,
  concatenated with the mask bits (the positional information MAE passes with the visible tokens);
- decoder  D(c_hat, m) -> x_hat [N, D]: an MLP on c_hat and the mask bits (MAE's mask tokens and
  positional embeddings, the paper's s_hat_m); only the hidden coordinates enter the loss;
- loss     mean over hidden coordinates of (x_hat - x)^2: Eq. (2) with squared error.

``width`` is the bottleneck Theorem 2 speaks of: with width = dim(c) the theorem says c_hat is an
invertible function of c. A mask may be one fixed [P] vector (one E_m per mask, as in the theorem)
or a [N, P] batch (one encoder for all masks, as MAE trains).

**Groups.** Small MLPs on a CPU are cheap per model but costly per call, so G independent models
(own weights, own data, own masks, own width) can be held in one module and trained in one loop:
pass ``width=[w_1, ..., w_G]``. Every layer is then a batched matrix product over the group axis;
member g's encoder has ``max(width)`` outputs of which the last ``max(width) - w_g`` are fixed at 0,
which is exactly a width-``w_g`` encoder. Grouped training equals training each member alone (the
loss is the sum of the members' losses, Adam acts per weight).

>>> model = MLPMaskedAutoencoder(patch_dims=[2, 2, 3], width=1)
>>> x = torch.randn(5, 7); m = torch.tensor([True, False, False])
>>> model.encode(x, m).shape, model(x, m).shape
(torch.Size([5, 1]), torch.Size([5, 7]))
>>> two = MLPMaskedAutoencoder([2, 2, 3], width=[1, 3])            # two models, widths 1 and 3
>>> two.encode(torch.randn(2, 5, 7), torch.tensor([[True, False, False], [False, True, True]])).shape
torch.Size([2, 5, 3])
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["MLPMaskedAutoencoder", "MaskSampler", "TrainResult", "check_mask", "subtree_sampler", "train_mlp_mae"]

MaskSampler = Callable[[int, torch.Generator], torch.Tensor]
"""(batch size B, generator) -> bool masks (True = hidden): [B, P] for one model, [G, B, P] for a group."""


def _positive_int(name: str, value: object, why: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} = {value!r}: must be an int >= 1 ({why})")
    return int(value)


def check_mask(mask: torch.Tensor | np.ndarray | Sequence[bool], n_patches: int) -> torch.Tensor:
    """A mask as a bool tensor [..., P], refused (ValueError naming it) unless every mask hides at
    least one observable and leaves at least one visible (Theorem 1 needs a non-empty proper m)."""
    m = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
    if m.dtype != torch.bool:
        raise ValueError(f"mask must be boolean (True = hidden), got dtype {m.dtype}")
    if m.ndim < 1 or m.shape[-1] != n_patches:
        raise ValueError(f"mask must have shape [..., {n_patches}] (one entry per observable), got {tuple(m.shape)}")
    hidden = m.sum(-1).reshape(-1)
    bad = torch.nonzero((hidden == 0) | (hidden == n_patches)).flatten()
    if bad.numel():
        k = int(hidden[bad[0]])
        what = "no observable hidden" if k == 0 else "no observable visible"
        where = "" if m.ndim == 1 else f" number {int(bad[0])} (flattened)"
        raise ValueError(f"mask{where} hides {k} of {n_patches} observables ({what}); a mask must hide at "
                         f"least one observable and leave at least one visible")
    return m


class _GroupedLinear(nn.Module):
    """G independent linear layers: [G, N, n_in] -> [G, N, n_out] (nn.Linear's initialisation)."""

    def __init__(self, groups: int, n_in: int, n_out: int, gen: torch.Generator) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter((torch.rand(groups, n_in, n_out, generator=gen) * 2 - 1) * bound)
        self.bias = nn.Parameter((torch.rand(groups, 1, n_out, generator=gen) * 2 - 1) * bound)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, h, self.weight)


def _mlp(groups: int, n_in: int, hidden: int, n_out: int, layers: int, gen: torch.Generator) -> nn.Sequential:
    mods: list[nn.Module] = []
    d = n_in
    for _ in range(layers):
        mods += [_GroupedLinear(groups, d, hidden, gen), nn.GELU()]
        d = hidden
    mods.append(_GroupedLinear(groups, d, n_out, gen))
    return nn.Sequential(*mods)


class MLPMaskedAutoencoder(nn.Module):
    """Encoder E(x_visible, m) -> c_hat and decoder D(c_hat, m) -> x_masked, both MLPs (G members).

    Args:
        patch_dims: size of each observable, in the order of the columns of x ([P] ints >= 1, P >= 2).
        width: outputs of the encoder, dim(c_hat) (an int >= 1), or one width per member of a group.
        hidden: units of each hidden layer.
        layers: hidden layers of the encoder and of the decoder (>= 1).
        seed: seeds the initial weights (members get different draws).

    Shapes: one model (``groups == 1``) takes x [N, D] and a mask [P] or [N, P] and returns c_hat
    [N, width], x_hat [N, D]. A group takes x [G, N, D] and masks [G, P] or [G, N, P] and returns
    c_hat [G, N, max(width)] (member g's columns from width[g] on are 0) and x_hat [G, N, D].
    """

    def __init__(self, patch_dims: Sequence[int], width: int | Sequence[int], hidden: int = 64, layers: int = 2,
                 seed: int = 0) -> None:
        super().__init__()
        dims = list(patch_dims)
        if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims):
            raise ValueError(f"patch_dims must be a non-empty list of ints >= 1, got {patch_dims!r}")
        if len(dims) < 2:
            raise ValueError(f"need at least 2 observables (one hidden, one visible), got {len(dims)}")
        widths = [width] if isinstance(width, (int, np.integer)) or isinstance(width, bool) else list(width)
        if not widths:
            raise ValueError("width must be an int >= 1 or a non-empty list of them")
        self.widths = tuple(_positive_int("width", w, "the encoder needs at least one output") for w in widths)
        self.hidden = _positive_int("hidden", hidden, "units of a hidden layer")
        self.layers = _positive_int("layers", layers, "hidden layers")
        self.patch_dims = tuple(int(d) for d in dims)
        self.groups, self.width = len(self.widths), max(self.widths)
        n_p, n_x = len(dims), int(sum(dims))
        self.register_buffer("patch_of_coord", torch.repeat_interleave(torch.arange(n_p), torch.tensor(dims)),
                             persistent=False)
        keep = torch.arange(self.width)[None, :] < torch.tensor(self.widths)[:, None]      # [G, width]
        self.register_buffer("output_keep", keep[:, None, :].float(), persistent=False)    # [G, 1, width]
        gen = torch.Generator().manual_seed(int(seed))
        self.encoder = _mlp(self.groups, n_x + n_p, self.hidden, self.width, self.layers, gen)
        self.decoder = _mlp(self.groups, self.width + n_p, self.hidden, n_x, self.layers, gen)

    @property
    def n_patches(self) -> int:
        return len(self.patch_dims)

    @property
    def n_features(self) -> int:
        return sum(self.patch_dims)

    def _grouped(self, x: torch.Tensor, mask: torch.Tensor | np.ndarray, what: str = "x"
                 ) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(x [G, N, ·], mask [G, N, P] bool, whether the input had no group axis)."""
        m = check_mask(mask, self.n_patches).to(x.device)
        if x.ndim == 2:
            if self.groups != 1:
                raise ValueError(f"this model has {self.groups} members: {what} must be [G={self.groups}, N, ·], "
                                 f"got {tuple(x.shape)}")
            if m.ndim == 1:
                m = m.expand(x.shape[0], -1)
            if m.ndim != 2 or m.shape[0] != x.shape[0]:
                raise ValueError(f"mask must be [{self.n_patches}] or [{x.shape[0]}, {self.n_patches}] for "
                                 f"{what} of shape {tuple(x.shape)}, got {tuple(m.shape)}")
            return x[None], m[None], True
        if x.ndim != 3 or x.shape[0] != self.groups:
            raise ValueError(f"{what} must be [N, ·] (one model) or [G={self.groups}, N, ·], got {tuple(x.shape)}")
        if m.ndim == 2 and m.shape[0] == self.groups:
            m = m[:, None, :].expand(-1, x.shape[1], -1)
        if m.ndim != 3 or m.shape[:2] != x.shape[:2]:
            raise ValueError(f"mask must be [{self.groups}, {self.n_patches}] or [{self.groups}, {x.shape[1]}, "
                             f"{self.n_patches}] for {what} of shape {tuple(x.shape)}, got {tuple(m.shape)}")
        return x, m, False

    def _encode(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        hid = m[..., self.patch_of_coord]
        inp = torch.cat([x.masked_fill(hid, 0.0), m.to(x.dtype)], dim=-1)
        return self.encoder(inp) * self.output_keep

    def encode(self, x: torch.Tensor, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """c_hat = E(x_visible, m): x [N, D] -> [N, width], or x [G, N, D] -> [G, N, max width].

        Hidden coordinates are zeroed before the encoder sees them, so c_hat depends on x_visible
        (and on which observables are hidden) only.
        """
        if x.shape[-1] != self.n_features:
            raise ValueError(f"x must have {self.n_features} columns (sum of patch_dims), got {tuple(x.shape)}")
        xg, m, single = self._grouped(x, mask)
        out = self._encode(xg, m)
        return out[0] if single else out

    def decode(self, c_hat: torch.Tensor, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """x_hat = D(c_hat, m): c_hat [N, width] -> [N, D], or [G, N, max width] -> [G, N, D].

        Read only the hidden coordinates of x_hat; the visible ones are not trained."""
        if c_hat.shape[-1] != self.width:
            raise ValueError(f"c_hat must have {self.width} columns, got {tuple(c_hat.shape)}")
        cg, m, single = self._grouped(c_hat, mask, "c_hat")
        out = self.decoder(torch.cat([cg * self.output_keep, m.to(cg.dtype)], dim=-1))
        return out[0] if single else out

    def forward(self, x: torch.Tensor, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Reconstruction x_hat of x ([N, D] or [G, N, D]) from its visible part."""
        return self.decode(self.encode(x, mask), mask)

    def member_losses(self, x: torch.Tensor, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Each member's mean squared error over the hidden coordinates (Eq. 2): [G]."""
        if x.shape[-1] != self.n_features:
            raise ValueError(f"x must have {self.n_features} columns (sum of patch_dims), got {tuple(x.shape)}")
        xg, m, _ = self._grouped(x, mask)
        hid = m[..., self.patch_of_coord]
        c_hat = self._encode(xg, m)
        x_hat = self.decoder(torch.cat([c_hat, m.to(xg.dtype)], dim=-1))
        return (((x_hat - xg) ** 2) * hid).sum((1, 2)) / hid.sum((1, 2))

    def loss(self, x: torch.Tensor, mask: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Sum over members of their mean hidden squared error (one member: Eq. 2), a scalar."""
        return self.member_losses(x, mask).sum()


def subtree_sampler(graph: "nx.DiGraph", level: int, ratio: float | None = None, seed: int = 0) -> MaskSampler:
    """A :data:`MaskSampler` of structure-aware masks (Section 3.6, suggestion 2): every draw hides the
    observed descendants of latents at ``level`` (:func:`mae_hlvm.hierarchy.subtree_masks`; one latent
    per mask when ``ratio`` is None, else whole descendant sets up to the exact count random masking
    hides at ``ratio``). Masks are [B, P] over the graph's observables in graph order, the order of
    :class:`~mae_hlvm.data.vectors.VectorSample` patches. The sampler's own NumPy stream is seeded
    by ``seed``; the level is checked now, not at the first draw."""
    from mae_hlvm.hierarchy import subtree_masks

    rng = np.random.default_rng(seed)
    subtree_masks(graph, level, 1, np.random.default_rng(0), ratio)  # refuse a bad level or ratio up front

    def sample(batch: int, gen: torch.Generator) -> torch.Tensor:
        return torch.from_numpy(subtree_masks(graph, level, batch, rng, ratio)[0])

    return sample


@dataclass
class TrainResult:
    """A trained model and its loss curves: [G] member losses averaged over every ``log_every`` steps."""

    model: MLPMaskedAutoencoder
    losses: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final_loss(self) -> list[float]:
        """Each member's mean training loss over the last logged stretch of steps: [G]."""
        return self.losses[-1] if self.losses else []


def train_mlp_mae(model: MLPMaskedAutoencoder, x: torch.Tensor, masks: torch.Tensor | np.ndarray | MaskSampler,
                  steps: int = 2000, batch_size: int = 256, lr: float = 3e-3, seed: int = 0,
                  log_every: int = 100, data_of_member: Sequence[int] | None = None) -> TrainResult:
    """Minimise Eq. (2) with Adam and a cosine learning-rate decay to 0.

    Args:
        model: the masked autoencoder (trained in place; left in eval mode).
        x: training data, [N, D] for one model or [G, N, D] for a group (each member its own data);
            with ``data_of_member`` ([G] ints), x is [S, N, D] and member g trains on
            x[data_of_member[g]] (members share data sets without copies).
        masks: fixed masks ([P] / [G, P] bool), or a :data:`MaskSampler` drawing [B, P] / [G, B, P]
            masks for every step (random masking, one encoder for all masks).
        steps, batch_size, lr: optimiser settings; each member draws its own batches with replacement.
        seed: seeds the batches and the mask sampler (the weights are seeded by the model).
    """
    _positive_int("steps", steps, "optimiser steps")
    _positive_int("batch_size", batch_size, "samples per step")
    _positive_int("log_every", log_every, "steps per logged loss")
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr = {lr!r}: must be a positive number")
    xg = x[None] if x.ndim == 2 else x
    if data_of_member is None:
        data_idx = torch.arange(model.groups)
        n_sets = model.groups
    else:
        data_idx = torch.as_tensor(list(data_of_member), dtype=torch.long)
        n_sets = xg.shape[0]
        if data_idx.shape != (model.groups,) or int(data_idx.min()) < 0 or int(data_idx.max()) >= n_sets:
            raise ValueError(f"data_of_member must list {model.groups} indices in [0, {n_sets}), got "
                             f"{list(data_of_member)}")
    if xg.ndim != 3 or xg.shape[0] != n_sets or xg.shape[2] != model.n_features:
        raise ValueError(f"x must be [N, {model.n_features}] (one model) or [{n_sets}, N, "
                         f"{model.n_features}] (one data set per {'member' if data_of_member is None else 'index'}), "
                         f"got {tuple(x.shape)}")
    if callable(masks) and not isinstance(masks, (torch.Tensor, np.ndarray)):
        sampler = masks
    else:
        fixed = check_mask(masks, model.n_patches)
        fixed = fixed[None] if fixed.ndim == 1 else fixed
        if fixed.ndim != 2 or fixed.shape[0] not in (1, model.groups):
            raise ValueError(f"fixed masks must be [{model.n_patches}] or [{model.groups}, {model.n_patches}], "
                             f"got {tuple(fixed.shape)}")
        fixed = fixed.expand(model.groups, -1)
        sampler = lambda b, gen: fixed[:, None, :].expand(-1, b, -1)  # noqa: E731
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    result = TrainResult(model)
    start = time.perf_counter()
    running = torch.zeros(model.groups)
    n_run = 0
    g_idx = data_idx[:, None]
    model.train()
    for step in range(steps):
        idx = torch.randint(0, xg.shape[1], (model.groups, batch_size), generator=gen)
        m = sampler(batch_size, gen)
        if m.ndim == 2:
            m = m[None].expand(model.groups, -1, -1)
        per = model.member_losses(xg[g_idx, idx], m)
        opt.zero_grad(set_to_none=True)
        per.sum().backward()
        opt.step()
        sched.step()
        running += per.detach()
        n_run += 1
        if (step + 1) % log_every == 0 or step + 1 == steps:
            result.losses.append((running / n_run).tolist())
            running.zero_()
            n_run = 0
    model.eval()
    result.seconds = time.perf_counter() - start
    return result
