"""Theorem 2 experiment (mae_hlvm.experiments.theorem2): parameters, bad input, the R² protocol on
synthetic features with a known answer, a case whose answer is certain, the run cache, and the prose read
from results (on hand-made result dicts, no training)."""
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
import yaml

from mae_hlvm import hierarchy as h
from mae_hlvm.data.vectors import HierarchicalVectorModel
from mae_hlvm.experiments.cache import RunCache
from mae_hlvm.experiments.params import ParamsError
from mae_hlvm.experiments.theorem2 import (RULES, Theorem2Params, Theorem2Result, check_case, empty_text,
                                           exact_text, fixed_cases, intrinsic_dim, limits, mcc_text, measure,
                                           overcomplete_text, random_readings, ratio_asymmetry, ratio_text,
                                           recover_c, run, saturate, saturation_text, t3_reading, t5_t6_text,
                                           verdict)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_theorem2.ipynb"
PROFILE = ROOT / "notebooks" / "profiles" / "08_theorem2.yaml"

TINY = dict(seeds=1, n_train=600, n_eval=120, steps=20, random_depth=2, ratios=(0.25, 0.75), units=(2,),
            random_steps=10, n_eval_masks=1, n_mc_masks=10, krr_train=60)


def root_tree() -> nx.DiGraph:
    """One root latent z over four observables: for m = {x1, x2}, c = {z} for certain."""
    g = nx.DiGraph()
    g.add_node("z", observed=False, level=0)
    for k in range(1, 5):
        g.add_node(f"x{k}", observed=True, level=1)
        g.add_edge("z", f"x{k}")
    return g


# ------------------------------------------------------------------------------------------- params
def test_parameters_cell_matches_the_dataclass():
    nb = json.loads(NOTEBOOK.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1 and cells[0]["metadata"]["tags"] == ["parameters", "remove-cell"]
    assert "".join(cells[0]["source"]) == Theorem2Params.parameters_cell()
    assert nb["metadata"]["mae_hlvm"]["params"] == "mae_hlvm.experiments.theorem2:Theorem2Params"
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), "commit without outputs"
    first = "".join(nb["cells"][0]["source"])
    assert first.startswith("# Testing Theorem 2") and "Reproduces: Theorem 2 of {cite}`kong2023understanding`" in first


def test_profiles_load_and_default_is_the_dataclass():
    profiles = yaml.safe_load(PROFILE.read_text())
    assert set(profiles) == {"smoke", "default", "paper"} and profiles["default"] == {}
    for name, values in profiles.items():
        Theorem2Params.from_dict(values, source=name)
    assert Theorem2Params.from_dict(profiles["smoke"]).changed() == profiles["smoke"]


@pytest.mark.parametrize("change, pattern", [
    ({"overcomplete": 0}, r"overcomplete = 0: the encoder width factor must be >= 1"),
    ({"random_width_factor": 0.0}, r"random_width_factor = 0.0: must be > 0"),
    ({"units": (3,)}, r"units = \(3,\): every unit must be a power of two"),
    ({"units": (8,), "random_depth": 3}, r"units = \(8,\)"),   # one unit: nothing hidden and kept at once
    ({"krr_train": 2000}, r"krr_train = 2000: must be >= 6 and < n_eval"),
    ({"ratios": (0.0, 0.5)}, r"ratios = \(0.0, 0.5\): each ratio in \(0, 1\)"),
])
def test_bad_parameters_refused(change, pattern):
    with pytest.raises(ParamsError, match=pattern):
        Theorem2Params(**change)


def test_unknown_knob_refused():
    with pytest.raises(ParamsError, match="unknown parameter"):
        Theorem2Params.from_dict({"sedes": 3})


# ----------------------------------------------------------------------------------------- bad input
def test_mask_without_visible_or_hidden_observable_refused():
    g = root_tree()
    with pytest.raises(ValueError, match=r"hides no observable; a mask must hide at least one"):
        check_case(g, [])
    with pytest.raises(ValueError, match=r"hides all 4 observables, leaving none visible"):
        check_case(g, ["x1", "x2", "x3", "x4"])
    with pytest.raises(ValueError, match="is a latent"):
        check_case(g, ["z"])
    with pytest.raises(ValueError, match="hides all 4"):
        recover_c(g, {"x1", "x2", "x3", "x4"}, Theorem2Params(**TINY))


def test_graph_breaking_assumption_1_refused():
    g = root_tree()
    g.add_edge("x1", "x2")  # an edge between two observables
    with pytest.raises(ValueError, match=r"'x1' -> 'x2'|x1.*x2"):
        check_case(g, ["x1"])
    cyclic = root_tree()
    cyclic.add_node("w", observed=False)
    cyclic.add_edges_from([("z", "w"), ("w", "z")])
    with pytest.raises(ValueError, match="cycle"):
        recover_c(cyclic, {"x1"}, Theorem2Params(**TINY))


def test_width_below_one_refused():
    with pytest.raises(ValueError, match=r"width_factor = 0: the encoder width factor must be an int >= 1"):
        recover_c(root_tree(), {"x1"}, Theorem2Params(**TINY), width_factor=0)


# ------------------------------------------------------------------------------------ R² protocol
def test_measure_on_synthetic_features_with_a_known_answer():
    rng = np.random.default_rng(0)
    n = 1500
    c = rng.normal(size=(n, 2))
    other = rng.normal(size=(n, 1))
    # a smooth invertible nonlinear map of c: c1 from the second feature (monotone), then c0
    feats = np.stack([c[:, 0] + 0.5 * np.tanh(c[:, 1]), c[:, 1] + 0.2 * c[:, 1] ** 3], axis=1)
    out = measure(feats, {"c": {"c": c}, "absent": {"other": other}}, krr_train=500, seed=0)
    assert set(out) == {"c", "absent"}
    assert min(out["c"].values()) > 0.95            # a one-to-one function of c: R² near 1
    assert abs(out["absent"]["other[0]"]) < 0.05    # independent of the features: near 0
    half = rng.normal(size=n)                       # a feature that carries half of the target's variance
    part = measure(half[:, None], {"half": {"sum": half + rng.normal(size=n)}}, krr_train=500, seed=0)
    assert 0.35 < part["half"]["sum"] < 0.65
    assert measure(feats, {"empty": {}}) == {"empty": {}}


def test_intrinsic_dimension_counts_the_noises_of_a():
    t = h.note_tree()
    assert intrinsic_dim(t, h.locate(t, {"x5", "x6", "x7", "x8"})) == 1      # c = {z1}
    assert intrinsic_dim(t, h.locate(t, {"x4", "x5"})) == 5                  # A = {z1, z2, z3, z5, z6}
    f = h.note_forest()
    assert intrinsic_dim(f, h.locate(f, {"x1", "x2"})) == 0                  # nothing shared


def test_fixed_cases_put_c_at_the_levels_claimed():
    got = {(c.hierarchy, c.label): sorted(h.locate(c.graph, c.masked).c) for c in fixed_cases(Theorem2Params())}
    assert got[("tree T", "{x5..x8}")] == ["z1"]
    assert got[("tree T", "{x5, x6}")] == ["z3"]
    assert got[("tree T", "X \\ {x5}")] == ["z6"]
    assert got[("DAG D", "{x2}")] == ["z2", "z3"]
    assert got[("forest F", "{x1, x2}")] == []
    assert got[("quadtree 4x4", "top-left quadrant")] == ["z0_0_0"]
    assert got[("quadtree 4x4", "one pixel")] == got[("quadtree 4x4", "all but one pixel")] == ["z1_0_0"]


def test_saturate_clips_every_node_and_keeps_the_noises():
    g = h.note_tree()
    model = HierarchicalVectorModel(g, seed=0)
    sample = model.sample(300, seed=1)
    sat = saturate(model, sample, 0.5)
    assert all(float(v.abs().max()) <= 0.5 for v in sat.values.values())
    assert all(sat.noises[v] is sample.noises[v] for v in g)
    same = saturate(model, sample, 1e6)
    assert all(torch.allclose(same.values[v], sample.values[v], atol=1e-5) for v in g)
    with pytest.raises(ValueError, match="clip = 0"):
        saturate(model, sample, 0)


# ------------------------------------------------------------------------------- a certain answer
def test_root_latent_is_recovered_and_nothing_else_at_smoke_size():
    """z -> x1..x4, mask {x1, x2}: c = {z} (d_c = 1). A 1-wide encoder must hold z and no visible noise."""
    params = Theorem2Params(seeds=2, n_train=4000, n_eval=400, steps=300, krr_train=200, threads=1)
    row = recover_c(root_tree(), {"x1", "x2"}, params)
    assert row["c"] == ["z"] and row["d_c"] == 1 and row["width"] == 1
    assert row["c_min"]["mean"] >= RULES["c"], row["c_min"]
    assert row["s_m_max"]["mean"] <= RULES["s_m"] and row["s_mc_max"]["mean"] <= RULES["s_mc"]
    assert row["decision"] == {"c_recovered": True, "s_m_absent": True, "s_mc_absent": True, "agrees": True}
    assert len(row["per_seed"]) == 2


# ------------------------------------------------------------------------------------- run + cache
def test_run_is_cached_by_parameters(tmp_path):
    cache = RunCache(tmp_path)
    params = Theorem2Params(**TINY)
    first = run(params, cache)
    assert not first.cached
    assert {r["variant"] for r in first.fixed} == {"exact", "over-complete", "saturating"}
    assert len(first.rows("exact")) == len(fixed_cases(params))
    levels = {r["level"] for r in first.random}
    assert levels == {0, 1, 2}                                   # two latent levels and the pixels
    again = run(params, cache)
    assert again.cached
    assert again.to_dict() == json.loads(json.dumps(first.to_dict()))
    assert Theorem2Result.from_dict(again.to_dict()).fixed_table("exact").shape[0] == len(first.rows("exact"))
    other = run(params.replace(seed=1, steps=5), RunCache(tmp_path / "x"))
    assert not other.cached


# ------------------------------------------------------------------ prose read from hand-made results
def _s(mean: float, std: float = 0.01, n: int = 3) -> dict:
    return {"mean": mean, "std": std, "n": n}


def _case(mask: str, c_min: float = 0.95, s_mc: float = 0.03, variant: str = "exact", c=("z1",),
          hierarchy: str = "tree T", why: str = "", n: int = 3, s_m: float = 0.02) -> dict:
    """A fixed-mask row as _case_rows builds it, from its summaries (``n`` seeds)."""
    row = {"hierarchy": hierarchy, "mask": mask, "why": why, "variant": variant, "c": list(c),
           "c_min": _s(c_min, n=n), "s_m_max": _s(s_m, n=n), "s_mc_max": _s(s_mc, n=n),
           "s_mc_mean": _s(s_mc / 2, n=n), "mcc": _s(0.5, n=n), "loss": _s(0.1, n=n)}
    row["decision"] = verdict(row)
    return row


def _twelve(c_ok: int = 12, variant: str = "exact", s_mc: float = 0.03) -> list[dict]:
    """Twelve masks with a non-empty c (the first ``c_ok`` meet the rule for c) and one with c = ∅."""
    whys = ["intermediate mask: high-level c", "mask too small (Fig. 4a): low-level c"] + [""] * 10
    rows = [_case(f"m{k}", c_min=0.95 if k < c_ok else 0.5, s_mc=s_mc, variant=variant,
                  hierarchy="tree T" if k < 6 else "DAG D", why=whys[k]) for k in range(12)]
    return rows + [_case("{x1, x2}", variant=variant, c=(), hierarchy="forest F", s_mc=0.3)]


def _random(low_025: float = 0.6, low_075: float = 0.3, seeds: int = 3) -> tuple[list[dict], list[dict]]:
    """Random-mask rows (units 1, 2; ratios 0.25, 0.75; latent levels 0, 1; pixels at level 2) and the split."""
    rows, split = [], []
    for u in (1, 2):
        for r, low in ((0.25, low_025), (0.75, low_075)):
            for lvl, r2, p in ((0, 0.95, 0.99), (1, low, 0.7), (2, 0.01, 0.0)):
                rows.append({"unit": u, "ratio": r, "effective_ratio": r, "level": lvl,
                             "level_name": f"latents, level {lvl}" if lvl < 2 else "pixels (own noise)",
                             "p_in_a_mc": p, "p_in_c_mc": p / 2, "p_in_a_eval": p, "r2": _s(r2, 0.05),
                             "r2_by_seed": [r2 + 0.01 * k for k in range(seeds)]})
            split.append({"unit": u, "ratio": r, "A": _s(0.7), "s_mc": _s(0.2), "s_m": _s(0.01),
                          "pixel_visible": _s(0.01), "pixel_hidden": _s(0.0)})
    return rows, split


def _result(fixed: list[dict], random=None, split=None, **params) -> Theorem2Result:
    rows, spl = _random() if random is None else (random, split)
    return Theorem2Result(params={"n_mc_masks": 2000, "n_eval_masks": 4, **params}, fixed=fixed, random=rows,
                          random_split=spl, saturation={"c": 0.3, "latents": 0.3, "observables": 0.4}, seconds={})


def _all_texts(res: Theorem2Result) -> list[str]:
    return [exact_text(res), mcc_text(res), empty_text(res), overcomplete_text(res), saturation_text(res),
            ratio_text(res), t5_t6_text(res), *random_readings(res).values(), *t3_reading(res).values(),
            *limits(res).values()]


def test_exact_text_claims_theorem_2_only_where_every_mask_agrees():
    every = exact_text(_result(_twelve()))
    assert "which is Theorem 2's statement" in every and "high-level and low-level c alike" in every
    assert "tree T, DAG D" in every
    one = exact_text(_result(_twelve(c_ok=1)))
    assert "which is Theorem 2's statement" not in one and "It does not hold on every mask" in one
    assert "For 11 masks (5 on tree T, 6 on DAG D), c is not recovered (worst component's R² below 0.9)." in one
    assert "Only on the remaining one (tree T, mask m0)" in one
    none = exact_text(_result(_twelve(c_ok=0)))
    assert none.startswith("No mask meets all three rules") and "does not show" in none


def test_overcomplete_text_says_still_only_when_c_is_recovered_everywhere():
    both = _result(_twelve() + _twelve(variant="over-complete", s_mc=0.4))
    text = overcomplete_text(both)
    assert text.startswith("c is still recovered, as with exact width (rule met in all 12 masks)")
    assert "ĉ holds visible-only information in all 12 masks" in text and "with exact width in 0 of 12" in text
    smoke = overcomplete_text(_result(_twelve(c_ok=1) + _twelve(c_ok=1, variant="over-complete")))
    assert "still" not in smoke and smoke.startswith("c is recovered in only 1 of the 12 masks")
    assert "in none of them does ĉ hold visible-only information" in smoke


def test_t3_reading_states_the_verdict_it_reads():
    sup = t3_reading(_result(_twelve()))
    assert sup["verdict"].startswith("supported") and "on every hierarchy and mask we tried" in sup["text"]
    part = t3_reading(_result(_twelve(c_ok=1)))
    assert part["verdict"] == "partly supported" and "every hierarchy" not in part["text"]
    assert "in 1 of the 12 masks" in part["text"]
    assert t3_reading(_result(_twelve(c_ok=0)))["verdict"] == "not supported"


def test_saturation_text_concludes_nothing_when_the_baseline_fails():
    inv, sat = _case("{x5..x8}", c_min=0.79, n=1), _case("{x5..x8}", c_min=0.66, variant="saturating", n=1)
    text = saturation_text(_result([inv, sat]))
    assert "falls from 0.79 with the invertible mechanism to 0.66 clipped (one seed)" in text and "±" not in text
    assert "cannot show what the clipping breaks" in text and "costs the encoder" not in text
    assert "nothing is concluded" in limits(_result([inv, sat]))["saturating"]
    inv, sat = _case("{x5..x8}", c_min=0.97), _case("{x5..x8}", c_min=0.6, variant="saturating")
    text = saturation_text(_result([inv, sat]))
    assert "(± 0.01, sd over 3 seeds)" in text and "costs the encoder part of c" in text and "fails the rules" in text
    with pytest.raises(ValueError, match="no exact-width row for the saturating case"):
        saturation_text(_result([_case("other"), sat]))


def test_ratio_text_states_the_direction_and_that_the_control_is_a_monte_carlo():
    res = _result(_twelve())
    pairs = ratio_asymmetry(res)
    assert {(p["unit"], p["low"], p["high"], p["level"]) for p in pairs} == {
        (u, 0.25, 0.75, lvl) for u in (1, 2) for lvl in (0, 1, 2)}
    low = next(p for p in pairs if p["unit"] == 1 and p["level"] == 1)
    assert low["diff"] == pytest.approx(-0.3) and low["seed_diffs"] == pytest.approx([-0.3] * 3)
    text = ratio_text(res)
    assert "Monte Carlo over 2000 random masks" in text and "not the membership on the 4 masks" in text
    assert "The lowest latents (level 1) are held more at the lower ratio than at its complement at every unit" in text
    assert "0.60 at r = 0.25, 0.30 at r = 0.75, same direction in 3 of 3 seeds" in text
    assert "keeps its sign in every seed" in text and "the level-1 latents at unit 1" in text
    assert "comes from training" in t5_t6_text(res)
    rows, split = _random(low_025=0.3, low_075=0.6, seeds=1)
    one = ratio_text(_result(_twelve(), rows, split))
    assert "more at the higher ratio" in one and "one seed" in one and "comes from training" not in one
    rows = [r for r in rows if r["ratio"] == 0.25]
    assert "cannot compare" in ratio_text(_result(_twelve(), rows, split))


def test_random_readings_sort_agreement_by_the_rules():
    res = _result(_twelve())
    held = random_readings(res)["held"]
    agrees, does_not = held.split("What does not:")
    assert "pixels' own noises, in no A, are not held" in agrees and "top latent level" in agrees
    assert "top latent level, in A for at least 99 % of masks" in agrees  # the fixture's P = 0.99
    every = [{**r, "p_in_a_mc": 1.0} if r["level"] == 0 else r for r in res.random]
    held_every = random_readings(_result(_twelve(), every, res.random_split))["held"]
    assert "top latent level, in A for every mask" in held_every
    assert "mean R² is 0.70 at unit 1; 0.70 at unit 2, against 1 predicted" in does_not
    assert "s_mc part) reach a mean R² of up to 0.20" in does_not
    assert "the lowest latent level" in random_readings(res)["short"]


def test_small_readings_and_glued_text_is_plain():
    res = _result(_twelve())
    assert mcc_text(res).startswith("The MCC lies between 0.50 and 0.50: in no mask")
    assert empty_text(res) == "it holds visible-only noise, with R² up to 0.30"
    wide = _result(_twelve() + _twelve(variant="over-complete", s_mc=0.4))
    assert limits(wide)["over"].endswith("in all 12, so the clean statement needs the width;")
    for text in _all_texts(res) + _all_texts(_result(_twelve(c_ok=0))):
        assert "$" not in text and "{" not in text.replace("{x1, x2}", ""), text
