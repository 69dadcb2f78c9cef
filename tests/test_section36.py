"""Section 3.6: the suggestions' runs, their baselines (the sweep's points), the decision rules,
Algorithm 1's predictions and the recorded form."""
import json

import numpy as np
import pandas as pd
import pytest

from mae_hlvm.experiments import ParamsError, section36, sweep
from mae_hlvm.experiments.section36 import Section36Params


def test_baselines_are_the_sweeps_points_and_suggestions_change_one_thing():
    p = Section36Params(suggestions=("object", "boundary", "superpixel", "extreme"), seeds=(0, 1))
    runs = p.runs()
    assert len(runs) == 4 * 2 * 2
    sweep_points = set(sweep.SweepParams(datasets=("shapes", "fashion_mnist"), ratios=(0.1, 0.75, 0.9),
                                         unit_patches=(1,), seeds=(0, 1)).points())
    for s, arm, run in runs:
        if arm == "baseline" or s == "extreme":
            assert run in sweep_points, (s, arm)           # cached by the sweep, never trained twice
    arms = p.arms("boundary", 0)
    assert arms["suggestion"] == arms["baseline"].replace(ignore_boundary_px=1)
    assert p.arms("object", 1)["suggestion"] == p.arms("object", 1)["baseline"].replace(mask_kind="object")
    sp = p.arms("superpixel", 0)
    assert sp["baseline"].data == "fashion_mnist" and sp["suggestion"].mask_kind == "superpixel"
    assert (p.arms("extreme", 0)["suggestion"].mask_ratio, p.arms("extreme", 0)["baseline"].mask_ratio) == (0.9, 0.1)


def test_bad_parameters_refused_before_training():
    for kw, text in ((dict(suggestions=()), "suggestions"), (dict(seeds=(0, 0)), "twice"),
                     (dict(boundary_px=0), "boundary_px"), (dict(suggestions=("blocks",)), "blocks"),
                     (dict(ratio=1.0), "1.0")):
        with pytest.raises(ParamsError, match=text):
            Section36Params(**kw)


def _frame(diffs: dict[str, list[float]], suggestion: str = "object") -> pd.DataFrame:
    rows = []
    for seed in range(len(next(iter(diffs.values())))):
        base = {m: 0.5 for m in diffs}
        rows.append({"suggestion": suggestion, "arm": "baseline", "seed": seed, **base})
        rows.append({"suggestion": suggestion, "arm": "suggestion", "seed": seed,
                     **{m: 0.5 + d[seed] for m, d in diffs.items()}})
    return pd.DataFrame(rows)


def test_decisions_follow_the_predicted_direction():
    frame = _frame({"probe": [0.02, 0.03, 0.01], "shape_bias": [0.1, 0.2, 0.05],
                    "r2_appearance": [-0.1, -0.2, -0.1], "r2_silhouette": [0.05, -0.02, 0.01]})
    got = {d["claim"]: d for d in section36.decide(frame)}
    assert set(got) == {"S2a", "S2b"}                       # only the suggestion that ran
    assert got["S2a"]["verdict"] == "supported"
    s2b = got["S2b"]["comparisons"]
    assert s2b[0]["outcome"] == "holds"                     # lower colour/texture R², as predicted
    assert s2b[1]["outcome"] == "undecided" and got["S2b"]["verdict"] == "partly supported"
    reversed_ = _frame({"probe": [-0.02, -0.03, -0.01], "shape_bias": [0.1, 0.2, 0.05]}, "boundary")
    assert section36.decide(reversed_)[0]["verdict"] == "contradicted"
    two = _frame({"probe": [0.02, 0.03], "shape_bias": [0.1, 0.2]}, "boundary")
    assert section36.decide(two)[0]["verdict"].startswith("not decided")


def test_latent_groups_average_the_named_latents():
    res = {"identifiability": {"rows": [
        {"latent": "object_color[0]", "r2_kernel": 0.2}, {"latent": "object_color[1]", "r2_kernel": 0.4},
        {"latent": "texture_contrast", "r2_kernel": 0.0}, {"latent": "position[0]", "r2_kernel": 0.9},
        {"latent": "noise_std", "r2_kernel": -1.0}]}}
    got = section36.latent_group_r2(res)
    assert got["r2_appearance"] == pytest.approx(0.2) and got["r2_silhouette"] == pytest.approx(0.9)
    assert "r2_background" not in got and section36.latent_group_r2({}) == {}


def test_object_masks_take_appearance_out_of_c_and_random_masks_do_not():
    pred = section36.object_mask_predictions(n_object=4, n_background=12, ratio=0.75, n_random=100)
    for latent in ("object colour", "texture family", "texture params"):
        assert pred.loc[latent, "object masks"] == 0 and pred.loc[latent, "random masks"] > 0.5
    assert (pred.loc["silhouette"] == 1).all()
    with pytest.raises(ValueError, match="n_object = 0"):
        section36.object_graph(0, 3)


def test_subtree_masks_put_c_one_level_up():
    table = section36.subtree_predictions(depth=3, branching=2, ratio=0.5, n_masks=50)
    assert table.loc["one level-1 subtree", "level 0"] == 1.0
    assert table.loc["one level-2 subtree", "level 1"] == 1.0
    assert table.loc["random pixels, ratio 0.5", "level 2"] > 0.5


def test_recorded_form_round_trips_and_flags_stale(tmp_path):
    p = Section36Params(suggestions=("object",), seeds=(0,))
    result = section36.Section36Result(p, [{"suggestion": "object", "arm": "baseline", "seed": 0, "probe": 0.3}],
                                       trained=0, seconds=1.0)
    path = section36.record(result, tmp_path / "s36.json", "python benchmarks/section36_record.py")
    rec = section36.load_recorded(path)
    assert rec.stale == [] and rec.frame()["probe"].tolist() == [0.3]
    payload = json.loads(path.read_text())
    payload["runs"][0]["params"]["steps"] = 7            # a definition that moved since recording
    path.write_text(json.dumps(payload))
    assert "changed" in section36.load_recorded(path).stale[0]
    payload["format"] = "other"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="format"):
        section36.load_recorded(path)
    assert np.isfinite(rec.payload["wall_seconds"])
