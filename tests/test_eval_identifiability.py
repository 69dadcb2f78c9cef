"""R² (kernel ridge / linear) and MCC on representations whose content is known."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mae_hlvm.eval import latent_matrix, mcc, r2_scores


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, size=(n, 2))
    noise = rng.normal(size=(n, 3))
    return z, noise


def test_linear_code_is_linearly_recovered_and_noise_is_not():
    z, noise = _data()
    feats = np.c_[z @ np.array([[1.0, 2.0], [-1.0, 0.5]]), noise]  # a linear mix of z plus junk dims
    r2 = r2_scores(feats, {"z": z, "junk": np.random.default_rng(5).normal(size=len(z))}, method="linear")
    assert set(r2) == {"z[0]", "z[1]", "junk"}
    assert r2["z[0]"].mean > 0.99 and r2["z[1]"].mean > 0.99
    assert r2["junk"].mean < 0.1 and r2["z[0]"].std >= 0


def test_kernel_ridge_recovers_a_nonlinear_code_the_linear_fit_misses():
    z, noise = _data(n=300)
    feats = np.c_[np.cos(2.5 * z[:, 0]), np.sin(2.5 * z[:, 0]), noise[:, 0]]  # a on an arc
    kernel = r2_scores(feats, {"a": z[:, 0]}, method="kernel", max_train=150)
    linear = r2_scores(feats, {"a": z[:, 0]}, method="linear", max_train=150)
    assert kernel["a"].mean > 0.98 and linear["a"].mean < 0.95
    assert set(kernel["a"].params) == {"alpha", "gamma"}


def test_mcc_of_a_permuted_rescaled_code_is_one_and_of_noise_is_low():
    z, noise = _data(n=500)
    feats = np.c_[noise[:, 0], -3 * z[:, 1] + 1, noise[:, 1], 0.5 * z[:, 0], np.ones(len(z))]  # + a constant dim
    res = mcc(feats, {"z": z})
    assert res.mcc == pytest.approx(1.0)
    assert res.pairs["z[0]"][0] == 3 and res.pairs["z[1]"][0] == 1
    assert mcc(noise, {"z": z}).mcc < 0.2


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0))
def test_mcc_is_invariant_to_feature_permutation_and_scale(seed, scale):
    rng = np.random.default_rng(seed)
    z, x = rng.normal(size=(50, 2)), rng.normal(size=(50, 4))
    x[:, 0] += z[:, 0]
    perm = rng.permutation(4)
    assert mcc(x, {"z": z}).mcc == pytest.approx(mcc(scale * x[:, perm], {"z": z}).mcc)


def test_bad_input_is_refused():
    z, noise = _data(n=60)
    with pytest.raises(ValueError, match="'c' is constant"):
        latent_matrix({"c": np.ones(60)}, 60)
    with pytest.raises(ValueError, match=r"shape \[60\]"):
        latent_matrix({"z": z[:10]}, 60)
    with pytest.raises(ValueError, match="no latents"):
        r2_scores(noise, {})
    bad = noise.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mcc(bad, {"z": z})
    with pytest.raises(ValueError, match="method"):
        r2_scores(noise, {"z": z}, method="forest")
    with pytest.raises(ValueError, match="too few"):
        r2_scores(noise[:8], {"z": z[:8]})


def test_kernel_grid_search_matches_sklearn_gridsearchcv():
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.preprocessing import StandardScaler

    from mae_hlvm.eval.identifiability import ALPHAS, GAMMAS

    z, noise = _data(n=120, seed=3)
    feats = np.c_[np.tanh(2 * z), noise[:, :1]]
    ours = r2_scores(feats, {"z": z}, "kernel", train_fraction=0.5, n_eval_batches=1, seed=7)
    perm = np.random.default_rng(7).permutation(120)
    tr, te = perm[:60], perm[60:]
    xs, zs = StandardScaler().fit(feats[tr]), StandardScaler().fit(z[tr])
    for j in range(2):
        gs = GridSearchCV(KernelRidge(kernel="rbf"), {"alpha": list(ALPHAS), "gamma": list(GAMMAS)},
                          cv=KFold(3, shuffle=True, random_state=7), scoring="r2")
        gs.fit(xs.transform(feats[tr]), zs.transform(z[tr])[:, j])
        ref = r2_score(zs.transform(z[te])[:, j], gs.predict(xs.transform(feats[te])))
        assert ours[f"z[{j}]"].params == pytest.approx(gs.best_params_)
        assert ours[f"z[{j}]"].mean == pytest.approx(ref, abs=1e-9)


def test_pixel_statistics_on_a_hand_made_image():
    import torch

    from mae_hlvm.eval import PIXEL_STATISTICS, pixel_statistics

    img = torch.zeros(1, 1, 6, 6)
    img[0, 0, 1:5, 1:5] = torch.tensor([[0.0, 1.0] * 2, [1.0, 0.0] * 2] * 2)   # a checkerboard object
    mask = torch.zeros(1, 6, 6, dtype=torch.bool)
    mask[0, 1:5, 1:5] = True
    stats = pixel_statistics(img, mask)
    assert stats.shape == (1, len(PIXEL_STATISTICS))
    assert stats[0, 0] == pytest.approx(0.5)                # std of a half-0, half-1 object
    # interior 4 x 4 pixels all belong to the object: the mean |Laplacian| of a checkerboard there
    lap = (4 * img[0, 0, 1:-1, 1:-1] - img[0, 0, :-2, 1:-1] - img[0, 0, 2:, 1:-1] - img[0, 0, 1:-1, :-2]
           - img[0, 0, 1:-1, 2:]).abs()
    assert stats[0, 1] == pytest.approx(float(lap.mean())) and stats[0, 2] == 0.0   # no background inside
    with pytest.raises(ValueError, match=r"masks must have shape \(1, 6, 6\)"):
        pixel_statistics(img, mask[:, :5])


def test_pixel_statistics_read_the_renderers_noise_level():
    from mae_hlvm.data.shapes import render_shapes
    from mae_hlvm.eval import pixel_statistics, r2_scores

    batch = render_shapes(400, 3, size=32)
    r2 = r2_scores(pixel_statistics(batch.images, batch.masks), {"noise_std": batch.factors["noise_std"]},
                   "linear", max_train=200)
    assert r2["noise_std"].mean > 0.8          # the background's high-pass energy is the noise level
