"""Section 3.6 of Kong et al.: the three suggestions the paper makes and never tests, each trained
against the baseline MAE at the same budget, over seeds, with the sweep's evaluation suite.

1. ``boundary``: leave out of the loss the removed pixels within ``boundary_px`` of a visible one
   (they are reconstructed by interpolating visible neighbours), shapes images;
2. structure-aware masks: ``object`` hides the shapes renderer's known object first (the structure is
   known), ``superpixel`` hides whole SLIC superpixels of Fashion-MNIST images (the structure is
   estimated); ``subtree_predictions`` says what Algorithm 1 makes of masks that follow a known tree;
3. ``extreme``: ratio 0.9 against 0.1 when low-level information is wanted: the low-level metrics
   and the cost of both (these two are the sweep's points, so the sweep's record serves them too).

Every run is a :class:`~.pretraining.PretrainingParams` and every baseline is the sweep's point of the
same data, ratio and seed (:meth:`Section36Params.sweep`), so the baselines come from the run cache
when the sweep or the pretraining chapter trained them. The decision rules (:data:`RULES`) were
written before any result was seen; a comparison is decided on at least ``sweep.MIN_SEEDS`` paired
seeds, with the sweep's bootstrap interval.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import networkx as nx
import numpy as np

from ..mae.train import steps_to_loss
from . import recorded
from .cache import RunCache
from .evaluation import evaluate
from .params import Params, knob
from .pretraining import MONITOR_RATIO, PretrainingParams, final_monitor_loss, run as pretraining_run
from .prose import counted
from .sweep import METRICS, MIN_SEEDS, SweepParams, mean_interval, metric_values, paired_outcome, verdict

SUGGESTIONS: dict[str, str] = {
    "boundary": "boundary-ignoring loss (shapes)",
    "object": "object masks: the known object first (shapes)",
    "superpixel": "superpixel masks (Fashion-MNIST)",
    "extreme": "ratio 0.9 against 0.1 (shapes)",
}
DATA = {"boundary": "shapes", "object": "shapes", "superpixel": "fashion_mnist", "extreme": "shapes"}

# latent groups of the shapes renderer whose kernel R² the structure-aware prediction speaks of
LATENT_GROUPS: dict[str, tuple[str, ...]] = {
    "r2_appearance": ("object_color", "texture_frequency", "texture_contrast"),   # the object's own look
    "r2_silhouette": ("position", "scale", "aspect", "part"),                      # where and what shape
    "r2_background": ("background_color",),
}
EXTRA_METRICS: dict[str, tuple[str, bool]] = {
    "r2_appearance": ("kernel R², object colour and texture", True),
    "r2_silhouette": ("kernel R², position, scale, aspect, part", True),
    "r2_background": ("kernel R², background colour", True),
    "images_per_s": ("training images per second (median step)", True),
    "seconds_to_loss": ("training seconds to the common monitor loss", False),
}


@dataclass(frozen=True)
class Section36Params(Params):
    """Which suggestions, seeds and budget; every budget knob left None is the sweep's (and so the
    pretraining chapter's), so that the baselines are the sweep's cached points."""

    suggestions: tuple[Literal["boundary", "object", "superpixel", "extreme"], ...] = knob(
        ("object",), "suggestions trained against their baselines")
    seeds: tuple[int, ...] = knob((0,), "seeds; each run and its baseline once per seed")
    ratio: float = knob(0.75, "masking ratio of the suggestion runs and their baselines (extreme: 0.9 vs 0.1)")
    boundary_px: int = knob(1, "suggestion 1 leaves removed pixels this close to a visible one out of the loss")
    superpixel_segments: int = knob(16, "SLIC superpixels per image (superpixel masks)")
    steps: int | None = knob(None, "optimiser steps per run (None: the PretrainingParams default)")
    warmup_steps: int | None = knob(None, "warm-up steps per run (None: the PretrainingParams default)")
    n_images: int | None = knob(None, "training images per run (None: the PretrainingParams default)")
    batch_size: int | None = knob(None, "global batch (None: the PretrainingParams default)")
    suite: Literal["sweep", "smoke"] = knob("sweep", "evaluation suite per run: sweep or smoke")
    theorem2_profile: Literal["smoke", "default", "paper"] = knob(
        "default", "Theorem 2 chapter profile whose subtree-mask encoders S2d reads")

    def check(self) -> None:
        for name in ("suggestions", "seeds"):
            self._require(len(getattr(self, name)) > 0, name, "must list at least one value")
            self._require(len(set(getattr(self, name))) == len(getattr(self, name)), name, "lists a value twice")
        self._require(self.boundary_px >= 1, "boundary_px", "must be >= 1 (0 is the baseline's loss)")
        self._require(self.superpixel_segments >= 2, "superpixel_segments", "must be >= 2")
        self.runs()  # every run valid before any training

    def sweep(self, data: str = "shapes") -> SweepParams:
        """The sweep whose points are the baselines: same budget, this ratio, one-patch units."""
        ratios = (0.1, 0.9) if "extreme" in self.suggestions and data == "shapes" else (self.ratio,)
        return SweepParams(datasets=(data,), ratios=tuple(sorted({*ratios, self.ratio})), unit_patches=(1,),
                           unit_ratio=self.ratio, seeds=self.seeds, steps=self.steps,
                           warmup_steps=self.warmup_steps, n_images=self.n_images, batch_size=self.batch_size,
                           suite=self.suite)

    def arms(self, suggestion: str, seed: int) -> dict[str, PretrainingParams]:
        """The two runs a suggestion is judged by: ``suggestion`` and ``baseline``."""
        base = self.sweep(DATA[suggestion]).base(DATA[suggestion]).replace(seed=seed, mask_ratio=self.ratio)
        if suggestion == "boundary":
            return {"suggestion": base.replace(ignore_boundary_px=self.boundary_px), "baseline": base}
        if suggestion == "object":
            return {"suggestion": base.replace(mask_kind="object"), "baseline": base}
        if suggestion == "superpixel":
            return {"suggestion": base.replace(mask_kind="superpixel", superpixel_segments=self.superpixel_segments),
                    "baseline": base}
        return {"suggestion": base.replace(mask_ratio=0.9), "baseline": base.replace(mask_ratio=0.1)}

    def runs(self) -> list[tuple[str, str, PretrainingParams]]:
        """(suggestion, arm, run) in training order. A baseline shared by two suggestions is listed
        under each and trained once (the second finds it in the run cache)."""
        return [(s, arm, p) for s in self.suggestions for seed in self.seeds for arm, p in self.arms(s, seed).items()]


def latent_group_r2(result: dict[str, Any]) -> dict[str, float]:
    """Mean kernel R² of each of :data:`LATENT_GROUPS` from an evaluation with identifiability, over
    latent *components* (a vector latent such as the RGB object colour counts once per component, so
    it weighs more than a scalar one; ``sweep.latent_r2`` gives each latent one value)."""
    rows = (result.get("identifiability") or {}).get("rows") or []
    out = {}
    for group, names in LATENT_GROUPS.items():
        vals = [r["r2_kernel"] for r in rows if r["latent"].split("[")[0] in names]
        if vals:
            out[group] = float(np.mean(vals))
    return out


@dataclass
class Section36Result:
    """One row per (suggestion, arm, seed) with every metric of the suite, the latent groups' R², the
    training cost and, for the boundary loss, the share of removed pixels the loss still counted."""

    params: Section36Params
    rows: list[dict[str, Any]]
    trained: int
    seconds: float

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows)


def run(params: Section36Params, cache: RunCache | None = None, device: str = "cpu",
        progress: Callable[[str], None] | None = print) -> Section36Result:
    """Train (or load from the cache) each suggestion and its baseline, one run at a time, and evaluate
    every run with the sweep's suite."""
    cache = cache or RunCache()
    t0, trained, rows = time.perf_counter(), 0, []
    runs = params.runs()
    for i, (s, arm, p) in enumerate(runs):
        if progress:
            progress(f"[section 3.6] {i + 1}/{len(runs)}: {s}, {arm}, seed {p.seed}")
        r = pretraining_run(p, cache, device=device)
        trained += not r.reused
        res = evaluate(r, params.sweep(p.data).evaluation(), cache, device=device)
        rows.append({"suggestion": s, "arm": arm, "data": p.data, "seed": p.seed, "ratio": p.mask_ratio,
                     "train_seconds": r.train_seconds, "final_loss": r.record.get("final_loss"),
                     **r.cost,
                     "loss_share": _loss_share(r), **metric_values(res), **latent_group_r2(res),
                     "monitor_final": final_monitor_loss(r, cache)})
    return Section36Result(params, time_to_common_loss(rows), trained, time.perf_counter() - t0)


def time_to_common_loss(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with, for each (suggestion, seed) whose two arms both logged a monitor curve on the
    same common mask (equal ``monitor_ratio``), the cost of reaching a common reconstruction loss:
    ``target_loss`` is the worse (higher) of the two arms' final monitor losses, the lowest loss both
    are sure to reach within the budget; ``seconds_to_loss`` is the first monitored step at or below
    it (so read to within one monitor interval) times the arm's median step seconds. The arm that set
    the target (``sets_target``) gets there by its last step at the latest, earlier where its loss dips
    below its final value on the way (a loss that rises late makes its time short); ``budget_share``
    is the share of its steps each arm needed. Other rows are unchanged."""
    out = [dict(r) for r in rows]
    pairs: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    for r in out:
        pairs.setdefault((r["suggestion"], r["seed"]), {})[r["arm"]] = r
    for arms in pairs.values():
        if set(arms) != {"suggestion", "baseline"} or not all(a.get("monitor") and a.get("step_seconds")
                                                               for a in arms.values()):
            continue
        if len({a.get("monitor_ratio") for a in arms.values()}) != 1:  # scored on different masks
            continue
        target = max(a["monitor"][-1][1] for a in arms.values())
        for a in arms.values():
            step = steps_to_loss([{"step": s, "monitor_loss": loss} for s, loss in a["monitor"]], target)
            a["target_loss"], a["steps_to_loss"] = target, step
            a["seconds_to_loss"] = step * a["step_seconds"]
            a["sets_target"], a["budget_share"] = a["monitor"][-1][1] == target, step / a["monitor"][-1][0]
    return out


def _loss_share(r: Any) -> float | None:
    """Mean share of the removed pixels the loss counted over a run (boundary loss only)."""
    path = Path(r.folder) / "metrics.jsonl"
    if not path.is_file():
        return None
    shares = [json.loads(line).get("loss_share") for line in path.read_text().splitlines() if line.strip()]
    shares = [s for s in shares if s is not None]
    return float(np.mean(shares)) if shares else None


# ------------------------------------------------------------------------------------ decisions
@dataclass(frozen=True)
class Rule36:
    """A suggestion's claim, the metrics that decide it and the direction each should move
    (+1: higher with the suggestion than with its baseline), written down before the results."""

    claim: str
    suggestion: str
    statement: str
    moves: tuple[tuple[str, int], ...]


# Stated before any result was seen. Each (metric, direction) is a paired difference suggestion minus
# baseline over seeds; it holds when its bootstrap 95 % interval lies on the predicted side of 0.
RULES: tuple[Rule36, ...] = (
    Rule36("S1", "boundary", "Ignoring removed pixels next to visible ones makes the representation more "
           "high-level: linear probe and shape bias higher than the baseline's.",
           (("probe", +1), ("shape_bias", +1))),
    Rule36("S2a", "object", "Masks that hide the known object (structure known) make the representation more "
           "high-level: linear probe and shape bias higher than random masking's.",
           (("probe", +1), ("shape_bias", +1))),
    Rule36("S2b", "object", "Algorithm 1 on the object graph: object masks leave the object's colour and "
           "texture out of c and keep the silhouette: R² of colour and texture lower; R² of the silhouette "
           "latents tested as higher (the theory says 'not lower': only a reversal contradicts it).",
           (("r2_appearance", -1), ("r2_silhouette", +1))),
    Rule36("S2c", "superpixel", "Superpixel masks (structure estimated) raise the linear probe on Fashion-MNIST.",
           (("probe", +1),)),
    # S3's last comparison (seconds to a common reconstruction loss, the issue's "time to a given loss")
    # was added on 2026-11-27, when the monitor loss was built and before any run had logged it.
    Rule36("S3", "extreme", "Ratio 0.9 keeps low-level information as well as 0.1 at lower cost: PSNR and "
           "local-latent R² tested as higher at 0.9 (the paper says 'retains': only a reversal contradicts "
           "it), training images/s higher, and fewer training seconds to the worse arm's final loss on the "
           "common mask.",
           (("psnr", +1), ("r2_local", +1), ("images_per_s", +1), ("seconds_to_loss", -1))),
)


# Suggestion 2 trained where the structure is exact: on a quadtree of depth d the observables below a
# latent of level l form an aligned square of side 2**(d - l), so masks that hide whole subtrees of
# level l at ratio r are random unit masks of unit 2**(d - l) (whenever r times the units is whole):
# the Theorem 2 chapter's random-mask section, which trains one MLP encoder per (unit, ratio, seed),
# already trains them. Rule S2d compares its unit-2 encoders (subtree masks of level d - 1) with its
# unit-1 encoders (random masks) at the same ratio, on paired seeds. Fixed on 2026-11-27, before the
# three-seed run; the one-seed chapter 08 numbers had been seen (not this comparison's differences).
SUBTREE_MIN_DELTA = 0.25  # |P(z in A) under subtree masks - under random masks| at which a level is predicted
SUBTREE_RULE = Rule36("S2d", "subtree", "Masks that hide whole subtrees of a known tree change what the trained "
                      "encoder holds the way Algorithm 1 moves the shared set A: at every (ratio, level) where "
                      f"P(z in A) differs by at least {SUBTREE_MIN_DELTA} between subtree and random masks, the "
                      "encoder's held-out R² of that level's latents moves the same way (MLP MAE, vector data, "
                      "quadtree; the Theorem 2 chapter's runs).", ())


def decide_subtree(random_rows: Sequence[dict[str, Any]], subtree_unit: int = 2, random_unit: int = 1,
                   min_delta: float = SUBTREE_MIN_DELTA) -> dict[str, Any]:
    """Rule S2d on the Theorem 2 chapter's random-mask rows (``theorem2.run(...).random``: one row per
    unit, ratio and level with ``p_in_a_mc`` and ``r2_by_seed``): for each (ratio, latent level) with
    |P(z in A, subtree) - P(z in A, random)| >= ``min_delta``, the paired difference of the level's
    R² over seeds, signed by the predicted direction; the pixels' own noises (never in A) are left
    out. Returns the rule's statement, verdict and comparisons, like :func:`decide`'s entries."""
    by = {(r["unit"], r["ratio"], r["level"]): r for r in random_rows}
    comps = []
    for (u, ratio, level), sub in sorted(by.items()):
        base = by.get((random_unit, ratio, level))
        if u != subtree_unit or base is None or "latents" not in sub.get("level_name", "latents"):
            continue
        delta = sub["p_in_a_mc"] - base["p_in_a_mc"]
        if abs(delta) < min_delta:
            continue
        a, b = sub.get("r2_by_seed") or [], base.get("r2_by_seed") or []
        diffs = (np.asarray(a[:len(b)]) - np.asarray(b[:len(a)])) * np.sign(delta)
        comps.append({"comparison": f"ratio {ratio}, level {level}: R² {'higher' if delta > 0 else 'lower'} with "
                                    f"subtree masks (P(z in A) {sub['p_in_a_mc']:.2f} vs {base['p_in_a_mc']:.2f})",
                      "ratio": ratio, "level": level, "p_subtree": sub["p_in_a_mc"], "p_random": base["p_in_a_mc"],
                      **paired_outcome(diffs)})
    return {"claim": SUBTREE_RULE.claim, "suggestion": SUBTREE_RULE.suggestion, "statement": SUBTREE_RULE.statement,
            "verdict": verdict([c["outcome"] for c in comps]), "comparisons": comps}


def subtree_breakdown(subtree: dict[str, Any]) -> dict[str, str]:
    """S2d's comparisons (:func:`decide_subtree`) in the two groups the theory tells apart: ``gone``,
    levels that leave A under every subtree mask (Algorithm 1 then forbids the encoder nothing but
    predicts the drop outright), and ``partly``, levels that leave A for part of the masks only.
    Each as "k of n" comparisons that hold (or "none of n decided" below ``MIN_SEEDS`` seeds), and
    ``reversed``: the reversed comparisons' ratio and level, or "none"."""
    comps = subtree["comparisons"]

    def held(group: list[dict[str, Any]]) -> str:
        if any(c["outcome"] == "too few seeds" for c in group):
            return f"none of {len(group)} decided (fewer than {MIN_SEEDS} seeds)"
        return f"{sum(c['outcome'] == 'holds' for c in group)} of {len(group)}"

    rev = [c["comparison"].split(":")[0] for c in comps if c["outcome"] == "reversed"]
    return {"gone": held([c for c in comps if c["p_subtree"] == 0]),
            "partly": held([c for c in comps if c["p_subtree"] > 0]),
            "reversed": "; ".join(rev) if rev else "none"}


def metric_label(metric: str) -> str:
    return METRICS[metric][0] if metric in METRICS else EXTRA_METRICS[metric][0]


def compare(frame, suggestion: str, metric: str, direction: int) -> dict[str, Any]:
    """Paired difference (suggestion - baseline) x direction over the seeds both arms share."""
    sub = frame[frame["suggestion"] == suggestion]
    text = f"{metric_label(metric)} {'higher' if direction > 0 else 'lower'} with the suggestion"
    if sub.empty or metric not in sub:
        return {"comparison": text, "n_seeds": 0, "outcome": "missing"}
    a = sub[sub["arm"] == "suggestion"].set_index("seed")[metric].dropna()
    b = sub[sub["arm"] == "baseline"].set_index("seed")[metric].dropna()
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        return {"comparison": text, "n_seeds": 0, "outcome": "missing"}
    return {"comparison": text, **paired_outcome((a.loc[seeds] - b.loc[seeds]).to_numpy() * direction)}


def decide(frame, rules: Sequence[Rule36] = RULES) -> list[dict[str, Any]]:
    """Every rule whose suggestion was run, with its comparisons and verdict."""
    out = []
    for rule in rules:
        if rule.suggestion not in set(frame["suggestion"]):
            continue
        comps = [compare(frame, rule.suggestion, m, d) for m, d in rule.moves]
        out.append({"claim": rule.claim, "suggestion": rule.suggestion, "statement": rule.statement,
                    "verdict": verdict([c["outcome"] for c in comps]), "comparisons": comps})
    return out


HELD_R2 = 0.1  # a latent counts as held by an arm when its mean kernel R² over seeds exceeds this


def held_latents(frame, suggestion: str, groups: Sequence[str]) -> list[str] | None:
    """The latents of ``groups`` (keys of ``LATENT_GROUPS``) that either arm of ``suggestion`` holds:
    mean kernel R² over seeds above ``HELD_R2`` (per-latent columns ``r2:<latent>``, as
    ``sweep.latent_r2`` writes them). None where the rows have no per-latent columns."""
    from .sweep import LATENT_PREFIX

    sub = frame[frame["suggestion"] == suggestion] if "suggestion" in frame else frame.iloc[:0]
    names = [n for g in groups for n in LATENT_GROUPS[g]]
    cols = [LATENT_PREFIX + n for n in names if LATENT_PREFIX + n in sub]
    if sub.empty or not cols:
        return None
    means = sub.groupby("arm")[cols].mean()                                     # [arms, latents]
    return [c[len(LATENT_PREFIX):] for c in cols if (means[c] > HELD_R2).any()]


def final_monitor(frame, suggestion: str = "extreme") -> dict[str, Any] | None:
    """Each arm's final monitor loss (held-out images, one common mask of ratio ``MONITOR_RATIO``), per
    seed both arms share: ``{"suggestion": [...], "baseline": [...], "seeds": [...], "lower": k}``,
    ``lower`` counting the seeds on which the suggestion ends lower. A reconstruction loss on a mask
    neither arm trained on; not part of any rule (S3 was fixed on PSNR at the sweep's common mask
    before the monitor existed). Read from the rows' ``monitor_final`` column
    (``pretraining.final_monitor_loss``), else from the last point of a curve logged on that mask.
    None where neither gives both arms a value on some seed."""
    sub = frame[frame["suggestion"] == suggestion] if "suggestion" in frame else frame.iloc[:0]
    last = {}
    for _, r in sub.iterrows():
        final = r.get("monitor_final")
        if final is not None and np.isfinite(final):
            last[(r["arm"], r["seed"])] = float(final)
        elif isinstance(r.get("monitor"), list) and r["monitor"] and r.get("monitor_ratio") == MONITOR_RATIO:
            last[(r["arm"], r["seed"])] = float(r["monitor"][-1][1])
    seeds = sorted({s for a, s in last if a == "suggestion"} & {s for a, s in last if a == "baseline"})
    if not seeds:
        return None
    arms = {a: [last[(a, s)] for s in seeds] for a in ("suggestion", "baseline")}
    return {**arms, "seeds": seeds, "lower": sum(x < y for x, y in zip(arms["suggestion"], arms["baseline"]))}


def _settled(outcomes: list[str], n: int) -> bool:
    """``n`` comparisons, each decided by at least ``MIN_SEEDS`` seeds."""
    return len(outcomes) == n and not {"too few seeds", "missing"} & set(outcomes)


def _say(outcome: str, holds: str, reversed_: str, otherwise: str) -> str:
    return {"holds": holds, "reversed": reversed_}.get(outcome, otherwise)


def _read_object_masks(s2a: list[str], s2b: list[str]) -> str:
    """S2: do the object masks lift the encoder (S2b's two R² means, S2a's probe), or only take the
    object away?"""
    appearance = _say(s2b[0], "take the object's colour and texture out of what the encoder holds, as "
                              "Algorithm 1 predicts for c",
                      "leave more of the object's colour and texture in the encoder, against Algorithm 1's "
                      "prediction for c",
                      "do not measurably change what the encoder holds of the object's colour and texture")
    silhouette = _say(s2b[1], "the silhouette latents rise", "the silhouette latents fall with them",
                      "the silhouette latents do not move measurably")
    probe = _say(s2a[0], "rises", "falls", "does not move measurably")
    upshot = ("hiding the object lifts the encoder towards the object's shape." if
              (s2a[0], s2b[1]) == ("holds", "holds") else
              "hiding the object does not lift the encoder to higher-level latents."
              if "reversed" in (s2a[0], s2b[1]) else
              "the shift towards shape that the paper expects is not shown.")
    return f"In these runs the object masks {appearance}; {silhouette}, and the linear probe {probe} " \
           f"(S2a): {upshot}"


def _read_held(frame) -> str:
    """Which latents behind S2b's R² means either arm holds at all (empty without per-latent columns)."""
    held = held_latents(frame, "object", ("r2_appearance", "r2_silhouette"))
    if held is None:
        return ""
    if not held:
        return (f" Neither arm holds any latent behind S2b's R² means (none above {HELD_R2}), so its "
                "comparisons are at a floor.")
    return (" Of the latents behind S2b's two R² means, either arm holds only "
            f"{' and '.join(held)} (kernel R² above {HELD_R2} in one arm at least); the others sit near "
            f"zero in both, so the comparisons are in effect about {'these' if len(held) > 1 else 'this one'}.")


def _read_extreme(s3: list[str]) -> str:
    """S3: the extreme ratio's cost (images/s, time to the common loss) against its low-level metrics."""
    measures = ("images per second", "time to the common loss")
    faster = [m for m, o in zip(measures, s3[2:]) if o == "holds"]
    slower = [m for m, o in zip(measures, s3[2:]) if o == "reversed"]
    unclear = [m for m in measures if m not in faster + slower]
    cost = (f"costs more at 0.9 in {' and '.join(slower)}" if slower else
            f"costs less at 0.9 in {' and in '.join(faster)}"
            + (f", not measurably in {unclear[0]}" if unclear else "") if faster else
            "does not measurably cost less at 0.9")
    low = [_say(o, f"{what} is higher at 0.9", f"{what} is lower at 0.9, against the suggestion",
                f"{what} is not told apart from 0.1's (which 'retains' allows)")
           for o, what in zip(s3[:2], ("the PSNR on the common mask", "the R² of the local latents"))]
    return f"Training {cost}; {low[0]} and {low[1]}."


def _read_neutral_mask(frame, psnr_outcome: str) -> str:
    """The extreme pair on the monitor's mask, which neither arm trained on (outside the rule)."""
    mon = final_monitor(frame)
    if mon is None:
        return ""
    n, k = len(mon["seeds"]), mon["lower"]
    depends = k < n / 2 and psnr_outcome == "holds"
    return (f" On a mask neither ratio trained on (ratio {MONITOR_RATIO}, the monitor's; not part of the rule) "
            f"0.9 ends with the lower reconstruction loss on {k} of {n} seeds (means "
            f"{np.mean(mon['suggestion']):.4f} at 0.9, {np.mean(mon['baseline']):.4f} at 0.1)"
            + (": the PSNR advantage depends on the mask it is scored on." if depends else "."))


def _read_local_floor(frame) -> str:
    """Says so when neither extreme arm holds the local latents (mean kernel R² at or below 0)."""
    sub = frame[frame["suggestion"] == "extreme"] if "suggestion" in frame else frame.iloc[:0]
    arms = sub.groupby("arm")["r2_local"].mean() if "r2_local" in sub else None
    if arms is None or len(arms) != 2 or not (arms <= 0).all():
        return ""
    return (f" Neither arm holds the local latents at all (mean kernel R² {arms['suggestion']:.3f} at 0.9, "
            f"{arms['baseline']:.3f} at 0.1: no better than their mean), so that comparison cannot show "
            "low-level information kept or lost; the decoder's reconstructions are the only low-level "
            "evidence here.")


def readings(decided: Sequence[dict[str, Any]], frame=None) -> dict[str, str]:
    """What the verdicts of :func:`decide` say together, for prose: ``"S2"`` reads the object masks'
    two rules against each other (does hiding the object lift the encoder, or only take the object
    away?), ``"S3"`` the extreme ratio's cost against its low-level metrics. A sentence per claim
    whose comparisons were decided (at least ``MIN_SEEDS`` seeds); otherwise a sentence saying so.
    With the rows (``frame``) each reading adds what the verdicts alone would hide: which latents S2b's
    means rest on, the extreme pair on a neutral mask, and when neither arm holds the local latents
    at all (a comparison at that floor cannot show them kept)."""
    by = {v["claim"]: [c["outcome"] for c in v["comparisons"]] for v in decided}
    s2a, s2b, s3 = by.get("S2a", [""]), by.get("S2b", []), by.get("S3", [])
    out = {}
    if _settled(s2b, 2):
        out["S2"] = _read_object_masks(s2a, s2b) + (_read_held(frame) if frame is not None else "")
    else:
        out["S2"] = f"The object masks' rules are not decided here (fewer than {MIN_SEEDS} seeds, or not run)."
    if _settled(s3, 4):
        extra = _read_neutral_mask(frame, s3[0]) + _read_local_floor(frame) if frame is not None else ""
        out["S3"] = _read_extreme(s3) + extra
    else:
        out["S3"] = f"The extreme-ratio rule is not decided here (fewer than {MIN_SEEDS} seeds, or not run)."
    return out


def summary(frame, metrics: Sequence[str]):
    """Mean and 95 % t-interval over seeds per (suggestion, arm) and metric, as a long table."""
    import pandas as pd

    rows = []
    for (s, arm), g in frame.groupby(["suggestion", "arm"], sort=False):
        for m in metrics:
            vals = g[m].dropna() if m in g else []
            if len(vals):
                mean, lo, hi = mean_interval(vals)
                rows.append({"suggestion": s, "arm": arm, "metric": m, "mean": mean, "low": lo, "high": hi,
                             "n_seeds": len(vals)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ cost (suggestion 3)
COST_COLUMNS = ("seed", "ratio", "images_per_s", "step_seconds", "monitor", "monitor_ratio")


def cost_runs(frame, recorded_sweep: Any = None, recorded_section36: Any = None):
    """The runs whose cost chapter 10 shows, and where they come from (``(label, frame with
    COST_COLUMNS)``): the recorded Section 3.6 run's extreme-ratio pair, the recorded sweep's shapes
    runs at one-patch units (every ratio), or this execution's extreme-ratio runs (``frame``); the
    source with the most runs with monitor curves, then with step times, then runs (ties: that
    order). An empty frame and label when none has runs. Curves scored on another common mask than
    today's ``MONITOR_RATIO`` are dropped (set to None), so that every curve shown is comparable."""
    import pandas as pd

    def cols(f):
        f = f.reindex(columns=list(COST_COLUMNS)).astype(object).where(lambda d: d.notna(), None)
        other = f["monitor_ratio"].map(lambda m: m is not None and m != MONITOR_RATIO)
        f.loc[other, "monitor"] = None
        return f

    def extreme(f):
        return cols(f[f["suggestion"] == "extreme"]) if "suggestion" in f else cols(f.iloc[:0])

    sources = []
    if recorded_section36 is not None and not recorded_section36.stale:
        sources.append((f"the recorded Section 3.6 run ({recorded_section36.payload['date'][:10]}, shapes)",
                        extreme(recorded_section36.frame())))
    if recorded_sweep is not None and not recorded_sweep.stale:
        f = recorded_sweep.frame()
        f = f[(f["data"] == "shapes") & (f["kind"] == "pretrained") & (f["unit"] == recorded_sweep.params.patch)]
        sources.append((f"the recorded sweep ({recorded_sweep.payload['date'][:10]}, shapes)", cols(f)))
    sources.append(("this execution", extreme(frame)))
    label, best = max(sources, key=lambda lf: (lf[1]["monitor"].notna().sum(), lf[1]["images_per_s"].notna().sum(),
                                               len(lf[1])))  # max keeps the first of equals
    return (label, best) if len(best) else ("", pd.DataFrame(columns=list(COST_COLUMNS)))


def cost_summary(runs, low: float = 0.1, high: float = 0.9) -> dict[str, Any]:
    """Means over seeds of what ratio ``low`` and ratio ``high`` cost (``runs`` from
    :func:`cost_runs`): training images/s at each and their quotient, and, on the seeds where both
    logged a monitor curve, minutes of training to the worse run's final loss on the common mask
    (:func:`time_to_common_loss`), the ratios of the runs that set that loss (``setter_ratios``) and
    the mean share of their steps they needed to reach it (``setter_share``)."""
    speed = {r: {row["seed"]: float(row["images_per_s"]) for _, row in runs[runs["ratio"] == r].iterrows()
                 if row["images_per_s"] is not None} for r in (low, high)}
    seeds = sorted(set(speed[low]) & set(speed[high]))  # means over the seeds both ratios have
    out: dict[str, Any] = {"n_speed": len(seeds)}
    if seeds:
        out.update(ips_low=float(np.mean([speed[low][k] for k in seeds])),
                   ips_high=float(np.mean([speed[high][k] for k in seeds])))
        out["speedup"] = out["ips_high"] / out["ips_low"]
    rows = [{"suggestion": "extreme", "arm": "suggestion" if r["ratio"] == high else "baseline", **r}
            for r in runs[runs["ratio"].isin((low, high))].to_dict("records")]
    timed = [r for r in time_to_common_loss(rows) if "seconds_to_loss" in r]
    out["n_curves"] = len({r["seed"] for r in timed})
    for key, arm in (("minutes_low", "baseline"), ("minutes_high", "suggestion")):
        vals = [r["seconds_to_loss"] / 60 for r in timed if r["arm"] == arm]
        if vals:
            out[key] = float(np.mean(vals))
    setters = [r for r in timed if r["sets_target"]]
    if setters:  # which ratio set the target, and how much of its budget it needed to reach it
        out["setter_ratios"] = sorted({float(r["ratio"]) for r in setters})
        out["setter_share"] = float(np.mean([r["budget_share"] for r in setters]))
    return out


def cost_text(summary: dict[str, Any], label: str) -> str:
    """What the extreme pair cost, for prose (``summary`` from :func:`cost_summary`, ``label`` naming
    its runs): images per second at 0.9 and 0.1, then the training minutes each took to the common loss,
    each with the seeds it averages; a sentence saying so where either is missing."""
    c = summary
    speed = (f"In {label}, training ran at {c['ips_high']:.0f} images/s at ratio 0.9 against {c['ips_low']:.0f} "
             f"at 0.1, {c['speedup']:.1f} times as fast (means over {counted(c['n_speed'], 'seed')})." if c["n_speed"] else
             "No run at ratios 0.1 and 0.9 with a measured step is available here.")
    curve = (f"The 0.9 run reached the common loss after {c['minutes_high']:.1f} training minutes, the 0.1 run "
             f"after {c['minutes_low']:.1f} (means over {counted(c['n_curves'], 'seed')})." if c["n_curves"] else
             "No pair of 0.1 and 0.9 runs with monitor curves is available here (runs trained before the "
             "monitor existed have none).")
    return f"{speed} {curve}"


def target_text(summary: dict[str, Any]) -> str:
    """Which ratio set the common loss and how much of its budget it needed to reach it, in one
    sentence (``summary`` from :func:`cost_summary`); "" without curves. Under half the budget means its
    loss on the monitor's mask rose again later, which the time to the loss then partly measures."""
    if not summary.get("setter_ratios"):
        return ""
    share = summary["setter_share"]
    late = (": its loss on the monitor's mask fell below that value and rose again later in training (a mask "
            "other than its own: this need not be overfitting), so the time to the loss partly measures that "
            "rise." if share < 0.5 else ".")
    ratios = " or ".join(f"{r:g}" for r in summary["setter_ratios"])
    return (f"The common loss was set by the run at ratio {ratios}, which reached it after {100 * share:.0f} % "
            f"of its steps on average{late}")


LEDGER_ROWS = {"S1": ("S1",), "S2": ("S2a", "S2b", "S2c"), "S3": ("S3",)}  # ledger row: the rules it carries


def ledger_verdicts(rec: Recorded | None) -> dict[str, str | None]:
    """Per claims-ledger row of :data:`LEDGER_ROWS`: the verdict text it must carry ("S2a: ...; S2b:
    ..."), or None where ``rec`` (missing, stale, short of seeds) cannot decide every rule of the row."""
    if rec is None or not rec.current:
        return {row: None for row in LEDGER_ROWS}
    decided = {v["claim"]: v for v in decide(rec.frame())}
    out: dict[str, str | None] = {}
    for row, claims in LEDGER_ROWS.items():
        got = [decided.get(c) for c in claims]
        out[row] = None if any(g is None or g["verdict"].startswith(("not decided", "not measured")) for g in got) \
            else "; ".join(f"{c}: {g['verdict']}" for c, g in zip(claims, got))
    return out


# ------------------------------------------------------------------------------------ predictions
def object_graph(n_object: int = 4, n_background: int = 8) -> nx.DiGraph:
    """The shapes renderer's dependencies for one image, object and background apart: object patches
    ``o{i}`` come from the silhouette, the object's colour and texture and the lighting; background
    patches ``b{i}`` from the silhouette (where the object is not), the background colour and the
    lighting. Levels: 0 the global latents, 1 silhouette and texture, 2 the patches."""
    if min(n_object, n_background) < 1:
        raise ValueError(f"n_object = {n_object}, n_background = {n_background}: both must be >= 1")
    g = nx.DiGraph()
    for name, level in (("class", 0), ("pose", 0), ("part", 0), ("object colour", 0), ("background", 0),
                        ("lighting", 0), ("silhouette", 1), ("texture family", 1), ("texture params", 1)):
        g.add_node(name, level=level, observed=False)
    g.add_edges_from([("class", "silhouette"), ("pose", "silhouette"), ("part", "silhouette"),
                      ("class", "texture family")])
    for i in range(n_object):
        g.add_node(f"o{i}", level=2, observed=True)
        g.add_edges_from((s, f"o{i}") for s in ("silhouette", "object colour", "texture family", "texture params",
                                                "lighting"))
    for i in range(n_background):
        g.add_node(f"b{i}", level=2, observed=True)
        g.add_edges_from((s, f"b{i}") for s in ("silhouette", "background", "lighting"))
    return g


def object_mask_predictions(n_object: int = 4, n_background: int = 12, ratio: float = 0.75, n_random: int = 200,
                            seed: int = 0):
    """What Algorithm 1 makes of object masks and of random masks at ``ratio`` on :func:`object_graph`:
    for each latent, the share of masks whose c contains it. Object masks are deterministic up to
    which background patches go; random masks are drawn ``n_random`` times."""
    import pandas as pd

    from mae_hlvm.hierarchy import latents, locate, observables, unit_counts

    g = object_graph(n_object, n_background)
    obs = observables(g)
    n_hide, _ = unit_counts(len(obs), ratio)
    rng = np.random.default_rng(seed)
    objects = [v for v in obs if v.startswith("o")]
    counts = {"object masks": {v: 0 for v in latents(g)}, "random masks": {v: 0 for v in latents(g)}}
    for _ in range(n_random):
        order = list(rng.permutation(objects)) + list(rng.permutation([v for v in obs if v.startswith("b")]))
        for kind, hidden in (("object masks", order[:n_hide]), ("random masks", list(rng.permutation(obs))[:n_hide])):
            for v in locate(g, set(hidden)).c:
                counts[kind][v] += 1
    return pd.DataFrame({k: {v: n / n_random for v, n in c.items()} for k, c in counts.items()})


def object_mask_coverage(ratio: float = 0.75, min_share: float | None = None, n_images: int = 1000,
                         seed: int = 0) -> dict[str, float]:
    """How far the idealised object graph holds on the shapes images the runs train on (the
    pretraining chapter's geometry), for object patches of more than ``min_share`` object pixels
    (None: the runs' setting, ``PretrainingParams.object_min_share``): the mean share of patches that
    are the object's, the share of images whose object patches fit in the count removed at ``ratio``,
    and the share of images whose object masks hide every patch with any object pixel. Where a patch
    with part of the object stays visible, the object's colour and texture are not hidden whole, and
    Algorithm 1's "never in c" does not apply to that image."""
    import torch

    from ..data.pretraining import pretraining_images
    from ..mae.masking import num_kept_units
    from ..mae.object_masks import object_masks, object_patches

    base = PretrainingParams()
    min_share = base.object_min_share if min_share is None else min_share
    patch = base.pretrain_config().model_config().patch_size
    x = pretraining_images("shapes", n_images, seed=seed, img_size=base.img_size, objects=True)
    obj = x[:, -1] > 0.5                                                                   # [N, H, W]
    is_object = object_patches(obj, patch, min_share)                                      # [N, L]
    touched = object_patches(obj, patch, 0.0)                                              # [N, L]
    L = is_object.shape[1]
    n_remove = L - num_kept_units(L, ratio)
    removed = object_masks(obj, patch, ratio, torch.Generator().manual_seed(seed), min_share)
    return {"object_share": float(is_object.float().mean()),
            "fits": float((is_object.sum(1) <= n_remove).float().mean()),
            "whole_hidden": float((removed | ~touched).all(1).float().mean())}


def subtree_predictions(depth: int = 4, branching: int = 2, ratio: float = 0.5, n_masks: int = 200, seed: int = 0):
    """Where Algorithm 1 puts c for masks that follow a known tree (``kary_tree(depth, branching)``)
    and for random pixel masks: the share of c's nodes at each level, per mask kind. A subtree mask of
    level l hides one level-l latent's pixels (c = its parent, level l - 1); ``ratio`` sets the random
    masks and the ratio-matched subtree masks (whole level-l subtrees up to the same count)."""
    import pandas as pd

    from mae_hlvm.hierarchy import kary_tree, locate, observables, subtree_masks, unit_counts

    g = kary_tree(depth, branching)
    obs = observables(g)
    rng = np.random.default_rng(seed)
    kinds: dict[str, np.ndarray] = {}
    for level in range(1, depth):
        kinds[f"one level-{level} subtree"] = subtree_masks(g, level, n_masks, rng)[0]
        kinds[f"level-{level} subtrees, ratio {ratio:g}"] = subtree_masks(g, level, n_masks, rng, ratio)[0]
    n_hide, _ = unit_counts(len(obs), ratio)
    kinds[f"random pixels, ratio {ratio:g}"] = np.argsort(rng.random((n_masks, len(obs))), axis=1) < n_hide
    rows = []
    for kind, masks in kinds.items():
        levels = np.zeros(depth)
        for m in masks:
            for v in locate(g, {obs[i] for i in np.flatnonzero(m)}).c:
                levels[g.nodes[v]["level"]] += 1
        rows.append({"masks": kind, **{f"level {k}": levels[k] / max(levels.sum(), 1) for k in range(depth)}})
    return pd.DataFrame(rows).set_index("masks")


# ------------------------------------------------------------------------------------ recorded form
RECORD_FORMAT = "mae_hlvm.section36/1"
ROW_KEY = ("suggestion", "arm", "data", "seed", "ratio")  # what tells two rows of a record apart


def record(result: Section36Result, path: str | Path, command: str) -> Path:
    """The rows in the small recorded form (:mod:`.recorded`), with the resolved configuration of
    every run."""
    p = result.params
    return recorded.write(path, RECORD_FORMAT, p, {
        "runs": [run.cache_config() for _, _, run in p.runs()], "rows": result.rows,
        "trained_in_this_call": result.trained, "wall_seconds": result.seconds}, command)


class Recorded(recorded.Recorded):
    """A recorded Section 3.6 test, and whether it still describes the current definitions."""

    params_type = Section36Params


def load_recorded(path: str | Path) -> Recorded:
    """Read a record and check it against today's definitions (stale when the runs its parameters
    resolve to, or the library version, have changed)."""
    def changes(params: Section36Params, payload: dict[str, Any]) -> list[str]:
        same = [run.cache_config() for _, _, run in params.runs()] == payload["runs"]
        return [] if same else ["the runs its parameters resolve to have changed"]

    return recorded.read(path, RECORD_FORMAT, Recorded, changes)


def shown(frame, params: Section36Params, rec: Recorded | None) -> tuple[Any, Section36Params, str]:
    """What the chapter's table, figure and verdicts show: the record's rows, parameters and label where
    it is current, else this execution's (``frame``, ``params``)."""
    if rec is not None and rec.current:
        return rec.frame(), rec.params, f"the recorded run (seeds {list(rec.params.seeds)})"
    return frame, params, "this execution"


def status_text(rec: Recorded | None, n_seeds_here: int) -> str:
    """One sentence for prose on where the verdicts come from: no record (this execution's, decidable
    only with ``MIN_SEEDS`` seeds), a stale record (not shown, and why), or the record and its source."""
    if rec is None:
        return ("No recorded 3-seed run of this chapter exists yet; the verdicts below are computed from "
                "this execution" + (f" and cannot be decided on fewer than {MIN_SEEDS} seeds."
                                    if n_seeds_here < MIN_SEEDS else "."))
    if not rec.current:
        return f"A recorded run is stale ({'; '.join(rec.stale)}) and is not shown."
    return (f"The table, figure and verdicts below come from the recorded run (seeds {list(rec.params.seeds)}, "
            f"suggestions {', '.join(rec.params.suggestions)}; {rec.provenance_text()}).")


def loss_share_text(frame, label: str, boundary_px: int) -> str:
    """The boundary loss's mean share of the removed pixels it counted, in one sentence (``label``
    names the rows in prose)."""
    shares = frame["loss_share"].dropna() if "loss_share" in frame else None
    if shares is None or shares.empty:
        return f"The boundary loss was not run in {label}."
    return (f"The boundary loss counted {100 * shares.mean():.0f} % of the removed pixels on average over "
            f"training (the rest lie within {boundary_px} px of a visible pixel).")


def directions_text(frame) -> str:
    """Every comparison of :func:`decide` on ``frame`` that has a seed, as "claim, comparison: difference
    (seeds: n)", joined: the directions an execution of fewer seeds than a rule needs still shows."""
    return "; ".join(f"{v['claim']}, {c['comparison']}: {c['difference']:+.3f} (seeds: {c['n_seeds']})"
                     for v in decide(frame) for c in v["comparisons"] if c["n_seeds"])
