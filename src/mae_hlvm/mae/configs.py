"""Model presets and the pretraining configuration (plain dataclasses, YAML round-trip)."""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
import re
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

CONFIG_DIR = Path(__file__).with_name("configs")
MASK_KINDS = ("random", "superpixel", "object")  # how a step's removed patches are chosen: see PretrainConfig
MAX_SEED = 2**32 - 1  # seeds feed per-step generators (seed * 1_000_003 + step); larger ones overflow them


class ConfigError(ValueError):
    """A configuration that cannot be run: an unknown key or preset, a value of the wrong type or out
    of range, or a YAML file that does not parse. The message names the field (and the file) and the
    rule. A ``ValueError`` subclass, so code that catches ``ValueError`` keeps working."""


class _YamlLoader(yaml.SafeLoader):
    """yaml.safe_load, except that ``1e-3`` is the float YAML 1.2 says it is (PyYAML reads a string)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML ``text`` (from ``where``, for the message); raises ConfigError naming line and problem."""
    try:
        return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at}: {problem}") from None


def _typed(owner: str, name: str, value: Any, hint: Any) -> Any:
    """``value`` as the field type ``hint`` (bool, int, float, str, dict, tuple, or Optional of one),
    or raise ConfigError. Lossless only: an int is a float, a str is never a number, a bool never an int."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if optional:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    origin, ok, what = typing.get_origin(hint), False, getattr(hint, "__name__", str(hint))
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        value = int(value) if ok else value
    elif hint is float:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        value = float(value) if ok else value
        if ok and not math.isfinite(value):
            raise ConfigError(f"{owner}.{name} must be a finite number, got {value!r}")
        what = "a number"
    elif hint is str:
        ok = isinstance(value, str)
    elif origin is dict:
        ok, what = isinstance(value, Mapping), "a mapping"
        value = dict(value) if ok else value
    elif origin is tuple:
        items = typing.get_args(hint)
        what = f"a list of {len(items)} numbers"
        if isinstance(value, (list, tuple)) and len(value) == len(items):
            value = tuple(_typed(owner, f"{name}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, items)))
            ok = True
    if not ok:
        raise ConfigError(f"{owner}.{name} must be {what}{' or None' if optional else ''}, "
                          f"got {value!r} ({type(value).__name__})")
    return value


@dataclass
class MAEConfig:
    """Architecture of a masked autoencoder (encoder ViT + light decoder).

    Defaults are MAE's ViT-B/16 with the 512-d, 8-block, 16-head decoder.
    """

    img_size: int = 224
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    mlp_ratio: float = 4.0
    norm_pix_loss: bool = False

    def __post_init__(self) -> None:
        for name in ("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads",
                     "decoder_embed_dim", "decoder_depth", "decoder_num_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"MAEConfig.{name} must be a positive int, got {value!r}")
        self.mlp_ratio = _typed("MAEConfig", "mlp_ratio", self.mlp_ratio, float)
        self.norm_pix_loss = _typed("MAEConfig", "norm_pix_loss", self.norm_pix_loss, bool)
        if self.mlp_ratio <= 0:
            raise ConfigError(f"MAEConfig.mlp_ratio must be > 0, got {self.mlp_ratio!r}")
        if self.img_size % self.patch_size:
            raise ConfigError(f"MAEConfig.img_size {self.img_size} must be divisible by patch_size {self.patch_size}")
        for dim, heads, what in ((self.embed_dim, self.num_heads, "embed_dim"),
                                 (self.decoder_embed_dim, self.decoder_num_heads, "decoder_embed_dim")):
            if dim % heads:
                raise ConfigError(f"MAEConfig.{what} {dim} must be divisible by its number of heads {heads}")
            if dim % 4:  # 2-D sin-cos position embedding uses dim/4 frequencies per axis and sin/cos
                raise ConfigError(f"MAEConfig.{what} {dim} must be divisible by 4 (2-D sin-cos position embedding)")

    @property
    def num_patches(self) -> int:
        return (self.img_size // self.patch_size) ** 2


_ENC_B = dict(embed_dim=768, depth=12, num_heads=12)
_ENC_L = dict(embed_dim=1024, depth=24, num_heads=16)
_ENC_H = dict(embed_dim=1280, depth=32, num_heads=16)
_DEC = dict(decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16)

PRESETS: dict[str, dict[str, Any]] = {
    # CPU-scale model of the book: ~3 M parameters, 32 px images, 8x8 patch grid
    "mae_tiny": dict(img_size=32, patch_size=4, embed_dim=192, depth=6, num_heads=3,
                     decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4),
    # the same on 2-px patches (16x16 grid): mask units of 1, 2 and 4 patches leave 16, 8 and 4 units
    # a side, the unit-to-patch steps of the paper's ViT-B/8 sweep (28, 14, 7)
    "mae_tiny_p2": dict(img_size=32, patch_size=2, embed_dim=192, depth=6, num_heads=3,
                        decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4),
    # a narrower, shallower 2-px-patch model for CPU sweeps (~1 M encoder parameters)
    "mae_mini_p2": dict(img_size=32, patch_size=2, embed_dim=128, depth=4, num_heads=4,
                        decoder_embed_dim=96, decoder_depth=2, decoder_num_heads=4),
    "mae_vit_base_patch8": dict(img_size=224, patch_size=8, **_ENC_B, **_DEC),
    "mae_vit_base_patch16": dict(img_size=224, patch_size=16, **_ENC_B, **_DEC),
    "mae_vit_base_patch32": dict(img_size=224, patch_size=32, **_ENC_B, **_DEC),
    "mae_vit_large_patch16": dict(img_size=224, patch_size=16, **_ENC_L, **_DEC),
    "mae_vit_huge_patch14": dict(img_size=224, patch_size=14, **_ENC_H, **_DEC),
}


def model_config(name: str, **overrides: Any) -> MAEConfig:
    """The :class:`MAEConfig` of preset ``name`` with ``overrides`` (any MAEConfig field)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown MAE preset {name!r}; valid presets: {', '.join(PRESETS)}")
    valid = {f.name for f in fields(MAEConfig)}
    bad = sorted(set(overrides) - valid)
    if bad:
        raise ConfigError(f"unknown MAEConfig field(s) {', '.join(bad)}; valid fields: {', '.join(sorted(valid))}")
    return MAEConfig(**{**PRESETS[name], **overrides})


@dataclass
class PretrainConfig:
    """Everything a pretraining run depends on; the YAML files in ``mae/configs/`` hold these keys.

    Step counts are optimiser steps; ``batch_size`` is the GLOBAL batch (split over processes).
    ``epochs``/``warmup_epochs`` are used when ``steps``/``warmup_steps`` are None.

    Every field is checked at construction (type, range, finiteness, the model and its mask grid);
    a value that cannot be meant raises :class:`ConfigError` naming the field and the rule.
    """

    model: str = "mae_tiny"                       # preset name, see PRESETS
    model_overrides: dict[str, Any] = field(default_factory=dict)  # e.g. {in_chans: 1, norm_pix_loss: true}
    mask_ratio: float = 0.75                      # requested ratio r
    mask_unit: int | None = None                  # pixels; None = the ViT patch
    batch_size: int = 128                         # global batch
    steps: int | None = None                      # total optimiser steps (wins over epochs)
    epochs: float = 1.0
    warmup_steps: int | None = None
    warmup_epochs: float = 0.0
    blr: float = 1.5e-4                           # lr = blr * batch_size / 256
    lr: float | None = None                       # absolute lr, overrides blr
    min_lr: float = 0.0
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.95)
    clip_grad: float | None = None
    augment: str = "none"                         # none | flip | rrc_flip (RandomResizedCrop 0.2-1 + flip)
    seed: int = 0
    device: str = "auto"                          # auto | cpu | cuda | cuda:1 ...
    amp: str = "auto"                             # auto (bf16 on CUDA; on CPU where measured faster) | bf16 | none
    compile: bool = False                         # torch.compile the model
    num_workers: int = 0                          # DataLoader workers (Dataset inputs only)
    output_dir: str | None = None                 # checkpoint.pt and metrics.jsonl go here
    checkpoint_every: int = 0                     # steps between checkpoints; 0 = only at the end
    log_every: int = 1                            # steps between metrics lines
    progress: bool = True                         # tqdm bar
    progress_every_s: float = 0.0                 # seconds between progress lines on stderr; 0 = none
    overwrite: bool = False                       # a new run may replace the run already in output_dir
    ignore_boundary_px: int = 0                   # leave removed pixels this close to a visible one out of the loss
    mask_kind: str = "random"                     # random (MAE) | superpixel (whole SLIC superpixels) | object (known object first), same count
    superpixel_segments: int = 16                 # SLIC superpixels per image (mask_kind superpixel)
    object_min_share: float = 0.0                 # object patch: more than this share on the object (0: any pixel)
    monitor_every: int = 0                        # steps between losses on fixed images at one common mask; 0 = none
    monitor_ratio: float = 0.75                   # ratio of that common mask (random one-patch units, drawn once)

    def __post_init__(self) -> None:
        if isinstance(self.output_dir, os.PathLike):
            self.output_dir = os.fspath(self.output_dir)  # a Path would not load back from a weights_only checkpoint
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            setattr(self, f.name, _typed("PretrainConfig", f.name, getattr(self, f.name), hints[f.name]))
        if self.model not in PRESETS:
            raise ConfigError(f"unknown MAE preset {self.model!r}; valid presets: {', '.join(PRESETS)}")
        rules = [  # (field, holds, rule)
            ("mask_ratio", 0.0 < self.mask_ratio < 1.0, "must lie strictly between 0 and 1"),
            ("mask_unit", self.mask_unit is None or self.mask_unit >= 1, "must be >= 1 px, or None for the patch"),
            ("batch_size", self.batch_size >= 1, "must be >= 1"),
            ("steps", self.steps is None or self.steps >= 1, "must be >= 1, or None to use epochs"),
            ("epochs", self.epochs > 0, "must be > 0"),
            ("warmup_steps", self.warmup_steps is None or self.warmup_steps >= 0, "must be >= 0, or None"),
            ("warmup_epochs", self.warmup_epochs >= 0, "must be >= 0"),
            ("blr", self.blr > 0, "must be > 0"),
            ("lr", self.lr is None or self.lr > 0, "must be > 0, or None to use blr"),
            ("min_lr", self.min_lr >= 0, "must be >= 0"),
            ("min_lr", self.lr is None or self.min_lr <= self.lr, f"must be <= lr ({self.lr})"),
            ("weight_decay", self.weight_decay >= 0, "must be >= 0"),
            ("betas", all(0.0 <= b < 1.0 for b in self.betas), "must both lie in [0, 1)"),
            ("clip_grad", self.clip_grad is None or self.clip_grad > 0, "must be > 0, or None for no clipping"),
            ("augment", self.augment in ("none", "flip", "rrc_flip"), "must be one of none, flip, rrc_flip"),
            ("seed", 0 <= self.seed <= MAX_SEED, f"must lie in [0, {MAX_SEED}]"),
            ("amp", self.amp in ("auto", "bf16", "none"), "must be one of auto, bf16, none"),
            ("num_workers", self.num_workers >= 0, "must be >= 0"),
            ("output_dir", self.output_dir != "", "must name a folder, or be None for no files"),
            ("checkpoint_every", self.checkpoint_every >= 0, "must be >= 0 (0: only at the end)"),
            ("log_every", self.log_every >= 1, "must be >= 1"),
            ("progress_every_s", self.progress_every_s >= 0, "must be >= 0 (0: no progress lines)"),
            ("ignore_boundary_px", self.ignore_boundary_px >= 0, "must be >= 0 (0: MAE's loss on every removed pixel)"),
            ("mask_kind", self.mask_kind in MASK_KINDS, f"must be one of {', '.join(MASK_KINDS)}"),
            ("superpixel_segments", self.superpixel_segments >= 2, "must be >= 2"),
            ("object_min_share", 0.0 <= self.object_min_share < 1.0,
             "must lie in [0, 1) (0: every patch the object touches counts as object)"),
            ("monitor_every", self.monitor_every >= 0, "must be >= 0 (0: no monitor loss)"),
            ("monitor_ratio", 0.0 < self.monitor_ratio < 1.0, "must lie strictly between 0 and 1"),
        ]
        for name, holds, rule in rules:
            if not holds:
                raise ConfigError(f"PretrainConfig.{name} = {getattr(self, name)!r}: {rule}")
        from ..compute import check_device_name
        from .masking import make_grid, num_kept_units

        try:
            check_device_name(self.device)
        except ValueError as err:
            raise ConfigError(f"PretrainConfig.device: {err}") from None
        try:
            mc = self.model_config()  # validates model_overrides
        except ConfigError as err:
            raise ConfigError(f"PretrainConfig.model_overrides = {self.model_overrides!r}: {err}") from None
        if self.mask_kind != "random" and self.mask_unit not in (None, mc.patch_size):
            raise ConfigError(f"PretrainConfig.mask_unit = {self.mask_unit!r}: {self.mask_kind} masks are counted in "
                              f"patches; leave mask_unit None or set it to the patch ({mc.patch_size} px)")
        try:  # the mask unit must tile the image in whole patches and the ratio leave a unit visible
            num_kept_units(make_grid(mc.img_size, mc.patch_size, self.mask_unit).num_units, self.mask_ratio)
        except ValueError as err:
            raise ConfigError(f"PretrainConfig.mask_unit = {self.mask_unit!r}, mask_ratio = {self.mask_ratio!r} "
                              f"on {self.model} ({mc.img_size} px, patch {mc.patch_size}): {err}") from None
        if self.monitor_every:  # the monitor's mask, one-patch units, must also hide and keep a patch
            try:
                num_kept_units(make_grid(mc.img_size, mc.patch_size, None).num_units, self.monitor_ratio)
            except ValueError as err:
                raise ConfigError(f"PretrainConfig.monitor_ratio = {self.monitor_ratio!r} on {self.model} "
                                  f"({mc.img_size} px, patch {mc.patch_size}): {err}") from None

    def model_config(self) -> MAEConfig:
        return model_config(self.model, **self.model_overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PretrainConfig":
        if not isinstance(data, Mapping):
            raise ConfigError(f"a PretrainConfig needs a mapping of its keys, got {type(data).__name__} {data!r}")
        valid = {f.name for f in fields(cls)}
        bad = sorted(set(data) - valid)
        if bad:
            raise ConfigError(f"unknown PretrainConfig key(s) {', '.join(bad)}; valid keys: {', '.join(sorted(valid))}")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "PretrainConfig":
        """Load a YAML file; a bare name like ``paper_vitb16_r0.75`` means ``mae/configs/<name>.yaml``."""
        p = Path(path)
        if not p.is_file() and (CONFIG_DIR / f"{path}.yaml").is_file():
            p = CONFIG_DIR / f"{path}.yaml"
        if not p.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} not found (nor {CONFIG_DIR / f'{path}.yaml'}); "
                                    f"bundled configs: {', '.join(list_configs())}")
        try:
            text = p.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"config file {p} cannot be read: {err}") from None
        data = load_yaml(text, f"config file {p}")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {p} must hold a mapping of PretrainConfig keys, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"config file {p}: {err}") from None

    def replace(self, **changes: Any) -> "PretrainConfig":
        return dataclasses.replace(self, **changes)


def list_configs() -> list[str]:
    """Names of the bundled YAML configs (the paper's settings and the CPU defaults)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def describe_configs(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per bundled config (or ``names``): model, patch, unit, ratio, unit count, the effective
    ratio (kept amount counted in whole units), batch, schedule and norm_pix."""
    from .masking import effective_mask_ratio, make_grid

    rows = []
    for name in names or list_configs():
        c = PretrainConfig.from_yaml(name)
        mc = c.model_config()
        grid = make_grid(mc.img_size, mc.patch_size, c.mask_unit)
        rows.append(dict(config=name, model=c.model, patch=mc.patch_size, unit=c.mask_unit or mc.patch_size,
                         ratio=c.mask_ratio, units=grid.num_units, effective=effective_mask_ratio(grid, c.mask_ratio),
                         batch=c.batch_size, schedule=f"{c.steps} steps" if c.steps else f"{c.epochs:g} epochs",
                         norm_pix=mc.norm_pix_loss))
    return rows
