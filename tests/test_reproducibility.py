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
