"""Seeds, devices and an environment report: what a chapter needs to be re-run exactly."""
from __future__ import annotations

import os
import platform
import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a torch.Generator seeded the same way."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` gives CUDA when available, else CPU; anything else is passed to torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


def environment_report() -> dict[str, Any]:
    """Versions and hardware that a result depends on, as plain values (for a table in the book)."""
    import sklearn
    import timm

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "timm": timm.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        report["gpu"] = torch.cuda.get_device_name(0)
        report["gpu_count"] = torch.cuda.device_count()
    return report


def measure_matmul_flops(size: int = 1024, dtype: torch.dtype = torch.float32, device: str = "cpu",
                         repeats: int = 5) -> float:
    """Best-of-``repeats`` throughput of one ``size``×``size`` matmul, in FLOP/s (2·n³ per product).

    This is the practical peak that training throughput is compared against.
    """
    if size < 1 or repeats < 1:
        raise ValueError(f"size and repeats must be positive, got size={size}, repeats={repeats}")
    import time

    dev = torch.device(device)
    a = torch.randn(size, size, dtype=dtype, device=dev)
    b = torch.randn(size, size, dtype=dtype, device=dev)
    a @ b  # warm-up: first call allocates and picks kernels
    best = float("inf")
    for _ in range(repeats):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if dev.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def mae_training_flops(img_size: int = 224, patch_size: int = 16, embed_dim: int = 768, depth: int = 12,
                       num_heads: int = 12, decoder_dim: int = 512, decoder_depth: int = 8,
                       decoder_heads: int = 16, mask_ratio: float = 0.75) -> float:
    """FLOPs of one MAE training step on one image (forward + backward ≈ 3 × forward).

    Counted with torch's FlopCounterMode on timm Blocks: the encoder sees the visible tokens plus
    CLS, the decoder all tokens plus CLS. Patch embedding and the prediction head are included;
    layer norms, softmax and GELU are not (they are a few per cent).
    """
    from timm.models.vision_transformer import Block
    from torch.utils.flop_counter import FlopCounterMode

    if not 0.0 < mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must lie in (0, 1), got {mask_ratio}")
    num_patches = (img_size // patch_size) ** 2
    visible = int(num_patches * (1 - mask_ratio))
    enc = torch.nn.Sequential(*[Block(embed_dim, num_heads) for _ in range(depth)])
    dec = torch.nn.Sequential(*[Block(decoder_dim, decoder_heads) for _ in range(decoder_depth)])
    embed = torch.nn.Linear(patch_size * patch_size * 3, embed_dim)
    head = torch.nn.Linear(decoder_dim, patch_size * patch_size * 3)
    for blk in (*enc, *dec):
        blk.attn.fused_attn = False  # the FLOP counter does not see inside fused attention kernels
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        embed(torch.zeros(1, visible, patch_size * patch_size * 3))
        enc(torch.zeros(1, visible + 1, embed_dim))
        head(dec(torch.zeros(1, num_patches + 1, decoder_dim)))
    return 3.0 * counter.get_total_flops()
