"""Theorem 2 tested on ground truth: does a masked autoencoder's encoder recover exactly c?

Data come from :mod:`mae_hlvm.data.vectors` (every latent and every exogenous noise known), c from
:func:`mae_hlvm.hierarchy.locate` (Algorithm 1, reconstructed from Theorem 1), the model from
:mod:`mae_hlvm.mae.mlp`, the measurement from :func:`mae_hlvm.eval.identifiability.r2_scores`.

For a mask m, write A = An[m] ∩ An[m^c] minus the observables (the latents whose noise c carries).
The encoder's width is the *intrinsic* dimension of c, d_c = Σ_{v in A} dim(eps_v): under the joint
mechanism c's vector lives on a d_c-dimensional set (two nodes of c may share an ancestor's noise),
so an encoder h(c) = c_hat that is one-to-one needs exactly d_c outputs. Held-out R² of a
cross-validated kernel ridge from c_hat to

- every coordinate of every node of c               (Theorem 2: near 1),
- every exogenous noise of s_m  = An[m] \\ A          (near 0; automatic: c_hat sees only x_{m^c}),
- every exogenous noise of s_mc = An[m^c] \\ A        (near 0: c_hat = h(c) holds nothing else),

decides each case with the rules of :data:`RULES`. Beyond the theorem: an over-complete encoder
(width ``overcomplete`` x d_c), random masks at ratio r and unit u with one encoder for all masks,
and a saturating (non-invertible) mechanism.

Entry points: :class:`Theorem2Params` (the knobs, defaults = the book's default profile),
:func:`run` (everything the chapter shows, cached by parameters), :func:`recover_c` (one graph and
mask, for a reader's own hierarchy), :func:`measure` (the R² protocol on any features).
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import torch

from mae_hlvm import hierarchy as h
from mae_hlvm.compute import torch_threads
from mae_hlvm.data.vectors import HierarchicalVectorModel, VectorSample
from mae_hlvm.eval.identifiability import mcc, r2_scores
from mae_hlvm.experiments.cache import RunCache
from mae_hlvm.experiments.params import Params, knob
from mae_hlvm.experiments.prose import number as _f, span
from mae_hlvm.mae.mlp import MLPMaskedAutoencoder, train_mlp_mae

__all__ = ["RULES", "Case", "Theorem2Params", "Theorem2Result", "fixed_cases", "intrinsic_dim", "measure",
           "recover_c", "run", "saturate", "verdict",
           # prose read from the results, for the chapter's glued sentences
           "empty_text", "exact_text", "limits", "mcc_text", "overcomplete_text", "random_readings",
           "ratio_asymmetry", "ratio_text", "saturation_text", "t3_reading", "t5_t6_text"]

KIND = "theorem2"
EXPERIMENT_VERSION = 2  # bump when the computation changes, so cached results are not reused
# 2: random-mask rows carry the R² per seed (r2_by_seed), for paired comparisons over seeds

RULES = {
    "c": 0.9,      # c recovered: mean over seeds of the worst component's R² >= 0.9
    "s_m": 0.1,    # s_m absent: mean over seeds of the largest s_m noise R² <= 0.1
    "s_mc": 0.1,   # s_mc absent: mean over seeds of the largest s_mc noise R² <= 0.1
}
"""Thresholds of the decision rules, fixed before any result was looked at."""


# ------------------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class Theorem2Params(Params):
    """Knobs of the Theorem 2 chapter; the defaults are its ``default`` profile."""

    seeds: int = knob(3, "seeds per fixed-mask case (each: a new random mechanism, data draw and init)")
    n_train: int = knob(50_000, "training samples per data set (small pools let the MAE overfit)")
    n_eval: int = knob(1_000, "held-out samples on which c_hat is measured")
    steps: int = knob(1_000, "optimiser steps per masked autoencoder (fixed masks)")
    batch_size: int = knob(256, "samples per optimiser step")
    lr: float = knob(3e-3, "Adam learning rate (cosine decay to 0)")
    hidden: int = knob(64, "units per hidden layer of encoder and decoder")
    layers: int = knob(2, "hidden layers of encoder and of decoder")
    overcomplete: int = knob(4, "width of the over-complete encoder, as a multiple of d_c")
    quadtree_depth: int = knob(2, "fixed masks: 2-D quadtree of depth d, 2**d x 2**d observables")
    dag_layers: int = knob(2, "fixed masks: latent layers of the random layered DAG")
    dag_width: int = knob(3, "fixed masks: latents per layer of the random layered DAG")
    dag_observed: int = knob(6, "fixed masks: observables of the random layered DAG")
    random_depth: int = knob(3, "random masks: quadtree depth (2**d x 2**d observables)")
    ratios: tuple[float, ...] = knob((0.25, 0.5, 0.75), "random masks: masking ratios r")
    units: tuple[int, ...] = knob((1, 2), "random masks: mask units u (side of a square unit)")
    random_seeds: int = knob(3, "random masks: seeds per (u, r)")
    random_steps: int = knob(2_000, "random masks: optimiser steps")
    random_width_factor: float = knob(1.0, "random masks: encoder width as a multiple of the latent noise dims")
    n_eval_masks: int = knob(4, "random masks: masks per (u, r) on which c_hat is measured")
    n_mc_masks: int = knob(2_000, "random masks: Monte Carlo masks for the predicted P(z in A)")
    clip: float = knob(1.0, "non-invertible mechanism: every node clipped to [-clip, clip]")
    krr_train: int = knob(500, "training samples of the kernel-ridge regressor (cost grows as n^3)")
    threads: int = knob(2, "torch threads while training (at most 2 on the book's machine)")
    seed: int = knob(0, "base seed")

    def check(self) -> None:
        r = self._require
        for name in ("seeds", "steps", "batch_size", "hidden", "layers", "random_seeds", "random_steps",
                     "threads"):
            r(getattr(self, name) >= 1, name, "must be >= 1")
        r(self.overcomplete >= 1, "overcomplete", "the encoder width factor must be >= 1 (width >= d_c >= 1)")
        r(self.random_width_factor > 0, "random_width_factor", "must be > 0 (the encoder needs width >= 1)")
        r(self.n_train >= 100, "n_train", "must be >= 100")
        r(self.n_eval >= 50, "n_eval", "must be >= 50 (the R² protocol splits it into fit and test halves)")
        r(6 <= self.krr_train < self.n_eval, "krr_train", f"must be >= 6 and < n_eval = {self.n_eval}")
        r(self.lr > 0, "lr", "must be > 0")
        r(1 <= self.quadtree_depth <= 3, "quadtree_depth", "must be 1, 2 or 3 (4 to 64 observables)")
        r(1 <= self.random_depth <= 4, "random_depth", "must be in 1..4 (4 to 256 observables)")
        r(self.dag_layers >= 1 and self.dag_width >= 1, "dag_layers", "DAG layers and width must be >= 1")
        r(self.dag_width >= 1, "dag_width", "must be >= 1")
        r(self.dag_observed >= 4, "dag_observed", "must be >= 4 (two masks of the DAG need them)")
        r(self.n_eval_masks >= 1, "n_eval_masks", "must be >= 1")
        r(self.n_mc_masks >= 2, "n_mc_masks", "must be >= 2 (standard errors)")
        r(self.clip > 0, "clip", "must be > 0")
        r(len(self.ratios) >= 1 and all(0 < x < 1 for x in self.ratios), "ratios", "each ratio in (0, 1)")
        r(len(self.units) >= 1, "units", "at least one unit")
        ok = h.feasible_units(self.random_depth, self.ratios, self.units) if all(
            u >= 1 and not u & (u - 1) and (2 ** self.random_depth) % u == 0 for u in self.units) else []
        r(sorted(ok) == sorted(self.units), "units", f"every unit must be a power of two dividing the side "
          f"{2 ** self.random_depth} and give a mask that hides and keeps at least one unit at every ratio "
          f"{list(self.ratios)}; feasible: {ok}")


# ---------------------------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """A hierarchy and a fixed mask. ``why`` says what kind of c Algorithm 1 gives for it."""

    hierarchy: str
    label: str
    why: str
    graph: nx.DiGraph = field(repr=False, compare=False)
    masked: frozenset


def _mask_label(nodes: Iterable[Hashable]) -> str:
    names = sorted(map(str, nodes), key=lambda s: (len(s), s))
    return "{" + ", ".join(names) + "}" if names else "∅"


def hierarchies(params: Theorem2Params) -> dict[str, nx.DiGraph]:
    """The fixed-mask hierarchies: the note's tree T, DAG D and forest F, a quadtree, a random DAG."""
    return {"tree T": h.note_tree(), "DAG D": h.note_dag(), "forest F": h.note_forest(),
            f"quadtree {2 ** params.quadtree_depth}x{2 ** params.quadtree_depth}": h.quadtree(params.quadtree_depth),
            "random DAG": h.random_layered_dag(params.dag_layers, params.dag_width, params.dag_observed,
                                               p_edge=0.3, seed=params.seed)}


def fixed_cases(params: Theorem2Params) -> list[Case]:
    """Masks chosen so that Algorithm 1 puts c at different levels (Figure 4a/4b and the middle)."""
    g = hierarchies(params)
    out = []
    t = g["tree T"]
    xt = set(h.observables(t))
    out += [Case("tree T", "{x5..x8}", "intermediate mask: high-level c", t, frozenset({"x5", "x6", "x7", "x8"})),
            Case("tree T", "{x5, x6}", "mask too small (Fig. 4a): low-level c", t, frozenset({"x5", "x6"})),
            Case("tree T", "X \\ {x5}", "mask too large (Fig. 4b): low-level c", t, frozenset(xt - {"x5"}))]
    d = g["DAG D"]
    out += [Case("DAG D", "{x1, x2}", "one parent's pixels hidden", d, frozenset({"x1", "x2"})),
            Case("DAG D", "{x2}", "shared child hidden: two-node c", d, frozenset({"x2"}))]
    f = g["forest F"]
    out += [Case("forest F", "{x1, x3}", "one pixel of each tree: two roots", f, frozenset({"x1", "x3"})),
            Case("forest F", "{x1, x2}", "a whole tree hidden: nothing shared (c = ∅)", f, frozenset({"x1", "x2"}))]
    qname = next(k for k in g if k.startswith("quadtree"))
    q, side = g[qname], 2 ** params.quadtree_depth
    grid = np.zeros((side, side), dtype=bool)
    quad = grid.copy()
    quad[: side // 2, : side // 2] = True
    one = grid.copy()
    one[0, 0] = True
    checker = (np.add.outer(np.arange(side), np.arange(side)) % 2).astype(bool)
    out += [Case(qname, "top-left quadrant", "intermediate mask: high-level c (root)", q,
                 frozenset(h.grid_mask_nodes(quad))),
            Case(qname, "one pixel", "mask too small: low-level c", q, frozenset(h.grid_mask_nodes(one))),
            Case(qname, "all but one pixel", "mask too large: low-level c", q, frozenset(h.grid_mask_nodes(~one))),
            Case(qname, "checkerboard", "ratio 0.5, misaligned: lowest latents", q,
                 frozenset(h.grid_mask_nodes(checker)))]
    r = g["random DAG"]
    xr = h.observables(r)
    out += [Case("random DAG", "first half", "contiguous mask", r, frozenset(xr[: len(xr) // 2])),
            Case("random DAG", "one observable", "mask too small: lower-level c", r, frozenset(xr[:1]))]
    return out


def intrinsic_dim(graph: nx.DiGraph, located: Any) -> int:
    """d_c = Σ dim(eps_v) over v in A: the dimension of the information c carries (0 when c = ∅)."""
    return int(sum(int(graph.nodes[v].get("dim", 1)) for v in located.common))


def check_case(graph: nx.DiGraph, masked: Iterable[Hashable]) -> frozenset:
    """Refuse a graph that breaks Assumption 1 or a mask that is not a non-empty proper subset of X
    (ValueError naming the value and the rule); return the mask as a frozenset."""
    h.validate_graph(graph)
    if isinstance(masked, (str, bytes)):
        raise ValueError(f"masked must be a collection of observable ids, got the string {masked!r}")
    m = frozenset(masked)
    xs = h.observables(graph)
    if not m:
        raise ValueError("mask {} hides no observable; a mask must hide at least one observable "
                         "(Theorem 1 needs a non-empty m)")
    if m >= set(xs):
        raise ValueError(f"mask {_mask_label(m)} hides all {len(xs)} observables, leaving none visible; "
                         "a mask must leave at least one observable visible")
    return h.validate_mask(graph, m)


# -------------------------------------------------------------------------------------------- measure
def measure(features: np.ndarray | torch.Tensor, groups: Mapping[str, Mapping[str, Any]], krr_train: int = 500,
            seed: int = 0) -> dict[str, dict[str, float]]:
    """Held-out R² of every target column from ``features`` [N, k], grouped.

    ``groups`` maps a group name ("c", "s_m", ...) to {variable name: [N] or [N, d] values}. One
    cross-validated RBF kernel ridge per column (:func:`mae_hlvm.eval.identifiability.r2_scores`,
    fitted on ``krr_train`` samples, scored on the rest). Returns {group: {column: R²}}; an empty
    group gives {}.
    """
    feats = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    flat = {f"{g}|{name}": value for g, vs in groups.items() for name, value in vs.items()}
    out: dict[str, dict[str, float]] = {g: {} for g in groups}
    if not flat:
        return out
    n = feats.shape[0]
    scores = r2_scores(feats, flat, method="kernel", train_fraction=min(krr_train / n, 0.9), max_train=krr_train,
                       seed=seed)
    for key, score in scores.items():
        g, col = key.split("|", 1)
        out[g][col] = score.mean
    return out


def _targets(sample: VectorSample, located: Any) -> dict[str, dict[str, torch.Tensor]]:
    return {"c": {str(v): sample.values[v] for v in sorted(located.c, key=str)},
            "s_m": {str(v): sample.noises[v] for v in sorted(located.s_m, key=str)},
            "s_mc": {str(v): sample.noises[v] for v in sorted(located.s_mc, key=str)}}


def saturate(model: HierarchicalVectorModel, sample: VectorSample, clip: float) -> VectorSample:
    """The same noises pushed through every mechanism followed by a hard clip to [-clip, clip].

    A saturating, hence non-invertible, mechanism v = clip(g_v(Pa(v), eps_v)): values beyond the
    threshold lose their noise. Returns a new VectorSample (noises shared with ``sample``).
    """
    if not clip > 0:
        raise ValueError(f"clip = {clip!r}: the saturation threshold must be > 0")
    values: dict[Hashable, torch.Tensor] = {}
    with torch.no_grad():
        for v in model.order:
            values[v] = model.mechanisms[v](model.parents_of(values, v, len(sample)), sample.noises[v]).clamp(-clip, clip)
    return VectorSample(sample.graph, values, dict(sample.noises), sample.observed, sample.latent_nodes)


# -------------------------------------------------------------------------------- fixed-mask members
@dataclass
class _Member:
    case: Case
    variant: str         # "exact", "over-complete", "saturating"
    seed_index: int
    width: int
    located: Any
    data: int = 0        # index of the member's data set


def _seed_of(params: Theorem2Params, k: int) -> int:
    return params.seed + 7919 * k


def _train_members(members: list[_Member], datasets: list[VectorSample], params: Theorem2Params,
                   steps: int, model_seed: int) -> tuple[torch.Tensor, list[float], float]:
    """Train every member (one group, shared patch dims); return c_hat on the held-out part [G, n_eval, W]."""
    obs = list(datasets[0].observed)
    dims = [datasets[0].values[v].shape[1] for v in obs]
    masks = torch.stack([torch.tensor([v in m.case.masked for v in obs]) for m in members])
    x = torch.stack([d.x for d in datasets])
    model = MLPMaskedAutoencoder(dims, [m.width for m in members], hidden=params.hidden, layers=params.layers,
                                 seed=model_seed)
    res = train_mlp_mae(model, x[:, : params.n_train], masks, steps=steps, batch_size=params.batch_size,
                        lr=params.lr, seed=model_seed, data_of_member=[m.data for m in members])
    with torch.no_grad():
        heldout = torch.stack([x[m.data, params.n_train:] for m in members])
        c_hat = model.encode(heldout, masks)
    return c_hat, res.final_loss, res.seconds


def _measure_member(m: _Member, c_hat: torch.Tensor, sample: VectorSample, params: Theorem2Params) -> dict:
    held = sample.subset(slice(params.n_train, None))
    feats = c_hat[:, : m.width].numpy()
    r2 = measure(feats, _targets(held, m.located), params.krr_train, seed=params.seed)
    out = {"r2": r2}
    noise_a = {str(v): held.noises[v] for v in sorted(m.located.common, key=str)}
    out["mcc"] = mcc(feats, noise_a).mcc if noise_a and np.ptp(feats, axis=0).max() > 0 else float("nan")
    return out


def _summary(values: list[float]) -> dict[str, float]:
    a = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if not a.size:
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n": int(a.size)}


def _case_rows(members: list[_Member], measured: list[dict], losses: list[float]) -> list[dict]:
    """One row per (case, variant): per-seed worst components and their mean and spread over seeds."""
    rows: dict[tuple, dict] = {}
    for m, meas, loss in zip(members, measured, losses):
        key = (m.case.hierarchy, m.case.label, m.variant)
        loc = m.located
        row = rows.setdefault(key, {
            "hierarchy": m.case.hierarchy, "mask": m.case.label, "why": m.case.why, "variant": m.variant,
            "masked": sorted(map(str, m.case.masked)),
            "ratio": len(m.case.masked) / len(h.observables(m.case.graph)),
            "c": sorted(map(str, loc.c)), "A": sorted(map(str, loc.common)),
            "s_m": sorted(map(str, loc.s_m)), "s_mc": sorted(map(str, loc.s_mc)),
            "d_c": intrinsic_dim(m.case.graph, loc), "width": m.width, "per_seed": []})
        r2 = meas["r2"]
        row["per_seed"].append({
            "seed": m.seed_index,
            "c_min": min(r2["c"].values()) if r2["c"] else None,
            "c_mean": float(np.mean(list(r2["c"].values()))) if r2["c"] else None,
            "s_m_max": max(r2["s_m"].values()) if r2["s_m"] else None,
            "s_mc_max": max(r2["s_mc"].values()) if r2["s_mc"] else None,
            "s_mc_mean": float(np.mean(list(r2["s_mc"].values()))) if r2["s_mc"] else None,
            "mcc": meas["mcc"], "loss": loss, "r2": r2})
    for row in rows.values():
        for stat in ("c_min", "c_mean", "s_m_max", "s_mc_max", "s_mc_mean", "mcc", "loss"):
            row[stat] = _summary([p[stat] for p in row["per_seed"]])
        row["decision"] = verdict(row)
    return list(rows.values())


def verdict(row: Mapping[str, Any]) -> dict[str, Any]:
    """Apply :data:`RULES` to a case row: c recovered, s_m absent, s_mc absent, and all three."""
    c = row["c_min"]["mean"]
    sm, smc = row["s_m_max"]["mean"], row["s_mc_max"]["mean"]
    out = {"c_recovered": None if math.isnan(c) else bool(c >= RULES["c"]),
           "s_m_absent": None if math.isnan(sm) else bool(sm <= RULES["s_m"]),
           "s_mc_absent": None if math.isnan(smc) else bool(smc <= RULES["s_mc"])}
    decided = [v for v in out.values() if v is not None]
    out["agrees"] = bool(decided) and all(decided) and out["c_recovered"] is not None
    return out


# ------------------------------------------------------------------------------------------- results
@dataclass
class Theorem2Result:
    """Everything the chapter shows, as plain data (JSON round-trip via to_dict / from_dict).

    ``fixed``: one row per (case, variant) with ``variant`` in {"exact", "over-complete",
    "saturating"}; each has c, A, s_m, s_mc (node names), d_c, width, ``per_seed`` measurements and
    their summaries ``c_min``, ``s_m_max``, ``s_mc_max``, ``s_mc_mean``, ``mcc``, ``loss`` ({mean, std,
    n}), and ``decision`` (:func:`verdict`). ``random``: one row per (unit, ratio, level) with the
    predicted P(z in A) (Monte Carlo and on the evaluation masks), P(z in c) and the measured R².
    ``random_split``: per (unit, ratio), R² of latents in A / in s_mc / in s_m and of pixel noises.
    ``saturation``: fraction of clipped values. ``seconds``: wall time per section.
    """

    params: dict
    fixed: list[dict]
    random: list[dict]
    random_split: list[dict]
    saturation: dict
    seconds: dict
    cached: bool = False

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "cached"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], cached: bool = False) -> "Theorem2Result":
        return cls(**{k: data[k] for k in ("params", "fixed", "random", "random_split", "saturation", "seconds")},
                   cached=cached)

    def rows(self, variant: str) -> list[dict]:
        return [r for r in self.fixed if r["variant"] == variant]

    def fixed_table(self, variant: str = "exact"):
        """DataFrame: per case, c, d_c, width, predicted and measured R² (mean ± sd over seeds)."""
        import pandas as pd

        def fmt(s: dict) -> str:
            return "—" if s["n"] == 0 else f"{s['mean']:.2f} ± {s['std']:.2f}"

        pred = variant == "exact"
        out = []
        for r in self.rows(variant):
            empty = not r["c"]
            out.append({
                "hierarchy": r["hierarchy"], "mask m": r["mask"], "c (Algorithm 1)": _mask_label(r["c"]),
                "d_c": r["d_c"], "width": r["width"],
                "c: pred.": ("—" if empty else "1") if pred else "?", "c: R² (worst)": fmt(r["c_min"]),
                "s_m: pred.": "0", "s_m: R² (max)": fmt(r["s_m_max"]),
                "s_mc: pred.": ("0" if not empty else "?") if pred else "?", "s_mc: R² (max)": fmt(r["s_mc_max"]),
                "MCC": fmt(r["mcc"]),
                "agrees": "—" if not pred or empty else ("yes" if r["decision"]["agrees"] else "NO")})
        return pd.DataFrame(out)

    def random_table(self):
        """DataFrame: per (unit, ratio, level), predicted P(z in A) and measured R² of the level's noises."""
        import pandas as pd

        return pd.DataFrame([{
            "unit u": r["unit"], "ratio r": r["ratio"], "level": r["level_name"],
            "P(z in c), MC": round(r["p_in_c_mc"], 3), "P(z in A), MC": round(r["p_in_a_mc"], 3),
            "P(z in A), eval masks": round(r["p_in_a_eval"], 3),
            "R² measured": f"{r['r2']['mean']:.2f} ± {r['r2']['std']:.2f}"} for r in self.random])


# ----------------------------------------------------------------------------------------------- run
def _fixed_section(params: Theorem2Params, log: list[str]) -> tuple[list[dict], dict]:
    cases = fixed_cases(params)
    by_h: dict[str, list[Case]] = {}
    for case in cases:
        check_case(case.graph, case.masked)
        by_h.setdefault(case.hierarchy, []).append(case)
    rows: list[dict] = []
    saturation: dict[str, float] = {}
    n_total = params.n_train + params.n_eval
    for hname, hcases in by_h.items():
        graph = hcases[0].graph
        datasets, members = [], []
        models = []
        for k in range(params.seeds):
            gm = HierarchicalVectorModel(graph, seed=_seed_of(params, k))
            models.append(gm)
            datasets.append(gm.sample(n_total, seed=_seed_of(params, k) + 1))
        for case in hcases:
            loc = h.locate(graph, case.masked)
            d_c = intrinsic_dim(graph, loc)
            for variant, width in (("exact", max(d_c, 1)), ("over-complete", params.overcomplete * max(d_c, 1))):
                members += [_Member(case, variant, k, width, loc, data=k) for k in range(params.seeds)]
        if hname == "tree T":  # the non-invertible mechanism, on the first (high-level c) mask
            case = hcases[0]
            loc = h.locate(graph, case.masked)
            for k in range(params.seeds):
                sat = saturate(models[k], datasets[k], params.clip)
                datasets.append(sat)
                members.append(_Member(case, "saturating", k, intrinsic_dim(graph, loc), loc, data=len(datasets) - 1))
            sats = datasets[params.seeds:]
            saturation = {
                "c": float(np.mean([(s.values[v].abs() >= params.clip).float().mean().item()
                                    for s in sats for v in loc.c])),
                "latents": float(np.mean([(s.values[v].abs() >= params.clip).float().mean().item()
                                          for s in sats for v in s.latent_nodes])),
                "observables": float(np.mean([(s.x.abs() >= params.clip).float().mean().item() for s in sats]))}
        start = time.perf_counter()
        c_hat, losses, _ = _train_members(members, datasets, params, params.steps, params.seed + 1)
        t_train = time.perf_counter() - start
        measured = [_measure_member(m, c_hat[g], datasets[m.data], params) for g, m in enumerate(members)]
        log.append(f"{hname}: {len(members)} models trained in {t_train:.1f} s, measured in "
                   f"{time.perf_counter() - start - t_train:.1f} s")
        rows += _case_rows(members, measured, losses)
    return rows, saturation


def _random_section(params: Theorem2Params, log: list[str]) -> tuple[list[dict], list[dict]]:
    depth, side = params.random_depth, 2 ** params.random_depth
    graph = h.quadtree(depth)
    index = h.compile_graph(graph)
    obs = h.observables(graph)
    if obs != [f"x_{i}_{j}" for i in range(side) for j in range(side)]:
        raise AssertionError("quadtree observables are not in row-major order")
    n_lat_noise = sum(int(graph.nodes[v].get("dim", 1)) for v in h.latents(graph))
    width = max(1, int(round(params.random_width_factor * n_lat_noise)))
    configs = [(int(u), float(r)) for u in params.units for r in params.ratios]
    n_total = params.n_train + params.n_eval
    datasets = [HierarchicalVectorModel(graph, seed=_seed_of(params, k) + 17).sample(n_total, seed=_seed_of(params, k) + 18)
                for k in range(params.random_seeds)]
    members = [(u, r, k) for (u, r) in configs for k in range(params.random_seeds)]
    rng = np.random.default_rng(params.seed + 99)

    def sampler(b: int, gen: torch.Generator) -> torch.Tensor:
        out = [h.random_unit_masks(side, r, u, b, rng)[0].reshape(b, -1) for (u, r, _) in members]
        return torch.from_numpy(np.stack(out))

    x = torch.stack([d.x for d in datasets])
    dims = [datasets[0].values[v].shape[1] for v in obs]
    model = MLPMaskedAutoencoder(dims, [width] * len(members), hidden=params.hidden, layers=params.layers,
                                 seed=params.seed + 2)
    start = time.perf_counter()
    train_mlp_mae(model, x[:, : params.n_train], sampler, steps=params.random_steps, batch_size=params.batch_size,
                  lr=params.lr, seed=params.seed + 3, data_of_member=[k for (_, _, k) in members])
    t_train = time.perf_counter() - start
    eval_rng = np.random.default_rng(params.seed + 123)
    level = {v: int(graph.nodes[v]["level"]) for v in graph}
    lat_ids = [i for i, v in enumerate(index.nodes) if not index.observed[i]]
    per_level: dict[tuple, list] = {}
    per_seed: dict[tuple, list] = {}
    split: dict[tuple, dict[str, list]] = {}
    pred_eval: dict[tuple, list] = {}
    flats = [h.random_unit_masks(side, r, u, params.n_eval_masks, eval_rng)[0].reshape(params.n_eval_masks, -1)
             for (u, r, _) in members]                                           # per member [B, P]
    found = [index.locate_many(f) for f in flats]
    held = [d.subset(slice(params.n_train, None)) for d in datasets]
    xs = torch.stack([x[k, params.n_train:] for (_, _, k) in members])             # [G, n_eval, D]
    for b in range(params.n_eval_masks):
        with torch.no_grad():
            c_hat_all = model.encode(xs, torch.from_numpy(np.stack([f[b] for f in flats])))
        for g, (u, r, k) in enumerate(members):
            targets = {"lat": {str(index.nodes[i]): held[k].noises[index.nodes[i]] for i in lat_ids},
                       "pix": {str(v): held[k].noises[v] for v in obs}}
            r2 = measure(c_hat_all[g].numpy(), targets, params.krr_train, seed=params.seed + b)
            spl = split.setdefault((u, r), {"A": [], "s_mc": [], "s_m": [], "pixel_visible": [], "pixel_hidden": []})
            fg = found[g]
            for i in lat_ids:
                v = index.nodes[i]
                score = r2["lat"][f"{v}[0]"]
                per_level.setdefault((u, r, level[v]), []).append(score)
                per_seed.setdefault((u, r, level[v], k), []).append(score)
                pred_eval.setdefault((u, r, level[v]), []).append(float(fg["common"][b, i]))
                part = "A" if fg["common"][b, i] else "s_m" if fg["s_m"][b, i] else "s_mc"
                spl[part].append(score)
            for j, v in enumerate(obs):
                score = r2["pix"][f"{v}[0]"]
                per_level.setdefault((u, r, depth), []).append(score)
                per_seed.setdefault((u, r, depth, k), []).append(score)
                pred_eval.setdefault((u, r, depth), []).append(0.0)
                spl["pixel_hidden" if flats[g][b, j] else "pixel_visible"].append(score)
    t_eval = time.perf_counter() - start - t_train
    # the prediction: Monte Carlo of A and c under the same masks (as in the masking-predictions chapter)
    mc_rng = np.random.default_rng(params.seed + 7)
    rows = []
    for (u, r) in configs:
        masks, eff = h.random_unit_masks(side, r, u, params.n_mc_masks, mc_rng)
        found = h.locate_quadtree(masks)
        for lvl in range(depth + 1):
            p_a = float(found.common[lvl].mean()) if lvl < depth else 0.0
            p_c = float(found.c[lvl].mean()) if lvl < depth else 0.0
            rows.append({"unit": u, "ratio": r, "effective_ratio": float(eff), "level": lvl,
                         "level_name": f"latents, level {lvl}" if lvl < depth else "pixels (own noise)",
                         "p_in_a_mc": p_a, "p_in_c_mc": p_c,
                         "p_in_a_eval": float(np.mean(pred_eval[(u, r, lvl)])),
                         "r2": _summary(per_level[(u, r, lvl)]),
                         "r2_by_seed": [float(np.mean(per_seed[(u, r, lvl, k)])) for k in range(params.random_seeds)]})
    split_rows = [{"unit": u, "ratio": r, **{part: _summary(vals) for part, vals in parts.items()}}
                  for (u, r), parts in split.items()]
    log.append(f"random masks: {len(members)} models trained in {t_train:.1f} s, measured in {t_eval:.1f} s")
    return rows, split_rows


def run(params: Theorem2Params, cache: RunCache | None = None) -> Theorem2Result:
    """Every number of the chapter; loaded from the run cache when these parameters ran before.

    ``cache`` defaults to :class:`RunCache` at its default root (``$MAE_HLVM_CACHE`` or runs/cache).
    """
    if not isinstance(params, Theorem2Params):
        raise TypeError(f"params must be Theorem2Params, got {type(params).__name__}")
    cache = cache if cache is not None else RunCache()
    config = {**params.to_dict(), "experiment_version": EXPERIMENT_VERSION}
    found = cache.lookup(KIND, config)
    if found is not None and found.complete:
        stored = cache.load_result(found, "result", config)
        if stored is not None:
            return Theorem2Result.from_dict(stored, cached=True)
    handle = cache.begin(KIND, config)
    log: list[str] = []
    with torch_threads(params.threads):
        t0 = time.perf_counter()
        fixed, saturation = _fixed_section(params, log)
        t1 = time.perf_counter()
        random_rows, split_rows = _random_section(params, log)
        t2 = time.perf_counter()
    result = Theorem2Result(params=params.to_dict(), fixed=fixed, random=random_rows, random_split=split_rows,
                            saturation=saturation,
                            seconds={"fixed": t1 - t0, "random": t2 - t1, "total": t2 - t0, "log": log})
    cache.save_result(handle, "result", config, result.to_dict())
    cache.finish(handle, seconds=result.seconds["total"])
    return result


def recover_c(graph: nx.DiGraph, masked: Iterable[Hashable], params: Theorem2Params | None = None,
              width_factor: int = 1) -> dict:
    """Train ``params.seeds`` masked autoencoders of width ``width_factor`` x d_c for one graph and mask,
    and measure them: the row of :attr:`Theorem2Result.fixed` for this case (``decision`` included).

    Refuses (ValueError naming value and rule) a graph that breaks Assumption 1, a mask that leaves
    no visible or no hidden observable, and a width below 1.
    """
    params = params or Theorem2Params()
    m = check_case(graph, masked)
    if isinstance(width_factor, bool) or not isinstance(width_factor, int) or width_factor < 1:
        raise ValueError(f"width_factor = {width_factor!r}: the encoder width factor must be an int >= 1")
    loc = h.locate(graph, m)
    d_c = intrinsic_dim(graph, loc)
    case = Case("graph", _mask_label(m), "", graph, m)
    datasets = [HierarchicalVectorModel(graph, seed=_seed_of(params, k)).sample(params.n_train + params.n_eval,
                                                                               seed=_seed_of(params, k) + 1)
                for k in range(params.seeds)]
    variant = "exact" if width_factor == 1 else "over-complete"
    members = [_Member(case, variant, k, width_factor * max(d_c, 1), loc, data=k) for k in range(params.seeds)]
    with torch_threads(params.threads):
        c_hat, losses, _ = _train_members(members, datasets, params, params.steps, params.seed + 1)
    measured = [_measure_member(mm, c_hat[g], datasets[mm.data], params) for g, mm in enumerate(members)]
    return _case_rows(members, measured, losses)[0]


# ---------------------------------------------------------------------------------------------- prose
# Sentences whose wording depends on the results, for the chapter to glue ({glue:text}). A glued text is
# shown as plain text (no Markdown, no LaTeX), so the symbols are spelt c, ĉ, s_m, s_mc, P(z ∈ A).

_RULE_KEYS = ("c_recovered", "s_mc_absent", "s_m_absent")


def _shared(result: Theorem2Result, variant: str) -> list[dict]:
    """The rows of ``variant`` whose c is non-empty (the ones Theorem 2 speaks about)."""
    return [r for r in result.rows(variant) if r["c"]]


def _count(k: int, n: int) -> str:
    """``k`` of ``n`` for prose before a plural noun: "all 12", "none of the 12", "3 of the 12"."""
    if k == n:
        return f"all {n}" if n > 1 else "the one"
    return f"none of the {n}" if k == 0 else f"{k} of the {n}"


def _masks_text(rows: list[dict], limit: int = 4) -> str:
    """The masks of ``rows`` for prose: named one by one up to ``limit``, else counted per hierarchy."""
    if len(rows) <= limit:
        return "; ".join(f"{r['hierarchy']}, mask {r['mask']}" for r in rows)
    per: dict[str, int] = {}
    for r in rows:
        per[r["hierarchy"]] = per.get(r["hierarchy"], 0) + 1
    return f"{len(rows)} masks (" + ", ".join(f"{k} on {name}" for name, k in per.items()) + ")"


def _seeds_agree(diffs: list[float], mean_diff: float) -> str:
    """How many per-seed differences share the sign of the mean one: "3 of 3 seeds", "one seed"."""
    if not diffs:
        return "seeds not recorded"
    if len(diffs) == 1:
        return "one seed"
    return f"same direction in {sum(x * mean_diff > 0 for x in diffs)} of {len(diffs)} seeds"


def _failures_text(rows: list[dict]) -> str:
    """Which rule fails on which of ``rows`` (case rows with a ``decision``), one sentence per rule."""
    what = {"c_recovered": f"c is not recovered (worst component's R² below {RULES['c']})",
            "s_mc_absent": f"a noise of s_mc is held (R² above {RULES['s_mc']})",
            "s_m_absent": f"a noise of s_m is held (R² above {RULES['s_m']})"}
    parts = []
    for key in _RULE_KEYS:
        bad = [r for r in rows if r["decision"][key] is False]
        if bad:
            parts.append(f"For {_masks_text(bad)}, {what[key]}.")
    undecided = [r for r in rows if not r["decision"]["agrees"]
                 and not any(r["decision"][k] is False for k in _RULE_KEYS)]
    if undecided:
        parts.append(f"For {_masks_text(undecided)} the rules could not be decided (no measurement).")
    return " ".join(parts)


_STATEMENT = ("the encoder keeps what the hidden part shares with the visible part and drops what only the "
              "visible part has")


def exact_text(result: Theorem2Result) -> str:
    """What the exact-width rows say about Theorem 2, read after their counts: every mask with a
    non-empty c agrees (then it is Theorem 2's statement, on every hierarchy and level of c tried),
    some do (which rule fails where), or none do."""
    rows = _shared(result, "exact")
    if not rows:
        return "No mask with a non-empty c was run, so nothing here tests Theorem 2."
    agree = [r for r in rows if r["decision"]["agrees"]]
    if len(agree) == len(rows):
        names = list(dict.fromkeys(r["hierarchy"] for r in rows))
        whys = [r.get("why", "") for r in rows]
        both = any("high-level" in w for w in whys) and any("low-level" in w or "lower-level" in w for w in whys)
        levels = "high-level and low-level c alike, " if both else ""
        return (f"This holds on every mask we tried, {levels}on all {len(names)} hierarchies "
                f"({', '.join(names)}): {_STATEMENT}, which is Theorem 2's statement, down to the width it needs.")
    fails = _failures_text(rows)
    if agree:
        rest = "the remaining one" if len(agree) == 1 else f"the other {len(agree)}"
        return (f"It does not hold on every mask. {fails} Only on {rest} "
                f"({_masks_text(agree)}) does the measurement show Theorem 2's statement, that {_STATEMENT}.")
    return (f"No mask meets all three rules. {fails} With these parameters the measurement does not show "
            f"Theorem 2's statement, that {_STATEMENT}.")


def mcc_text(result: Theorem2Result) -> str:
    """The MCC between ĉ and the noises of A over the exact-width masks, and what its range says
    (an MCC of at least 0.9 is read as "nearly coordinate by coordinate")."""
    vals = [r["mcc"]["mean"] for r in _shared(result, "exact")
            if r["mcc"]["n"] and not math.isnan(r["mcc"]["mean"])]
    if not vals:
        return "No MCC could be computed."
    lo, hi = min(vals), max(vals)
    between = f"The MCC lies between {_f(lo)} and {_f(hi)}"
    if hi < 0.9:
        return (f"{between}: in no mask is ĉ a copy of the noises of A coordinate by coordinate; it is a nonlinear "
                "mixture of them.")
    if lo >= 0.9:
        return f"{between}: in every mask ĉ matches the noises of A nearly coordinate by coordinate."
    return (f"{between}: ĉ matches the noises of A nearly coordinate by coordinate in some masks and is a nonlinear "
            "mixture of them in others.")


def empty_text(result: Theorem2Result) -> str:
    """What the exact-width encoder of the mask with c = ∅ holds of s_mc ("" when no such mask ran)."""
    rows = [r for r in result.rows("exact") if not r["c"]]
    if not rows:
        return ""
    x = rows[0]["s_mc_max"]["mean"]
    if math.isnan(x):
        return "what its output holds was not measured"
    if x > RULES["s_mc"]:
        return f"it holds visible-only noise, with R² up to {_f(x)}"
    return f"it holds little visible-only noise (R² at most {_f(x)})"


def overcomplete_text(result: Theorem2Result) -> str:
    """The over-complete rows against the exact-width ones: in how many masks c is recovered and some
    noise of s_mc is held, each compared with exact width (the word "still" only when both recover c
    everywhere)."""
    over = _shared(result, "over-complete")
    if not over:
        return "No over-complete encoder was run."
    exact = _shared(result, "exact")
    n, ne = len(over), len(exact)
    k_c = sum(r["decision"]["c_recovered"] is True for r in over)
    e_c = sum(r["decision"]["c_recovered"] is True for r in exact)
    leaky = sum(r["decision"]["s_mc_absent"] is False for r in over)
    e_leaky = sum(r["decision"]["s_mc_absent"] is False for r in exact)
    if k_c == n and e_c == ne:
        first = f"c is still recovered, as with exact width (rule met in {_count(k_c, n)} masks)"
    elif k_c == n:
        first = f"c is recovered in {_count(k_c, n)} masks (with exact width in {e_c} of {ne})"
    else:
        only = "only " if k_c else ""
        first = f"c is recovered in {only}{_count(k_c, n)} masks (with exact width in {e_c} of {ne})"
    smc = [r["s_mc_max"]["mean"] for r in over if not math.isnan(r["s_mc_max"]["mean"])]
    largest = f"the largest per mask is {span(smc)}" if smc else "none was measured"
    if leaky:
        conj = "but" if k_c else "and"
        return (f"{first}, {conj} ĉ holds visible-only information in {_count(leaky, n)} masks: some noise of "
                f"s_mc is predicted with R² above {RULES['s_mc']} (with exact width in {e_leaky} of {ne}; {largest}).")
    return (f"{first}, and in none of them does ĉ hold visible-only information: no noise of s_mc is "
            f"predicted with R² above {RULES['s_mc']} (with exact width in {e_leaky} of {ne}; {largest}).")


def saturation_text(result: Theorem2Result) -> str:
    """The saturating mechanism against the invertible one on the same case: how much is clipped, the
    worst R² of c in both (spread over seeds, or "one seed"), and what the comparison can say: nothing
    when the invertible baseline itself misses the rule for c."""
    sats = result.rows("saturating")
    if not sats:
        return "The saturating mechanism was not run."
    sat = sats[0]
    inv = next((r for r in result.rows("exact")
                if r["hierarchy"] == sat["hierarchy"] and r["mask"] == sat["mask"]), None)
    if inv is None:
        raise ValueError(f"no exact-width row for the saturating case {sat['hierarchy']}, {sat['mask']}: "
                         "the comparison needs both mechanisms on the same mask")
    a, b = inv["c_min"]["mean"], sat["c_min"]["mean"]
    n = sat["c_min"]["n"]
    spread = " (one seed)" if n == 1 else f" (± {_f(sat['c_min']['std'])}, sd over {n} seeds)"
    if _f(a) == _f(b):
        move = f"stays at {_f(b)} with both mechanisms{spread}"
    else:
        move = f"{'falls' if b < a else 'rises'} from {_f(a)} with the invertible mechanism to {_f(b)} clipped{spread}"
    frac = result.saturation
    first = (f"With {100 * frac['c']:.0f} % of the values of c ({', '.join(sat['c'])}) and "
             f"{100 * frac['observables']:.0f} % of the observables' coordinates saturated, the worst R² of c "
             f"{move}, and the clipped case {'meets' if sat['decision']['agrees'] else 'fails'} the rules.")
    if inv["decision"]["c_recovered"] is not True:
        return (f"{first} The invertible baseline itself falls short of the rule for c (R² below {RULES['c']}) "
                "with these parameters, so this comparison cannot show what the clipping breaks.")
    if sat["decision"]["c_recovered"] is False:
        return (f"{first} The invertible case meets the rule for c and the clipped one does not: the clipping "
                "costs the encoder part of c, as the argument below predicts.")
    return (f"{first} Both meet the rule for c: at this clip level the clipping erases too little of c from the "
            "visible part for the rule to detect.")


def ratio_asymmetry(result: Theorem2Result) -> list[dict]:
    """The random-mask rows paired by ratio and complement: one entry per unit u, ratio r < 0.5 whose
    1 − r also ran, and level.

    Each entry: ``unit``, ``low`` (r), ``high`` (1 − r), ``eff_low``, ``eff_high`` (the ratios the
    unit masks actually hide), ``level``, ``level_name``, ``latent`` (False
    for the pixels' own noise), ``r2_low``, ``r2_high`` (mean held-out R² of the level's noises),
    ``diff`` (r2_high − r2_low), ``p_mc_low``, ``p_mc_high`` (predicted P(z ∈ A): a Monte Carlo over
    ``n_mc_masks`` random masks, *not* the masks scored), ``p_eval_low``, ``p_eval_high`` (the same
    indicator on the ``n_eval_masks`` masks actually scored), ``seed_diffs`` (per seed, R² at 1 − r
    minus R² at r). Sorted by unit, r and level.
    """
    pixel_level = max((r["level"] for r in result.random), default=0)
    by = {(r["unit"], round(float(r["ratio"]), 9), r["level"]): r for r in result.random}
    out = []
    for (u, ratio, lvl), a in sorted(by.items()):
        b = by.get((u, round(1 - ratio, 9), lvl))
        if ratio >= 0.5 or b is None:
            continue
        diffs = [y - x for x, y in zip(a.get("r2_by_seed", []), b.get("r2_by_seed", []))
                 if not (math.isnan(x) or math.isnan(y))]
        out.append({"unit": u, "low": a["ratio"], "high": b["ratio"], "eff_low": a.get("effective_ratio", a["ratio"]),
                    "eff_high": b.get("effective_ratio", b["ratio"]), "level": lvl,
                    "level_name": a["level_name"], "latent": lvl < pixel_level,
                    "r2_low": a["r2"]["mean"], "r2_high": b["r2"]["mean"],
                    "diff": b["r2"]["mean"] - a["r2"]["mean"],
                    "p_mc_low": a["p_in_a_mc"], "p_mc_high": b["p_in_a_mc"],
                    "p_eval_low": a["p_in_a_eval"], "p_eval_high": b["p_in_a_eval"], "seed_diffs": diffs})
    return out


def _same_sign(pair: dict) -> bool:
    """Every seed's difference has the sign of the mean difference (and there are >= 2 seeds)."""
    d = pair["seed_diffs"]
    return len(d) >= 2 and pair["diff"] != 0 and all(x * pair["diff"] > 0 for x in d)


def _asymmetry_readings(pairs: list[dict]) -> tuple[str, str]:
    """(direction, attribution) sentences for the lowest latent level of ``pairs`` (latent entries of
    :func:`ratio_asymmetry`): which side of each ratio pair holds more, and whether that is beyond
    seed-to-seed variation; a difference the scored masks' own membership in A shares is named."""
    lowest = max(p["level"] for p in pairs)
    low = [p for p in pairs if p["level"] == lowest]
    each = "; ".join(f"unit {p['unit']}: {_f(p['r2_low'])} at r = {p['low']:g}, {_f(p['r2_high'])} at "
                     f"r = {p['high']:g}, {_seeds_agree(p['seed_diffs'], p['diff'])}" for p in low)
    if all(p["diff"] < 0 for p in low):
        side = "more at the lower ratio than at its complement at every unit"
    elif all(p["diff"] > 0 for p in low):
        side = "more at the higher ratio than at its complement at every unit"
    else:
        side = "more at the lower ratio at some units and at the higher one at others"
    direction = f"The lowest latents (level {lowest}) are held {side} (mean R², {each})."
    if all(len(p["seed_diffs"]) < 2 for p in pairs):
        return direction, ("With one seed per (u, r) this execution cannot tell such a difference from "
                           "seed-to-seed variation.")
    steady = [p for p in pairs if _same_sign(p)]
    if not steady:
        return direction, ("In no (unit, ratio pair, latent level) does the difference keep its sign over all "
                           "seeds, so this execution shows no asymmetry beyond seed-to-seed variation.")
    shared = [p for p in steady if (p["p_eval_high"] - p["p_eval_low"]) * p["diff"] > 0
              and abs(p["p_eval_high"] - p["p_eval_low"]) >= 0.05]
    text = (f"In {_count(len(steady), len(pairs))} (unit, ratio pair, latent level) comparisons the difference "
            "keeps its sign in every seed: an asymmetry Theorem 1 cannot produce, so it comes from training "
            "(at high r the encoder sees less, at low r the decoder has less to predict)")
    if shared:
        text += (f"; in {len(shared)} of them the masks scored are also in A more often on the side that holds "
                 "more (by at least 0.05), so part of that difference may come from the few masks scored")
    return direction, text + "."


def ratio_text(result: Theorem2Result) -> str:
    """r against 1 − r: the predicted P(z ∈ A) (a Monte Carlo over random masks, which is not the
    membership on the masks scored), the largest measured difference with its direction and seeds,
    the lowest latents' direction per unit, and whether the asymmetry is beyond seed variation."""
    pairs = [p for p in ratio_asymmetry(result) if p["latent"]]
    if not pairs:
        return "No ratio r ran together with its complement 1 − r, so this execution cannot compare them."
    n_mc, n_eval = result.params.get("n_mc_masks", "?"), result.params.get("n_eval_masks", "?")
    gap_mc = max(abs(p["p_mc_high"] - p["p_mc_low"]) for p in pairs)
    gap_eval = max(abs(p["p_eval_high"] - p["p_eval_low"]) for p in pairs)
    big = max(pairs, key=lambda p: abs(p["diff"]))
    seeds = _seeds_agree(big["seed_diffs"], big["diff"])
    scored = f"{n_eval} masks" if n_eval != 1 else "one mask"
    direction, attribution = _asymmetry_readings(pairs)
    if all(abs(p["eff_low"] + p["eff_high"] - 1) < 1e-9 for p in pairs):
        pred = (f"The predicted P(z ∈ A) is the same at r and 1 − r: largest difference over latent levels and "
                f"units {gap_mc:.3f}, Monte Carlo noise.")
    else:
        pred = (f"The predicted P(z ∈ A) differs between r and 1 − r by up to {gap_mc:.3f}: the masks' effective "
                "ratios (whole units hidden) are not complementary here.")
    return (f"{pred} That prediction is a Monte Carlo over {n_mc} random masks per (u, r), not the membership "
            f"on the {scored} per (u, r) and seed actually scored; on those the share of latents in A differs "
            f"between r and 1 − r by up to {_f(gap_eval)} per level (the table's \"eval masks\" column). The "
            f"trained encoders: the largest measured difference is {_f(abs(big['diff']))}, for the "
            f"level-{big['level']} latents at unit {big['unit']} (mean R² {_f(big['r2_low'])} at r = {big['low']:g}, "
            f"{_f(big['r2_high'])} at r = {big['high']:g}; {seeds}). {direction} {attribution}")


def random_readings(result: Theorem2Result) -> dict[str, str]:
    """The shared random-mask encoder against the per-mask prediction, for prose.

    ``"held"``: what agrees with the theory and what does not (the pixels' own noise, the latents whose
    pixels are all hidden, the top latent level, the latents in A for the mask at hand per unit, the
    latents only visible pixels carry), each sorted by :data:`RULES`. ``"short"``: the latent level
    furthest below its predicted P(z ∈ A), and whether one encoder reaches the per-mask optimum.
    """
    rows, split = result.random, result.random_split
    if not rows:
        return {"held": "No random-mask encoder was run.", "short": ""}
    pixel_level = max(r["level"] for r in rows)
    agree: list[str] = []
    disagree: list[str] = []

    def sort(ok: bool, yes: str, no: str) -> None:
        (agree if ok else disagree).append(yes if ok else no)

    x = max(r["r2"]["mean"] for r in rows if r["level"] == pixel_level)
    sort(x <= RULES["s_m"], f"the pixels' own noises, in no A, are not held (mean R² at most {_f(x)})",
         f"the pixels' own noises, in no A, are held (mean R² up to {_f(x)})")
    sm = [s["s_m"]["mean"] for s in split if s["s_m"]["n"]]
    if sm:
        sort(max(sm) <= RULES["s_m"],
             f"latents whose pixels are all hidden are not held (mean R² at most {_f(max(sm))}; automatic, as above)",
             f"latents whose pixels are all hidden reach a mean R² of {_f(max(sm))}, which no encoder of the "
             "visible part can hold: the regressor's drift")
    top = [r for r in rows if r["level"] == 0 and r["level"] < pixel_level]
    if top:
        x, p = min(r["r2"]["mean"] for r in top), min(r["p_in_a_mc"] for r in top)
        share = "in A for every mask" if p >= 1 else f"in A for at least {math.floor(100 * p)} % of masks"
        sort(x >= RULES["c"], f"the top latent level, {share}, is recovered (mean R² at least {_f(x)})",
             f"the top latent level, {share}, reaches a mean R² of only "
             f"{_f(x)} at worst")
    per_unit = {}
    for s in split:
        if s["A"]["n"]:
            per_unit.setdefault(s["unit"], []).append(s["A"]["mean"])
    if per_unit:
        spans = "; ".join(f"{span(v)} at unit {u}" for u, v in sorted(per_unit.items()))
        in_a_ok = all(min(v) >= RULES["c"] for v in per_unit.values())
        sort(in_a_ok, f"the latents in A for the mask at hand are held (mean R² {spans})",
             f"averaged over the latents in A for the mask at hand, the mean R² is {spans}, against 1 predicted")
    else:
        in_a_ok = True
    smc = [s["s_mc"]["mean"] for s in split if s["s_mc"]["n"]]
    if smc:
        sort(max(smc) <= RULES["s_mc"],
             f"latents only visible pixels carry (an s_mc part) are not held (mean R² at most {_f(max(smc))})",
             f"latents only visible pixels carry (an s_mc part) reach a mean R² of up to {_f(max(smc))}: the "
             "over-complete effect of the previous section, since this encoder is wider than most A")
    held = " ".join(t for t in (
        "What agrees with the theory: " + "; ".join(agree) + "." if agree else "",
        "What does not: " + "; ".join(disagree) + "." if disagree else "") if t)
    lat = [r for r in rows if r["level"] < pixel_level]
    if not lat:
        return {"held": held, "short": ""}
    worst = max(lat, key=lambda r: r["p_in_a_mc"] - r["r2"]["mean"])
    gap = worst["p_in_a_mc"] - worst["r2"]["mean"]
    lowest = max(r["level"] for r in lat)
    if gap <= 0:
        short = "No latent level falls below its predicted P(z ∈ A)."
    else:
        which = ("the lowest latent level, whose membership in A changes from mask to mask"
                 if worst["level"] == lowest else f"latent level {worst['level']}")
        short = (f"The level furthest below its predicted P(z ∈ A) is {which}: at unit {worst['unit']}, "
                 f"r = {worst['ratio']:g}, mean R² {_f(worst['r2']['mean'])} against {_f(worst['p_in_a_mc'])}.")
    if in_a_ok:
        short += " One encoder of fixed width reaches the per-mask prediction for the latents in A on the masks scored."
    else:
        short += (" One encoder of fixed width, trained with these parameters, does not reach Theorem 2's per-mask "
                  "optimum for every mask at once; whether more training or width would close the gap we have "
                  "not measured.")
    return {"held": held, "short": short}


def t5_t6_text(result: Theorem2Result) -> str:
    """What the trained random-mask encoders add to the ledger's T5 and T6: whether they follow
    P(z ∈ A) (latents in A held, latents outside it not) and how the lowest latents compare at r and
    1 − r, with whether that asymmetry is beyond seed-to-seed variation."""
    split = result.random_split
    in_a = [s["A"]["mean"] for s in split if s["A"]["n"]]
    smc = [s["s_mc"]["mean"] for s in split if s["s_mc"]["n"]]
    if not in_a:
        return "No random-mask encoder was measured."
    lo, hi = min(in_a), max(in_a)
    if hi < RULES["c"]:
        first = (f"They do not simply follow P(z ∈ A): they hold less than predicted of the latents in A (mean R² "
                 f"{_f(lo)} to {_f(hi)} over (u, r), against 1)")
    elif lo >= RULES["c"]:
        first = f"They hold the latents in A as predicted (mean R² at least {_f(lo)} over (u, r))"
    else:
        first = (f"They hold the latents in A as predicted at some (u, r) and less at others (mean R² {_f(lo)} to "
                 f"{_f(hi)}, against 1)")
    if smc and max(smc) > RULES["s_mc"]:
        first += f", and (having spare width) some latents outside it (mean R² up to {_f(max(smc))})."
    elif smc:
        first += f", and none of the latents outside it (mean R² at most {_f(max(smc))})."
    else:
        first += "."
    pairs = [p for p in ratio_asymmetry(result) if p["latent"]]
    if not pairs:
        return first + " No ratio ran together with its complement, so r and 1 − r are not compared here."
    direction, attribution = _asymmetry_readings(pairs)
    return (f"{first} Unlike P(z ∈ A), which is the same at r and 1 − r, what they hold need not be: "
            f"{direction[0].lower()}{direction[1:]} {attribution}")


def t3_reading(result: Theorem2Result) -> dict[str, str]:
    """The ledger's T3 verdict by the chapter's rule (every mask with a non-empty c agrees: supported;
    some: partly supported; none: not supported), and the sentence that states it
    (``{"verdict": ..., "text": ...}``)."""
    rows = _shared(result, "exact")
    n, k = len(rows), sum(bool(r["decision"]["agrees"]) for r in rows)
    setting = ("With an encoder exactly as wide as c's intrinsic dimension, one encoder per mask, invertible "
               "mechanisms and fresh data")
    if n and k == n:
        return {"verdict": "supported (on these hierarchies, at this scale)",
                "text": f"{setting}, ĉ holds c and none of s_mc on every hierarchy and mask we tried ({n} masks "
                        "with a non-empty c), by rules fixed in advance."}
    if k:
        return {"verdict": "partly supported",
                "text": f"{setting}, ĉ holds c and nothing of s_mc or s_m in {k} of the {n} masks with a "
                        "non-empty c, by rules fixed in advance; in the others at least one of the three rules "
                        "fails (see the first table)."}
    return {"verdict": "not supported",
            "text": f"{setting}, no mask with a non-empty c meets all three rules fixed in advance "
                    f"({n} masks)." if n else "No mask with a non-empty c was run."}


def limits(result: Theorem2Result) -> dict[str, str]:
    """One line per departure from the theorem's setting, read from the results, for the verdict's
    list: ``"over"`` (over-complete encoder), ``"random"`` (one encoder for random masks),
    ``"saturating"`` (non-invertible mechanism)."""
    out = {}
    over, exact = _shared(result, "over-complete"), _shared(result, "exact")
    if over:
        k_c = sum(r["decision"]["c_recovered"] is True for r in over)
        leaky = sum(r["decision"]["s_mc_absent"] is False for r in over)
        e_leaky = sum(r["decision"]["s_mc_absent"] is False for r in exact)
        tail = ("so the clean statement needs the width" if leaky > e_leaky else
                "no more often than with exact width")
        out["over"] = (f"an over-complete encoder recovers c in {_count(k_c, len(over))} masks and holds visible-only "
                       f"information (s_mc above {RULES['s_mc']}) in {_count(leaky, len(over))}, {tail};")
    else:
        out["over"] = "no over-complete encoder was run;"
    in_a = [s["A"]["mean"] for s in result.random_split if s["A"]["n"]]
    top = [r["r2"]["mean"] for r in result.random if r["level"] == 0]
    if in_a and top:
        top_txt = ("recovers the top latent level" if min(top) >= RULES["c"] else
                   f"recovers the top latent level only to R² {_f(min(top))} at worst")
        a_txt = (f"the latents in A for the mask at hand are held (mean R² at least {_f(min(in_a))})"
                 if min(in_a) >= RULES["c"] else
                 f"the latents in A for the mask at hand reach a mean R² of {_f(min(in_a))} to {_f(max(in_a))}, "
                 "against 1 predicted")
        out["random"] = f"one encoder for random masks {top_txt}; {a_txt}, with these parameters;"
    else:
        out["random"] = "one encoder for random masks was not measured;"
    sats = result.rows("saturating")
    if sats:
        sat = sats[0]
        inv = next((r for r in result.rows("exact")
                    if r["hierarchy"] == sat["hierarchy"] and r["mask"] == sat["mask"]), None)
        if inv is None or inv["decision"]["c_recovered"] is not True:
            out["saturating"] = ("with a saturating mechanism nothing is concluded: the invertible baseline itself "
                                 "misses the rule for c with these parameters.")
        elif sat["decision"]["c_recovered"] is False:
            out["saturating"] = (f"with a saturating mechanism c is only partly recovered (R² "
                                 f"{_f(sat['c_min']['mean'])}), as expected when the visible part no longer "
                                 "determines it.")
        else:
            out["saturating"] = ("with a saturating mechanism c is still recovered by the rule: the clipping "
                                 "erased too little of it to detect.")
    else:
        out["saturating"] = "the saturating mechanism was not run."
    return out
