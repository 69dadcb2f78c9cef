"""Named image sources for pretraining: what ``--data`` and the experiments' ``data`` knob mean.

- ``shapes[:N]``: the procedural hierarchical shapes (3 channels, float in [0, 1]);
- ``fashion_mnist[:N]``: Fashion-MNIST's training split (1 channel), zero-padded to the model's size;
- a ``.pt`` file holding one float ``[N, C, H, W]`` tensor with values in [0, 1];
- an image folder (torchvision ``ImageFolder`` with MAE's RandomResizedCrop + flip).

Data that cannot be meant raises :class:`~mae_hlvm.data.errors.DataError` naming the file or value:
an unreadable file, a tensor of the wrong dtype, shape or channel count, values outside [0, 1]
(e.g. 0-255 images: the message says how to rescale), NaN or inf, an image in a folder that cannot
be read (named when it is loaded).
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from mae_hlvm.data.errors import DataError

AUGMENTS_ITSELF = "augments_itself"  # attribute of a Dataset that augments its own images (the trainer then does not)


def pretraining_images(name: str, n: int, seed: int = 0, img_size: int = 32, objects: bool = False) -> torch.Tensor:
    """Float images [n, C, img_size, img_size] in [0, 1] for pretraining.

    ``"shapes"``: the procedural hierarchical shapes (3 channels, rendered at ``img_size``);
    ``"fashion_mnist"``: the first n training images (1 channel), zero-padded from 28 px to
    ``img_size`` (>= 28) so that mask units of 4, 8 or 16 px tile a 32 px image.
    ``objects``: append the object's pixel mask (1 = object) as one more channel, [n, C + 1, ...], for
    object masks (``mask_kind="object"``); only the shapes renderer knows its objects.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataError(f"number of {name!r} images must be an int >= 1, got {n!r}")
    if isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 1:
        raise DataError(f"img_size must be an int >= 1 (pixels), got {img_size!r}")
    if objects and name != "shapes":
        raise DataError(f"{name!r} has no known objects: object masks need the shapes renderer's ground truth "
                        "(on real images, superpixel masks estimate the structure: mask_kind 'superpixel')")
    if name == "shapes":
        from mae_hlvm.data.shapes import render_shapes

        batch = render_shapes(n, seed=seed, size=img_size)
        x = batch.images.float()
        return torch.cat([x, batch.masks[:, None].float()], dim=1) if objects else x
    if name == "fashion_mnist":
        return fashion_mnist_images("train", n, img_size)[0]
    raise DataError(f"unknown pretraining data {name!r}; valid: shapes, fashion_mnist")


def fashion_mnist_images(split: str, n: int, img_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of a Fashion-MNIST split as float [n, 1, img_size, img_size] in [0, 1],
    zero-padded from 28 px to ``img_size`` (>= 28, so that units of 4, 8 or 16 px tile 32 px), and
    their labels [n] (int64, 0-9)."""
    from mae_hlvm.data.fashion_mnist import load_fashion_mnist

    if img_size < 28:
        raise DataError(f"Fashion-MNIST images are 28 px; img_size {img_size} would crop them (use >= 28)")
    images, labels = load_fashion_mnist(split)
    if n > len(images):
        raise DataError(f"Fashion-MNIST {split} has {len(images)} images; {n} were asked for")
    x = images[:n].float().div(255).unsqueeze(1)  # [n, 1, 28, 28]
    lo = (img_size - 28) // 2
    return torch.nn.functional.pad(x, (lo, img_size - 28 - lo, lo, img_size - 28 - lo)), labels[:n]


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def check_image_tensor(x: Any, where: str, in_chans: int | None = None) -> torch.Tensor:
    """``x`` as float32 images [N, C, H, W] in [0, 1], or DataError naming ``where``, what was found and
    the rule: a tensor, 4-d, ``in_chans`` channels (when given), at least one image, floating point (uint8
    images: divide by 255), finite, within [0, 1] (0-255 floats: divide by 255)."""
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{where} must hold one [N, C, H, W] tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise DataError(f"{where} holds a tensor of shape {tuple(x.shape)}; images must be [N, C, H, W]")
    if in_chans is not None and x.shape[1] != in_chans:
        raise DataError(f"{where} holds {x.shape[1]}-channel images {tuple(x.shape)}; the model takes {in_chans} "
                        f"(set model_overrides in_chans: {x.shape[1]}, or convert the images)")
    if x.shape[0] == 0:
        raise DataError(f"{where} holds no images (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        lo, hi = (int(x.min()), int(x.max())) if x.dtype != torch.bool else (0, 1)
        raise DataError(f"{where} holds {str(x.dtype).removeprefix('torch.')} images (values {lo}..{hi}); training "
                        "needs floats in [0, 1]: save x.float() / 255 for 8-bit images")
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise DataError(f"{where} holds {bad} NaN or inf value(s); repair or drop those images before training")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        hint = "divide by 255" if hi > 1 and lo >= 0 else "rescale to [0, 1], e.g. (x - x.min()) / (x.max() - x.min())"
        raise DataError(f"{where} holds values in [{lo:.4g}, {hi:.4g}], outside [0, 1]: {hint} before saving")
    return x.float()


def _count(spec: str, name: str, count: str) -> int:
    if not count.isdigit() or int(count) < 1:
        raise DataError(f"data {spec!r}: the count after '{name}:' must be a whole number >= 1, got {count!r}")
    return int(count)


def _read_image(path: str) -> Any:
    """ImageFolder's loader, naming the file it cannot read."""
    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as f:
            return Image.open(f).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError(f"{path}: cannot be read as an image ({err}); repair or remove the file") from None


def pretraining_data(spec: str, n: int | None = None, seed: int = 0, img_size: int = 32,
                     in_chans: int | None = None, objects: bool = False) -> Any:
    """Training data named by ``spec`` (see ``--data``): a float tensor [N, C, H, W] in [0, 1] for
    ``shapes[:N]``, ``fashion_mnist[:N]`` and ``.pt`` files, or a torchvision ``ImageFolder`` for a folder
    (RandomResizedCrop(0.2-1, bicubic) + flip at ``img_size``, ImageNet mean/std normalisation, as MAE).
    ``n`` (or ``:N`` in the spec) caps the number of images of the named sets; ``in_chans`` (the model's
    channels), when given, is checked against the data's. ``objects``: the tensor carries the object mask
    as one more channel (shapes; a ``.pt`` file must hold it already). Raises DataError naming what it
    refuses."""
    if not isinstance(spec, str) or not spec:
        raise DataError(f"data must be a non-empty string naming a source, got {spec!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise DataError(f"number of images must be an int >= 1 or None (all), got {n!r}")
    name, colon, count = spec.partition(":")
    if name in ("shapes", "fashion_mnist"):
        channels = 3 if name == "shapes" else 1
        if in_chans is not None and in_chans != channels:
            raise DataError(f"data {spec!r} has {channels} channel(s); the model takes {in_chans}: set model_overrides "
                            f"in_chans: {channels}")
        if colon and n is not None and n != _count(spec, name, count):
            raise DataError(f"data {spec!r} names {_count(spec, name, count)} images and n={n} another count: give "
                            f"the count once (in the spec or as n)")
        n = _count(spec, name, count) if colon else (n if n is not None else (20000 if name == "shapes" else 60000))
        return pretraining_images(name, n, seed, img_size, objects=objects)
    path = Path(spec)
    if path.suffix == ".pt" and path.is_file():
        try:
            x = torch.load(path, weights_only=True)
        except pickle.UnpicklingError as err:
            found = re.search(r"Unsupported global[^.\n]*", str(err))
            if found is None:  # an unknown opcode: bytes that are no pickle at all
                raise DataError(f"{path} ({path.stat().st_size} bytes) cannot be read: it is truncated, corrupt or "
                                "not a torch file (not a valid pickle)") from None
            raise DataError(f"{path}: holds objects that weights_only loading refuses "
                            f"({found.group(0).strip()}); save the images as one "
                            "tensor") from None
        except Exception as err:  # noqa: BLE001 (torch raises RuntimeError, EOFError... for bad files)
            raise DataError(f"{path} ({path.stat().st_size} bytes) cannot be read: it is truncated, corrupt or not "
                            f"a torch file ({type(err).__name__})") from None
        return check_image_tensor(x, str(path), None if in_chans is None else in_chans + int(objects))[:n]
    if path.is_dir():
        if objects:
            raise DataError(f"image folder {path} has no object masks; mask_kind 'object' needs shapes or a .pt "
                            "tensor whose last channel is the object mask")
        from torchvision import datasets, transforms

        if in_chans is not None and in_chans != 3:
            raise DataError(f"image folder {path} gives 3-channel (RGB) images; the model takes {in_chans}")
        tf = transforms.Compose([
            transforms.RandomResizedCrop(img_size, scale=(0.2, 1.0), interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.RandomHorizontalFlip(), transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
        try:
            folder = datasets.ImageFolder(str(path), transform=tf, loader=_read_image)
            setattr(folder, AUGMENTS_ITSELF, True)  # MAE's augmentation, once: the trainer adds none
            return folder
        except (FileNotFoundError, RuntimeError) as err:  # no class folders, or no image files
            raise DataError(f"image folder {path}: {str(err).strip().splitlines()[0]} "
                            "(expected <class folder>/<image file>)") from None
    raise DataError(f"data {spec!r} is neither 'shapes[:N]', 'fashion_mnist[:N]', an existing .pt file nor an "
                    f"existing image folder")
