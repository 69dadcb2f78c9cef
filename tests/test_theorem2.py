"""Theorem 2 experiment (mae_hlvm.experiments.theorem2): parameters, bad input, the R² protocol on
synthetic features with a known answer, a case whose answer is certain, and the run cache."""
import json
import time
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
from mae_hlvm.experiments.theorem2 import (RULES, Theorem2Params, Theorem2Result, check_case, fixed_cases,
                                           intrinsic_dim, measure, recover_c, run, saturate)

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
    start = time.perf_counter()
    row = recover_c(root_tree(), {"x1", "x2"}, params)
    assert time.perf_counter() - start < 60
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
    start = time.perf_counter()
    again = run(params, cache)
    assert again.cached and time.perf_counter() - start < 1.0
    assert again.to_dict() == json.loads(json.dumps(first.to_dict()))
    assert Theorem2Result.from_dict(again.to_dict()).fixed_table("exact").shape[0] == len(first.rows("exact"))
    other = run(params.replace(seed=1, steps=5), RunCache(tmp_path / "x"))
    assert not other.cached
