"""Reconstruction metrics agree with scikit-image (SSIM, PSNR, MSE) and piq (FSIM)."""
from __future__ import annotations

import numpy as np
import piq
import pytest
import torch
from hypothesis import given, settings, strategies as st
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from mae_hlvm.eval import evaluate_reconstruction, reconstruction_metrics, ssim, summarize


def _pair(n=4, c=3, size=32, noise=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, size, size, generator=g)
    y = (x + noise * torch.randn(n, c, size, size, generator=g)).clamp(0, 1)
    return x, y


@pytest.mark.parametrize("gaussian", [True, False])
@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_skimage(gaussian, channels):
    x, y = _pair(c=channels)
    ours = ssim(x, y, 1.0, gaussian=gaussian).numpy()
    ref = [structural_similarity(a.numpy(), b.numpy(), data_range=1.0, channel_axis=0, gaussian_weights=gaussian,
                                 sigma=1.5, use_sample_covariance=not gaussian) for a, b in zip(x, y)]
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_psnr_mse_match_skimage_and_fsim_matches_piq():
    x, y = _pair(n=6, noise=0.05, seed=1)
    scores = reconstruction_metrics(x, y, batch_size=4)
    np.testing.assert_allclose(scores["mse"], [mean_squared_error(a.numpy(), b.numpy()) for a, b in zip(x, y)],
                               rtol=1e-5)
    np.testing.assert_allclose(scores["psnr"], [peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=1.0)
                                                for a, b in zip(x, y)], atol=1e-4)
    np.testing.assert_allclose(scores["fsim"], piq.fsim(x, y, data_range=1.0, reduction="none").numpy(), atol=1e-3)
    assert set(summarize(scores)) == {"ssim", "fsim", "psnr", "mse"}


def test_summarize_reads_an_infinite_psnr_as_unbounded_not_nan():
    out = summarize({"psnr": np.array([30.0, np.inf]), "mse": np.array([0.1, 0.3])})
    assert out["psnr"] == {"mean": float("inf"), "std": float("inf"), "n": 2}
    assert out["mse"]["std"] == pytest.approx(0.1) and out["mse"]["n"] == 2


def test_ssim_data_range_255_matches_skimage():
    x, y = _pair(n=2, noise=0.2, seed=3)
    ours = reconstruction_metrics(x * 255, y * 255, data_range=255.0, metrics=("ssim",))["ssim"]
    ref = [structural_similarity(a.numpy() * 255, b.numpy() * 255, data_range=255.0, channel_axis=0,
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
           for a, b in zip(x, y)]
    np.testing.assert_allclose(ours, ref, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), noise=st.floats(0.01, 0.5))
def test_identity_is_perfect_and_noise_is_worse(seed, noise):
    x, y = _pair(n=2, size=16, noise=noise, seed=seed)
    same = reconstruction_metrics(x, x, metrics=("ssim", "psnr", "mse"))
    other = reconstruction_metrics(x, y, metrics=("ssim", "psnr", "mse"))
    np.testing.assert_allclose(same["ssim"], 1.0, atol=1e-5)
    assert np.all(np.isinf(same["psnr"])) and np.all(same["mse"] == 0)
    assert np.all(other["ssim"] < 1.0) and np.all(other["mse"] > 0)


def test_evaluate_reconstruction_batches_and_clamps():
    x, _ = _pair(n=5, seed=2)
    scores = evaluate_reconstruction(lambda b: b * 1.5 - 0.2, x, batch_size=2)
    direct = reconstruction_metrics(x, (x * 1.5 - 0.2).clamp(0, 1))
    for m in scores:
        np.testing.assert_allclose(scores[m], direct[m], rtol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        evaluate_reconstruction(lambda b: b * 1.5, x, clamp=False)
    with pytest.raises(ValueError, match="shape"):
        evaluate_reconstruction(lambda b: b[:, :1], x)


def test_bad_input_is_refused():
    x, y = _pair(n=2)
    with pytest.raises(ValueError, match="differ in shape"):
        reconstruction_metrics(x, y[:, :, :16])
    with pytest.raises(ValueError, match=r"outside \[0, 1"):
        reconstruction_metrics(x * 255, y)
    with pytest.raises(ValueError, match="empty"):
        reconstruction_metrics(x[:0], y[:0])
    bad = y.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        reconstruction_metrics(x, bad)
    with pytest.raises(ValueError, match="unknown"):
        reconstruction_metrics(x, y, metrics=("lpips",))
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        reconstruction_metrics(x[:, :, :8, :8], y[:, :, :8, :8], metrics=("ssim",))


def test_one_metric_may_be_named_by_a_string():
    x = torch.rand(2, 3, 16, 16)
    assert set(reconstruction_metrics(x, x, metrics="psnr")) == {"psnr"}


def test_masked_loss_vs_mean_colour_by_hand():
    """Flat-coloured 4x4 patches: the baseline's error on a removed patch is the squared distance of its
    colour to the mean colour of the visible patches, averaged over channels, then over removed patches."""
    from mae_hlvm.eval import masked_loss_vs_mean_colour
    from mae_hlvm.mae import create_mae

    torch.manual_seed(0)
    model = create_mae("mae_tiny", img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2,
                       decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2).eval()
    colours = torch.rand(2, 3, 4, 4)                                          # one colour per patch
    images = colours.repeat_interleave(4, 2).repeat_interleave(4, 3)          # [2, 3, 16, 16]
    res = masked_loss_vs_mean_colour(model, images, 0.5, seed=3)
    with torch.no_grad():
        out = model(images, mask_ratio=0.5, generator=torch.Generator().manual_seed(3))  # the same masks
    errors = []
    for n in range(2):
        patch_colour = colours[n].flatten(1).T                                # [16, 3], row-major patches
        visible_mean = patch_colour[out.mask[n] == 0].mean(0)
        errors += [((patch_colour[k] - visible_mean) ** 2).mean() for k in range(16) if out.mask[n, k] == 1]
    assert len(errors) == 16                                                  # half of 16 patches, twice
    assert res["baseline"] == pytest.approx(float(torch.stack(errors).mean()), rel=1e-5)
    assert res["loss"] == pytest.approx(float(out.loss)) and res["ratio"] == pytest.approx(res["loss"] / res["baseline"])
