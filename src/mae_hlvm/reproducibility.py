"""Seeds and an environment report: what a chapter needs to be re-run exactly.

Devices, threads and FLOP/s live in :mod:`mae_hlvm.compute`.
"""
from __future__ import annotations

import os
import platform
import random
from contextlib import contextmanager
from typing import Any, Iterator

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


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global generator seeded by ``seed``, and give the caller's back after.

    For library calls whose layers initialise from the global generator (a probe's head, the dense
    heads): their result depends on ``seed`` alone, and a caller's own random stream is not reset as a
    side effect. Forks the CPU generator and those of CUDA devices already in use.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if cuda else []):
        torch.manual_seed(seed)
        yield


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
