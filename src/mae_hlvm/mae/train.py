"""The pretraining loop: ``pretrain(config, images)`` for notebooks, the CLI and torchrun alike.

Determinism: every random choice of step ``s`` (batch indices, mask noise, augmentation) comes from
generators seeded with ``(config.seed, s)``, so a run resumed from a checkpoint at step ``s`` draws
exactly what an uninterrupted run draws, and a world of P processes sees the same global batch and
masks as one process (each process takes its slice of the global batch).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..compute import pick_device, resolve_amp
from ..data.errors import DataError
from ..data.pretraining import AUGMENTS_ITSELF
from .checkpoint import FORMAT, CheckpointError, load_checkpoint, save_checkpoint
from .configs import ConfigError, PretrainConfig
from .distributed import DistInfo, all_reduce_mean, barrier, init_distributed, local_device
from .masking import MaskGrid, effective_mask_ratio, random_masking_indices
from .model import MaskedAutoencoder

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CHECKPOINT_NAME = "checkpoint.pt"
METRICS_NAME = "metrics.jsonl"
# config fields that do not change the trajectory: may differ between a run and its resumption
_RESUME_FREE = {"output_dir", "checkpoint_every", "log_every", "progress", "progress_every_s", "num_workers", "device",
                "compile", "overwrite", "monitor_every", "monitor_ratio"}
# images of the monitor loss when pretrain is given none (the first training images); the experiments
# layer gives it this many held-out images
MONITOR_IMAGES = 256
# values of a tensor hashed into its fingerprint: a strided sample, so that every image contributes
FINGERPRINT_VALUES = 65536


@dataclass
class PretrainResult:
    """What a run leaves: the model (eval mode, on its training device), one dict per logged step,
    the last checkpoint (None without ``output_dir``) and the effective mask ratio."""

    model: MaskedAutoencoder
    history: list[dict[str, float]]
    checkpoint: Path | None
    effective_mask_ratio: float
    config: PretrainConfig
    precision: str = "fp32"  # what the run trained in: fp32, or bf16 (autocast), after amp="auto" resolved

    @property
    def losses(self) -> list[float]:
        return [h["loss"] for h in self.history]


def lr_at(step: int, total: int, warmup: int, lr: float, min_lr: float = 0.0) -> float:
    """MAE's schedule per iteration: linear warm-up from 0 over ``warmup`` steps, then half-cycle
    cosine from ``lr`` to ``min_lr`` at ``total``."""
    if step < warmup:
        return lr * step / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def build_optimizer(model: MaskedAutoencoder, config: PretrainConfig) -> torch.optim.AdamW:
    """AdamW with timm's parameter groups: no weight decay on biases, norms (all 1-d tensors) and the
    CLS/mask tokens and position embeddings (official MAE decays the two tokens; we follow timm)."""
    from timm.optim import param_groups_weight_decay

    groups = param_groups_weight_decay(model, config.weight_decay, no_weight_decay_list=model.no_weight_decay())
    return torch.optim.AdamW(groups, lr=0.0, betas=config.betas)


def _step_generator(seed: int, step: int, stream: int) -> torch.Generator:
    # distinct, reproducible stream per (seed, step, purpose)
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 4 + stream)


def augment_batch(x: torch.Tensor, kind: str, generator: torch.Generator, offset: int = 0,
                  total: int | None = None) -> torch.Tensor:
    """MAE's augmentation on a batch [N, C, H, W]: ``flip`` (horizontal, p=0.5) or ``rrc_flip``
    (RandomResizedCrop scale 0.2-1, ratio 3/4-4/3, bicubic, then flip). Parameters come from
    ``generator`` (CPU) so they are reproducible; they are drawn for ``total`` images (the global
    batch) and rows ``offset:offset+N`` are used, so a process's slice gets its images' parameters."""
    if kind == "none":
        return x
    total = x.shape[0] if total is None else total
    rows = slice(offset, offset + x.shape[0])
    N = total
    if kind == "rrc_flip":
        area = torch.empty(N).uniform_(0.2, 1.0, generator=generator)
        logr = torch.empty(N).uniform_(math.log(3 / 4), math.log(4 / 3), generator=generator)
        ratio = logr.exp()
        w = (area * ratio).sqrt().clamp(max=1.0)  # crop size as a fraction of the side
        h = (area / ratio).sqrt().clamp(max=1.0)
        cx = (torch.rand(N, generator=generator) * 2 - 1) * (1 - w)  # centre in [-1+w, 1-w]
        cy = (torch.rand(N, generator=generator) * 2 - 1) * (1 - h)
        theta = torch.zeros(N, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w, cx, h, cy
        grid = F.affine_grid(theta[rows].to(x), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)
    flip = (torch.rand(N, generator=generator) < 0.5)[rows].to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


class _StepBatches(torch.utils.data.Sampler):
    """Indices of this process's slice of the global batch, for steps ``start..total-1``.

    Epoch e is a permutation seeded by (seed, e); step s takes batch s mod (N // B) of it (the last
    incomplete batch is dropped, as in MAE's ``drop_last``)."""

    def __init__(self, n: int, config: PretrainConfig, start: int, total: int, info: DistInfo) -> None:
        self.n, self.cfg, self.start, self.total, self.info = n, config, start, total, info
        self.per_epoch = n // config.batch_size
        self.local = config.batch_size // info.world_size

    def indices(self, step: int) -> torch.Tensor:
        epoch, pos = divmod(step, self.per_epoch)
        perm = torch.randperm(self.n, generator=_step_generator(self.cfg.seed, epoch, 0))
        batch = perm[pos * self.cfg.batch_size:(pos + 1) * self.cfg.batch_size]
        return batch[self.info.rank * self.local:(self.info.rank + 1) * self.local]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.total):
            yield self.indices(step).tolist()

    def __len__(self) -> int:
        return self.total - self.start


def _first_image(item: Any) -> torch.Tensor:
    return item[0] if isinstance(item, (tuple, list)) else item


def _collate(items: Sequence[Any]) -> torch.Tensor:
    return torch.stack([_first_image(i) for i in items])


def _non_finite_rows(x: torch.Tensor) -> torch.Tensor:
    return (~torch.isfinite(x)).flatten(1).any(1).nonzero().flatten()


def _check_data(images: torch.Tensor | Dataset, model: MaskedAutoencoder, batch: int, objects: bool = False) -> int:
    """The number of images, after refusing (DataError) what cannot train this model: a wrong shape,
    dtype or channel count, NaN or inf in a tensor, fewer images than one batch. With ``objects``
    (object masks) a tensor carries one more channel, the object mask, after the image channels."""
    c, s = model.cfg.in_chans + int(objects), model.cfg.img_size
    if objects and not isinstance(images, torch.Tensor):
        raise DataError(f"mask_kind 'object' needs the images as a tensor [N, {c}, {s}, {s}] whose last channel "
                        f"is the object mask; got a {type(images).__name__}")
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1:] != (c, s, s) or not images.is_floating_point():
            raise DataError(f"images must be a float [N, {c}, {s}, {s}] tensor for model "
                            f"{tuple(images.shape[1:]) if images.ndim == 4 else ''}, got {images.dtype} "
                            f"{tuple(images.shape)}" + (" (integer images: convert with x.float() / 255)"
                                                        if not images.is_floating_point() else ""))
        n = images.shape[0]
        bad = _non_finite_rows(images) if n else torch.zeros(0)
        if len(bad):
            raise DataError(f"images hold NaN or inf in {len(bad)} of {n} images (first: image {int(bad[0])}); "
                            "training on them would give a non-finite loss: repair or drop those images")
    elif isinstance(images, Dataset) and hasattr(images, "__len__"):
        n = len(images)
        first = _first_image(images[0]) if n else None
        if first is not None and (not isinstance(first, torch.Tensor) or not first.is_floating_point()):
            raise DataError(f"dataset items must be float [{c}, {s}, {s}] image tensors (or (image, label)), got "
                            f"{first.dtype if isinstance(first, torch.Tensor) else type(first).__name__}")
        if first is not None and tuple(first.shape) != (c, s, s):
            raise DataError(f"dataset items must be [{c}, {s}, {s}] images (or (image, label)), got {tuple(first.shape)}")
    else:
        raise DataError(f"images must be a float [N, {c}, {s}, {s}] tensor or a torch Dataset with a length, "
                        f"got {type(images).__name__}")
    if n < batch:
        raise DataError(f"{n} images cannot fill one global batch of {batch}; lower batch_size")
    return n


def data_record(images: torch.Tensor | Dataset, spec: str | None = None) -> dict[str, Any]:
    """What a run trains on, as its checkpoint records it (resuming refuses other data).

    ``spec`` is the name it was given (``--data``), kept for the reader. A tensor is described by its
    shape, dtype and the SHA-256 of a strided sample of :data:`FINGERPRINT_VALUES` values (every image
    contributes); a dataset by its type, length and, where it lists files (``samples``) or holds
    tensors (``tensors``), the SHA-256 of those."""
    record: dict[str, Any] = {"spec": spec}
    if isinstance(images, torch.Tensor):
        flat = images.detach().reshape(-1)
        sample = flat[::max(1, flat.numel() // FINGERPRINT_VALUES)][:FINGERPRINT_VALUES]
        digest = hashlib.sha256(sample.to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()
        return {**record, "kind": "tensor", "size": int(images.shape[0]), "shape": list(images.shape),
                "dtype": str(images.dtype).removeprefix("torch."), "sha256": digest}
    record.update(kind="dataset", type=type(images).__name__, size=len(images))
    if isinstance(getattr(images, "tensors", None), (tuple, list)) and images.tensors:
        inner = data_record(images.tensors[0])
        record.update(shape=inner["shape"], dtype=inner["dtype"], sha256=inner["sha256"])
    elif isinstance(getattr(images, "samples", None), list):
        root = str(getattr(images, "root", "") or "")
        files = "\n".join(f"{os.path.relpath(str(p), root) if root else os.path.basename(str(p))}\t{t}"
                           for p, t in images.samples)
        record["sha256"] = hashlib.sha256(files.encode()).hexdigest()
    return record


def _describe_data(r: dict[str, Any]) -> str:
    shape = f" {r['shape']} {r.get('dtype', '')}" if "shape" in r else ""
    digest = f" sha256 {r['sha256'][:12]}" if r.get("sha256") else ""
    return f"{r.get('spec') or r.get('type') or r.get('kind')}: {r.get('size')} images{shape}{digest}"


def _check_resume(saved: dict[str, Any], config: PretrainConfig, path: Path) -> None:
    now = config.to_dict()
    # a field added to PretrainConfig after the checkpoint was written had its default then
    saved = {**PretrainConfig().to_dict(), **saved}
    diff = sorted(k for k in now if k not in _RESUME_FREE and saved.get(k) != now[k])
    if diff:
        raise CheckpointError(f"cannot resume from {path}: the checkpoint was trained with a different configuration for "
                              + ", ".join(f"{k} (checkpoint {saved.get(k)!r}, now {now[k]!r})" for k in diff))


def _check_resume_data(saved: dict[str, Any] | None, now: dict[str, Any], path: Path) -> None:
    if not saved:  # a checkpoint written before runs recorded their data
        return
    keys = ("kind", "size", "shape", "dtype", "sha256")
    if any(saved.get(k) != now.get(k) for k in keys):
        raise CheckpointError(f"cannot resume from {path}: the checkpoint was trained on other data "
                              f"(checkpoint: {_describe_data(saved)}; now: {_describe_data(now)}); "
                              "give the same data, or start a new run in another output_dir")


def _check_output_dir(out_dir: Path | None, ckpt_path: Path | None, config: PretrainConfig,
                      resume: bool | str | Path) -> None:
    """Refuse (before anything is written) a run that would replace the run already in ``out_dir``."""
    if out_dir is None or ckpt_path is None:
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"PretrainConfig.output_dir {str(out_dir)!r} is a file, not a folder")
    existing = [p.name for p in (ckpt_path, out_dir / METRICS_NAME) if p.exists()]
    if not existing or config.overwrite:
        return
    if resume is True:  # resumes its own checkpoint; without one, metrics alone are nothing to resume
        return
    if resume is not False and ckpt_path.is_file() and Path(resume).resolve() == ckpt_path.resolve():
        return
    raise CheckpointError(f"output_dir {str(out_dir)!r} already holds a run ({', '.join(existing)}); "
                          "resume it (--resume, resume=True), choose another output_dir, or replace it "
                          "explicitly (--overwrite, overwrite=True)")


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """The JSON lines a run wrote (``metrics.jsonl``), one dict per logged step."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"metrics file {str(path)!r} does not exist")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_history(history: Sequence[dict[str, float]] | str | Path, ax: Axes | None = None, smooth: int = 1) -> Figure:
    """Loss (log scale) and learning rate against step; ``history`` may be a metrics.jsonl path.
    ``smooth`` > 1 overlays a running mean over that many logged steps. Returns the figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    hist = read_metrics(history) if isinstance(history, (str, Path)) else list(history)
    if not hist:
        raise ValueError("history is empty: nothing to plot")
    step = np.array([h["step"] for h in hist])
    loss = np.array([h["loss"] for h in hist])
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    fig = ax.figure
    ax.plot(step, loss, lw=0.8, alpha=0.5 if smooth > 1 else 1.0, label="loss")
    if smooth > 1 and len(loss) >= smooth:
        ax.plot(step[smooth - 1:], np.convolve(loss, np.ones(smooth) / smooth, mode="valid"), label=f"mean of {smooth}")
    ax.set(xlabel="optimiser step", ylabel="masked-patch MSE", yscale="log")
    ax2 = ax.twinx()
    ax2.plot(step, [h["lr"] for h in hist], color="grey", lw=0.8, ls="--")
    ax2.set_ylabel("learning rate", color="grey")
    ax.legend(loc="upper right", frameon=False)
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Schedule:
    """Step counts and learning rate of a run, resolved from the config and the data size."""

    total: int       # optimiser steps
    warmup: int      # linear warm-up steps
    peak_lr: float   # lr after warm-up
    per_epoch: int   # full global batches per epoch

    @classmethod
    def of(cls, config: PretrainConfig, n: int) -> "Schedule":
        """Raises ConfigError when epochs resolve to no step, the warm-up outlasts the run, or
        ``min_lr`` exceeds the peak learning rate."""
        per_epoch = n // config.batch_size
        total = config.steps if config.steps is not None else round(config.epochs * per_epoch)
        if total < 1:
            raise ConfigError(f"PretrainConfig.epochs = {config.epochs!r} of {per_epoch} batch(es) of "
                              f"{config.batch_size} ({n} images) is no optimiser step: ask for more epochs or set steps")
        warmup = config.warmup_steps if config.warmup_steps is not None else round(config.warmup_epochs * per_epoch)
        if warmup > total:
            raise ConfigError(f"the warm-up of {warmup} steps (warmup_steps {config.warmup_steps!r}, warmup_epochs "
                              f"{config.warmup_epochs!r}) outlasts the run's {total} steps: it must be <= {total}")
        peak_lr = config.lr if config.lr is not None else config.blr * config.batch_size / 256
        if config.min_lr > peak_lr:
            raise ConfigError(f"PretrainConfig.min_lr = {config.min_lr!r} exceeds the peak learning rate {peak_lr:.4g}: "
                              "the cosine would raise the rate")
        return cls(total, warmup, peak_lr, per_epoch)


def _restore(net: MaskedAutoencoder, optimizer: torch.optim.Optimizer, config: PretrainConfig,
             resume: bool | str | Path, ckpt_path: Path | None, data: dict[str, Any],
             until_step: int | None) -> tuple[int, list[dict[str, float]]]:
    """Load the checkpoint to resume from, if any: returns (steps done, history so far).

    Refuses (CheckpointError) a checkpoint of another configuration or other data, one that is no
    training checkpoint, and an ``until_step`` below its step (a checkpoint is never rewritten as an
    earlier step)."""
    resume_from = ckpt_path if resume is True else (Path(resume) if resume is not False else None)
    if resume_from is not None and resume_from.is_file():
        state = load_checkpoint(resume_from)
        missing = [k for k in ("model", "optimizer", "step", "history", "config") if k not in state]
        if missing:
            raise CheckpointError(f"cannot resume from {resume_from}: it is not a training checkpoint of pretrain "
                                  f"(lacks {', '.join(missing)}); start a new run, or load its weights with load_pretrained")
        _check_resume(state["config"], config, resume_from)
        _check_resume_data(state.get("data"), data, resume_from)
        step = int(state["step"])
        if until_step is not None and until_step < step:
            raise CheckpointError(f"until_step {until_step} is below the step of {resume_from} ({step}): resuming "
                                  f"cannot go back; ask for until_step >= {step}, or start a new run")
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        return step, list(state["history"])
    if resume is not True and resume is not False:
        raise FileNotFoundError(f"resume checkpoint {str(resume)!r} does not exist")
    return 0, []


def _batch_stream(images: torch.Tensor | Dataset, sampler: "_StepBatches", config: PretrainConfig,
                  device: torch.device) -> Iterator[torch.Tensor]:
    """This process's slice of each step's global batch, in step order."""
    if isinstance(images, torch.Tensor):
        return (images[sampler.indices(s)] for s in range(sampler.start, sampler.total))
    return iter(DataLoader(images, batch_sampler=sampler, collate_fn=_collate,
                           num_workers=config.num_workers, pin_memory=device.type == "cuda"))


def _step_mask(config: PretrainConfig, grid: MaskGrid, x: torch.Tensor, step: int, offset: int, local: int,
               patch: int, objects: torch.Tensor | None = None) -> torch.Tensor:
    """This process's masks [local, L] (True = removed) of step ``step``: random units drawn for the
    global batch (rows ``offset:offset+local``), or superpixel / object masks of the augmented images
    (``objects`` [local, H, W] bool: the object pixels)."""
    gen = _step_generator(config.seed, step, 1)
    if config.mask_kind == "object":
        from .object_masks import object_masks

        return object_masks(objects.cpu(), patch, config.mask_ratio, gen, config.object_min_share)
    if config.mask_kind == "superpixel":
        from .superpixel import superpixel_masks

        return superpixel_masks(x.detach().cpu().float(), patch, config.mask_ratio, config.superpixel_segments, gen)
    _, _, m = random_masking_indices(config.batch_size, grid, config.mask_ratio, generator=gen)
    return m[offset:offset + local].bool()


class _Monitor:
    """The loss of the model on fixed images under one fixed mask (random one-patch units at
    ``config.monitor_ratio``, drawn once from a fixed seed), every ``config.monitor_every`` steps.

    Training losses at different ratios score different pixels; this one scores the same pixels in
    every run of the same geometry, so curves of runs at different ratios can be set side by side (time
    to a given reconstruction loss). It runs without gradients and draws no random numbers of the
    training streams: the trajectory is the same with the monitor on or off."""

    def __init__(self, net: MaskedAutoencoder, images: torch.Tensor, ratio: float, every: int, batch: int) -> None:
        self.every, self.batch, self.images = every, batch, images
        gen = torch.Generator().manual_seed(0)  # one mask set for every run: the comparison's point
        self.masks = random_masking_indices(images.shape[0], net.mask_grid(None), ratio, generator=gen)

    def due(self, done: int, total: int) -> bool:
        return done % self.every == 0 or done == total

    @torch.no_grad()
    def loss(self, net: MaskedAutoencoder, device: torch.device) -> float:
        was_training = net.training
        net.eval()
        total, n = 0.0, self.images.shape[0]
        for i in range(0, n, self.batch):
            x = self.images[i:i + self.batch].to(device)
            keep, restore, m = (t[i:i + self.batch].to(device) for t in self.masks)
            total += float(net.forward_from_indices(x, keep, restore, m).loss) * x.shape[0]
        net.train(was_training)
        return total / n


def monitor_loss(net: MaskedAutoencoder, images: torch.Tensor, ratio: float, batch_size: int = 256) -> float:
    """The monitor's loss for ``net`` now, on the device the model is on: its loss on ``images``
    [M, C, H, W] under the monitor's fixed masks (random one-patch units at ``ratio``, drawn from seed 0).
    For a trained model, what its run logged last when it ran with this monitor; for a model trained
    without one, the same measurement."""
    return _Monitor(net, images, ratio, 1, batch_size).loss(net, next(net.parameters()).device)


def _monitor_images(config: PretrainConfig, images: torch.Tensor | Dataset, given: torch.Tensor | None,
                    net: MaskedAutoencoder) -> torch.Tensor | None:
    """The images of the monitor loss [M, C, H, W]: ``given``, else the first MONITOR_IMAGES training
    images (without an object channel); None when the monitor is off."""
    if not config.monitor_every:
        return None
    if given is None:
        m = min(MONITOR_IMAGES, len(images))
        given = images[:m] if isinstance(images, torch.Tensor) else torch.stack(
            [_first_image(images[i]) for i in range(m)])
        if config.mask_kind == "object":
            given = given[:, :-1]
    mc = net.cfg
    if not isinstance(given, torch.Tensor) or given.ndim != 4 or tuple(given.shape[1:]) != (
            mc.in_chans, mc.img_size, mc.img_size) or len(given) == 0:
        shape = tuple(given.shape) if isinstance(given, torch.Tensor) else type(given).__name__
        raise DataError(f"monitor_images {shape}: must be a float tensor [M >= 1, {mc.in_chans}, {mc.img_size}, "
                        f"{mc.img_size}], the model's image shape")
    if not given.is_floating_point() or not torch.isfinite(given).all():
        raise DataError("monitor_images: must be finite floating-point images (found another dtype, NaN or inf)")
    return given.float()


def step_seconds(history: Sequence[dict[str, float]]) -> float | None:
    """Median seconds of one optimiser step over a run's history (rows of consecutive steps only): a
    cost that pauses, resumptions and the steps that also checkpoint or monitor do not move."""
    gaps = [b["seconds"] - a["seconds"] for a, b in zip(history, history[1:])
            if b["step"] - a["step"] == 1 and b["seconds"] > a["seconds"]]
    return statistics.median(gaps) if gaps else None


def steps_to_loss(history: Sequence[dict[str, float]], target: float, key: str = "monitor_loss") -> int | None:
    """The first logged step at which ``key`` is at or below ``target``; None if never."""
    for row in history:
        if key in row and row[key] <= target:
            return int(row["step"])
    return None


class _Reporter:
    """Where a run reports each step: metrics.jsonl (rewritten to mirror the resumed history), a tqdm
    bar, and a progress line on stderr every ``progress_every_s`` seconds (for logs and the book runner)."""

    def __init__(self, config: PretrainConfig, out_dir: Path | None, history: list[dict[str, float]],
                 start: int, stop: int, is_main: bool) -> None:
        self.config, self.start, self.stop, self.is_main = config, start, stop, is_main
        self.file = None
        self.bar = None
        self.last_line = time.perf_counter()
        if not is_main:
            return
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.file = (out_dir / METRICS_NAME).open("w")
            for row in history:
                self.file.write(json.dumps(row) + "\n")
        if config.progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=stop, initial=start, desc="pretrain", unit="step", leave=False)

    def step(self, done: int, loss: float, row: dict[str, float] | None) -> None:
        if row is not None and self.file is not None:
            self.file.write(json.dumps(row) + "\n")
            self.file.flush()
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}")
        every = self.config.progress_every_s
        now = time.perf_counter()
        if self.is_main and every and (now - self.last_line >= every or done == self.stop):
            rate = (now - self.t0) / max(done - self.start, 1)
            print(f"[pretrain] step {done}/{self.stop}  loss {loss:.4f}  {rate:.2f} s/step  "
                  f"about {rate * (self.stop - done) / 60:.1f} min left", file=sys.stderr, flush=True)
            self.last_line = now

    def __enter__(self) -> "_Reporter":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.file is not None:
            self.file.close()


def pretrain(config: PretrainConfig, images: torch.Tensor | Dataset, *, resume: bool | str | Path = False,
             until_step: int | None = None, model: MaskedAutoencoder | None = None,
             data_spec: str | None = None, monitor_images: torch.Tensor | None = None) -> PretrainResult:
    """Pretrain an MAE on ``images`` ([N, C, H, W] float tensor, or a Dataset of images or
    (image, label) pairs) under ``config``; the same call serves notebooks, the CLI and torchrun.
    Like MAE's ``main_pretrain`` it seeds torch's global generator with ``config.seed`` (the model's
    initialisation and the masks draw from it), so the caller's random stream is reset.

    Args:
        resume: True resumes from ``<output_dir>/checkpoint.pt`` when it exists (else starts afresh);
            a path resumes from that file. The configuration (except logging/IO fields) and the data
            must match the checkpoint's.
        until_step: stop (with a checkpoint) once this many steps are done, e.g. to time-slice a job;
            when resuming, it may not lie below the checkpoint's step.
        model: start from this model instead of a fresh ``config.model`` (ignored when resuming).
        data_spec: the name of the data (e.g. ``--data``), recorded in the checkpoint with the data's
            size and fingerprint (:func:`data_record`).
        monitor_images: with ``config.monitor_every``, the images [M, C, H, W] whose loss at one common
            mask is logged as ``monitor_loss`` (held-out images, ideally); default: the first
            MONITOR_IMAGES training images.

    A new run (no checkpoint resumed) in an ``output_dir`` that holds a run (``checkpoint.pt`` or
    ``metrics.jsonl``) is refused unless ``config.overwrite``; every refusal happens before anything
    is written.

    Raises:
        ConfigError: a value of ``config``, ``until_step`` or ``resume`` that cannot be meant.
        DataError: images of the wrong shape, dtype or channel count, NaN or inf, too few for a batch.
        CheckpointError: an unreadable checkpoint; resuming another configuration, other data, or past
            ``until_step``; a new run in a folder that holds one.
        FloatingPointError: a non-finite loss, naming the step; the last checkpoint is left as it was.
    """
    if not isinstance(config, PretrainConfig):
        raise ConfigError(f"pretrain needs a PretrainConfig, got {type(config).__name__}")
    config = config.replace()  # checks again any field assigned after construction
    if until_step is not None and (not isinstance(until_step, int) or isinstance(until_step, bool) or until_step < 1):
        raise ConfigError(f"until_step = {until_step!r}: must be an int >= 1 (steps done when to stop), or None")
    if not isinstance(resume, (bool, str, os.PathLike)) or (isinstance(resume, str) and not resume):
        raise ConfigError(f"resume = {resume!r}: must be True, False or a checkpoint path")
    if not isinstance(resume, bool) and not Path(resume).is_file():
        raise FileNotFoundError(f"resume checkpoint {str(resume)!r} does not exist")
    if model is not None and not isinstance(model, MaskedAutoencoder):
        raise ConfigError(f"model must be a MaskedAutoencoder or None, got {type(model).__name__}")
    device = pick_device(config.device)
    info = init_distributed(device)
    device = local_device(device, info)
    if config.batch_size % info.world_size:
        raise ConfigError(f"global batch_size {config.batch_size} must be divisible by the {info.world_size} processes")
    out_dir = Path(config.output_dir) if config.output_dir else None
    ckpt_path = out_dir / CHECKPOINT_NAME if out_dir else None

    torch.manual_seed(config.seed)
    net = model if model is not None else MaskedAutoencoder(config.model_config())
    objects = config.mask_kind == "object"
    n = _check_data(images, net, config.batch_size, objects)
    # a dataset that augments its own images (``AUGMENTS_ITSELF`` set, as on the image folders of
    # data.pretraining_data: RandomResizedCrop + flip, MAE's) is not augmented a second time
    augments_itself = bool(getattr(images, AUGMENTS_ITSELF, False))
    batch_augment = "none" if augments_itself else config.augment
    if batch_augment != config.augment and info.is_main:
        print(f"[pretrain] augment = {config.augment!r} is not applied: this {type(images).__name__} augments "
              "its own images (image folders: RandomResizedCrop + flip)", flush=True)
    grid = net.mask_grid(config.mask_unit)
    eff_ratio = effective_mask_ratio(grid, config.mask_ratio)  # validates ratio and unit up front
    sched = Schedule.of(config, n)
    data = data_record(images, data_spec)
    monitor_set = _monitor_images(config, images, monitor_images, net)
    _check_output_dir(out_dir, ckpt_path, config, resume)
    optimizer = build_optimizer(net, config)
    start, history = _restore(net, optimizer, config, resume, ckpt_path, data, until_step)
    net.to(device)
    optimizer.load_state_dict(optimizer.state_dict())  # moves optimizer state to the parameters' device

    amp = resolve_amp(config.amp, device)  # auto: measured on this machine, see compute.bf16_speedup
    precision = "bf16" if amp else "fp32"
    runner: torch.nn.Module = net
    if config.compile:
        net.compile()
    if info.enabled:
        runner = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    stop = min(sched.total, until_step) if until_step is not None else sched.total
    sampler = _StepBatches(n, config, start, sched.total, info)
    batches = _batch_stream(images, sampler, config, device)
    last_saved: list[int] = [start] if start else []
    monitor = (_Monitor(net, monitor_set, config.monitor_ratio, config.monitor_every, config.batch_size)
               if monitor_set is not None and info.is_main else None)

    def save(step: int) -> None:
        if ckpt_path is not None:
            last_saved.append(step)
        if info.is_main and ckpt_path is not None:
            save_checkpoint(ckpt_path, {
                "format": FORMAT, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                "step": step, "history": history, "config": config.to_dict(),
                "model_config": asdict(net.cfg), "effective_mask_ratio": eff_ratio,
                "world_size": info.world_size, "data": data, "precision": precision})
        barrier(info)

    local = config.batch_size // info.world_size
    runner.train()
    # seconds of training so far, continued across resumptions
    t0 = time.perf_counter() - (history[-1].get("seconds", 0.0) if history else 0.0)
    with _Reporter(config, out_dir, history, start, stop, info.is_main) as report:
        for step in range(start, stop):
            x = next(batches).to(device, non_blocking=True)
            if not isinstance(images, torch.Tensor) and len(bad := _non_finite_rows(x)):  # tensors: checked up front
                raise DataError(f"the batch of step {step + 1} holds NaN or inf in {len(bad)} image(s); training "
                                f"stopped before using it, last good checkpoint left intact: "
                                f"{f'{ckpt_path} (step {last_saved[-1]})' if last_saved else 'none written'}")
            x = augment_batch(x, batch_augment, _step_generator(config.seed, step, 2),
                              offset=info.rank * local, total=config.batch_size)
            x, obj = (x[:, :-1], x[:, -1] > 0.5) if objects else (x, None)  # the object channel, moved as the image
            m = _step_mask(config, grid, x, step, info.rank * local, local, net.cfg.patch_size, obj).to(device)
            lr = lr_at(step, sched.total, sched.warmup, sched.peak_lr, config.min_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                out = runner(x, mask=m, ignore_boundary_px=config.ignore_boundary_px)
                loss = out.loss
            loss_mean = all_reduce_mean(loss.detach().float(), info)
            if not torch.isfinite(loss_mean):
                where = f"{ckpt_path} (step {last_saved[-1]})" if last_saved else "none written"
                raise FloatingPointError(f"non-finite loss {loss_mean.item()} at step {step + 1}; training stopped, "
                                         f"last good checkpoint left intact: {where}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_grad:
                torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip_grad)
            optimizer.step()
            done = step + 1
            row = None
            monitored = monitor is not None and monitor.due(done, sched.total)
            if done % config.log_every == 0 or done == stop or monitored:
                row = {"step": done, "epoch": done / sched.per_epoch, "loss": float(loss_mean), "lr": lr,
                       "mask_ratio": eff_ratio, "seconds": time.perf_counter() - t0}
                if out.loss_share is not None:  # share of the removed pixels the loss still counts
                    row["loss_share"] = float(out.loss_share)
                if monitored:  # after the time stamp, and left out of the clock: not training time
                    t_mon = time.perf_counter()
                    row["monitor_loss"] = monitor.loss(net, device)
                    t0 += time.perf_counter() - t_mon
                history.append(row)
            report.step(done, float(loss_mean), row)
            if config.checkpoint_every and done % config.checkpoint_every == 0 and done != stop:
                save(done)
        save(stop)
    net.eval()
    return PretrainResult(net, history, ckpt_path, eff_ratio, config, precision)
