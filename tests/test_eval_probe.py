"""Linear probes (MAE protocol and the fast logistic variant) and robustness evaluation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from mae_hlvm.eval import (LinearHead, ProbeConfig, ShiftedSet, evaluate_robustness, fit_logistic_probe,
                           subset_accuracy, subset_from_wnids, top1_accuracy, train_linear_probe)


def _blobs(n=600, d=16, c=4, sep=3.0, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(c, d)) * sep
    y = rng.integers(0, c, n)
    return (means[y] + rng.normal(size=(n, d))).astype(np.float32), y


def test_head_is_maes():
    head = LinearHead(8, 3)
    assert not head.norm.affine and head.norm.eps == 1e-6
    assert float(head.fc.weight.detach().std()) < 0.03 and torch.all(head.fc.bias == 0)


def test_probes_separate_separable_classes_and_chance_on_noise():
    x, y = _blobs()
    lars = train_linear_probe(x[:400], y[:400], config=ProbeConfig(epochs=20, warmup_epochs=2, batch_size=64, blr=40.0))
    logi = fit_logistic_probe(x[:400], y[:400])
    assert lars.accuracy(x[400:], y[400:]) > 0.95 and logi.accuracy(x[400:], y[400:]) > 0.95
    assert lars.history[-1] < lars.history[0]
    noise = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    assert fit_logistic_probe(noise[:400], y[:400]).accuracy(noise[400:], y[400:]) < 0.45  # 4 classes: chance 0.25


def test_probe_is_reproducible():
    x, y = _blobs(n=200)
    cfg = ProbeConfig(epochs=3, warmup_epochs=1, batch_size=32)
    a, b = train_linear_probe(x, y, config=cfg), train_linear_probe(x, y, config=cfg)
    np.testing.assert_array_equal(a.logits(x), b.logits(x))


def test_probe_refuses_bad_input():
    x, y = _blobs(n=100)
    with pytest.raises(ValueError, match=r"class\(es\) \[4, 5\] requested"):
        fit_logistic_probe(x, y, num_classes=6)
    with pytest.raises(ValueError, match="outside"):
        train_linear_probe(x, y, num_classes=3)
    bad = x.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf in 1 row.*row 7"):
        fit_logistic_probe(bad, y)
    with pytest.raises(ValueError, match="empty"):
        train_linear_probe(x[:0], y[:0])
    with pytest.raises(ValueError, match=r"shape \[100\]"):
        fit_logistic_probe(x, y[:50])
    probe = fit_logistic_probe(x, y)
    with pytest.raises(ValueError, match="dimensions"):
        probe.logits(x[:, :3])
    with pytest.raises(ValueError, match="warmup"):
        ProbeConfig(epochs=2, warmup_epochs=2)


def test_subset_accuracy_restricts_the_argmax():
    logits = np.array([[5.0, 1.0, 2.0], [0.0, 3.0, 4.0]])
    assert top1_accuracy(logits, [2, 2]) == 0.5
    assert subset_accuracy(logits, [2, 2], [1, 2]) == 1.0  # row 0: class 0 is excluded, 2 beats 1
    assert subset_accuracy(logits, [0, 1], None) == 0.5
    with pytest.raises(ValueError, match=r"class\(es\) \[0\] that are not in class_subset"):
        subset_accuracy(logits, [0, 2], [1, 2])
    with pytest.raises(ValueError, match="outside"):
        subset_accuracy(logits, [1, 2], [1, 7])
    assert subset_from_wnids(["n2", "n0"], ["n0", "n1", "n2"]) == [2, 0]
    with pytest.raises(ValueError, match="n9"):
        subset_from_wnids(["n9"], ["n0", "n1"])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), c=st.integers(2, 6))
def test_full_subset_equals_plain_accuracy(seed, n, c):
    rng = np.random.default_rng(seed)
    logits, y = rng.normal(size=(n, c)), rng.integers(0, c, n)
    assert subset_accuracy(logits, y, range(c)) == top1_accuracy(logits, y)


def test_robustness_applies_the_probe_unchanged():
    x, y = _blobs(n=500)
    probe = fit_logistic_probe(x[:300], y[:300])
    shifted = x[300:] + 6.0 * np.random.default_rng(2).normal(size=x[300:].shape).astype(np.float32)
    res = evaluate_robustness(probe, {"clean": ShiftedSet(x[300:], y[300:]), "noisy": ShiftedSet(shifted, y[300:]),
                                      "two": ShiftedSet(x[300:][y[300:] < 2], y[300:][y[300:] < 2], [0, 1])})
    assert list(res) == ["clean", "noisy", "two"]
    assert res["clean"] == probe.accuracy(x[300:], y[300:]) and res["noisy"] < res["clean"]
    assert res["two"] >= res["clean"]
    with pytest.raises(ValueError, match="set 'bad'"):
        evaluate_robustness(probe, {"bad": ShiftedSet(x[:5], np.array([0, 1, 2, 3, 9]))})
    with pytest.raises(ValueError, match="no evaluation sets"):
        evaluate_robustness(probe, {})
