"""The book's figure and table helpers: what each panel holds, on micro models and made-up results."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mae_hlvm.experiments import figures
from mae_hlvm.mae import create_mae

MICRO = dict(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2,
             decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {"a": create_mae("mae_tiny", **MICRO).eval(), "b": create_mae("mae_tiny", **MICRO).eval()}


def _ylabels(fig, columns: int) -> list[str]:
    return [fig.axes[r * columns].get_ylabel() for r in range(len(fig.axes) // columns)]


def test_image_grid_pads_short_rows_with_empty_axes():
    imgs = torch.rand(3, 3, 8, 8)
    fig = figures.image_grid([("three", list(imgs)), ("one", [np.random.rand(8, 8, 3)])])
    assert len(fig.axes) == 6 and _ylabels(fig, 3) == ["three", "one"]
    assert fig.axes[3].images and fig.axes[3].axison                    # shown, its row's label kept
    assert [ax.axison or bool(ax.images) for ax in fig.axes[4:]] == [False, False]  # the padding: empty, hidden


def test_reconstruction_panels_share_one_mask_across_models(models):
    x = torch.rand(2, 3, 16, 16)
    fig = figures.reconstruction_panels(models, x, 0.5, None, seed=1)
    assert _ylabels(fig, 2) == ["original", "masked", "a", "b"]
    masked = fig.axes[2].images[0].get_array()
    again = figures.reconstruction_panels({"b": models["b"]}, x, 0.5, None, seed=1)
    np.testing.assert_array_equal(again.axes[2].images[0].get_array(), masked)  # the same masks from the seed
    raw = figures.reconstruction_panels(models, x, 0.5, None, show_raw=True)
    assert _ylabels(raw, 2) == ["original", "masked", "a: prediction", "a: + visible", "b: prediction",
                                "b: + visible"]


def test_attention_overlays_have_cls_and_token_rows_per_model(models):
    x = torch.rand(2, 3, 16, 16)
    boxes = torch.tensor([[0.0, 0.0, 8.0, 8.0], [8.0, 8.0, 16.0, 16.0]])
    fig = figures.attention_overlays(models, x, boxes)
    assert _ylabels(fig, 2) == ["image", "CLS, a", "CLS, b", "token, a", "token, b"]
    # the token rows outline the object's centre token: patch (1, 1) of image 0, (3, 3) of image 1
    outlined = [fig.axes[r * 2 + c].patches[0].get_xy() for r in (3, 4) for c in (0, 1)]
    assert outlined == [(3.5, 3.5), (11.5, 11.5)] * 2
    assert all(not fig.axes[r * 2].patches for r in range(3))


def test_tsne_panels_one_axes_per_result_with_titles():
    res = {name: {"tsne": {"embedding": np.random.rand(6, 2).tolist(), "labels": [0, 1, 2] * 2,
                           "class_names": ["x", "y", "z"]}} for name in ("r = 0.25", "r = 0.75")}
    fig = figures.tsne_panels(res)
    assert [ax.get_title() for ax in fig.axes] == ["r = 0.25", "r = 0.75"] and fig.axes[-1].get_legend()


def test_architecture_table_counts_every_trainable_parameter(models):
    m = models["a"]
    table = figures.architecture_table(m)
    assert table.loc["encoder", "width"] == 32 and table.loc["decoder", "depth"] == 1
    total = sum(p.numel() for p in m.parameters() if p.requires_grad) / 1e6
    assert table["parameters (M)"].sum() == pytest.approx(total)
