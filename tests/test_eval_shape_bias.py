"""Shape bias (Geirhos et al.) and the 16-category aggregation of 1000-way logits."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mae_hlvm.eval import (GEIRHOS_CATEGORIES, aggregate_probabilities, category_decisions, category_indices,
                           load_category_mapping, shape_bias)


def test_hand_counted_shape_bias():
    shape, texture = np.array([0, 1, 2, 3, 4, 0]), np.array([1, 2, 3, 4, 0, 0])
    pred = np.array([0, 2, 2, 9, 4, 0])  # shape, texture, shape, neither, shape, (same-class image)
    res = shape_bias(pred, shape, texture)
    assert (res.shape_decisions, res.texture_decisions, res.other_decisions, res.excluded_same_class) == (3, 1, 1, 1)
    assert res.shape_bias == 0.75 and res.n == 5


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60))
def test_swapping_cues_complements_the_bias(seed, n):
    rng = np.random.default_rng(seed)
    shape = rng.integers(0, 4, n)
    texture = (shape + rng.integers(1, 4, n)) % 4
    pred = np.where(rng.random(n) < 0.5, shape, texture)
    a, b = shape_bias(pred, shape, texture), shape_bias(pred, texture, shape)
    assert 0 <= a.shape_bias <= 1
    assert a.shape_bias + b.shape_bias == pytest.approx(1.0)


def test_shape_bias_refuses_bad_input_and_reports_undefined():
    with pytest.raises(ValueError, match="no cue-conflict"):
        shape_bias([0, 1], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="non-empty"):
        shape_bias([], [], [])
    with pytest.raises(ValueError, match="shape_labels must have shape"):
        shape_bias([0, 1], [0], [1, 0])
    assert np.isnan(shape_bias([5, 5], [0, 1], [1, 0]).shape_bias)


def test_mapping_file_and_mean_aggregation(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("# wnid category\nn01 dog\nn02 dog  # comment\n\nn05 cat\n")
    mapping = load_category_mapping(path)
    assert mapping == {"dog": ["n01", "n02"], "cat": ["n05"]}
    cats = category_indices(mapping, ["n00", "n01", "n02", "n03", "n04", "n05"])
    assert cats == {"dog": [1, 2], "cat": [5]}
    # class 5 (cat) has the single largest probability, but dog's two classes average higher
    logits = np.log(np.array([[0.05, 0.3, 0.3, 0.0001, 0.0499, 0.3]]))
    agg, names = aggregate_probabilities(logits, cats)
    np.testing.assert_allclose(agg, [[0.3, 0.3]], rtol=1e-6)
    logits2 = np.log(np.array([[0.1, 0.3, 0.1, 0.05, 0.05, 0.4]]))
    assert names[category_decisions(logits2, cats)[0]] == "cat"  # mean(dog) 0.2 < 0.4
    assert len(GEIRHOS_CATEGORIES) == 16


def test_mapping_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_category_mapping(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("n01 dog extra\n")
    with pytest.raises(ValueError, match=":1: expected"):
        load_category_mapping(bad)
    bad.write_text("n01 dog\nn01 cat\n")
    with pytest.raises(ValueError, match="mapped twice"):
        load_category_mapping(bad)
    with pytest.raises(ValueError, match="not among the model's classes"):
        category_indices({"dog": ["n99"]}, ["n01"])
