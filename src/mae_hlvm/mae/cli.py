"""Command line for pretraining: ``python -m mae_hlvm.mae`` (also under torchrun).

Every :class:`PretrainConfig` field is an option; ``--config`` loads a YAML file (or a bundled name,
see ``--list-configs``) and explicit options override it. A refused input (a bad value, file, data
or checkpoint; a run in the output folder without ``--resume`` or ``--overwrite``) prints one line,
``error: ...``, naming it, and exits with status 1.
"""
from __future__ import annotations

import argparse
import sys
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Sequence

from ..data.pretraining import pretraining_data
from .configs import PRESETS, ConfigError, PretrainConfig, list_configs, load_yaml

DATA_HELP = ("training images: 'shapes[:N]' (procedural hierarchical shapes, N images, default 20000), "
             "'fashion_mnist[:N]' (train split, 1 channel: add --model-overrides '{in_chans: 1}'; padded to the "
             "model's size), a .pt file holding a float [N, C, H, W] tensor, "
             "or an image folder (torchvision ImageFolder, RandomResizedCrop(0.2-1) + flip at the model's size)")

_HELP = {
    "model": f"model preset: {', '.join(PRESETS)}",
    "model_overrides": "YAML mapping of MAEConfig fields, e.g. '{in_chans: 1, norm_pix_loss: true}'",
    "mask_ratio": "requested masking ratio r in (0, 1); the kept amount is floor(U (1 - r)) whole units",
    "mask_unit": "mask unit in pixels, a multiple of the ViT patch dividing the image (default: the patch)",
    "batch_size": "GLOBAL batch size (split over torchrun processes)",
    "steps": "total optimiser steps (overrides --epochs)",
    "epochs": "epochs, used when --steps is not given",
    "warmup_steps": "linear warm-up steps (overrides --warmup-epochs)",
    "warmup_epochs": "linear warm-up epochs",
    "blr": "base learning rate; lr = blr * batch_size / 256",
    "lr": "absolute learning rate (overrides --blr)",
    "min_lr": "final learning rate of the half-cycle cosine",
    "weight_decay": "AdamW weight decay (not on biases, norms, tokens, position embeddings)",
    "betas": "AdamW betas, two floats",
    "clip_grad": "clip the gradient norm to this value (default: off)",
    "augment": "none | flip | rrc_flip (image folders augment themselves, RandomResizedCrop + flip, and get no more)",
    "seed": "seed of initialisation, batches, masks and augmentation",
    "device": "auto | cpu | cuda | cuda:K (torchrun: one GPU per process by LOCAL_RANK)",
    "amp": "auto (bf16 autocast on CUDA, and on a CPU where a start-up check finds bf16 matmuls faster) | bf16 | none",
    "compile": "torch.compile the model",
    "num_workers": "DataLoader worker processes (image folders / datasets)",
    "output_dir": "folder for checkpoint.pt and metrics.jsonl",
    "checkpoint_every": "steps between checkpoints (0: only at the end)",
    "log_every": "steps between metrics lines",
    "progress": "show a tqdm progress bar",
    "ignore_boundary_px": "leave out of the loss removed pixels within this many px of a visible one "
                          "(Section 3.6 of Kong et al.; 0: MAE's loss)",
    "mask_kind": "random (MAE's masks) | superpixel (whole SLIC superpixels) | object (the shapes' known object "
                 "first); the same number of patches",
    "superpixel_segments": "SLIC superpixels per image for --mask-kind superpixel",
    "object_min_share": "for --mask-kind object: a patch is the object's when more than this share of its "
                        "pixels is (0: every patch the object touches, so the whole object is hidden)",
    "progress_every_s": "seconds between progress lines on stderr (0: none); for logs of long runs",
    "overwrite": "start a new run even if --output-dir holds one (its checkpoint and metrics are replaced)",
    "monitor_every": "steps between monitor losses (the first 256 training images under one fixed mask, logged "
                     "as monitor_loss; comparable across ratios); 0: none",
    "monitor_ratio": "masking ratio of the monitor's fixed mask",
}


def _yaml_mapping(text: str) -> Any:
    try:
        value = load_yaml(text, f"--model-overrides {text!r}")
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--model-overrides {text!r} must be a YAML mapping, e.g. '{{in_chans: 1}}'")
    return value


def one_line(err: BaseException) -> str:
    """The error's message on one line (a worker's re-raised error keeps its last line, the original)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Caught "):  # DataLoader worker: original message is last
        lines = [lines[-1]]
    return " ".join(lines) or type(err).__name__


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mae_hlvm.mae", description=__doc__.split("\n\n")[0],
        epilog="Multi-process: torchrun --nproc_per_node 8 -m mae_hlvm.mae --config paper_vitb16_r0.75 "
               "--data /path/to/imagenet/train --output-dir runs/vitb16_r075")
    parser.add_argument("--config", help=f"YAML config file or bundled name ({', '.join(list_configs())})")
    parser.add_argument("--data", default="shapes", help=DATA_HELP + " (default: shapes)")
    parser.add_argument("--resume", action="store_true", help="resume from <output-dir>/checkpoint.pt if present (the configuration must match)")
    parser.add_argument("--until-step", type=int, help="stop (with a checkpoint) after this many steps in total")
    parser.add_argument("--list-configs", action="store_true", help="print the bundled config names and exit")
    defaults = PretrainConfig()
    hints = typing.get_type_hints(PretrainConfig)
    for f in fields(PretrainConfig):
        opt, default, hint = _option(f.name), getattr(defaults, f.name), hints[f.name]
        help_ = _HELP[f.name]
        if hint is bool:
            parser.add_argument(opt, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{help_} (default: {default})")
        elif f.name == "betas":
            parser.add_argument(opt, type=float, nargs=2, default=None, help=f"{help_} (default: {list(default)})")
        elif f.name == "model_overrides":
            parser.add_argument(opt, type=_yaml_mapping, default=None, help=f"{help_} (default: {{}})")
        else:
            base = next((t for t in (int, float, str) if t == hint or t in typing.get_args(hint)), str)
            shown = "" if "(default:" in help_ else f" (default: {default})"  # the help names it already
            parser.add_argument(opt, type=base, default=None, help=f"{help_}{shown}")
    return parser


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    """The YAML config (if any) with every explicitly given option on top."""
    base = PretrainConfig.from_yaml(args.config).to_dict() if args.config else {}
    given = {f.name: getattr(args, f.name) for f in fields(PretrainConfig) if getattr(args, f.name) is not None}
    return PretrainConfig.from_dict({**base, **given})


def load_data(spec: str, config: PretrainConfig) -> Any:
    """Images for ``--data`` (see DATA_HELP), at the configured model's image size."""
    mc = config.model_config()
    return pretraining_data(spec, None, config.seed, mc.img_size, in_chans=mc.in_chans,
                            objects=config.mask_kind == "object")


def main(argv: Sequence[str] | None = None) -> int:
    from .train import pretrain

    args = build_parser().parse_args(argv)
    if args.list_configs:
        print("\n".join(list_configs()))
        return 0
    try:
        config = config_from_args(args)
        images = load_data(args.data, config)
        result = pretrain(config, images, resume=args.resume, until_step=args.until_step, data_spec=args.data)
    except (ValueError, OSError, FloatingPointError) as err:  # ConfigError, DataError, CheckpointError are ValueErrors
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 1
    last = result.history[-1] if result.history else {}
    print(f"done: {last.get('step', 0)} steps, loss {last.get('loss', float('nan')):.4f}, "
          f"effective mask ratio {result.effective_mask_ratio:.4f}, checkpoint {result.checkpoint}")
    return 0
