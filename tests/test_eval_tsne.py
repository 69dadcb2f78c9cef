"""t-SNE keeps well-separated clusters apart."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from mae_hlvm.eval import plot_embedding, tsne_embedding


def test_tsne_separates_clusters_and_plots():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    x = rng.normal(size=(90, 60)) + 20 * np.eye(60)[y]
    emb = tsne_embedding(x, perplexity=10, seed=0)
    assert emb.shape == (90, 2)
    centres = np.stack([emb[y == k].mean(0) for k in range(3)])
    spread = max(np.linalg.norm(emb[y == k] - centres[k], axis=1).mean() for k in range(3))
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread
    ax = plot_embedding(emb, y, ["a", "b", "c"], title="t")
    assert len(ax.collections) == 3


def test_tsne_refuses_bad_input():
    with pytest.raises(ValueError, match="perplexity"):
        tsne_embedding(np.zeros((5, 3)), perplexity=30)
    with pytest.raises(ValueError, match="NaN"):
        tsne_embedding(np.full((50, 3), np.nan))
    with pytest.raises(ValueError, match="no name"):
        plot_embedding(np.zeros((2, 2)), [0, 3], ["a"])
