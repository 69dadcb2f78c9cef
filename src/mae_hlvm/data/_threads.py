"""A context that runs torch on one intra-op thread, restoring the previous count after."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """The generators' tensors are small (<= ~1 M values per op): intra-op threading costs more than
    it saves there (measured 5-20x slower with 2 threads on a busy 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
