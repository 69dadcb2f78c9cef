"""mae_hlvm.compute: device choice, thread counts, measured and counted FLOPs."""
from __future__ import annotations

import math

import pytest
import torch

from mae_hlvm import compute


def test_pick_device():
    assert compute.pick_device("cpu").type == "cpu"
    assert compute.pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            compute.pick_device("cuda")


def test_matmul_flops_is_positive_and_validates():
    assert compute.measure_matmul_flops(64, repeats=2) > 0
    with pytest.raises(ValueError, match="size and repeats"):
        compute.measure_matmul_flops(0)


def test_mae_training_flops_matches_hand_count():
    # One layer, no decoder depth to speak of: count by hand the dominant matmuls of a ViT block.
    def block_flops(tokens: int, dim: int) -> int:
        qkv, proj, mlp = 3 * dim * dim, dim * dim, 2 * 4 * dim * dim
        attention = 2 * tokens * dim  # q·k and attn·v, per token
        return 2 * tokens * (qkv + proj + mlp + attention)
    img, patch, dim = 32, 4, 64
    n = (img // patch) ** 2
    vis = int(n * 0.25)
    expected = 3 * (2 * vis * patch * patch * 3 * dim + block_flops(vis + 1, dim)
                    + block_flops(n + 1, dim) + 2 * (n + 1) * dim * patch * patch * 3)
    got = compute.mae_training_flops(img, patch, dim, 1, 4, dim, 1, 4, 0.75)
    assert got == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="mask_ratio"):
        compute.mae_training_flops(mask_ratio=1.0)


def test_torch_threads_sets_and_restores_the_count():
    before = torch.get_num_threads()
    with compute.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with compute.torch_threads(None):  # None leaves the count alone
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"), compute.torch_threads(1):
        raise RuntimeError("inside")  # the count comes back even when the block raises
    assert torch.get_num_threads() == before
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="thread count"), compute.torch_threads(bad):
            pass


def test_bf16_speedup_is_a_positive_ratio_and_cached():
    r = compute.bf16_speedup("cpu", size=32, threads=torch.get_num_threads())
    assert math.isfinite(r) and r > 0
    assert compute.bf16_speedup("cpu", size=32, threads=torch.get_num_threads()) == r  # measured once


def test_resolve_amp_follows_the_measurement_on_cpu(monkeypatch):
    cpu = torch.device("cpu")
    assert compute.resolve_amp("bf16", cpu) is True and compute.resolve_amp("none", cpu) is False
    assert compute.resolve_amp("auto", torch.device("cuda")) is True  # no measurement on CUDA
    for speedup, expected in ((compute.BF16_MIN_SPEEDUP * 2, True), (0.05, False),
                              (compute.BF16_MIN_SPEEDUP * 0.99, False)):
        monkeypatch.setattr(compute, "bf16_speedup", lambda *a, s=speedup, **k: s)
        assert compute.resolve_amp("auto", cpu) is expected
    with pytest.raises(ValueError, match="'fp16'.*auto, bf16, none"):
        compute.resolve_amp("fp16", cpu)


def test_model_training_flops_reads_the_configuration():
    from mae_hlvm.mae import create_mae
    cfg = create_mae("mae_tiny").cfg
    expected = compute.mae_training_flops(cfg.img_size, cfg.patch_size, cfg.embed_dim, cfg.depth, cfg.num_heads,
                                          cfg.decoder_embed_dim, cfg.decoder_depth, cfg.decoder_num_heads, 0.9)
    assert compute.model_training_flops(cfg, 0.9) == expected
