"""Where torch runs: devices, threads, measured FLOP/s, and the FLOPs an MAE step costs.

- :func:`pick_device`: ``"auto"`` / ``"cpu"`` / ``"cuda[:i]"`` / ``"mps"`` to a ``torch.device``, refusing
  any other name and a device this machine does not have (:func:`check_device_name` checks the name alone);
- :func:`torch_threads`: a block on ``n`` intra-op threads, the previous count restored after;
- :func:`measure_matmul_flops`: this machine's practical matmul peak, in FLOP/s;
- :func:`mae_training_flops` / :func:`model_training_flops`: FLOPs of one MAE training step (by sizes /
  by model configuration), to set against that peak;
- :func:`bf16_speedup` / :func:`resolve_amp`: whether bf16 pays on this machine, measured at start.
"""
from __future__ import annotations

import functools
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

__all__ = ["check_device_name", "pick_device", "torch_threads", "measure_matmul_flops", "mae_training_flops"]

DEVICE_TYPES = ("cpu", "cuda", "mps")
_DEVICE_FORMS = "auto, cpu, cuda, cuda:K (K a GPU index) or mps"


def check_device_name(name: str) -> torch.device | None:
    """The ``torch.device`` a name means (None for ``"auto"``), without asking whether this machine has
    it; a name that is no device of ours raises ValueError naming it and the valid forms."""
    if not isinstance(name, str):
        raise ValueError(f"device must be a string ({_DEVICE_FORMS}), got {name!r}")
    if name == "auto":
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in DEVICE_TYPES or (device.type != "cuda" and device.index not in (None, 0)):
        raise ValueError(f"unknown device {name!r}; valid: {_DEVICE_FORMS}")
    return device


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"`` gives CUDA when available, else CPU; ``cpu``, ``cuda[:K]`` and ``mps`` are checked
    against this machine (ValueError naming the device when it lacks it)."""
    device = check_device_name(name)
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but this machine has {torch.cuda.device_count()} GPU(s) "
                             f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} requested but MPS is not available on this machine")
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


def model_training_flops(cfg, mask_ratio: float = 0.75) -> float:
    """:func:`mae_training_flops` of one step on one image for a model configuration ``cfg`` (an
    ``MAEConfig`` or anything with its size attributes), at ``mask_ratio``."""
    return mae_training_flops(cfg.img_size, cfg.patch_size, cfg.embed_dim, cfg.depth, cfg.num_heads,
                              cfg.decoder_embed_dim, cfg.decoder_depth, cfg.decoder_num_heads, mask_ratio)


# bf16 must beat fp32 by this factor at the training step's matmul layouts before ``amp="auto"``
# turns it on for a CPU: below it the rounding costs accuracy for too little time.
BF16_MIN_SPEEDUP = 1.2


@functools.lru_cache(maxsize=None)
def bf16_speedup(device: str = "cpu", size: int = 384, threads: int | None = None) -> float:
    """Measured time of fp32 over bf16 for the three matmul layouts of a linear layer's forward and
    backward (``A @ B``, ``A.T @ B``, ``A @ B.T``), ``size`` cubed each; > 1 means bf16 is faster.

    Why measure: a CPU with AVX512-BF16 or AMX runs bf16 matmuls 2-4 times faster than fp32, one with
    only AVX2 runs them through a reference kernel 20-100 times slower (measured on this project's
    2-core AVX2 machine: 0.001-0.03 against 0.14 TFLOP/s). Runs on the current thread count;
    ``threads`` only keys the cache (pass ``torch.get_num_threads()``). Cached per (device, size, threads);
    about 0.1 s where bf16 is fast, up to about 1 s where it is slow.
    """
    dev = torch.device(device)
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=g).to(dev) for _ in range(2))

    def seconds(dtype: torch.dtype) -> float:
        x, y = a.to(dtype), b.to(dtype)
        products = (lambda: x @ y, lambda: x.t() @ y, lambda: x @ y.t())
        for f in products:  # warm-up: first calls allocate and pick kernels
            f()
        best = float("inf")
        for _ in range(2):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t = time.perf_counter()
            for f in products:
                f()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            best = min(best, time.perf_counter() - t)
        return best

    return seconds(torch.float32) / seconds(torch.bfloat16)


def resolve_amp(amp: str, device: torch.device) -> bool:
    """Whether a run with ``amp`` (``auto`` | ``bf16`` | ``none``) trains under bf16 autocast on
    ``device``. ``auto`` is bf16 on CUDA, and on a CPU only where :func:`bf16_speedup` measures at
    least :data:`BF16_MIN_SPEEDUP` (checked once per process, not assumed from the CPU's name)."""
    if amp not in ("auto", "bf16", "none"):
        raise ValueError(f"amp = {amp!r}: must be one of auto, bf16, none")
    if amp != "auto":
        return amp == "bf16"
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bf16_speedup("cpu", threads=torch.get_num_threads()) >= BF16_MIN_SPEEDUP


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
