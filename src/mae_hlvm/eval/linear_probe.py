"""Linear probing of frozen features (Table 1 of Kong et al.).

Two probes with one interface (``.logits(features) -> [N, C]``):

- ``train_linear_probe``: the MAE protocol (He et al. 2022) on cached features:
  ``BatchNorm1d(D, affine=False, eps=1e-6)`` then ``Linear(D, C)`` (weights trunc-normal std 0.01,
  bias 0), optimiser **LARS** (``timm.optim.Lars``, momentum 0.9, trust coefficient 1e-3, weight decay
  0; the trust ratio is applied to the weight matrix, not the bias, as in MAE's LARS), learning rate
  ``blr * batch_size / 256`` with linear warm-up then half-cycle cosine stepped per iteration
  (``timm.scheduler.CosineLRScheduler``). MAE's augmentation (random resized crops, flips) is not
  applied: features are computed once.
- ``fit_logistic_probe``: the fast variant for smoke runs, scikit-learn's LogisticRegression (L-BFGS,
  multinomial) on standardised features (StandardScaler plays the part of the BatchNorm).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from ..compute import torch_threads
from ..reproducibility import seeded
from ._checks import Array, check_features, check_labels


def check_training_classes(labels: np.ndarray, num_classes: int | None) -> int:
    """The number of classes; refuses requested classes that have no training example."""
    present = np.unique(labels)
    if num_classes is None:
        num_classes = int(present.max()) + 1
    if num_classes < 2:
        raise ValueError(f"a probe needs at least 2 classes, got num_classes={num_classes}")
    if labels.max() >= num_classes:
        raise ValueError(f"labels contain class {int(labels.max())}, outside [0, num_classes={num_classes})")
    missing = sorted(set(range(num_classes)) - set(present.tolist()))
    if missing:
        raise ValueError(f"class(es) {missing} requested (num_classes={num_classes}) have no training example")
    return num_classes


class Probe:
    """Common interface: ``logits`` [N, C], ``predict`` [N] and ``accuracy`` (top-1, in [0, 1])."""

    num_classes: int
    feature_dim: int

    def _logits(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def logits(self, features: Array) -> np.ndarray:
        x = check_features(features)
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"features have {x.shape[1]} dimensions, the probe was trained on {self.feature_dim}")
        return self._logits(x)

    def predict(self, features: Array) -> np.ndarray:
        return self.logits(features).argmax(axis=1)

    def accuracy(self, features: Array, labels: Array) -> float:
        x = check_features(features)
        y = check_labels(labels, x.shape[0], num_classes=self.num_classes)
        return float((self.predict(x) == y).mean())


class LinearHead(nn.Module):
    """MAE's linear-probe head: BatchNorm1d(affine=False, eps=1e-6) + Linear (trunc-normal std 0.01)."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, affine=False, eps=1e-6)
        self.fc = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, D] -> [B, C]
        return self.fc(self.norm(x))


@dataclass(frozen=True)
class ProbeConfig:
    """MAE linear-probe recipe (defaults: ViT-B on IN-1K, except the batch size).

    MAE's ``blr`` 0.1 is meant for its batch of 16384 (absolute lr 6.4); at the default batch of 256
    it gives lr 0.1, 64 times smaller. To keep MAE's absolute learning rate at a small batch, set
    ``blr = 6.4 * 256 / batch_size`` (the evaluation suite's ``probe_blr`` default does this)."""

    epochs: int = 90
    warmup_epochs: int = 10
    batch_size: int = 256
    blr: float = 0.1          # base learning rate; lr = blr * batch_size / 256
    weight_decay: float = 0.0
    momentum: float = 0.9
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"need epochs >= 1 and 0 <= warmup_epochs < epochs, got {self.epochs}, {self.warmup_epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (BatchNorm), got {self.batch_size}")
        if self.blr <= 0 or self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"need blr > 0, weight_decay >= 0, momentum in [0, 1); got {self.blr}, "
                             f"{self.weight_decay}, {self.momentum}")


class TorchLinearProbe(Probe):
    """A trained LinearHead; ``history`` holds the mean training loss per epoch."""

    def __init__(self, head: LinearHead, history: list[float], config: ProbeConfig):
        self.head, self.history, self.config = head.eval(), history, config
        self.num_classes, self.feature_dim = head.fc.out_features, head.fc.in_features

    @torch.no_grad()
    def _logits(self, x: np.ndarray) -> np.ndarray:
        dev = self.head.fc.weight.device
        return self.head(torch.as_tensor(x, dtype=torch.float32, device=dev)).cpu().numpy()


def train_linear_probe(features: Array, labels: Array, num_classes: int | None = None,
                       config: ProbeConfig = ProbeConfig(),
                       device: str | torch.device = "cpu") -> TorchLinearProbe:
    """Train the MAE linear probe on frozen features [N, D] with integer labels [N]."""
    from timm.optim import Lars
    from timm.scheduler import CosineLRScheduler

    x = check_features(features)
    y = check_labels(labels, x.shape[0])
    num_classes = check_training_classes(y, num_classes)
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 training samples, got {x.shape[0]}")
    gen = torch.Generator().manual_seed(config.seed)  # the batches' order; the loop draws nothing else
    with seeded(config.seed):  # the head's initialisation, without resetting the caller's generator
        head = LinearHead(x.shape[1], num_classes).to(device)
    lr = config.blr * config.batch_size / 256
    opt = Lars([
        {"params": [head.fc.weight], "always_adapt": True, "weight_decay": config.weight_decay},
        {"params": [head.fc.bias], "always_adapt": False, "weight_decay": 0.0},  # no trust ratio on biases
    ], lr=lr, momentum=config.momentum)
    steps_per_epoch = max(1, x.shape[0] // config.batch_size)  # drop_last, as MAE's loader
    warmup = config.warmup_epochs * steps_per_epoch
    sched = CosineLRScheduler(opt, t_initial=config.epochs * steps_per_epoch - warmup, warmup_t=warmup,
                              warmup_lr_init=0.0, warmup_prefix=True, t_in_epochs=False)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y, device=device)
    loss_fn = nn.CrossEntropyLoss()
    history, step = [], 0
    head.train()
    with torch_threads(1 if torch.device(device).type == "cpu" else None):  # small ops: see torch_threads
        for epoch in range(config.epochs):
            order = torch.randperm(x.shape[0], generator=gen).to(device)
            total = 0.0
            for b in range(steps_per_epoch):
                idx = order[b * config.batch_size:(b + 1) * config.batch_size]
                sched.step_update(step)
                loss = loss_fn(head(xt[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
                step += 1
            history.append(total / steps_per_epoch)
    return TorchLinearProbe(head, history, config)


class LogisticProbe(Probe):
    """StandardScaler + LogisticRegression; logits are the log-probabilities."""

    def __init__(self, pipeline, num_classes: int, feature_dim: int):
        self.pipeline, self.num_classes, self.feature_dim = pipeline, num_classes, feature_dim

    def _logits(self, x: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_log_proba(x)


def fit_logistic_probe(features: Array, labels: Array, num_classes: int | None = None, C: float = 1.0,
                       max_iter: int = 1000) -> LogisticProbe:
    """Fast probe: L2-regularised multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = check_features(features)
    y = check_labels(labels, x.shape[0])
    num_classes = check_training_classes(y, num_classes)
    if C <= 0:
        raise ValueError(f"C must be positive, got {C}")
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    pipe.fit(x, y)
    return LogisticProbe(pipe, num_classes, x.shape[1])


def top1_accuracy(logits: np.ndarray, labels: Sequence[int]) -> float:
    """Fraction of rows whose largest logit is at the label."""
    logits = check_features(logits, "logits")
    y = check_labels(labels, logits.shape[0], num_classes=logits.shape[1])
    return float((logits.argmax(axis=1) == y).mean())
