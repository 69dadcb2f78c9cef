"""Section 3.6: the suggestions' runs, their baselines (the sweep's points), the decision rules,
Algorithm 1's predictions and the recorded form."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mae_hlvm.experiments import ParamsError, figures, section36, sweep
from mae_hlvm.experiments.section36 import Section36Params

ROOT = Path(__file__).resolve().parents[1]


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


def test_time_to_common_loss_is_the_worse_arms_final_loss_reached():
    # 0.9 steps cost 0.5 s and its curve ends at 0.20; 0.1 steps cost 2 s and end at 0.25: the common
    # target is 0.25 (the worse final loss), which 0.9 reaches at step 20 and 0.1 at step 40.
    rows = [{"suggestion": "extreme", "arm": "suggestion", "seed": 0, "step_seconds": 0.5,
             "monitor": [[10, 0.4], [20, 0.24], [40, 0.2]]},
            {"suggestion": "extreme", "arm": "baseline", "seed": 0, "step_seconds": 2.0,
             "monitor": [[10, 0.5], [20, 0.3], [40, 0.25]]},
            {"suggestion": "extreme", "arm": "baseline", "seed": 1, "step_seconds": 2.0, "monitor": None}]
    out = section36.time_to_common_loss(rows)
    assert [r.get("target_loss") for r in out] == [0.25, 0.25, None]
    assert [r.get("steps_to_loss") for r in out] == [20, 40, None]
    assert [r.get("seconds_to_loss") for r in out] == [10.0, 80.0, None]
    assert [r.get("sets_target") for r in out] == [False, True, None]
    assert [r.get("budget_share") for r in out] == [0.5, 1.0, None]
    # a curve that dips below its final value sets the target but reaches it before its last step
    late_rise = [rows[0], {**rows[1], "monitor": [[10, 0.5], [20, 0.22], [40, 0.25]]}]
    setter = section36.time_to_common_loss(late_rise)[1]
    assert setter["sets_target"] and setter["steps_to_loss"] == 20 and setter["budget_share"] == 0.5
    assert "seconds_to_loss" not in rows[0]  # the input rows are left as they were
    other_mask = [{**rows[0], "monitor_ratio": 0.5}, {**rows[1], "monitor_ratio": 0.75}]
    assert "seconds_to_loss" not in section36.time_to_common_loss(other_mask)[0]  # not comparable
    s3 = next(r for r in section36.RULES if r.claim == "S3")
    assert ("seconds_to_loss", -1) in s3.moves


def test_cost_of_the_extreme_ratio_from_this_execution_and_from_a_recorded_sweep():
    curve = {0.1: [[10, 0.5], [20, 0.3], [40, 0.25]], 0.9: [[10, 0.4], [20, 0.24], [40, 0.2]]}
    rows = [{"suggestion": "extreme", "arm": arm, "seed": seed, "ratio": r, "images_per_s": 128 / t,
             "step_seconds": t, "monitor": curve[r]}
            for seed in (0, 1) for arm, r, t in (("suggestion", 0.9, 0.5), ("baseline", 0.1, 2.0))]
    rows.append({"suggestion": "object", "arm": "baseline", "seed": 0, "ratio": 0.75, "images_per_s": 99.0})
    label, runs = section36.cost_runs(pd.DataFrame(rows))
    assert label == "this execution" and sorted(set(runs["ratio"])) == [0.1, 0.9]
    got = section36.cost_summary(runs)
    assert got["n_speed"] == 2 and got["speedup"] == pytest.approx(4.0)
    assert got["n_curves"] == 2 and got["minutes_low"] == pytest.approx(80 / 60)
    assert got["minutes_high"] == pytest.approx(10 / 60)
    assert got["setter_ratios"] == [0.1] and got["setter_share"] == 1.0
    assert section36.target_text(got) == ("The common loss was set by the run at ratio 0.1, which reached it "
                                          "after 100 % of its steps on average.")
    early = section36.target_text({**got, "setter_ratios": [0.9], "setter_share": 0.43})
    assert "after 43 % of its steps on average: its loss on the monitor's mask fell below" in early
    assert section36.target_text({"n_speed": 0, "n_curves": 0}) == ""
    text = section36.cost_text(got, "this execution")
    assert text.startswith("In this execution, training ran at 256 images/s at ratio 0.9 against 64 at 0.1, "
                           "4.0 times as fast (means over 2 seeds). The 0.9 run reached the common loss after")
    assert section36.cost_text({"n_speed": 0, "n_curves": 0}, "x").startswith("No run at ratios 0.1 and 0.9")
    # a recorded sweep with step times wins over this execution; its rows from before the monitor
    # existed have a step time but no curve; a record without step times is passed over
    old = [{"data": "shapes", "kind": "pretrained", "unit": 4, "seed": 0, "ratio": r, "psnr": 20.0,
            "images_per_s": 100.0 * (1 + r)} for r in (0.1, 0.5, 0.9)]

    class Rec:
        stale, payload, params = [], {"date": "2026-11-27T00:00:00"}, sweep.SweepParams()

        def frame(self):
            return pd.DataFrame(self.rows)
    rec = Rec()
    rec.rows = old
    assert section36.cost_runs(pd.DataFrame(rows), rec)[0] == "this execution"  # curves first
    label, runs = section36.cost_runs(pd.DataFrame(rows[-1:]), rec)
    assert label.startswith("the recorded sweep") and len(runs) == 3
    assert section36.cost_summary(runs) == pytest.approx({"n_speed": 1, "ips_low": 110.0, "ips_high": 190.0,
                                                          "speedup": 190 / 110, "n_curves": 0})
    rec.rows = [{k: v for k, v in r.items() if k != "images_per_s"} for r in old]
    assert section36.cost_runs(pd.DataFrame(rows), rec)[0] == "this execution"
    label, runs = section36.cost_runs(pd.DataFrame(rows[-1:]))
    assert label == "" and runs.empty and section36.cost_summary(runs) == {"n_speed": 0, "n_curves": 0}
    empty = figures.cost_panels(runs)  # an empty figure that says why, not an error
    assert [t.get_text() for t in empty.axes[1].texts] == ["no run with a monitor curve"]
    # the recorded Section 3.6 run's pair, with more curves (three seeds), wins over both
    rec36 = Rec()
    rec36.rows = rows[:4] + [{**r, "seed": 2} for r in rows[:2]] + rows[-1:]
    label, runs = section36.cost_runs(pd.DataFrame(rows), rec, rec36)
    assert label.startswith("the recorded Section 3.6 run") and len(runs) == 6
    rec36.rows = []                                        # a record without rows
    assert section36.cost_runs(pd.DataFrame(rows), rec, rec36)[0] == "this execution"


def test_figures_are_closed_and_sweep_panels_take_every_dataset():
    import matplotlib.pyplot as plt

    rows = [{"data": d, "kind": "pretrained", "seed": s, "ratio": r, "unit": 4, "arm": arm, "suggestion": "object",
             "probe": 0.5 + 0.1 * r + 0.01 * s} for d in ("shapes", "fashion_mnist") for s in (0, 1)
            for r in (0.1, 0.75) for arm in ("baseline", "suggestion")]
    frame = pd.DataFrame(rows)
    before = set(plt.get_fignums())
    fig = figures.sweep_panels({"test": frame}, ["probe", "shape_bias"], ["shapes", "fashion_mnist"], 4)
    assert fig.axes[0].get_title() == "linear probe top-1 (shapes)" and len(fig.axes) >= 8  # 2 rows a dataset
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "no values on Fashion-MNIST" in texts          # shape bias: no column for either dataset
    figures.suggestion_panels(frame, ["probe"])
    assert set(plt.get_fignums()) == before               # shown where glued, never again as output


def test_subtree_masks_on_the_quadtree_are_unit_masks():
    # the equivalence S2d rests on: on a depth-3 quadtree, hiding whole level-2 subtrees at ratio r
    # hides whole 2 x 2 blocks, as many pixels as random masks of unit 2
    from mae_hlvm import hierarchy as H

    g = H.quadtree(3)
    for ratio in (0.25, 0.5, 0.75):
        sub, _ = H.subtree_masks(g, 2, 50, np.random.default_rng(0), ratio)
        unit, _ = H.random_unit_masks(8, ratio, 2, 50, np.random.default_rng(0))
        grid = sub.reshape(50, 8, 8)
        blocks = grid.reshape(50, 4, 2, 4, 2)
        assert (blocks.all(axis=(2, 4)) == blocks.any(axis=(2, 4))).all()     # constant on every block
        assert (sub.sum(1) == unit.reshape(50, -1).sum(1)).all()


def test_subtree_rule_compares_levels_where_algorithm_1_moves_a():
    rows = []
    for u, p_a, r2 in ((1, (1.0, 0.9, 0.6), (0.9, 0.6, 0.5)), (2, (1.0, 0.9, 0.0), (0.9, 0.62, 0.2))):
        for level in range(3):
            rows.append({"unit": u, "ratio": 0.25, "level": level, "level_name": f"latents, level {level}",
                         "p_in_a_mc": p_a[level], "r2_by_seed": [r2[level] + 0.01 * k for k in range(3)]})
        rows.append({"unit": u, "ratio": 0.25, "level": 3, "level_name": "pixels (own noise)",
                     "p_in_a_mc": 0.0, "r2_by_seed": [0.1, 0.1, 0.1]})
    got = section36.decide_subtree(rows)
    assert [c["comparison"].split(":")[0] for c in got["comparisons"]] == ["ratio 0.25, level 2"]
    assert got["comparisons"][0]["outcome"] == "holds" and got["verdict"] == "supported"
    assert got["comparisons"][0]["difference"] == pytest.approx(0.3)    # (0.5 - 0.2), signed by P's drop
    assert section36.subtree_breakdown(got) == {"gone": "1 of 1", "partly": "0 of 0", "reversed": "none"}
    rows[6]["r2_by_seed"] = [0.9, 0.9, 0.9]  # unit 2 holds level 2 better although P(z in A) fell
    got = section36.decide_subtree(rows)
    assert got["verdict"] == "contradicted"
    assert section36.subtree_breakdown(got) == {"gone": "0 of 1", "partly": "0 of 0",
                                                "reversed": "ratio 0.25, level 2"}
    one_seed = [{**r, "r2_by_seed": r["r2_by_seed"][:1]} for r in rows]
    assert section36.subtree_breakdown(section36.decide_subtree(one_seed))["gone"] == (
        "none of 1 decided (fewer than 3 seeds)")


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
    assert rec.stale == [] and rec.frame()["probe"].tolist() == [0.3] and rec.params == p
    payload = json.loads(path.read_text())
    payload["runs"][0]["params"]["steps"] = 7            # a definition that moved since recording
    path.write_text(json.dumps(payload))
    assert "changed" in section36.load_recorded(path).stale[0]
    payload["format"] = "other"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="format"):
        section36.load_recorded(path)
    assert np.isfinite(rec.payload["wall_seconds"])


def _decided(claim: str, outcomes: list[str]) -> dict:
    return {"claim": claim, "comparisons": [{"outcome": o} for o in outcomes]}


def test_readings_put_the_object_masks_rules_and_the_extreme_ratio_into_words():
    got = section36.readings([_decided("S2a", ["reversed", "undecided"]), _decided("S2b", ["holds", "reversed"]),
                              _decided("S3", ["holds", "undecided", "holds", "holds"])])
    assert "colour and texture out of what the encoder holds" in got["S2"]
    assert "fall with them" in got["S2"] and "probe falls" in got["S2"] and "does not lift" in got["S2"]
    assert got["S3"].startswith("Training costs less at 0.9 in images per second and in time to the common loss")
    assert "PSNR on the common mask is higher at 0.9" in got["S3"] and "not told apart" in got["S3"]
    lifted = section36.readings([_decided("S2a", ["holds", "holds"]), _decided("S2b", ["holds", "holds"])])
    assert "lifts the encoder" in lifted["S2"] and "not decided" in lifted["S3"]
    slower = section36.readings([_decided("S3", ["reversed", "holds", "reversed", "undecided"])])["S3"]
    assert "costs more at 0.9 in images per second;" in slower and "PSNR on the common mask is lower" in slower
    partly = section36.readings([_decided("S3", ["holds", "undecided", "holds", "undecided"])])["S3"]
    assert partly.startswith("Training costs less at 0.9 in images per second, not measurably in time to the")
    few = section36.readings([_decided("S2b", ["too few seeds", "too few seeds"])])
    assert "not decided" in few["S2"]


def test_the_extreme_reading_says_when_no_arm_holds_the_local_latents():
    decided = [_decided("S3", ["holds", "undecided", "holds", "holds"])]
    rows = pd.DataFrame([{"suggestion": "extreme", "arm": a, "seed": k, "r2_local": v}
                         for k in range(3) for a, v in (("suggestion", -0.05), ("baseline", -0.04))])
    assert "Neither arm holds the local latents at all (mean kernel R² -0.050 at 0.9, -0.040 at 0.1" in \
        section36.readings(decided, rows)["S3"]
    held = rows.assign(r2_local=0.3)
    assert "Neither" not in section36.readings(decided, held)["S3"]


def test_the_object_reading_names_the_latents_either_arm_holds():
    decided = [_decided("S2a", ["reversed", "undecided"]), _decided("S2b", ["holds", "reversed"])]
    rows = pd.DataFrame([{"suggestion": "object", "arm": a, "seed": k, "r2:object_color": c,
                          "r2:position": p, "r2:scale": 0.0, "r2:texture_contrast": -0.05}
                         for k in range(3) for a, c, p in (("suggestion", 0.2, 0.3), ("baseline", 0.9, 0.6))])
    assert section36.held_latents(rows, "object", ("r2_appearance", "r2_silhouette")) == ["object_color",
                                                                                          "position"]
    got = section36.readings(decided, rows)["S2"]
    assert "either arm holds only object_color and position" in got and "about these." in got
    none = rows.assign(**{"r2:object_color": 0.0, "r2:position": 0.0})
    assert "Neither arm holds any latent behind S2b" in section36.readings(decided, none)["S2"]
    assert section36.held_latents(rows.drop(columns=["r2:object_color", "r2:position", "r2:scale",
                                                     "r2:texture_contrast"]), "object", ("r2_appearance",)) is None


def test_final_monitor_compares_the_arms_on_the_neutral_mask():
    from mae_hlvm.experiments.pretraining import MONITOR_RATIO

    rows = pd.DataFrame([{"suggestion": "extreme", "arm": a, "seed": k, "monitor_ratio": MONITOR_RATIO,
                          "monitor": [[10, 0.5], [20, loss + 0.001 * k]], "r2_local": 0.2}
                         for k in range(3) for a, loss in (("suggestion", 0.02), ("baseline", 0.01))])
    got = section36.final_monitor(rows)
    assert got["seeds"] == [0, 1, 2] and got["lower"] == 0 and got["baseline"][0] == pytest.approx(0.01)
    text = section36.readings([_decided("S3", ["holds", "undecided", "holds", "holds"])], rows)["S3"]
    assert "0.9 ends with the lower reconstruction loss on 0 of 3 seeds" in text
    assert "the PSNR advantage depends on the mask it is scored on" in text
    other_mask = rows.assign(monitor_ratio=MONITOR_RATIO + 0.1)
    assert section36.final_monitor(other_mask) is None


def test_final_monitor_reads_the_rows_final_monitor_column_before_the_curves():
    # rows from runs older than the monitor have no curve on its mask but carry monitor_final
    rows = pd.DataFrame([{"suggestion": "extreme", "arm": a, "seed": k, "monitor": [], "monitor_ratio": None,
                          "monitor_final": loss + 0.001 * k}
                         for k in range(3) for a, loss in (("suggestion", 0.01), ("baseline", 0.02))])
    got = section36.final_monitor(rows)
    assert got["seeds"] == [0, 1, 2] and got["lower"] == 3 and got["suggestion"][2] == pytest.approx(0.012)
    assert section36.final_monitor(rows.assign(monitor_final=float("nan"))) is None
    one_arm = rows.assign(monitor_final=[0.01, float("nan")] * 3)
    assert section36.final_monitor(one_arm) is None


def test_shown_and_status_text_prefer_a_current_record(tmp_path):
    params = section36.Section36Params(suggestions=("extreme",), seeds=(0,))
    here = pd.DataFrame([{"suggestion": "extreme", "arm": "baseline", "seed": 0}])
    assert section36.shown(here, params, None) == (here, params, "this execution")
    assert "cannot be decided on fewer than 3 seeds" in section36.status_text(None, 1)
    assert section36.status_text(None, 3).endswith("computed from this execution.")
    rec = section36.load_recorded(ROOT / "book" / "recorded" / "section36_cpu.json")
    assert rec.current, rec.stale  # the committed record is current (test_recorded_is_current says why not)
    frame, p, label = section36.shown(here, params, rec)
    seeds = f"seeds {list(rec.params.seeds)}"
    assert frame.equals(rec.frame()) and p == rec.params and label == f"the recorded run ({seeds})"
    assert section36.status_text(rec, 1).startswith("The table, figure and verdicts below come from the "
                                                    f"recorded run ({seeds}")
    rec.stale.append("a changed default")
    assert section36.shown(here, params, rec)[2] == "this execution"
    assert section36.status_text(rec, 1) == "A recorded run is stale (a changed default) and is not shown."


def test_loss_share_and_directions_texts():
    rows = pd.DataFrame([{"suggestion": "boundary", "arm": a, "seed": 0, "loss_share": s, "probe": p}
                         for a, s, p in (("suggestion", 0.6, 0.7), ("baseline", None, 0.6))])
    assert section36.loss_share_text(rows, "x", 1) == ("The boundary loss counted 60 % of the removed pixels on "
                                                       "average over training (the rest lie within 1 px of a "
                                                       "visible pixel).")
    assert section36.loss_share_text(rows.drop(columns="loss_share"), "x", 1) == \
        "The boundary loss was not run in x."
    # shape bias is not in the rows: only the comparison with a seed is listed
    assert section36.directions_text(rows) == "S1, linear probe top-1 higher with the suggestion: +0.100 (seeds: 1)"


def test_ledger_verdicts_of_the_committed_record():
    rec = section36.load_recorded(ROOT / "book" / "recorded" / "section36_cpu.json")
    got = section36.ledger_verdicts(rec)
    assert set(got) == set(section36.LEDGER_ROWS) and got["S2"].startswith("S2a: ")
    assert got["S2"].count(";") == 2 and got["S3"].startswith("S3: ")
    rec.stale.append("a changed default")
    assert section36.ledger_verdicts(rec) == {row: None for row in section36.LEDGER_ROWS}


def test_summary_gives_mean_and_t_interval_per_arm_and_metric_labels_name_both_tables():
    rows = pd.DataFrame([{"suggestion": "extreme", "arm": a, "seed": s, "psnr": v, "images_per_s": ips}
                         for a, s, v, ips in (("suggestion", 0, 20.0, 300.0), ("suggestion", 1, 22.0, None),
                                              ("baseline", 0, 18.0, 90.0))])
    got = section36.summary(rows, ["psnr", "images_per_s", "probe"]).set_index(["arm", "metric"])
    # two seeds at 20 and 22: half-width t(0.975, 1) * sd / sqrt(2) = 12.706 * 1.414 / 1.414
    assert got.loc[("suggestion", "psnr"), ["mean", "n_seeds"]].tolist() == [21.0, 2]
    assert got.loc[("suggestion", "psnr"), "high"] - 21.0 == pytest.approx(12.706, abs=1e-3)
    assert got.loc[("suggestion", "images_per_s"), ["mean", "low", "high", "n_seeds"]].tolist() == [300.0] * 3 + [1]
    assert ("baseline", "probe") not in got.index                      # a metric not in the rows is left out
    assert section36.metric_label("psnr") == sweep.METRICS["psnr"][0]
    assert section36.metric_label("images_per_s") == "training images per second (median step)"
