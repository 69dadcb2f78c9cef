"""The sweep of Section 3: models pretrained at several masking ratios and mask units, each evaluated
by the whole suite, over seeds; statistics over seeds and the decision rules of the claims ledger.

A sweep point is a :class:`~.pretraining.PretrainingParams` (the base with ``data``, ``mask_ratio``,
``mask_unit`` and ``seed`` set), so every point is a cached run: the pretraining chapter's model is
the sweep's (0.75, one patch) point, re-running a sweep trains only the points not yet in the cache,
and an interrupted sweep continues where it stopped. Points run one at a time: two trainings on the
same cores each run several times slower.

Geometry (how the paper's is scaled down): the paper sweeps the ratio with ViT-B/16 on 224-px
images (a 14 x 14 patch grid) in units of one patch, and the unit with ViT-B/8 (a 28 x 28 grid) in
units of 1, 2 and 4 patches, unit grids of 28, 14 and 7 a side. The sweep uses the pretraining
chapter's model (``PretrainingParams``' defaults: 4-px patches on 32-px images, an 8 x 8 grid) for
both series. Units of 1 and 2 patches leave 8 x 8 and 4 x 4 unit grids, the paper's unit-to-patch
step; a unit of 4 patches would leave 2 x 2 units, of which ratio 0.75 keeps one, a different
experiment from the paper's 7 x 7 (12 units kept), so the CPU sweep stops at 2 patches. A finer
patch grid keeps all three units (the ``mae_tiny_p2`` preset: 2-px patches, 16 x 16) but costs 5-6
times as much per step on the CPU (``benchmarks/results/sweep_pilot.md``): it is the GPU's setting.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Iterator, Literal, Sequence

import numpy as np

from . import recorded
from .cache import RunCache
from .evaluation import EvaluationParams, evaluate
from .params import Params, knob
from .pretraining import MONITOR_RATIO, PretrainingParams, final_monitor_loss, run as pretraining_run
from .prose import counted

DATASETS = ("shapes", "fashion_mnist")
DATA_NAMES = {"shapes": "shapes", "fashion_mnist": "Fashion-MNIST"}  # as the book writes them


@dataclass(frozen=True)
class SweepParams(Params):
    """The grid (datasets x seeds x (ratio points + unit points)) and the per-point budget."""

    datasets: tuple[Literal["shapes", "fashion_mnist"], ...] = knob(("shapes",), "datasets swept")
    ratios: tuple[float, ...] = knob((0.75, 0.9), "masking ratios, in units of one patch")
    unit_patches: tuple[int, ...] = knob((1, 2), "mask units of the unit points, in patches")
    unit_ratio: float = knob(0.75, "masking ratio of the unit points")
    seeds: tuple[int, ...] = knob((0,), "seeds; every point is trained once per seed")
    model: str | None = knob(None, "model preset of every point (None: the PretrainingParams default)")
    steps: int | None = knob(None, "optimiser steps per run (None: the PretrainingParams default)")
    warmup_steps: int | None = knob(None, "warm-up steps per run (None: the PretrainingParams default)")
    n_images: int | None = knob(None, "training images per run (None: the PretrainingParams default)")
    batch_size: int | None = knob(None, "global batch (None: the PretrainingParams default)")
    suite: Literal["sweep", "smoke"] = knob("sweep", "evaluation suite per point: sweep or smoke")

    def check(self) -> None:
        for name in ("datasets", "ratios", "unit_patches", "seeds"):
            self._require(len(getattr(self, name)) > 0, name, "must list at least one value")
            self._require(len(set(getattr(self, name))) == len(getattr(self, name)), name, "lists a value twice")
        self.points()  # every point is a valid run: a bad one is refused here, before any training

    def base(self, data: str = "shapes") -> PretrainingParams:
        """The pretraining every point starts from: PretrainingParams' defaults (the pretraining
        chapter's model) with this sweep's budget overrides, on ``data``."""
        budget = {k: getattr(self, k) for k in ("model", "steps", "warmup_steps", "n_images", "batch_size")
                  if getattr(self, k) is not None}
        base = PretrainingParams().replace(data=data, **budget)
        return base.replace(mask_unit=base.pretrain_config().model_config().patch_size)

    @property
    def patch(self) -> int:
        """The model's patch, in pixels: the unit of the ratio points."""
        return self.base().mask_unit

    def grid(self) -> list[tuple[float, int]]:
        """The (ratio, unit in px) pairs: the ratio points (units of one patch), then the unit points
        not already among them."""
        patch = self.patch
        pairs = [(r, patch) for r in self.ratios]
        return pairs + [(self.unit_ratio, k * patch) for k in self.unit_patches
                        if (self.unit_ratio, k * patch) not in pairs]

    def points(self) -> list[PretrainingParams]:
        """Every run of the sweep, in the order it trains: dataset, seed, then the grid."""
        return [self.base(d).replace(mask_ratio=r, mask_unit=u, seed=s)
                for d, s, (r, u) in itertools.product(self.datasets, self.seeds, self.grid())]

    def evaluation(self) -> EvaluationParams:
        """The suite each point goes through; reconstructions are scored on one common mask (ratio 0.75
        in units of one patch) so that models trained with different masks face the same task."""
        common = dict(recon_ratio=0.75, recon_unit=self.patch)
        if self.suite == "smoke":
            return EvaluationParams(n_train=200, n_test=120, n_shift=50, n_cue=60, probe="logistic", recon_n=60,
                                    tsne_n=120, tsne_perplexity=15.0, transfer_n_train=64, transfer_n_test=60,
                                    transfer_epochs=2, ident_max_train=60, **common)
        return EvaluationParams(n_train=2000, n_test=1000, n_shift=300, n_cue=300, probe="logistic", recon_n=500,
                                tsne_n=500, transfer_n_train=500, transfer_n_test=300, transfer_epochs=15,
                                ident_max_train=400, **common)


# ------------------------------------------------------------------------------------ metrics
def _shifted_mean(robustness: dict[str, float]) -> float:
    """Mean top-1 over the shifted test sets (every entry but the i.i.d. one, ``IN1K``)."""
    return float(np.mean([v for k, v in robustness.items() if k != "IN1K"]))


# each metric: (name, where in evaluate()'s result, higher is better)
METRICS: dict[str, tuple[str, Callable[[dict[str, Any]], float], bool]] = {
    "ssim": ("SSIM", lambda r: r["reconstruction"]["ssim"]["mean"], True),
    "fsim": ("FSIM", lambda r: r["reconstruction"]["fsim"]["mean"], True),
    "psnr": ("PSNR (dB)", lambda r: r["reconstruction"]["psnr"]["mean"], True),
    "mse": ("MSE", lambda r: r["reconstruction"]["mse"]["mean"], False),
    "ssim_full": ("SSIM, unmasked input", lambda r: r["recon_unmasked"]["ssim"]["mean"], True),
    "fsim_full": ("FSIM, unmasked input", lambda r: r["recon_unmasked"]["fsim"]["mean"], True),
    "psnr_full": ("PSNR (dB), unmasked input", lambda r: r["recon_unmasked"]["psnr"]["mean"], True),
    "mse_full": ("MSE, unmasked input", lambda r: r["recon_unmasked"]["mse"]["mean"], False),
    "attention": ("CLS attention on object (x uniform)", lambda r: r["attention"]["ratio"], True),
    "silhouette": ("t-SNE silhouette", lambda r: r["tsne"]["silhouette"], True),
    "probe": ("linear probe top-1", lambda r: r["probe"]["accuracy"], True),
    "robustness": ("mean top-1 on shifted sets", lambda r: _shifted_mean(r["robustness"]), True),
    # robustness beyond accuracy: the shifted sets' mean over the i.i.d. test accuracy (1 = no drop), so
    # a model that is only more accurate is not read as more robust
    "robust_relative": ("shifted / i.i.d. top-1",
                        lambda r: _shifted_mean(r["robustness"]) / r["robustness"]["IN1K"], True),
    "shape_bias": ("shape bias", lambda r: r["shape_bias"]["shape_bias"], True),
    "miou": ("transfer mIoU", lambda r: r["transfer"]["miou"], True),
    "box_ap": ("transfer box AP", lambda r: r["transfer"]["box_ap"], True),
    "r2_global": ("kernel R², global latents", lambda r: r["identifiability"]["by_level"]["global"], True),
    "r2_region": ("kernel R², region latents", lambda r: r["identifiability"]["by_level"]["region"], True),
    "r2_local": ("kernel R², local latents", lambda r: r["identifiability"]["by_level"]["local"], True),
    # not from evaluate(): each row's final monitor loss (pretraining.final_monitor_loss), a reconstruction
    # loss on held-out images under one mask of ratio MONITOR_RATIO that no point of the sweep trains on
    "monitor_final": (f"loss on a common mask of ratio {MONITOR_RATIO} (held-out)", lambda r: r["monitor_final"],
                      False),
}


LATENT_PREFIX = "r2:"  # per-latent kernel R² columns: "r2:position", "r2:object_color", ...


def latent_r2(result: dict[str, Any]) -> dict[str, float]:
    """Kernel R² of each known latent (the components of a vector latent such as a colour averaged),
    as ``r2:<latent>`` columns; empty where ``result`` has no identifiability evaluation."""
    rows = (result.get("identifiability") or {}).get("rows") or []
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r["latent"].split("[")[0], []).append(r["r2_kernel"])
    return {LATENT_PREFIX + k: float(np.mean(v)) for k, v in by.items()}


def metric_values(result: dict[str, Any]) -> dict[str, float]:
    """Every metric that ``result`` (one evaluate() output) has, and the per-latent R² columns
    (:func:`latent_r2`); missing evaluations are left out."""
    out = {}
    for name, (_, get, _) in METRICS.items():
        try:
            out[name] = float(get(result))
        except (KeyError, TypeError):
            continue
    return {**out, **latent_r2(result)}


@dataclass
class SweepResult:
    """One row per (dataset, seed, ratio, unit, kind) with every metric; kind is "pretrained" or
    "random init" (the same architecture untrained, one per dataset and seed)."""

    params: SweepParams
    rows: list[dict[str, Any]]
    trained: int                    # runs trained by this call (the rest came from the cache)
    seconds: float                  # wall time of this call
    train_seconds: float            # training time of all runs, as recorded when each was trained

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def runs(params: SweepParams) -> list[tuple[PretrainingParams, str]]:
    """Every run of the sweep with its kind, in the order of the record: the points (``"pretrained"``),
    then the untrained encoder once per dataset and seed (``"random init"``; its weights do not depend
    on the mask)."""
    points = params.points()
    baselines = {(p.data, p.seed): params.base(p.data).replace(seed=p.seed, steps=0) for p in points}
    return [(p, "pretrained") for p in points] + [(p, "random init") for p in baselines.values()]


def row_key(p: PretrainingParams, kind: str) -> tuple:
    """The ``ROW_KEY`` fields of the row that run ``p`` of kind ``kind`` yields."""
    return (p.data, p.seed, p.mask_ratio, p.mask_unit, kind)


def rows(params: SweepParams, cache: RunCache | None = None, device: str = "cpu",
         progress: Callable[[str], None] | None = print,
         order: Callable[[PretrainingParams], Any] | None = None,
         skip: Collection[tuple] = ()) -> Iterator[tuple[dict[str, Any], bool]]:
    """Train (or load) every run of the sweep (:func:`runs`), one at a time, evaluate each with the
    suite, and yield ``(row, trained)`` as each is done (``trained``: False when the run came from the
    cache), so that a caller can record finished points or stop between points. ``order``, a sort key
    on a run's parameters, changes the order runs are done in (stable: ties keep the record's order);
    runs whose :func:`row_key` is in ``skip`` (rows a caller already holds) are left out."""
    cache = cache or RunCache()
    suite = params.evaluation()
    held = set(skip)
    todo = [(p, kind) for p, kind in runs(params) if row_key(p, kind) not in held]
    if order is not None:
        todo = sorted(todo, key=lambda pk: order(pk[0]))
    for i, (p, kind) in enumerate(todo):
        if progress:
            progress(f"[sweep] {i + 1}/{len(todo)}: {p.data}, seed {p.seed}, "
                     f"ratio {p.mask_ratio}, unit {p.mask_unit} px ({kind})")
        yield point_row(p, kind, suite, cache, device)


def point_row(p: PretrainingParams, kind: str, suite: EvaluationParams, cache: RunCache,
              device: str = "cpu") -> tuple[dict[str, Any], bool]:
    """Train (or load) the run ``p`` and score it with ``suite``: its row of the record and whether it
    was trained now (False: it came from the cache)."""
    r = pretraining_run(p, cache, device=device)
    res = evaluate(r, suite, cache, device=device)
    return ({"data": p.data, "seed": p.seed, "ratio": p.mask_ratio, "unit": p.mask_unit, "kind": kind,
             "effective_ratio": r.effective_mask_ratio, "final_loss": r.record.get("final_loss"),
             "train_seconds": r.train_seconds, **r.cost, **metric_values(res),
             "monitor_final": final_monitor_loss(r, cache)}, not r.reused)


def run(params: SweepParams, cache: RunCache | None = None, device: str = "cpu",
        progress: Callable[[str], None] | None = print) -> SweepResult:
    """Train (or load) every point of the sweep, one at a time, and evaluate each with the suite."""
    import time

    t0, done = time.perf_counter(), list(rows(params, cache, device, progress))
    return SweepResult(params, [row for row, _ in done], sum(t for _, t in done), time.perf_counter() - t0,
                       sum(row["train_seconds"] for row, _ in done))


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a ``level`` t-interval over seeds (lo = hi = mean for one seed)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if len(x) < 2:
        return m, m, m
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - half, m + half


def bootstrap_interval(diffs: Sequence[float], level: float = 0.95, n: int = 10000,
                       seed: int = 0) -> tuple[float, float, float]:
    """Mean of paired differences over seeds and its percentile-bootstrap ``level`` interval.

    With 3 seeds the resamples are the 10 multisets of the 3 values, and the interval is the range of
    the differences: it excludes 0 exactly when every seed agrees in sign."""
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0:
        raise ValueError("no paired differences: the two points share no seed")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n, len(d)))].mean(axis=1)
    a = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


@dataclass(frozen=True)
class Comparison:
    """"``metric`` is better at point ``a`` than at point ``b``" (points are (ratio, unit in patches))."""

    metric: str
    a: tuple[float, int]
    b: tuple[float, int]

    def text(self) -> str:
        word = "higher" if METRICS[self.metric][2] else "lower"
        return f"{METRICS[self.metric][0]} {word} at {_pt(self.a)} than at {_pt(self.b)}"


def _pt(p: tuple[float, int]) -> str:
    return f"r={p[0]:g}/u={p[1]}p"


@dataclass(frozen=True)
class Rule:
    """A claim of the paper and the comparisons that decide it, written down before the results."""

    claim: str
    statement: str
    comparisons: tuple[Comparison, ...] = field(default_factory=tuple)


def _c(metric: str, a: tuple[float, int], b: tuple[float, int]) -> Comparison:
    return Comparison(metric, a, b)


# The rules, stated before any sweep result was seen. Points are (ratio, unit in patches). A
# comparison is decided on at least MIN_SEEDS seeds: it holds when the percentile-bootstrap 95 %
# interval of the paired difference over seeds lies on the claimed side of 0 (with 3 seeds: every seed
# agrees); a claim is "supported" when all its comparisons hold, "contradicted" when at least one
# holds the other way round, "partly supported" when some hold and none is reversed, "undecided"
# otherwise.
RULES: tuple[Rule, ...] = (
    Rule("E1", "Figure 5: SSIM/FSIM peak at an intermediate ratio (0.75 above 0.1 and 0.9); PSNR favours "
               "the extremes (0.1 and 0.9 above 0.75); larger units raise SSIM (2 patches above 1).",
         (_c("ssim", (0.75, 1), (0.1, 1)), _c("ssim", (0.75, 1), (0.9, 1)),
          _c("fsim", (0.75, 1), (0.1, 1)), _c("fsim", (0.75, 1), (0.9, 1)),
          _c("psnr", (0.1, 1), (0.75, 1)), _c("psnr", (0.9, 1), (0.75, 1)),
          _c("ssim", (0.75, 2), (0.75, 1)))),
    # E1p was added on 2026-11-27, before any comparison of unmasked reconstructions was seen (one value,
    # the ratio-0.75 model's, was printed while the code was tested): Figure 5's caption says the paper
    # scores "the validation set without masking", which E1's common mask is not.
    Rule("E1p", "Figure 5 by the paper's protocol (the decoder's output for unmasked images): SSIM/FSIM "
                "higher at 0.75 than at 0.1 and 0.9; PSNR higher at 0.1 and 0.9 than at 0.75; larger units "
                "raise SSIM and FSIM and lower PSNR (2 patches against 1).",
         (_c("ssim_full", (0.75, 1), (0.1, 1)), _c("ssim_full", (0.75, 1), (0.9, 1)),
          _c("fsim_full", (0.75, 1), (0.1, 1)), _c("fsim_full", (0.75, 1), (0.9, 1)),
          _c("psnr_full", (0.1, 1), (0.75, 1)), _c("psnr_full", (0.9, 1), (0.75, 1)),
          _c("ssim_full", (0.75, 2), (0.75, 1)), _c("fsim_full", (0.75, 2), (0.75, 1)),
          _c("psnr_full", (0.75, 1), (0.75, 2)))),
    Rule("E2", "Figures 6-7: attention is most object-centred at intermediate ratios (0.75 above 0.1, 0.9).",
         (_c("attention", (0.75, 1), (0.1, 1)), _c("attention", (0.75, 1), (0.9, 1)))),
    Rule("E3", "Figure 8: class separation grows with the ratio up to 0.75 and with the unit.",
         (_c("silhouette", (0.75, 1), (0.1, 1)), _c("silhouette", (0.75, 1), (0.25, 1)),
          _c("silhouette", (0.75, 2), (0.75, 1)))),
    Rule("E4", "Table 1: linear probing peaks at ratio 0.75 (above 0.1, 0.5 and 0.9).",
         (_c("probe", (0.75, 1), (0.1, 1)), _c("probe", (0.75, 1), (0.5, 1)), _c("probe", (0.75, 1), (0.9, 1)))),
    Rule("E5u", "Table 1, units: probing improves from 1 to 2 patches (8 to 16 px, where the paper's text and "
                "table agree; they disagree at 4 patches, E5, which the CPU sweep does not run).",
         (_c("probe", (0.75, 2), (0.75, 1)),)),
    Rule("E7", "Table 1 right: robustness follows the probe (0.75 above 0.1 and 0.9).",
         (_c("robustness", (0.75, 1), (0.1, 1)), _c("robustness", (0.75, 1), (0.9, 1)))),
    Rule("E8", "Table 2: shape bias is lower at ratios 0.1 and 0.9 than at 0.75.",
         (_c("shape_bias", (0.75, 1), (0.1, 1)), _c("shape_bias", (0.75, 1), (0.9, 1)))),
    Rule("E9", "Table 3: transfer peaks at ratio 0.75 (box AP and mIoU above 0.1 and 0.9).",
         (_c("box_ap", (0.75, 1), (0.1, 1)), _c("box_ap", (0.75, 1), (0.9, 1)),
          _c("miou", (0.75, 1), (0.1, 1)), _c("miou", (0.75, 1), (0.9, 1)))),
    Rule("T6", "Theory chapter: Theorem 1 is symmetric in r and 1-r; the paper finds 0.75 better than 0.25. "
               "Does training break the symmetry? (probe and silhouette at 0.75 against 0.25)",
         (_c("probe", (0.75, 1), (0.25, 1)), _c("silhouette", (0.75, 1), (0.25, 1)))),
    Rule("T4u", "Theory chapter: the unit, not the ratio, sets the level of c: larger units should raise the "
                "R² of global latents and lower that of local ones.",
         (_c("r2_global", (0.75, 2), (0.75, 1)), _c("r2_local", (0.75, 1), (0.75, 2)))),
)


def compare(frame, comparison: Comparison, data: str, patch: int) -> dict[str, Any]:
    """The paired difference (a - b, sign-flipped for lower-is-better metrics) over the seeds both
    points share, with its bootstrap interval and whether it holds, is reversed, or is undecided."""
    higher = METRICS[comparison.metric][2]
    sub = frame[(frame["data"] == data) & (frame["kind"] == "pretrained")]

    def at(p: tuple[float, int]):
        return sub[(np.isclose(sub["ratio"], p[0])) & (sub["unit"] == p[1] * patch)].set_index("seed")

    if comparison.metric not in sub:
        return {"comparison": comparison.text(), "n_seeds": 0, "outcome": "missing"}
    # a metric this dataset has no value for (NaN where another dataset's rows made the column) is missing
    a, b = (at(p)[comparison.metric].dropna() for p in (comparison.a, comparison.b))
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        return {"comparison": comparison.text(), "n_seeds": 0, "outcome": "missing"}
    diffs = (a.loc[seeds] - b.loc[seeds]).to_numpy() * (1 if higher else -1)
    return {"comparison": comparison.text(), **paired_outcome(diffs)}


def paired_outcome(diffs: Sequence[float]) -> dict[str, Any]:
    """A claimed-positive paired difference over seeds: its mean, bootstrap interval and outcome
    (``holds`` / ``reversed`` / ``undecided``, or ``too few seeds`` below :data:`MIN_SEEDS`)."""
    mean, lo, hi = bootstrap_interval(diffs)
    if len(diffs) < MIN_SEEDS:  # one or two seeds: a direction, not a decision
        outcome = "too few seeds"
    else:
        outcome = "holds" if lo > 0 else "reversed" if hi < 0 else "undecided"
    return {"n_seeds": len(diffs), "difference": mean, "low": lo, "high": hi, "outcome": outcome}


MIN_SEEDS = 3  # a comparison is decided on at least this many paired seeds


def verdict(outcomes: Sequence[str]) -> str:
    """Combine the outcomes of a rule's comparisons (see RULES)."""
    if not outcomes or all(o == "missing" for o in outcomes):
        return "not measured"
    if any(o == "too few seeds" for o in outcomes):
        return f"not decided (fewer than {MIN_SEEDS} seeds)"
    if any(o == "reversed" for o in outcomes):
        return "contradicted"
    measured = [o for o in outcomes if o != "missing"]
    gap = "" if len(measured) == len(outcomes) else f" ({len(measured)} of {len(outcomes)} comparisons measured)"
    if all(o == "holds" for o in measured):
        return "supported" + gap
    return ("partly supported" if any(o == "holds" for o in measured) else "undecided") + gap


def chance_verdicts(n_comparisons: int) -> dict[str, float]:
    """How often a rule of ``n_comparisons`` comparisons would read "contradicted" and "supported" if
    nothing differed: each paired difference as likely positive as negative, independently across
    seeds and comparisons. At ``MIN_SEEDS`` = 3 seeds the bootstrap interval is the range of the three
    differences, so a comparison holds (or reverses) by chance with probability 1/8 each way, exactly;
    "contradicted" needs one reversal among the comparisons, "supported" a hold in every one.
    Comparisons that share a point are correlated, which lowers the first rate; the figures are the
    size of the risk, not a correction (the rules were fixed without one)."""
    if n_comparisons < 1:
        raise ValueError(f"n_comparisons = {n_comparisons}: a rule has at least one comparison")
    p = 0.5 ** MIN_SEEDS
    return {"contradicted": 1 - (1 - p) ** n_comparisons, "supported": p ** n_comparisons}


def decide(frame, data: str, patch: int, rules: Sequence[Rule] = RULES) -> list[dict[str, Any]]:
    """Every rule applied to the sweep's rows for ``data``: one entry per rule with its comparisons."""
    out = []
    for rule in rules:
        comps = [compare(frame, c, data, patch) for c in rule.comparisons]
        out.append({"claim": rule.claim, "statement": rule.statement, "data": data,
                    "verdict": verdict([c["outcome"] for c in comps]), "comparisons": comps})
    return out


def summary(frame, metrics: Sequence[str] | None = None):
    """Mean and 95 % t-interval over seeds per (data, kind, ratio, unit) and metric, as a long table."""
    import pandas as pd

    metrics = [m for m in (metrics or METRICS) if m in frame]
    rows = []
    for key, g in frame.groupby(["data", "kind", "ratio", "unit"]):
        for m in metrics:
            vals = g[m].dropna()
            if len(vals):
                mean, lo, hi = mean_interval(vals)
                rows.append({**dict(zip(["data", "kind", "ratio", "unit"], key)), "metric": m, "mean": mean,
                             "low": lo, "high": hi, "n_seeds": len(vals)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ recorded form
RECORD_FORMAT = "mae_hlvm.sweep/1"
ROW_KEY = ("data", "seed", "ratio", "unit", "kind")  # what tells two rows of a record apart


def row_key_of(row: dict[str, Any]) -> tuple:
    """A recorded row's ``ROW_KEY`` fields, the same tuple :func:`row_key` gives for its run."""
    return tuple(row[k] for k in ROW_KEY)


def record(result: SweepResult, path: str | Path, command: str, earlier: Sequence[dict[str, Any]] = ()) -> Path:
    """Write the sweep's rows in the small recorded form (:mod:`.recorded`): the sweep's parameters,
    the resolved pretraining and suite configurations of its points, commit, machine, date, command,
    and the earlier recordings rows were carried over from (``earlier``, :func:`.recorded.sources`)."""
    p = result.params
    return recorded.write(path, RECORD_FORMAT, p, {
        "pretraining_config": p.base().cache_config(), "suite": p.evaluation().to_dict(), "rows": result.rows,
        "trained_in_this_call": result.trained, "wall_seconds": result.seconds,
        "train_seconds": result.train_seconds}, command, earlier)


class Recorded(recorded.Recorded):
    """A recorded sweep, and whether it still describes the current definitions."""

    params_type = SweepParams

    def partial(self) -> str:
        """"" for a record of the whole grid its parameters name; else what it holds, e.g. "a partial
        record, 7 of the 42 runs of the full grid (shapes: seeds [0])" (a recorder writes the rows done
        so far under the full grid's parameters)."""
        rows, p = self.frame(), self.params
        n_full = len(p.datasets) * len(p.seeds) * (len(p.grid()) + 1)  # + the untrained twin
        if len(rows) >= n_full:
            return ""
        which = "; ".join(f"{DATA_NAMES.get(d, d)}: seeds {sorted(set(g.seed))}" for d, g in rows.groupby("data"))
        return f"a partial record, {len(rows)} of the {n_full} runs of the full grid ({which})"


def load_recorded(path: str | Path) -> Recorded:
    """Read a recorded sweep and check it against today's definitions: the recorded pretraining and
    suite configurations must equal what the recorded parameters resolve to now (a changed default or
    library version makes the record stale, and the book says so instead of showing it as current)."""
    def changes(params: SweepParams, payload: dict[str, Any]) -> list[str]:
        return ([] if params.base().cache_config() == payload["pretraining_config"] else
                ["the pretraining configuration its parameters resolve to has changed"]) + (
            [] if params.evaluation().to_dict() == payload["suite"] else ["the evaluation suite has changed"])

    return recorded.read(path, RECORD_FORMAT, Recorded, changes)


def keepable(path: str | Path, params: SweepParams, flag: str, ignore: Sequence[str] = ("seeds",)
             ) -> tuple[SweepParams, list[dict[str, Any]], list[dict[str, Any]]]:
    """What a recorder of ``params`` keeps of the record at ``path`` instead of computing it again:
    the parameters of both together (``params`` with the record's seeds, and datasets where
    ``ignore`` names them, added), the record's rows, and where they were computed
    (:func:`.recorded.sources`); ``params``, no rows and no sources where there is no file. A stale
    record, or one whose settings differ from ``params`` beyond the knobs ``ignore`` names, is refused,
    naming what differs and ``flag``, the option that read it."""
    if not Path(path).is_file():
        return params, [], []
    rec = load_recorded(path)
    if rec.stale:
        raise ValueError(f"{flag} {path}: the record is stale ({'; '.join(rec.stale)}); its rows cannot be "
                         "kept beside new ones: start a new record")
    if differ := rec.params.differences(params, ignore=tuple(ignore)):
        raise ValueError(f"{flag} {path}: the record's settings differ from this sweep's beyond the "
                         f"{' and '.join(ignore)} (record vs now: {differ}); keep rows only of a record of the same "
                         "profile")
    both = params.replace(seeds=tuple(sorted(set(rec.params.seeds) | set(params.seeds))))
    if "datasets" in ignore:
        both = both.replace(datasets=tuple(dict.fromkeys(params.datasets + rec.params.datasets)))
    rows = rec.payload["rows"]
    return both, rows, recorded.sources(rec.payload, [row_key_of(r) for r in rows], ROW_KEY)


def shown_frames(frame, label: str, rec: Recorded | None) -> dict[str, Any]:
    """The frames a chapter shows side by side, labelled, in this order: this execution's rows
    (``frame``, labelled ``"this execution (<label>)"``), then the record's where it is current,
    labelled with its seeds per dataset (a record may be partial). A stale record is left out."""
    frames = {f"this execution ({label})": frame}
    if rec is not None and rec.current:
        rows = rec.frame()
        seeds = rows.groupby("data")["seed"].nunique()
        label = ", ".join(f"{DATA_NAMES.get(d, d)}: {counted(n, 'seed')}" for d, n in seeds.items())
        frames[f"recorded ({label})"] = rows
    return frames


def last_frame_with(frames: dict[str, Any], column: str | Callable[[str], bool]) -> tuple[str, Any] | None:
    """The last ``(label, frame)`` of ``frames`` (in :func:`shown_frames`' order: the record wins) with
    a column named ``column``, or with a column ``column(name)`` accepts; None where no frame has one.
    Old records lack the columns added since, so a figure of one column reads the newest frame that
    has it."""
    has = column if callable(column) else column.__eq__
    hits = [(k, f) for k, f in frames.items() if any(has(c) for c in f.columns)]
    return hits[-1] if hits else None


def status_text(rec: Recorded | None, where: str) -> str:
    """One paragraph for prose on the record at ``where`` (a path as the reader sees it): none yet, stale
    (and why, not shown), or what it holds and where it comes from, shown beside this execution."""
    if rec is None:
        return "No recorded multi-seed sweep exists yet; every verdict below therefore waits for one."
    if not rec.current:
        return f"The recorded sweep in {where} is stale ({'; '.join(rec.stale)}): it is not shown."
    return (f"The recorded sweep ({where}: {rec.partial() or 'the full grid'}; {rec.provenance_text()}) is "
            "shown beside this execution, labelled as recorded. Where both hold the same seed and point, the two "
            "are one run (from the run cache) or that run computed again, not two confirmations.")


def probe_gap_text(frame, data: str, patch: int, source: str) -> str:
    """Rule T6's comparison (probe at ratio 0.75 against 0.25) in one sentence, read from ``frame``;
    ``source`` names it in prose ("the record", "this execution")."""
    t6 = next(v for v in decide(frame, data, patch) if v["claim"] == "T6")["comparisons"][0]
    if t6["outcome"] == "missing":
        return "Neither this execution nor the record has both points yet."
    return (f"In {source}, the probe at ratio 0.75 differs from the probe at ratio 0.25 by "
            f"{100 * t6['difference']:+.1f} points over {counted(t6['n_seeds'], 'seed')} "
            f"({t6['outcome']}).")


LEDGER_ROWS = ("E1", "E1p", "E2", "E3", "E4", "E5u", "E7", "E8", "E9")  # the claims ledger's rows a sweep decides


def ledger_verdicts(rec: Recorded | None) -> dict[str, str | None]:
    """Per ledger row of :data:`LEDGER_ROWS`: the verdict text the claims ledger must carry
    ("shapes: ...; Fashion-MNIST: ..."), or None where ``rec`` cannot decide it yet on every dataset
    (no record, a stale one, a dataset missing, or fewer than ``MIN_SEEDS`` seeds: the ledger says
    "open"). A dataset without the row's metrics reads "not measured", which is final."""
    if rec is None or not rec.current:
        return {row: None for row in LEDGER_ROWS}
    frame = rec.frame()
    if set(frame["data"]) != set(DATASETS):
        return {row: None for row in LEDGER_ROWS}
    by = {d: {v["claim"]: v["verdict"] for v in decide(frame, d, rec.params.patch)} for d in DATASETS}
    out: dict[str, str | None] = {}
    for row in LEDGER_ROWS:
        per = [by[d][row] for d in DATASETS]
        out[row] = None if any(v.startswith("not decided") for v in per) else "; ".join(
            f"{DATA_NAMES[d]}: {v}" for d, v in zip(DATASETS, per))
    return out


# ------------------------------------------------------------------------------------ the paper's values
def paper_value(metric: str, series: str, x: float) -> float | None:
    """The paper's number for ``metric`` on its ratio series (``x`` = ratio, ViT-B/16, unit one patch)
    or its unit series (``x`` = unit in patches, ViT-B/8, ratio 0.75); None where it reports none.
    Accuracies as fractions, like ours."""
    from ..eval.paper_numbers import TABLE1, TABLE2_SHAPE_BIAS, TABLE3_COCO

    key = (x, 16) if series == "ratio" else {1: (0.75, 8), 2: (0.75, "16b"), 4: (0.75, 32)}.get(int(x))
    row = TABLE1.get(key) if key else None
    if metric == "probe" and row:
        return row[0] / 100
    if metric == "robustness" and row:
        return float(np.mean(row[1:])) / 100
    if metric == "robust_relative" and row:
        return float(np.mean(row[1:])) / row[0]
    if series == "ratio" and metric == "shape_bias":
        return TABLE2_SHAPE_BIAS.get(x)
    if series == "ratio" and metric == "box_ap" and x in TABLE3_COCO:
        return TABLE3_COCO[x][0] / 100
    return None


def geometry(params: SweepParams):
    """One row per (ratio, unit) of the sweep: unit in px and patches, units a side, kept units and
    the effective ratio (whole units are kept), as a DataFrame indexed by ratio and unit."""
    import pandas as pd

    from ..mae.masking import effective_mask_ratio

    rows = []
    for p in params.points()[:len(params.grid())]:
        grid = p.grid()
        eff = effective_mask_ratio(grid, p.mask_ratio)
        rows.append({"ratio": p.mask_ratio, "unit (px)": p.mask_unit, "unit (patches)": p.mask_unit // params.patch,
                     "units a side": round(grid.num_units ** 0.5), "kept units": round(grid.num_units * (1 - eff)),
                     "effective ratio": eff})
    return pd.DataFrame(rows).set_index(["ratio", "unit (px)"])


def series(frame, data: str, patch: int, unit_ratio: float = 0.75, kind: str = "pretrained"):
    """Split the rows of ``data`` into the ratio series (units of one patch) and the unit series
    (ratio ``unit_ratio``), each with an ``x`` column (ratio, or unit in patches)."""
    sub = frame[(frame["data"] == data) & (frame["kind"] == kind)]
    by_ratio = sub[sub["unit"] == patch].assign(x=lambda d: d["ratio"])
    by_unit = sub[np.isclose(sub["ratio"], unit_ratio)].assign(x=lambda d: d["unit"] // patch)
    return by_ratio, by_unit


def trend(values: Sequence[float]) -> str:
    """How a series in its order moves, for prose: "rises", "falls" (strictly, step by step) or
    "is not monotone"."""
    steps = np.diff(np.asarray(values, dtype=float))
    if len(steps) and (steps > 0).all():
        return "rises"
    if len(steps) and (steps < 0).all():
        return "falls"
    return "is not monotone"


def unit_series_text(frame, data: str, patch: int) -> str:
    """One paragraph for prose on the unit series of ``data``: the linear probe per unit (means over
    the seeds present) beside the untrained encoder and the paper's Table 1, the direction of each
    (:func:`trend`), the kernel R² of the global latents, whose rise rule T4u expects, and that of the
    region latents. Directions only: it decides nothing, whatever the number of seeds."""
    by_unit = series(frame, data, patch)[1].groupby("x")
    probe, r2g = by_unit["probe"].mean(), by_unit["r2_global"].mean()
    r2r = by_unit["r2_region"].mean() if "r2_region" in frame else None
    rand = frame[(frame["data"] == data) & (frame["kind"] == "random init")]["probe"].mean()
    paper = [v for v in (paper_value("probe", "unit", k) for k in probe.index) if v is not None]
    return ("On the unit series the linear probe reads "
            + ", ".join(f"{100 * v:.1f} % at {k:g} patch{'es' if k > 1 else ''}" for k, v in probe.items())
            + f" (the untrained encoder: {100 * rand:.1f} %); the paper's Table 1 reads "
            + ", ".join(f"{100 * v:.2f} %" for v in paper)
            + f" for units of 8, 16 and 32 pixels: it {trend(paper)} with the unit, ours "
            + f"{trend(probe.to_numpy())}. The kernel R² of the global latents {trend(r2g.to_numpy())} "
            + "with the unit (" + ", ".join(f"{v:.3f}" for v in r2g) + "); rule T4u, from the theory, "
            + "expects a rise."
            + ("" if r2r is None or r2r.isna().all() else
               f" That of the region latents (position, size, proportions) {trend(r2r.to_numpy())} ("
               + ", ".join(f"{v:.3f}" for v in r2r) + ")."))


def mask_match_text(frame, data: str | Sequence[str], patch: int, recon_ratio: float) -> str:
    """Sentences for prose on the ratio series of ``data`` (one dataset or several): at which
    pretraining ratio each reconstruction score is best, the PSNR on the common mask of ``recon_ratio``
    and the loss on the monitor's mask of ``MONITOR_RATIO`` (means over seeds), beside the ratio of the
    mask each is scored on. Datasets that read alike share one sentence. Empty where the rows have
    neither score. Directions only, whatever the number of seeds."""
    readings: dict[tuple[tuple[str, bool], ...], list[str]] = {}
    for d in ([data] if isinstance(data, str) else data):
        clauses, n = _mask_match(frame, d, patch, recon_ratio)
        if clauses:
            readings.setdefault(tuple(clauses), []).append(f"{DATA_NAMES.get(d, d)}, {counted(n, 'seed')}")
    return " ".join(
        "Along the ratio series, " + " and ".join(text for text, _ in clauses) + f" ({'; '.join(where)})" + (
            ": each score favours the model trained at the ratio of the mask it is scored with, so these "
            "scores compare masks as much as models." if all(m for _, m in clauses) else ".")
        for clauses, where in readings.items())


def _mask_match(frame, data: str, patch: int, recon_ratio: float) -> tuple[list[tuple[str, bool]], int]:
    """The clauses of :func:`mask_match_text` for one dataset, each with whether the best model was
    trained at the ratio of the mask it is scored on, and the dataset's number of seeds."""
    by_ratio = series(frame, data, patch)[0]
    clauses = []
    for metric, mask, best in (("psnr", recon_ratio, "highest"), ("monitor_final", MONITOR_RATIO, "lowest")):
        if metric not in by_ratio or by_ratio[metric].isna().all():
            continue
        means = by_ratio.groupby("x")[metric].mean().dropna()
        at = float(means.idxmax() if best == "highest" else means.idxmin())
        clauses.append((f"the {'PSNR' if metric == 'psnr' else 'loss'} on the mask of ratio {mask:g} is {best} "
                        f"for the model pretrained at {at:g}", bool(np.isclose(at, mask))))
    return clauses, (by_ratio["seed"].nunique() if "seed" in by_ratio else 1)


LATENT_LEVELS = ("r2_global", "r2_region", "r2_local")  # kernel R² per level of the shapes hierarchy


def latent_floor_text(frame, data: str = "shapes") -> str:
    """A sentence for prose naming the levels of the hierarchy that no encoder of ``frame`` holds:
    every row of ``data`` (trained or untrained) with a kernel R² at or below 0 for that level, i.e.
    no better than predicting the latents' mean. Comparisons of such a level (e.g. rule T4u's second)
    sit at a floor and cannot show the level held or lost. Empty when every level is held somewhere
    or ``frame`` has no R²."""
    sub = frame[frame["data"] == data]
    floor = {m: sub[m].max() for m in LATENT_LEVELS if m in sub and sub[m].notna().any() and sub[m].max() <= 0}
    if not floor:
        return ""
    def names(metrics) -> str:
        return " and ".join(METRICS[m][0].split(", ")[1] for m in metrics)

    held = [m for m in LATENT_LEVELS if m in sub and m not in floor and sub[m].notna().any()]
    return (f"No encoder here holds the {names(floor)} at all: their kernel R² is at or below zero for every "
            f"model, trained or not (highest {', '.join(f'{v:.3f}' for v in floor.values())}), no better "
            "than predicting their mean. Comparisons of that R² (rule T4u's second, Section 3.6's S3) "
            "therefore sit at a floor and cannot show the level held or lost"
            + (f"; what the features hold is among the {names(held)} (the evaluation chapter lists each "
               "latent)." if held else "."))


def point_table(frame, data: str, patch: int, metrics: Sequence[str], scale: float = 1.0):
    """Mean ± half-width of the 95 % interval over seeds, per point (rows) and metric (columns), with
    the untrained encoder as the last row, as strings for display."""
    import pandas as pd

    rows = {}
    for kind in ("pretrained", "random init"):
        sub = frame[(frame["data"] == data) & (frame["kind"] == kind)]
        for (r, u), g in sub.groupby(["ratio", "unit"]):
            label = f"r = {r:g}, unit {u // patch} patch{'es' if u // patch > 1 else ''}" if kind == "pretrained" \
                else "random init"
            cells = {}
            for m in metrics:
                vals = g[m].dropna() * scale if m in g else []
                if len(vals):
                    mean, lo, hi = mean_interval(vals)
                    cells[METRICS[m][0]] = f"{mean:.3g}" + (f" ± {hi - mean:.2g}" if len(vals) > 1 else "")
            rows[label] = cells
    return pd.DataFrame(rows).T
