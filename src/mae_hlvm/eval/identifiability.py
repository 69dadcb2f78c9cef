"""How much of each true latent a representation holds (the content/style protocol of
von Kügelgen et al. 2021, used here for Kong et al.'s identifiability claim).

- ``r2_scores``: standardise the representation and each latent (scalers fitted on the training half),
  fit a regressor from representation to latent, report the held-out R² (``sklearn.metrics.r2_score``)
  as mean ± std over ``n_eval_batches`` disjoint evaluation batches. ``method="kernel"``: kernel ridge
  (RBF) with a 3-fold grid search over alpha {1, .1, .01, .001} and gamma logspace(-2, 2, 4), chosen
  per latent (the same choice as scikit-learn's GridSearchCV, computed for all latents at once);
  ``method="linear"``: ordinary least squares (LinearRegression).
- ``mcc``: mean correlation coefficient: |Pearson correlation| between every latent and every
  representation dimension, one-to-one matching that maximises the total (Hungarian algorithm,
  ``scipy.optimize.linear_sum_assignment``), mean of the matched values. With D > k the matching
  picks the best k of D dimensions, which lifts the score of random features above 0 (compare with a
  baseline).
- ``pixel_statistics``: three hand-made statistics of an image and its object mask, no encoder. Fed
  to ``r2_scores`` in place of features, they say how much of a low-level latent the pixels make
  readable at all: a reference that tells "the encoder drops it" from "the images barely show it".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ._checks import Array, check_features, check_images

ALPHAS: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001)
GAMMAS: tuple[float, ...] = tuple(np.logspace(-2, 2, 4))


def latent_matrix(latents: Mapping[str, object], n: int) -> tuple[np.ndarray, list[str]]:
    """Stack {name: [N] or [N, k]} into [N, K] with column names ``name`` or ``name[j]``.

    Refuses non-numeric, non-finite, wrongly sized or constant columns (R² is undefined for those).
    """
    if not isinstance(latents, Mapping):
        raise ValueError(f"latents must be a mapping {{name: [N] or [N, k] values}}, got {type(latents).__name__}")
    if not latents:
        raise ValueError("no latents given")
    cols, names = [], []
    for name, value in latents.items():
        a = np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)
        if a.ndim not in (1, 2) or a.shape[0] != n:
            raise ValueError(f"latent {name!r} must have shape [{n}] or [{n}, k], got {a.shape}")
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"latent {name!r} must be numeric, got dtype {a.dtype}")
        a = a.astype(np.float64).reshape(n, -1)
        if not np.isfinite(a).all():
            raise ValueError(f"latent {name!r} contains NaN or inf")
        for j in range(a.shape[1]):
            label = name if a.shape[1] == 1 and np.ndim(value) == 1 else f"{name}[{j}]"
            if np.ptp(a[:, j]) == 0:
                raise ValueError(f"latent {label!r} is constant ({a[0, j]}): R² and correlation are undefined")
            cols.append(a[:, j])
            names.append(label)
    return np.stack(cols, axis=1), names


@dataclass(frozen=True)
class R2:
    """Held-out R² of one latent: mean and std over evaluation batches, and the chosen hyper-parameters."""

    mean: float
    std: float
    params: dict


def _kernel_ridge_cv(x: np.ndarray, z: np.ndarray, seed: int) -> list[tuple[object, dict]]:
    """Per column of z [n, K]: the RBF kernel ridge refitted with the (alpha, gamma) of best mean 3-fold R².

    Equivalent to one ``GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=KFold(3, shuffle, seed),
    scoring="r2")`` per column, but each (alpha, gamma, fold) is solved once for all K columns together
    (kernel ridge with several targets solves each independently).
    """
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    from sklearn.metrics.pairwise import euclidean_distances

    grid = [(a, g) for a in ALPHAS for g in GAMMAS]
    scores = np.zeros((len(grid), z.shape[1]))
    for tr, va in KFold(3, shuffle=True, random_state=seed).split(x):
        # KernelRidge's solution (K + alpha I)^-1 z, for every alpha from one eigendecomposition of K
        # per gamma, and K = exp(-gamma |x - x'|²) from one distance matrix: 3 x 4 eighs, not 48 solves
        d_tr = euclidean_distances(x[tr], squared=True)
        d_va = euclidean_distances(x[va], x[tr], squared=True)
        for gi, g in enumerate(GAMMAS):
            lam, vec = np.linalg.eigh(np.exp(-g * d_tr))
            proj, k_va = vec.T @ z[tr], np.exp(-g * d_va)
            for ai, a in enumerate(ALPHAS):
                pred = k_va @ (vec @ (proj / (lam + a)[:, None]))
                i = ai * len(GAMMAS) + gi  # index of (a, g) in grid
                scores[i] += r2_score(z[va], pred, multioutput="raw_values") / 3
    best = scores.argmax(axis=0)  # first maximum, as GridSearchCV's rank 1
    fitted = {}
    for i in np.unique(best):
        a, g = grid[i]
        fitted[i] = KernelRidge(alpha=a, kernel="rbf", gamma=g).fit(x, z[:, best == i])
    out, seen = [], {i: 0 for i in fitted}
    for j in range(z.shape[1]):
        i = best[j]
        out.append((fitted[i], {"alpha": grid[i][0], "gamma": float(grid[i][1]), "column": seen[i]}))
        seen[i] += 1
    return out


def r2_scores(features: Array, latents: Mapping[str, object], method: str = "kernel", train_fraction: float = 0.5,
              n_eval_batches: int = 5, max_train: int | None = 2000, seed: int = 0) -> dict[str, R2]:
    """Held-out R² of predicting each latent column from features [N, D]: {name: R2}.

    Samples are shuffled (seed) and split into a training part (``train_fraction``, at most
    ``max_train`` samples: kernel ridge costs O(n³)) and an evaluation part cut into
    ``n_eval_batches`` batches.
    """
    from sklearn.metrics import r2_score
    from sklearn.preprocessing import StandardScaler

    if method not in ("kernel", "linear"):
        raise ValueError(f"method must be 'kernel' or 'linear', got {method!r}")
    x = check_features(features).astype(np.float64)
    z, names = latent_matrix(latents, x.shape[0])
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must lie in (0, 1), got {train_fraction}")
    perm = np.random.default_rng(seed).permutation(x.shape[0])
    n_train = int(round(train_fraction * x.shape[0]))
    if max_train is not None:
        n_train = min(n_train, max_train)
    train, test = perm[:n_train], perm[n_train:]
    if n_train < 6 or len(test) < 2 * n_eval_batches or n_eval_batches < 1:
        raise ValueError(f"{x.shape[0]} samples are too few for {n_train} training samples (need >= 6) and "
                         f"{n_eval_batches} evaluation batches of >= 2 samples")
    xs = StandardScaler().fit(x[train])
    zs = StandardScaler().fit(z[train])
    x_tr, x_te, z_tr, z_te = xs.transform(x[train]), xs.transform(x[test]), zs.transform(z[train]), zs.transform(z[test])
    batches = np.array_split(np.arange(len(test)), n_eval_batches)
    if method == "kernel":
        fits = _kernel_ridge_cv(x_tr, z_tr, seed)
        preds, predicted = [], {}
        for reg, params in fits:  # columns that share a fitted model share one prediction
            if id(reg) not in predicted:
                predicted[id(reg)] = reg.predict(x_te).reshape(len(test), -1)
            preds.append(predicted[id(reg)][:, params.pop("column")])
    elif method == "linear":
        from sklearn.linear_model import LinearRegression

        lin = LinearRegression().fit(x_tr, z_tr)
        fits = [(lin, {}) for _ in names]
        preds = list(lin.predict(x_te).reshape(len(test), -1).T)
    else:
        raise ValueError(f"method must be 'kernel' or 'linear', got {method!r}")
    pred = np.stack(preds, axis=1)  # [n_test, K]; per-column R² of each batch in one call
    per_batch = np.stack([r2_score(z_te[b], pred[b], multioutput="raw_values") for b in batches])  # [B, K]
    return {name: R2(float(per_batch[:, j].mean()), float(per_batch[:, j].std()), fits[j][1])
            for j, name in enumerate(names)}


@dataclass(frozen=True)
class MCC:
    """Mean matched |correlation|; ``pairs`` maps latent name -> (feature index, |corr|)."""

    mcc: float
    pairs: dict[str, tuple[int, float]]


def mcc(features: Array, latents: Mapping[str, object]) -> MCC:
    """Mean correlation coefficient between latents and feature dimensions, Hungarian-matched.

    Constant feature dimensions count as uncorrelated (|corr| = 0).
    """
    from scipy.optimize import linear_sum_assignment

    x = check_features(features).astype(np.float64)
    z, names = latent_matrix(latents, x.shape[0])
    if x.shape[0] < 3:
        raise ValueError(f"need at least 3 samples for correlations, got {x.shape[0]}")
    xc, zc = x - x.mean(0), z - z.mean(0)
    xn, zn = np.linalg.norm(xc, axis=0), np.linalg.norm(zc, axis=0)
    xn[xn == 0] = np.inf  # constant dimension -> correlation 0
    corr = np.abs((zc / zn).T @ (xc / xn))  # [K, D]
    rows, cols = linear_sum_assignment(-corr)
    pairs = {names[r]: (int(c), float(corr[r, c])) for r, c in zip(rows, cols)}
    return MCC(float(corr[rows, cols].mean()), pairs)


PIXEL_STATISTICS: tuple[str, ...] = ("object pixel std", "object high-pass energy", "background high-pass energy")


def pixel_statistics(images: Array, masks: Array) -> np.ndarray:
    """Per image: the standard deviation of the object's pixels, and the mean absolute 4-neighbour
    Laplacian (a high-pass filter, averaged over channels) over the object's pixels and over the
    background's: [N, 3] float64, columns as ``PIXEL_STATISTICS``. Texture contrast and frequency
    show in the first two, per-pixel noise in the third. images [N, C, H, W]; masks [N, H, W]
    (nonzero: the object's pixels). The border pixels, which lack a neighbour, are left out of
    the high-pass statistics; an image whose object (or background) is empty there gets 0."""
    import torch

    x = check_images(images, "images").double()
    m = torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks)
    if m.shape != (x.shape[0], *x.shape[-2:]):
        raise ValueError(f"masks must have shape {(x.shape[0], *x.shape[-2:])} (one per image, the images' "
                         f"height and width), got {tuple(m.shape)}")
    obj = m.bool()
    n_obj = obj.sum((1, 2)).clamp(min=1)                                                      # [N]
    px = x.mean(1)                                                                            # [N, H, W]
    mean = (px * obj).sum((1, 2)) / n_obj
    std = (((px - mean[:, None, None]) ** 2 * obj).sum((1, 2)) / n_obj).sqrt()
    lap = (4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2]
           - x[..., 1:-1, 2:]).abs().mean(1)                                                 # [N, H-2, W-2]
    inner = obj[:, 1:-1, 1:-1]

    def mean_over(where: torch.Tensor) -> torch.Tensor:
        return (lap * where).sum((1, 2)) / where.sum((1, 2)).clamp(min=1)

    return torch.stack([std, mean_over(inner), mean_over(~inner)], 1).numpy()
