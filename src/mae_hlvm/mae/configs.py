"""Model presets and the pretraining configuration (plain dataclasses, YAML round-trip)."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).with_name("configs")


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
                raise ValueError(f"MAEConfig.{name} must be a positive int, got {value!r}")
        if self.img_size % self.patch_size:
            raise ValueError(f"MAEConfig.img_size {self.img_size} must be divisible by patch_size {self.patch_size}")
        for dim, heads, what in ((self.embed_dim, self.num_heads, "embed_dim"),
                                 (self.decoder_embed_dim, self.decoder_num_heads, "decoder_embed_dim")):
            if dim % heads:
                raise ValueError(f"MAEConfig.{what} {dim} must be divisible by its number of heads {heads}")
            if dim % 4:  # 2-D sin-cos position embedding uses dim/4 frequencies per axis and sin/cos
                raise ValueError(f"MAEConfig.{what} {dim} must be divisible by 4 (2-D sin-cos position embedding)")

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
    "mae_vit_base_patch8": dict(img_size=224, patch_size=8, **_ENC_B, **_DEC),
    "mae_vit_base_patch16": dict(img_size=224, patch_size=16, **_ENC_B, **_DEC),
    "mae_vit_base_patch32": dict(img_size=224, patch_size=32, **_ENC_B, **_DEC),
    "mae_vit_large_patch16": dict(img_size=224, patch_size=16, **_ENC_L, **_DEC),
    "mae_vit_huge_patch14": dict(img_size=224, patch_size=14, **_ENC_H, **_DEC),
}


def model_config(name: str, **overrides: Any) -> MAEConfig:
    """The :class:`MAEConfig` of preset ``name`` with ``overrides`` (any MAEConfig field)."""
    if name not in PRESETS:
        raise ValueError(f"unknown MAE preset {name!r}; valid presets: {', '.join(PRESETS)}")
    valid = {f.name for f in fields(MAEConfig)}
    bad = sorted(set(overrides) - valid)
    if bad:
        raise ValueError(f"unknown MAEConfig field(s) {', '.join(bad)}; valid fields: {', '.join(sorted(valid))}")
    return MAEConfig(**{**PRESETS[name], **overrides})


@dataclass
class PretrainConfig:
    """Everything a pretraining run depends on; the YAML files in ``mae/configs/`` hold these keys.

    Step counts are optimiser steps; ``batch_size`` is the GLOBAL batch (split over processes).
    ``epochs``/``warmup_epochs`` are used when ``steps``/``warmup_steps`` are None.
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
    amp: str = "auto"                             # auto (bf16 on CUDA, off on CPU) | bf16 | none
    compile: bool = False                         # torch.compile the model
    num_workers: int = 0                          # DataLoader workers (Dataset inputs only)
    output_dir: str | None = None                 # checkpoint.pt and metrics.jsonl go here
    checkpoint_every: int = 0                     # steps between checkpoints; 0 = only at the end
    log_every: int = 1                            # steps between metrics lines
    progress: bool = True                         # tqdm bar
    progress_every_s: float = 0.0                 # seconds between progress lines on stderr; 0 = none

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # YAML gives lists
        if self.model not in PRESETS:
            raise ValueError(f"unknown MAE preset {self.model!r}; valid presets: {', '.join(PRESETS)}")
        for name in ("batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"PretrainConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"PretrainConfig.steps must be >= 1 or None, got {self.steps!r}")
        if self.augment not in ("none", "flip", "rrc_flip"):
            raise ValueError(f"PretrainConfig.augment {self.augment!r} must be one of none, flip, rrc_flip")
        if self.amp not in ("auto", "bf16", "none"):
            raise ValueError(f"PretrainConfig.amp {self.amp!r} must be one of auto, bf16, none")
        if self.checkpoint_every < 0:
            raise ValueError(f"PretrainConfig.checkpoint_every must be >= 0, got {self.checkpoint_every}")

    def model_config(self) -> MAEConfig:
        return model_config(self.model, **self.model_overrides)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PretrainConfig":
        valid = {f.name for f in fields(cls)}
        bad = sorted(set(data) - valid)
        if bad:
            raise ValueError(f"unknown PretrainConfig key(s) {', '.join(bad)}; valid keys: {', '.join(sorted(valid))}")
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
        data = yaml.safe_load(p.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config file {p} must hold a mapping of PretrainConfig keys, got {type(data).__name__}")
        return cls.from_dict(data)

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
