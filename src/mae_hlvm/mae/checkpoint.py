"""Atomic checkpoints, ``weights_only`` loading, and import of official MAE / timm weights.

A file that cannot be read as a checkpoint (truncated, corrupt, not a torch file, holding objects
``weights_only`` loading refuses), or whose content does not fit what it is asked for, raises
:class:`CheckpointError` naming the file and the problem.
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import torch

from ..atomic import atomic_temp
from .configs import MAEConfig
from .model import MaskedAutoencoder

FORMAT = "mae_hlvm.mae/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the request: corrupt or truncated, not a
    payload of the expected layout, or (for resuming) trained with another configuration, on other
    data, or past the requested step; also a new run refused because its folder holds a run.

    The message names the file and the rule. A ``ValueError`` subclass."""


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` with torch.save to a temp file in the same folder, then ``os.replace`` it:
    a crash mid-write never leaves a truncated checkpoint at ``path``, and the temp file of a process
    killed mid-write is removed by the next save."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f, tmp = atomic_temp(path)
    try:
        with f:
            torch.save(dict(payload), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def unpickling_reason(err: BaseException) -> str:
    """The one line of torch's multi-paragraph weights_only refusal that says what was refused."""
    found = re.search(r"Unsupported global[^.\n]*", str(err))
    return found.group(0).strip() if found else "not plain tensors and containers"


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load(weights_only=True)``; ``argparse.Namespace`` (the official MAE ``args`` entry) is
    the one extra type allowed. A missing file raises FileNotFoundError; a file that cannot be read
    as a checkpoint dict raises :class:`CheckpointError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist" if not path.exists()
                                else f"checkpoint {str(path)!r} is not a file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err):  # an unknown opcode: bytes that are no pickle at all
            raise CheckpointError(f"checkpoint {path} ({path.stat().st_size} bytes) cannot be read: it is truncated, "
                                  "corrupt or not a torch file (not a valid pickle)") from None
        raise CheckpointError(f"checkpoint {path} holds objects that weights_only loading refuses "
                              f"({unpickling_reason(err)}); only a file you trust may be opened with "
                              "torch.load(weights_only=False)") from None
    except Exception as err:  # noqa: BLE001 (torch raises RuntimeError, EOFError, KeyError... for bad files)
        size = path.stat().st_size
        reason = (str(err).strip().splitlines() or [""])[0][:120]
        raise CheckpointError(f"checkpoint {path} ({size} bytes) cannot be read: it is truncated, corrupt or "
                              f"not a torch file ({type(err).__name__}{': ' + reason if reason else ''})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict (state dict or payload)")
    return obj


# known head counts per width (not recoverable from weights); others default to width / 64
_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}
_DEC_HEADS = {128: 4, 256: 8, 512: 16}


def _count_blocks(sd: Mapping[str, torch.Tensor], prefix: str) -> int:
    ids = {int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.(\d+)\.", k))}
    return max(ids) + 1 if ids else 0


def infer_config(sd: Mapping[str, torch.Tensor], **overrides: Any) -> MAEConfig:
    """An :class:`MAEConfig` read off official-layout tensor shapes. Head counts cannot be read from
    weights: they come from the usual ViT widths (768 -> 12, 1024/1280 -> 16, decoder 512 -> 16) unless
    given in ``overrides``. Without decoder keys, the decoder is MAE's 512 x 8 x 16."""
    for key in ("patch_embed.proj.weight", "pos_embed"):
        if key not in sd:
            raise CheckpointError(f"state dict lacks {key!r}; cannot infer the model shape (keys start: {list(sd)[:5]})")
    D, C, p, _ = sd["patch_embed.proj.weight"].shape
    L = sd["pos_embed"].shape[1] - 1
    grid = int(round(L ** 0.5))
    if grid * grid != L:
        raise CheckpointError(f"pos_embed has {L} patch rows, not a square grid; only square images are supported")
    fc1 = sd.get("blocks.0.mlp.fc1.weight")
    cfg: dict[str, Any] = dict(img_size=grid * p, patch_size=p, in_chans=C, embed_dim=D,
                               depth=_count_blocks(sd, "blocks"), num_heads=_HEADS.get(D, max(D // 64, 1)),
                               mlp_ratio=(fc1.shape[0] / D) if fc1 is not None else 4.0)
    if "decoder_embed.weight" in sd:
        Dd = sd["decoder_embed.weight"].shape[0]
        cfg.update(decoder_embed_dim=Dd, decoder_depth=_count_blocks(sd, "decoder_blocks"),
                   decoder_num_heads=_DEC_HEADS.get(Dd, max(Dd // 32, 1)))
    cfg.update(overrides)
    return MAEConfig(**cfg)


def _check_and_load(model: MaskedAutoencoder, sd: Mapping[str, torch.Tensor], encoder_only: bool) -> None:
    own = model.state_dict()
    expected = {k for k in own if not (encoder_only and k.startswith(("decoder_", "mask_token")))}
    missing = sorted(expected - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(f"{k}: expected {tuple(own[k].shape)}, got {tuple(sd[k].shape)}"
                    for k in expected & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    problems = []
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    if shapes:
        problems.append(f"mis-shaped keys [{'; '.join(shapes)}]")
    if problems:
        raise CheckpointError("state dict does not fit the MAE layout: " + ", ".join(problems))
    model.load_state_dict(dict(sd), strict=not encoder_only)


def load_pretrained(source: str | Path | Mapping[str, Any], cfg: MAEConfig | None = None,
                    map_location: str | torch.device = "cpu", **overrides: Any) -> MaskedAutoencoder:
    """A :class:`MaskedAutoencoder` from one of:

    - our checkpoints (``pretrain`` payloads with ``model`` and ``model_config``);
    - facebookresearch/mae checkpoints, full (with decoder) or encoder-only, the state dict at the top
      level or under ``"model"`` (``"optimizer"``, ``"args"`` ... entries are ignored);
    - timm MAE encoder weights (``vit_*_patch*_224.mae`` layout; a ``head.*`` with no classes is absent).

    ``cfg`` (or ``overrides`` on the inferred one) fixes what shapes cannot tell (head counts,
    ``norm_pix_loss``). An official checkpoint written by ``main_pretrain`` carries its ``args``, and
    ``norm_pix_loss`` is read from them; without ``args`` (the released weights) it is taken as False,
    which is right for the released full "visualize" checkpoints and irrelevant to encoder-only weights
    (the loss lives in the decoder). Encoder-only weights leave the decoder freshly initialised, with a
    warning.
    Missing, unexpected or mis-shaped keys raise :class:`CheckpointError` naming them.
    """
    if isinstance(source, (str, Path)):
        obj = load_checkpoint(source, map_location)
    elif isinstance(source, Mapping):
        obj = dict(source)
    else:
        raise CheckpointError(f"load_pretrained needs a checkpoint path or a state dict / payload mapping, "
                              f"got {type(source).__name__}")
    where = f"checkpoint {source}" if isinstance(source, (str, Path)) else "the given payload"
    if cfg is None and isinstance(obj.get("model_config"), dict):
        known = {f.name for f in fields(MAEConfig)}
        bad = sorted(str(k) for k in obj["model_config"] if k not in known)
        if bad:
            raise CheckpointError(f"{where}: model_config has unknown MAEConfig field(s) {', '.join(bad)}")
        cfg = MAEConfig(**{**obj["model_config"], **overrides})
    sd = obj["model"] if isinstance(obj.get("model"), Mapping) else obj
    sd = {str(k).removeprefix("module.").removeprefix("_orig_mod."): v for k, v in sd.items()}  # DDP / compile
    bad = [k for k, v in sd.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{where}: state dict entries {bad[:5]} are not tensors; is this a model state dict?")
    if cfg is None and "norm_pix_loss" not in overrides and (npl := _args_norm_pix_loss(obj.get("args"))) is not None:
        overrides = {**overrides, "norm_pix_loss": npl}
    cfg = cfg or infer_config(sd, **overrides)
    model = MaskedAutoencoder(cfg)
    encoder_only = not any(k.startswith("decoder_") for k in sd)
    _check_and_load(model, sd, encoder_only)
    if encoder_only:
        warnings.warn("weights hold the encoder only: decoder and mask token are freshly initialised", stacklevel=2)
    return model


def _args_norm_pix_loss(args: Any) -> bool | None:
    """``norm_pix_loss`` from an official checkpoint's ``args`` (a Namespace, or a dict), None if absent."""
    value = args.get("norm_pix_loss") if isinstance(args, Mapping) else getattr(args, "norm_pix_loss", None)
    return value if isinstance(value, bool) else None


def model_payload(model: MaskedAutoencoder) -> dict[str, Any]:
    """Minimal checkpoint of a model alone (weights + config), loadable by :func:`load_pretrained`."""
    from dataclasses import asdict

    return {"format": FORMAT, "model": model.state_dict(), "model_config": asdict(model.cfg)}
