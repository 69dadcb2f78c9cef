"""One MAE pretraining run as a cached computation: ``run(PretrainingParams) -> PretrainingRun``.

The parameters name everything the trained weights depend on (data, model, masking, optimisation,
seed); the run cache keys the run by them, so asking twice trains once, an interrupted run resumes
from its checkpoint, and ``steps=0`` is the untrained, randomly initialised model of the same
architecture (the baseline every evaluation is set beside).

>>> from mae_hlvm.experiments import pretraining
>>> run = pretraining.run(pretraining.PretrainingParams(mask_ratio=0.5))   # trains, or loads
>>> run.model, run.history[-1]["loss"], run.heldout["ratio"]
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from ..data.pretraining import pretraining_images
from ..eval.reconstruction import masked_loss_vs_mean_colour
from ..mae.checkpoint import load_checkpoint, load_pretrained, model_payload, save_checkpoint
from ..mae.configs import PRESETS, PretrainConfig
from ..mae.masking import MaskGrid, effective_mask_ratio, make_grid, num_kept_units
from ..mae.model import MaskedAutoencoder
from ..mae.train import CHECKPOINT_NAME, MONITOR_IMAGES, monitor_loss, pretrain, step_seconds
from ..reproducibility import seeded
from .cache import CachedRun, RunCache
from .params import Params, ParamsError, knob

KIND = "pretraining"
# The monitor loss every run logs (``history`` rows with ``monitor_loss``): held-out images under one
# common mask, so that runs at different ratios can be compared by time to a given loss. It does not
# change the trajectory and is not in the key; runs trained before it existed (2026-11-27) lack it.
MONITOR_POINTS = 24   # monitored steps per run
# The common mask's ratio: halfway between the extremes that suggestion 3 sets side by side (0.1 and
# 0.9), so that neither meets a mask further from its training masks than the other does.
MONITOR_RATIO = 0.5
HELDOUT_SEED_OFFSET = 10_000  # held-out images are drawn with seed + this: never seen in training
# options added after runs were cached, with the value that means "off": left out of the key when off
OFF_BY_DEFAULT: dict[str, Any] = {"ignore_boundary_px": 0, "mask_kind": "random"}
# settings that only matter when an option is on: left out of the key while it is off
ONLY_WHEN: dict[str, tuple[str, Any]] = {"superpixel_segments": ("mask_kind", "random")}
# settings that only matter for one value of an option: left out of the key for every other value
ONLY_FOR: dict[str, tuple[str, Any]] = {"object_min_share": ("mask_kind", "object")}


@dataclass(frozen=True)
class PretrainingParams(Params):
    """Everything a pretrained MAE depends on; the defaults are the book's ``default`` profile."""

    data: Literal["shapes", "fashion_mnist"] = knob("shapes", "training images (fashion_mnist: 1 channel, padded)")
    n_images: int = knob(20000, "training images")
    model: str = knob("mae_tiny", "preset of mae_hlvm.mae.PRESETS")
    img_size: int = knob(32, "image side, pixels")
    mask_ratio: float = knob(0.75, "requested masking ratio r; kept amount counted in whole units")
    mask_unit: int = knob(4, "mask unit, pixels: a multiple of the ViT patch")
    norm_pix_loss: bool = knob(False, "per-patch normalised pixel targets")
    steps: int = knob(1200, "optimiser steps; 0 means the untrained, randomly initialised model")
    warmup_steps: int = knob(60, "linear warm-up steps")
    batch_size: int = knob(128, "global batch")
    blr: float = knob(1.5e-3, "base learning rate, scaled by batch_size / 256")
    weight_decay: float = knob(0.05, "AdamW weight decay")
    augment: Literal["none", "flip", "rrc_flip"] = knob("flip", "augmentation of the training images")
    amp: Literal["none", "bf16"] = knob("none", "bf16 autocast or none")
    seed: int = knob(0, "seed of initialisation, data, batches, masks, augmentation")
    n_heldout: int = knob(512, "held-out images for the masked loss against its baseline")
    ignore_boundary_px: int = knob(0, "loss ignores removed pixels this close to a visible one (0: off)")
    mask_kind: Literal["random", "superpixel", "object"] = knob(
        "random", "random units (MAE), whole superpixels, or the known object first (shapes)")
    superpixel_segments: int = knob(16, "SLIC superpixels per image (mask_kind superpixel)")
    object_min_share: float = knob(0.0, "object masks: a patch is the object's when more than this share of "
                                         "it is (0: every patch the object touches)")

    def check(self) -> None:
        self._require(self.model in PRESETS, "model", f"must be one of {', '.join(PRESETS)}")
        for name in ("n_images", "img_size", "mask_unit", "batch_size", "n_heldout"):
            self._require(getattr(self, name) >= 1, name, "must be >= 1")
        for name in ("steps", "warmup_steps", "seed", "ignore_boundary_px"):
            self._require(getattr(self, name) >= 0, name, "must be >= 0")
        self._require(0.0 < self.mask_ratio < 1.0, "mask_ratio", "must lie in (0, 1)")
        self._require(self.blr > 0, "blr", "must be > 0")
        self._require(self.weight_decay >= 0, "weight_decay", "must be >= 0")
        self._require(self.steps == 0 or self.warmup_steps <= self.steps, "warmup_steps",
                      f"must be <= steps ({self.steps})")
        self._require(self.steps == 0 or self.batch_size <= self.n_images, "batch_size",
                      f"one batch cannot be filled from n_images = {self.n_images}")
        self._require(self.data != "fashion_mnist" or self.img_size >= 28, "img_size",
                      "Fashion-MNIST images are 28 px: img_size must be >= 28")
        self._require(0.0 <= self.object_min_share < 1.0, "object_min_share",
                      "must lie in [0, 1) (0: every patch the object touches)")
        self._require(self.mask_kind != "object" or self.data == "shapes", "mask_kind",
                      f"object masks need the known objects of the shapes renderer; {self.data} has none "
                      "(superpixel masks estimate the structure of real images)")
        # the unit must tile the image in whole patches and leave a unit visible: checked here, so that
        # a bad sweep point fails before any training starts
        try:
            cfg = self.pretrain_config().model_config()
        except ValueError as err:
            raise ParamsError(f"{type(self).__name__}: {err}") from None
        try:
            num_kept_units(self.grid().num_units, self.mask_ratio)
        except ValueError as err:
            raise ParamsError(f"{type(self).__name__}.mask_ratio = {self.mask_ratio} on a {cfg.img_size} px "
                              f"image: {err}") from None

    def grid(self) -> MaskGrid:
        """The unit grid of this run's masks (raises ParamsError naming the unit when it cannot tile)."""
        cfg = self.pretrain_config().model_config()
        try:
            return make_grid(cfg.img_size, cfg.patch_size, self.mask_unit)
        except ValueError as err:
            raise ParamsError(f"{type(self).__name__}.mask_unit = {self.mask_unit}: {err}") from None

    @property
    def in_chans(self) -> int:
        return 1 if self.data == "fashion_mnist" else 3

    def model_overrides(self) -> dict[str, Any]:
        return {"img_size": self.img_size, "in_chans": self.in_chans, "norm_pix_loss": self.norm_pix_loss}

    def pretrain_config(self, **io: Any) -> PretrainConfig:
        """The :class:`PretrainConfig` of this run; ``io`` sets device, output_dir, progress..."""
        return PretrainConfig(model=self.model, model_overrides=self.model_overrides(), mask_ratio=self.mask_ratio,
                              mask_unit=self.mask_unit, batch_size=self.batch_size, steps=max(self.steps, 1),
                              warmup_steps=self.warmup_steps, blr=self.blr, weight_decay=self.weight_decay,
                              augment=self.augment, amp=self.amp, seed=self.seed,
                              ignore_boundary_px=self.ignore_boundary_px, mask_kind=self.mask_kind,
                              superpixel_segments=self.superpixel_segments,
                              object_min_share=self.object_min_share, **io)

    def cache_config(self) -> dict[str, Any]:
        """What the run cache hashes: these parameters and the full training configuration they resolve
        to (so a changed library default is a different run). An option that is off (``OFF_BY_DEFAULT``
        at its default) does not enter the key: adding such an option keeps existing runs valid."""
        cfg = self.pretrain_config().to_dict()
        for k in ("device", "output_dir", "checkpoint_every", "log_every", "progress", "progress_every_s",
                  "num_workers", "compile", "overwrite", "monitor_every", "monitor_ratio"):
            cfg.pop(k)
        params = self.to_dict()
        for d in (cfg, params):
            for k, (switch, off) in ONLY_WHEN.items():
                if d.get(switch) == off:
                    d.pop(k, None)
            for k, (switch, on) in ONLY_FOR.items():
                if d.get(switch) != on:
                    d.pop(k, None)
            for k, off in OFF_BY_DEFAULT.items():
                if d.get(k) == off:
                    d.pop(k)
        return {"params": params, "pretrain_config": cfg}


@dataclass
class PretrainingRun:
    """A trained (or loaded) model and what its run recorded."""

    params: PretrainingParams
    model: MaskedAutoencoder           # eval mode, on the CPU
    history: list[dict[str, float]]    # one row per optimiser step (empty for steps=0)
    effective_mask_ratio: float
    heldout: dict[str, float]          # masked loss on held-out images, its mean-colour baseline, ratio
    train_seconds: float               # seconds of training, summed over resumptions
    reused: bool                       # True: loaded from the cache, no training in this call
    cached: CachedRun
    monitor_ratio: float | None = None  # ratio of the monitor's common mask, from the run's own configuration

    @property
    def folder(self) -> Path:
        return self.cached.folder

    @property
    def checkpoint(self) -> Path:
        return self.folder / CHECKPOINT_NAME

    @property
    def record(self) -> dict[str, Any]:
        return self.cached.record

    @property
    def step_seconds(self) -> float | None:
        """Median seconds per optimiser step of the training (None for steps=0): the run's cost,
        unmoved by pauses and resumptions (``train_seconds`` is wall clock and includes them)."""
        return step_seconds(self.history)

    @property
    def images_per_s(self) -> float | None:
        """Training images per second at the median step (None for steps=0)."""
        t = self.step_seconds
        return self.params.batch_size / t if t else None

    @property
    def cost(self) -> dict[str, Any]:
        """What the run cost, for a results row: ``step_seconds``, ``images_per_s``, and the monitor
        curve with the ratio of its mask (``monitor``, ``monitor_ratio``; None without a curve)."""
        curve = self.monitor
        return {"step_seconds": self.step_seconds, "images_per_s": self.images_per_s, "monitor": curve or None,
                "monitor_ratio": self.monitor_ratio if curve else None}

    @property
    def monitor(self) -> list[tuple[int, float]]:
        """(step, monitor loss): the first MONITOR_IMAGES held-out images under the common mask (ratio
        :attr:`monitor_ratio`). Empty for runs trained before the monitor existed, and for runs whose
        curve does not start at the first monitored step (a run begun without it and resumed with it:
        its time to a loss would be read late)."""
        curve = [(int(h["step"]), float(h["monitor_loss"])) for h in self.history if "monitor_loss" in h]
        return curve if curve and curve[0][0] <= monitor_every(self.params.steps) else []



def training_images(params: PretrainingParams) -> torch.Tensor:
    """The run's training images [n_images, C, S, S] in [0, 1]."""
    return pretraining_images(params.data, params.n_images, seed=params.seed, img_size=params.img_size,
                              objects=params.mask_kind == "object")


def heldout_images(params: PretrainingParams) -> torch.Tensor:
    """Images of the run's data that training never saw [n_heldout, C, S, S]."""
    return pretraining_images(params.data, params.n_heldout, seed=params.seed + HELDOUT_SEED_OFFSET,
                              img_size=params.img_size)


def monitor_every(steps: int) -> int:
    """Steps between monitor losses of a run of ``steps`` steps (MONITOR_POINTS per run, and the last)."""
    return max(steps // MONITOR_POINTS, 1)


def _train(params: PretrainingParams, folder: Path, device: str, progress_every_s: float) -> None:
    if params.steps == 0:  # MAE's initialisation, drawn exactly as pretrain draws it
        with seeded(params.seed):
            model = MaskedAutoencoder(params.pretrain_config().model_config())
        save_checkpoint(folder / CHECKPOINT_NAME, {**model_payload(model), "step": 0, "history": []})
        return
    config = params.pretrain_config(device=device, output_dir=str(folder), progress=False,
                                    checkpoint_every=max(params.steps // 10, 50), progress_every_s=progress_every_s,
                                    monitor_every=monitor_every(params.steps), monitor_ratio=MONITOR_RATIO)
    pretrain(config, training_images(params), resume=True,
             data_spec=f"{params.data}{'+objects' if params.mask_kind == 'object' else ''}:{params.n_images}",
             monitor_images=heldout_images(params)[:MONITOR_IMAGES])


def steps_done(params: PretrainingParams, cache: RunCache | None = None) -> int:
    """How far the run of ``params`` has got in the cache, in optimiser steps: ``params.steps`` when
    complete, the step of an interrupted run's last checkpoint (where training resumes), 0 when it
    never started. Reads no model weights into a model; for planning long recordings."""
    cache = cache or RunCache()
    found = cache.lookup(KIND, params.cache_config())
    if found is None:
        return 0
    if found.complete:
        return params.steps
    ckpt = found.folder / CHECKPOINT_NAME
    return int(load_checkpoint(ckpt).get("step", 0)) if ckpt.is_file() else 0


def run(params: PretrainingParams, cache: RunCache | None = None, device: str = "cpu",
        progress_every_s: float = 30.0) -> PretrainingRun:
    """The pretrained model of ``params``: loaded from the run cache when complete, else trained
    (resuming an interrupted run from its checkpoint) and stored there.

    ``device`` and ``progress_every_s`` (seconds between progress lines on stderr, 0 for none) do not
    enter the run's key."""
    cache = cache or RunCache()
    config = params.cache_config()
    found = cache.lookup(KIND, config)
    reused = found is not None and found.complete
    if reused:
        state = load_checkpoint(found.folder / CHECKPOINT_NAME)
        model = load_pretrained(state).eval()
    else:
        started = cache.begin(KIND, config)
        t0 = time.perf_counter()
        _train(params, started.folder, device, progress_every_s)
        state = load_checkpoint(started.folder / CHECKPOINT_NAME)
        model = load_pretrained(state).eval()
        heldout = masked_loss_vs_mean_colour(model, heldout_images(params), params.mask_ratio, params.mask_unit,
                                             seed=params.seed + 1)
        history = state.get("history", [])
        found = cache.finish(started, heldout=heldout, call_seconds=time.perf_counter() - t0,
                             train_seconds=history[-1]["seconds"] if history else 0.0,
                             final_loss=history[-1]["loss"] if history else None)
    eff = effective_mask_ratio(params.grid(), params.mask_ratio)
    trained_with = state.get("config") or {}  # what the run was trained with (the monitor is not in the key)
    monitor_ratio = trained_with.get("monitor_ratio") if trained_with.get("monitor_every") else None
    return PretrainingRun(params, model, list(state.get("history", [])), eff, found.record["heldout"],
                          found.record["train_seconds"], reused, found, monitor_ratio)


def final_monitor_loss(run: PretrainingRun, cache: RunCache | None = None) -> float:
    """The monitor loss of ``run``'s final model (the held-out images under the common mask of ratio
    ``MONITOR_RATIO``): the last point of its curve where it logged one on that mask, else measured now
    on the same images and masks and cached in the run's folder. One reconstruction loss on a mask no
    ratio trains on, for every run, the untrained ones and those trained before the monitor existed."""
    curve = run.monitor
    if curve and run.monitor_ratio == MONITOR_RATIO and curve[-1][0] == run.params.steps:
        return curve[-1][1]
    cache = cache or RunCache()
    key = {"ratio": MONITOR_RATIO, "images": MONITOR_IMAGES}
    if (hit := cache.load_result(run.cached, "monitor_final", key)) is not None:
        return hit["loss"]
    loss = monitor_loss(run.model, heldout_images(run.params)[:MONITOR_IMAGES], MONITOR_RATIO)
    cache.save_result(run.cached, "monitor_final", key, {"loss": loss})
    return loss
