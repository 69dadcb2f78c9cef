"""Named image sources for pretraining: what ``--data`` and the experiments' ``data`` knob mean.

- ``shapes[:N]``: the procedural hierarchical shapes (3 channels, float in [0, 1]);
- ``fashion_mnist[:N]``: Fashion-MNIST's training split (1 channel), zero-padded to the model's size;
- a ``.pt`` file holding one float ``[N, C, H, W]`` tensor;
- an image folder (torchvision ``ImageFolder`` with MAE's RandomResizedCrop + flip).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def pretraining_images(name: str, n: int, seed: int = 0, img_size: int = 32) -> torch.Tensor:
    """Float images [n, C, img_size, img_size] in [0, 1] for pretraining.

    ``"shapes"``: the procedural hierarchical shapes (3 channels, rendered at ``img_size``);
    ``"fashion_mnist"``: the first n training images (1 channel), zero-padded from 28 px to
    ``img_size`` (>= 28) so that mask units of 4, 8 or 16 px tile a 32 px image.
    """
    if n < 1:
        raise ValueError(f"number of images must be >= 1, got {n}")
    if name == "shapes":
        from mae_hlvm.data.shapes import render_shapes

        return render_shapes(n, seed=seed, size=img_size).images.float()
    if name == "fashion_mnist":
        from mae_hlvm.data.fashion_mnist import load_fashion_mnist

        if img_size < 28:
            raise ValueError(f"Fashion-MNIST images are 28 px; img_size {img_size} would crop them (use >= 28)")
        x = load_fashion_mnist("train")[0][:n].float().div(255).unsqueeze(1)  # [n, 1, 28, 28]
        lo = (img_size - 28) // 2
        return torch.nn.functional.pad(x, (lo, img_size - 28 - lo, lo, img_size - 28 - lo))
    raise ValueError(f"unknown pretraining data {name!r}; valid: shapes, fashion_mnist")


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def pretraining_data(spec: str, n: int | None = None, seed: int = 0, img_size: int = 32) -> Any:
    """Training data named by ``spec`` (see ``--data``): a float tensor [N, C, H, W] in [0, 1] for
    ``shapes[:N]``, ``fashion_mnist[:N]`` and ``.pt`` files, or a torchvision ``ImageFolder`` for a folder
    (RandomResizedCrop(0.2-1, bicubic) + flip at ``img_size``, ImageNet mean/std normalisation, as MAE).
    ``n`` (or ``:N`` in the spec) caps the number of images of the named sets."""
    name, _, count = spec.partition(":")
    if name in ("shapes", "fashion_mnist"):
        n = int(count) if count else (n if n is not None else (20000 if name == "shapes" else 60000))
        return pretraining_images(name, n, seed, img_size)
    path = Path(spec)
    if path.suffix == ".pt" and path.is_file():
        x = torch.load(path, weights_only=True)
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{spec} must hold one [N, C, H, W] tensor, got {type(x).__name__}")
        return x.float()[:n]
    if path.is_dir():
        from torchvision import datasets, transforms

        tf = transforms.Compose([
            transforms.RandomResizedCrop(img_size, scale=(0.2, 1.0), interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.RandomHorizontalFlip(), transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
        return datasets.ImageFolder(str(path), transform=tf)
    raise ValueError(f"data {spec!r} is neither 'shapes[:N]', 'fashion_mnist[:N]', an existing .pt file nor an "
                     f"existing image folder")
