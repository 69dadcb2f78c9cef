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


def test_environment_report_has_versions():
    report = rp.environment_report()
    assert report["torch"] == torch.__version__ and report["cpu_cores"] >= 1


def test_seeded_seeds_the_block_and_gives_the_callers_generator_back():
    torch.manual_seed(11)
    expected_after = torch.rand(3)  # what the caller's stream gives next, had nothing intervened
    torch.manual_seed(11)
    with rp.seeded(5):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected_after)
    torch.manual_seed(5)
    assert torch.equal(inside, torch.rand(3))


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_seeded_refuses_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be"):
        with rp.seeded(bad):
            pass


def test_library_calls_neither_reset_the_callers_stream_nor_depend_on_it():
    """The probe, the dense heads and an evaluation suite draw from their own seed: the same result
    whatever the caller's generator held, and the caller's stream goes on as if they had not run."""
    from timm.models.vision_transformer import VisionTransformer

    from mae_hlvm.eval import ProbeConfig, TransferConfig, finetune_dense, train_linear_probe

    x, y = torch.rand(40, 6), torch.arange(40) % 2
    vit = VisionTransformer(img_size=8, patch_size=4, embed_dim=16, depth=1, num_heads=2, num_classes=0)
    imgs, masks = torch.rand(8, 3, 8, 8), torch.zeros(8, 8, 8, dtype=torch.bool)
    masks[:, 2:6, 2:6] = True
    boxes, labels = torch.tensor([[2.0, 2.0, 6.0, 6.0]]).repeat(8, 1), torch.arange(8) % 2
    calls = {
        "probe": lambda: train_linear_probe(x, y, config=ProbeConfig(epochs=1, warmup_epochs=0, batch_size=8)
                                            ).head.fc.weight.detach().clone(),
        "dense": lambda: finetune_dense(vit, imgs, masks, boxes, labels, 2, TransferConfig(epochs=1, batch_size=4)
                                        )[0].state_dict(),
    }
    for name, call in calls.items():
        results = []
        for caller_seed in (1, 2):
            torch.manual_seed(caller_seed)
            expected_after = torch.rand(2)
            torch.manual_seed(caller_seed)
            results.append(call())
            assert torch.equal(torch.rand(2), expected_after), name
        a, b = results
        same = torch.equal(a, b) if isinstance(a, torch.Tensor) else all(torch.equal(a[k], b[k]) for k in a)
        assert same, name
