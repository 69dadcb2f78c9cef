from __future__ import annotations

import pytest
import torch

from mae_hlvm import reproducibility as rp


def test_seed_everything_repeats_draws():
    a = torch.randn(8, generator=rp.seed_everything(3))
    b = torch.randn(8, generator=rp.seed_everything(3))
    c = torch.randn(8, generator=rp.seed_everything(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_seed_everything_refuses_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be"):
        rp.seed_everything(bad)


def test_pick_device():
    assert rp.pick_device("cpu").type == "cpu"
    assert rp.pick_device("auto").type in {"cpu", "cuda"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            rp.pick_device("cuda")


def test_environment_report_has_versions():
    report = rp.environment_report()
    assert report["torch"] == torch.__version__ and report["cpu_cores"] >= 1


def test_matmul_flops_is_positive_and_validates():
    assert rp.measure_matmul_flops(64, repeats=2) > 0
    with pytest.raises(ValueError, match="size and repeats"):
        rp.measure_matmul_flops(0)


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
    got = rp.mae_training_flops(img, patch, dim, 1, 4, dim, 1, 4, 0.75)
    assert got == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="mask_ratio"):
        rp.mae_training_flops(mask_ratio=1.0)
