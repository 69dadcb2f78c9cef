"""Where torch runs: devices, threads, measured FLOP/s, and the FLOPs an MAE step costs.

- :func:`pick_device`: ``"auto"`` / ``"cpu"`` / ``"cuda[:i]"`` to a ``torch.device``, refusing CUDA
  where there is none;
- :func:`torch_threads`: a block on ``n`` intra-op threads, the previous count restored after;
- :func:`measure_matmul_flops`: this machine's practical matmul peak, in FLOP/s;
- :func:`mae_training_flops`: FLOPs of one MAE training step, to set against that peak.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

__all__ = ["pick_device", "torch_threads", "measure_matmul_flops", "mae_training_flops"]


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` gives CUDA when available, else CPU; anything else is passed to torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available on this machine")
    return device


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)`` (None: unchanged), restoring the count after.

    Small ops (<= ~1 M values each: the data generators, heads on cached tokens, a linear probe)
    spend most of their time in OpenMP barriers, so one thread beats two there. Measured on a busy
    2-core machine: the generators ran 5-20x slower with 2 threads; 5 epochs of the dense heads on
    1,000 images took 42 s with 2 threads and 6 s with 1.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"torch_threads needs a thread count >= 1 or None (leave it unchanged), got {n!r}")
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure_matmul_flops(size: int = 1024, dtype: torch.dtype = torch.float32, device: str = "cpu",
                         repeats: int = 5) -> float:
    """Best-of-``repeats`` throughput of one ``size``×``size`` matmul, in FLOP/s (2·n³ per product).

    This is the practical peak that training throughput is compared against.
    """
    if size < 1 or repeats < 1:
        raise ValueError(f"size and repeats must be positive, got size={size}, repeats={repeats}")
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
