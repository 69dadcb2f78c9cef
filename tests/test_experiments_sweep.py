"""The sweep: its grid, refusals before training, statistics, decision rules, recorded form, toy run."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mae_hlvm.experiments import RunCache
from mae_hlvm.experiments import sweep as S
from mae_hlvm.experiments.params import ParamsError

TOY = S.SweepParams(ratios=(0.25, 0.75), unit_patches=(1, 2), steps=2, warmup_steps=1, n_images=32,
                    batch_size=16, suite="smoke")


def test_grid_has_ratio_points_then_new_unit_points():
    p = S.SweepParams(ratios=(0.1, 0.25, 0.5, 0.75, 0.9))
    u = p.patch
    assert p.grid() == [(0.1, u), (0.25, u), (0.5, u), (0.75, u), (0.9, u), (0.75, 2 * u)]
    assert S.SweepParams(ratios=(0.5,)).grid() == [(0.5, u), (0.75, u), (0.75, 2 * u)]
    pts = p.replace(datasets=("shapes", "fashion_mnist"), seeds=(0, 1)).points()
    assert len(pts) == 2 * 2 * 6 and {p.data for p in pts} == {"shapes", "fashion_mnist"}


def test_the_pretraining_chapters_model_is_a_sweep_point():
    from mae_hlvm.experiments.pretraining import PretrainingParams

    assert PretrainingParams() in S.SweepParams().points()


@pytest.mark.parametrize("change, message", [
    ({"unit_patches": (1, 3)}, "mask_unit = "),
    ({"ratios": (0.5, 0.999)}, "mask_ratio = 0.999"),
    ({"datasets": ("imagenet",)}, "datasets must be"),
    ({"seeds": ()}, "must list at least one value"),
    ({"ratios": (0.5, 0.5)}, "lists a value twice"),
    ({"suite": "full"}, "suite must be"),
])
def test_bad_sweeps_are_refused_before_any_training(change, message):
    with pytest.raises(ParamsError, match=message):
        TOY.replace(**change)


def test_bootstrap_interval_with_three_seeds_is_their_range():
    mean, lo, hi = S.bootstrap_interval([0.1, 0.3, 0.2])
    assert mean == pytest.approx(0.2) and lo == pytest.approx(0.1) and hi == pytest.approx(0.3)
    m, lo, hi = S.mean_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and lo < 1.0 and hi > 3.0          # t with 2 degrees of freedom is wide
    assert S.mean_interval([5.0]) == (5.0, 5.0, 5.0)


def _frame(values_a, values_b, metric="probe"):
    rows = []
    for seed, (va, vb) in enumerate(zip(values_a, values_b)):
        rows.append({"data": "shapes", "kind": "pretrained", "seed": seed, "ratio": 0.75, "unit": 2, metric: va})
        rows.append({"data": "shapes", "kind": "pretrained", "seed": seed, "ratio": 0.1, "unit": 2, metric: vb})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("a, b, outcome", [
    ([0.6, 0.7, 0.65], [0.5, 0.55, 0.6], "holds"),
    ([0.4, 0.5, 0.45], [0.5, 0.55, 0.6], "reversed"),
    ([0.6, 0.5, 0.65], [0.5, 0.55, 0.6], "undecided"),
    ([0.6], [0.5], "too few seeds"),
])
def test_comparison_outcomes(a, b, outcome):
    c = S.Comparison("probe", (0.75, 1), (0.1, 1))
    assert S.compare(_frame(a, b), c, "shapes", patch=2)["outcome"] == outcome


def test_lower_is_better_metrics_flip_the_sign():
    c = S.Comparison("mse", (0.75, 1), (0.1, 1))
    assert S.compare(_frame([0.1, 0.1, 0.1], [0.2, 0.3, 0.25], "mse"), c, "shapes", patch=2)["outcome"] == "holds"


def test_a_metric_another_dataset_has_is_missing_not_undecided():
    # shapes rows create the shape-bias column; Fashion-MNIST rows hold NaN there: not measured
    f = _frame([0.6, 0.7, 0.65], [0.5, 0.55, 0.6], "shape_bias")
    fm = f.assign(data="fashion_mnist", shape_bias=float("nan"))
    c = S.Comparison("shape_bias", (0.75, 1), (0.1, 1))
    assert S.compare(pd.concat([f, fm]), c, "fashion_mnist", patch=2)["outcome"] == "missing"
    assert S.compare(pd.concat([f, fm]), c, "shapes", patch=2)["outcome"] == "holds"


@pytest.mark.parametrize("outcomes, expected", [
    (["holds", "holds"], "supported"), (["holds", "reversed"], "contradicted"),
    (["holds", "undecided"], "partly supported"), (["undecided"], "undecided"),
    (["missing"], "not measured"), (["holds", "too few seeds"], "not decided (fewer than 3 seeds)"),
    (["holds", "missing"], "supported (1 of 2 comparisons measured)"),
])
def test_verdicts(outcomes, expected):
    assert S.verdict(outcomes) == expected


def test_every_rule_names_known_metrics():
    for rule in S.RULES:
        assert rule.comparisons and all(c.metric in S.METRICS for c in rule.comparisons)


def test_relative_robustness_is_shifted_over_iid_accuracy():
    result = {"robustness": {"IN1K": 0.5, "IN-A": 0.2, "IN-R": 0.3}}
    assert S.metric_values(result) == pytest.approx({"robustness": 0.25, "robust_relative": 0.5})
    # the paper's Table 1 at ratio 0.75: mean of the five shifted columns over IN-1K, both in %
    assert S.paper_value("robust_relative", "ratio", 0.75) == pytest.approx(
        (54.23 + 18.24 + 25.20 + 3.76 + 15.51) / 5 / 67.41)
    assert S.paper_value("robust_relative", "unit", 4) > S.paper_value("robust_relative", "unit", 1)


def test_toy_sweep_runs_caches_and_records(tmp_path):
    cache = RunCache(tmp_path / "cache")
    first = S.run(TOY, cache, progress=None)
    # 2 ratios + 1 new unit point, plus the untrained baseline
    assert first.trained == 4 and len(first.rows) == 4
    frame = first.frame()
    assert {"probe", "ssim", "silhouette", "r2_global"} <= set(frame.columns)
    again = S.run(TOY, cache, progress=None)
    assert again.trained == 0 and again.rows == first.rows
    assert [S.row_key_of(r) for r in first.rows] == [S.row_key(*pk) for pk in S.runs(TOY)]
    # another order does the same runs (from the cache), highest ratio first, ties in the record's order
    reordered = [row for row, _ in S.rows(TOY, cache, progress=None, order=lambda p: -p.mask_ratio)]
    assert [(r["ratio"], r["unit"], r["kind"]) for r in reordered] == [
        (0.75, 4, "pretrained"), (0.75, 8, "pretrained"), (0.75, 4, "random init"), (0.25, 4, "pretrained")]
    assert sorted(map(str, reordered)) == sorted(map(str, first.rows))
    summary = S.summary(frame)
    assert set(summary["metric"]) >= {"probe", "ssim"} and (summary["n_seeds"] == 1).all()
    verdicts = S.decide(frame, "shapes", TOY.patch)
    assert {v["claim"] for v in verdicts} >= {"E1", "E4", "T6"}
    assert all(v["verdict"].startswith(("not decided", "not measured")) for v in verdicts)

    path = S.record(first, tmp_path / "sweep.json", command="pytest")
    rec = S.load_recorded(path)
    assert rec.stale == [] and rec.params == TOY and rec.frame().shape == frame.shape
    assert rec.partial() == ""
    part = S.SweepResult(TOY, first.rows[:2], 0, 0.0, 0.0)    # a recorder stopped half way
    assert S.load_recorded(S.record(part, tmp_path / "part.json", "pytest")).partial() == (
        "a partial record, 2 of the 4 runs of the full grid (shapes: seeds [0])")
    payload = json.loads(path.read_text())
    assert {"commit", "machine", "date", "command", "version"} <= set(payload)


def test_a_record_whose_definitions_changed_is_flagged_stale(tmp_path):
    payload = {"format": S.RECORD_FORMAT, "version": "0.0.1", "params": TOY.to_dict(),
               "pretraining_config": {"params": {"steps": 999}}, "suite": TOY.evaluation().to_dict(), "rows": []}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(payload))
    stale = S.load_recorded(path).stale
    assert any("pretraining configuration" in s for s in stale) and any("library version" in s for s in stale)
    payload["params"]["steps"] = -1
    path.write_text(json.dumps(payload))
    assert "no longer valid" in S.load_recorded(path).stale[0]


def test_trend_reads_a_series_in_order():
    assert S.trend([0.1, 0.2, 0.3]) == "rises" and S.trend([3, 2, 1]) == "falls"
    assert S.trend([1, 3, 2]) == "is not monotone" and S.trend([1, 1]) == "is not monotone"
    assert S.trend([5.0]) == "is not monotone"


def test_unit_series_text_reads_means_over_seeds_beside_the_paper():
    rows = [{"data": "shapes", "kind": "pretrained", "ratio": 0.75, "unit": 2 * k, "seed": s,
             "probe": p + 0.01 * s, "r2_global": g} for k, p, g in ((1, 0.40, 0.7), (2, 0.35, 0.8))
            for s in (0, 1)]
    rows += [{"data": "shapes", "kind": "pretrained", "ratio": 0.5, "unit": 2, "seed": 0, "probe": 0.9,
              "r2_global": 0.0},  # the ratio series: not read
             {"data": "shapes", "kind": "random init", "ratio": 0.75, "unit": 2, "seed": 0, "probe": 0.25,
              "r2_global": 0.1}]
    text = S.unit_series_text(pd.DataFrame(rows), "shapes", patch=2)
    assert "40.5 % at 1 patch, 35.5 % at 2 patches (the untrained encoder: 25.0 %)" in text
    assert "62.57 %, 68.96 %" in text and "it rises with the unit, ours falls" in text
    assert "global latents rises with the unit (0.700, 0.800)" in text and "region" not in text
    with_region = S.unit_series_text(pd.DataFrame(rows).assign(r2_region=0.1), "shapes", patch=2)
    assert with_region.endswith("That of the region latents (position, size, proportions) is not monotone "
                                "(0.100, 0.100).")


def test_latent_floor_text_names_the_levels_no_encoder_holds():
    rows = pd.DataFrame([{"data": "shapes", "kind": k, "r2_global": g, "r2_region": 0.2, "r2_local": loc}
                         for k, g, loc in (("pretrained", 0.8, -0.04), ("random init", 0.7, -0.016))])
    text = S.latent_floor_text(rows)
    assert text.startswith("No encoder here holds the local latents at all") and "(highest -0.016)" in text
    assert text.endswith("what the features hold is among the global latents and region latents (the evaluation "
                         "chapter lists each latent).")
    assert S.latent_floor_text(rows.assign(r2_local=[0.1, -0.2])) == ""       # one encoder holds some
    assert S.latent_floor_text(rows, "fashion_mnist") == ""                   # no such rows


def test_a_restarted_recorder_never_writes_over_a_record_holding_more(tmp_path):
    from mae_hlvm.experiments import recorded

    out = tmp_path / "sweep_cpu.json"
    row = dict(data="shapes", ratio=0.75, unit=4, kind="pretrained", probe=0.5)
    three = [{**row, "seed": s} for s in (0, 1, 2)]
    assert recorded.lost_rows(out, three[:1], S.ROW_KEY) == 0 and recorded.target(out, three[:1], S.ROW_KEY) == out
    S.record(S.SweepResult(S.SweepParams(seeds=(0, 1, 2)), three, 3, 1.0, 1.0), out, command="test")
    # a recorder started again from seed 0 holds one of the three rows: it writes beside the record
    assert recorded.lost_rows(out, three[:1], S.ROW_KEY) == 2
    partial = recorded.target(out, three[:1], S.ROW_KEY)
    assert partial == tmp_path / "sweep_cpu.partial.json"
    # rows that cover the record (more seeds, or the same rows with new values) replace it
    assert recorded.target(out, [*three, {**row, "seed": 3}], S.ROW_KEY) == out
    assert recorded.target(out, [{**r, "probe": 0.6} for r in three], S.ROW_KEY) == out
    # exactly the recorded rows (a restart recomputing them from the cache): nothing to write
    assert recorded.target(out, [dict(r) for r in three], S.ROW_KEY) is None


def test_save_progress_writes_where_target_says_and_drops_an_overtaken_partial(tmp_path):
    from mae_hlvm.experiments import recorded

    out, partial = tmp_path / "r.json", tmp_path / "r.partial.json"
    row = dict(data="shapes", ratio=0.75, unit=4, kind="pretrained", probe=0.5)
    three = [{**row, "seed": s} for s in (0, 1, 2)]
    written: list = []

    def write_to(rows):
        return lambda path: written.append(S.record(S.SweepResult(S.SweepParams(seeds=(0, 1, 2)), rows, 0, 0.0, 0.0),
                                                    path, command="test"))

    assert recorded.save_progress(out, three, S.ROW_KEY, write_to(three)) == f"3 rows written to {out}"
    assert recorded.save_progress(out, three[:1], S.ROW_KEY, write_to(three[:1])) == f"1 row written to {partial}"
    assert partial.is_file() and written == [out, partial]
    # the restarted recorder catches up: the same rows as the record, nothing written, the partial dropped
    assert recorded.save_progress(out, three, S.ROW_KEY, write_to(three)) == f"3 rows already in {out}, left as it is"
    assert not partial.exists() and len(written) == 2


def test_section36_record_diverts_a_smaller_rewrite(tmp_path, benchmark_script, monkeypatch):
    """section36_record.py, restarted beside a record of more seeds than it has done, writes beside it
    and leaves it as it was (its trainings replaced by stand-ins)."""
    from mae_hlvm.experiments import section36

    def fake_s36(params, **kwargs):
        rows = [dict(suggestion=g, arm=a, data="shapes", seed=s, ratio=0.75, probe=0.5)
                for g in params.suggestions for a in ("suggestion", "baseline") for s in params.seeds]
        return section36.Section36Result(params, rows, 0, 0.0)

    monkeypatch.setattr(section36, "run", fake_s36)
    script, argv = benchmark_script("section36_record"), ["--suggestions", "object"]
    out, partial = tmp_path / "s36.json", tmp_path / "s36.partial.json"
    section36.record(fake_s36(section36.Section36Params(suggestions=("object",), seeds=(0, 1, 2, 3))), out,
                     command="the longer recording")
    before = out.read_text()
    assert script.main([*argv, "--seeds", "0", "1", "--out", str(out)]) == 0
    assert out.read_text() == before  # the record of four seeds is kept
    assert sorted({r["seed"] for r in json.loads(partial.read_text())["rows"]}) == [0, 1]
    # run again over a record of exactly its rows, it leaves that record (and its provenance) alone
    partial.rename(out)
    before = out.read_text()
    partial.write_text("{}")
    assert script.main([*argv, "--seeds", "0", "1", "--out", str(out)]) == 0
    assert out.read_text() == before and not partial.exists()   # the partial is out of date
    # a recorder that catches up with a record writes it and leaves no partial beside it
    partial.write_text("{}")
    assert script.main([*argv, "--seeds", "0", "1", "2", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())["rows"]) > len(json.loads(before)["rows"])
    assert not partial.exists()


class FakeRows:
    """``sweep.rows`` with stand-in rows (no training): what it computed, and an optional point after
    which it stops as a killed recorder would."""

    def __init__(self, stop_after: int | None = None):
        self.computed: list[tuple] = []
        self.stop_after = stop_after

    def __call__(self, params, cache=None, device="cpu", progress=None, order=None, skip=()):
        todo = [(p, k) for p, k in S.runs(params) if S.row_key(p, k) not in set(skip)]
        for p, kind in sorted(todo, key=lambda pk: order(pk[0])) if order else todo:
            if self.stop_after is not None and len(self.computed) == self.stop_after:
                raise KeyboardInterrupt
            self.computed.append(S.row_key(p, kind))
            yield dict(zip(S.ROW_KEY, S.row_key(p, kind)), train_seconds=1.0, probe=0.5), True


def test_sweep_record_keeps_finished_rows_across_a_lost_cache(tmp_path, benchmark_script, monkeypatch):
    """A recorder killed mid-block keeps the block's finished rows in the pending file; started again
    (its run cache gone), it computes only what neither file holds, writes the record when the block
    is done, drops the pending file, and names where the carried-over rows were computed."""
    from mae_hlvm.experiments import recorded

    script = benchmark_script("sweep_record")
    out, pending = tmp_path / "sweep_cpu.json", tmp_path / "sweep_cpu.pending.json"
    argv = ["--datasets", "shapes", "--seeds", "0", "1", "--out", str(out)]
    block = len(S.runs(script.chapter_params("09_sweep", "paper").replace(datasets=("shapes",), seeds=(0,))))
    first = FakeRows(stop_after=block + 2)
    monkeypatch.setattr(S, "rows", first)
    with pytest.raises(KeyboardInterrupt):
        script.main(argv)
    rec, held = S.load_recorded(out), S.load_recorded(pending)
    assert {r["seed"] for r in rec.payload["rows"]} == {0} and len(rec.payload["rows"]) == block
    assert [S.row_key_of(r) for r in held.payload["rows"]] == first.computed[block:]
    assert "earlier" not in rec.payload   # every row its own
    # the earlier recording's provenance, as a later session would find it
    for path in (out, pending):
        payload = json.loads(path.read_text())
        path.write_text(json.dumps({**payload, "commit": "a" * 40, "date": "2026-11-28T00:00:00+00:00"}))
    second = FakeRows()
    monkeypatch.setattr(S, "rows", second)
    assert script.main(argv) == 0
    assert len(second.computed) == block - 2 and not set(second.computed) & set(first.computed)
    assert not pending.exists()
    rec = S.load_recorded(out)
    assert len(rec.frame()) == 2 * block and rec.partial() == "" and not rec.stale
    assert [S.row_key_of(r) for r in rec.payload["rows"]] == first.computed + second.computed
    (source,) = rec.payload["earlier"]
    assert source["commit"] == "a" * 40 and [tuple(k) for k in source["rows"]] == first.computed
    assert rec.provenance_text().endswith(f"; {block + 2} of its rows from an earlier recording "
                                          "(commit aaaaaaaa, 2026-11-28)")
    # a third start finds nothing to do and leaves the record as it is
    before, third = out.read_text(), FakeRows()
    monkeypatch.setattr(S, "rows", third)
    assert script.main(argv) == 0
    assert third.computed == [] and out.read_text() == before
    # asked for one seed, it keeps the record's others (nothing is dropped)
    assert script.main(["--datasets", "shapes", "--seeds", "0", "--out", str(out)]) == 0
    assert out.read_text() == before and recorded.lost_rows(out, [], S.ROW_KEY) == 2 * block


def test_sweep_record_refuses_to_mix_rows_of_other_settings(tmp_path, benchmark_script, monkeypatch, capsys):
    script = benchmark_script("sweep_record")
    out = tmp_path / "sweep_cpu.json"
    other = script.chapter_params("09_sweep", "paper").replace(ratios=(0.5, 0.75))
    S.record(S.SweepResult(other, [], 0, 0.0, 0.0), out, "pytest")
    monkeypatch.setattr(S, "rows", FakeRows(stop_after=0))       # would raise if anything trained
    assert script.main(["--out", str(out)]) == 2
    assert "error: the record " + str(out) + ": the record's settings differ from this sweep's beyond the " \
           "seeds and datasets (record vs now: {'ratios': ([0.5, 0.75], [0.1, 0.25, 0.5, 0.75, 0.9])})" \
           in capsys.readouterr().err


def test_sources_follow_rows_through_two_carry_overs():
    from mae_hlvm.experiments import recorded

    row = dict(data="shapes", ratio=0.75, unit=4, kind="pretrained")
    rows = [{**row, "seed": s} for s in (0, 1, 2)]
    keys = [S.row_key_of(r) for r in rows]
    first = {"commit": "c1", "machine": {}, "date": "d1", "command": "x", "rows": rows[:2]}
    # a second recording carried seed 0 and 1 over from the first and computed seed 2 itself
    second = {"commit": "c2", "machine": {}, "date": "d2", "command": "y", "rows": rows,
              "earlier": recorded.sources(first, keys[:2], S.ROW_KEY)}
    assert [s["commit"] for s in second["earlier"]] == ["c1"]
    got = recorded.sources(second, keys[1:], S.ROW_KEY)
    assert [(s["commit"], [tuple(k) for k in s["rows"]]) for s in got] == [("c1", [keys[1]]), ("c2", [keys[2]])]
    assert recorded.restrict(got, keys[2:]) == [got[1]]
    assert recorded.pending_path("a/sweep_cpu.json").name == "sweep_cpu.pending.json"


def test_latent_r2_averages_a_vector_latents_components():
    result = {"identifiability": {"rows": [{"latent": "object_color[0]", "r2_kernel": 0.8},
                                           {"latent": "object_color[1]", "r2_kernel": 0.6},
                                           {"latent": "noise_std", "r2_kernel": -0.01}]}}
    assert S.latent_r2(result) == pytest.approx({"r2:object_color": 0.7, "r2:noise_std": -0.01})
    assert S.latent_r2({}) == {} and "r2:noise_std" in S.metric_values(result)


def test_latent_heatmap_has_one_row_per_latent_and_one_column_per_point():
    from mae_hlvm.experiments import figures

    rows = [{"data": "shapes", "kind": k, "ratio": r, "unit": u, "seed": s, "r2:position": 0.5 + s * 0.1,
             "r2:noise_std": -0.01, "r2:object_color": 0.9}
            for k, r, u in (("pretrained", 0.25, 4), ("pretrained", 0.75, 4), ("pretrained", 0.75, 8),
                            ("random init", 0.75, 4)) for s in (0, 1)]
    fig = figures.latent_heatmap(pd.DataFrame(rows), "shapes", patch=4)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["r=0.25", "r=0.75", "u=2", "untrained"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "object_color (global)", "position (region)", "noise_std (local)"]
    assert "0.55" in {t.get_text() for t in ax.texts}                       # position: mean over seeds
    empty = figures.latent_heatmap(pd.DataFrame(rows).drop(columns=["r2:position", "r2:noise_std",
                                                                     "r2:object_color"]), "shapes", 4)
    assert "no per-latent R² here" in {t.get_text() for t in empty.axes[0].texts}


def test_sweep_panels_put_a_loss_on_a_log_axis_on_request():
    from mae_hlvm.experiments import figures

    rows = pd.DataFrame([{"data": "shapes", "kind": k, "ratio": r, "unit": 4, "seed": 0, "monitor_final": v}
                         for k, r, v in (("pretrained", 0.25, 0.02), ("pretrained", 0.75, 0.01),
                                         ("random init", 0.75, 1.3))])
    fig = figures.sweep_panels({"toy": rows}, ["monitor_final"], "shapes", 4, logy=["monitor_final"])
    assert fig.axes[0].get_yscale() == "log"
    assert figures.sweep_panels({"toy": rows}, ["monitor_final"], "shapes", 4).axes[0].get_yscale() == "linear"


def test_mask_match_text_says_where_each_reconstruction_score_is_best():
    rows = pd.DataFrame([{"data": "shapes", "kind": "pretrained", "unit": 4, "seed": 0, "ratio": r, "psnr": p,
                          "monitor_final": m} for r, p, m in ((0.25, 20.0, 0.008), (0.5, 21.0, 0.007),
                                                               (0.75, 23.0, 0.010))])
    text = S.mask_match_text(rows, "shapes", 4, recon_ratio=0.75)
    assert "PSNR on the mask of ratio 0.75 is highest for the model pretrained at 0.75" in text
    assert "loss on the mask of ratio 0.5 is lowest for the model pretrained at 0.5 (shapes, 1 seed)" in text
    assert text.endswith("compare masks as much as models.")
    off = S.mask_match_text(rows.assign(monitor_final=[0.005, 0.007, 0.010]), "shapes", 4, 0.75)
    assert "lowest for the model pretrained at 0.25" in off and off.endswith("1 seed).")
    assert S.mask_match_text(rows.drop(columns=["psnr", "monitor_final"]), "shapes", 4, 0.75) == ""
    # two datasets that read alike share one sentence; one that reads otherwise gets its own
    both = pd.concat([rows, rows.assign(data="fashion_mnist"), rows.assign(data="fashion_mnist", seed=1)])
    alike = S.mask_match_text(both, ["shapes", "fashion_mnist"], 4, 0.75)
    assert alike.count("Along the ratio series") == 1 and "(shapes, 1 seed; Fashion-MNIST, 2 seeds):" in alike
    apart = pd.concat([rows, rows.assign(data="fashion_mnist", monitor_final=[0.005, 0.007, 0.010])])
    two = S.mask_match_text(apart, ["shapes", "fashion_mnist"], 4, 0.75)
    assert two.count("Along the ratio series") == 2 and two.endswith("(Fashion-MNIST, 1 seed).")


def _fake_rows(seeds=(0, 1, 2), probe=lambda r, k: 0.5 + r / 10 + 0.001 * k):
    return [{"data": "shapes", "kind": "pretrained", "ratio": r, "unit": 4, "seed": k, "probe": probe(r, k)}
            for k in seeds for r in (0.25, 0.75)]


def test_shown_frames_put_a_current_record_after_this_execution_and_leave_a_stale_one_out(tmp_path):
    here = pd.DataFrame(_fake_rows(seeds=(0,)))
    assert list(S.shown_frames(here, "smoke", None)) == ["this execution (smoke)"]
    rec = S.load_recorded(S.record(S.SweepResult(TOY, _fake_rows(), 0, 0.0, 0.0), tmp_path / "r.json", "pytest"))
    assert rec.current and rec.provenance_text().startswith("the command pytest, ")
    frames = S.shown_frames(here, "smoke", rec)
    assert list(frames) == ["this execution (smoke)", "recorded (shapes: 3 seeds)"] and len(frames[
        "recorded (shapes: 3 seeds)"]) == 6
    rec.stale.append("a changed default")
    assert list(S.shown_frames(here, "smoke", rec)) == ["this execution (smoke)"]
    assert "is stale (a changed default): it is not shown" in S.status_text(rec, "x.json")
    assert S.status_text(None, "x.json").startswith("No recorded multi-seed sweep exists yet")
    rec.stale.clear()
    text = S.status_text(rec, "x.json")
    assert text.startswith("The recorded sweep (x.json: the full grid; the command pytest, ")


def test_last_frame_with_picks_the_newest_frame_that_has_the_column():
    old, new = pd.DataFrame({"probe": [0.5]}), pd.DataFrame({"probe": [0.6], "r2:position": [0.4]})
    frames = {"a": new, "b": old}
    assert S.last_frame_with(frames, "probe")[0] == "b"
    assert S.last_frame_with(frames, lambda c: c.startswith(S.LATENT_PREFIX))[0] == "a"
    assert S.last_frame_with(frames, "monitor_final") is None


def test_probe_gap_text_reads_rule_t6():
    rows = pd.DataFrame(_fake_rows())
    text = S.probe_gap_text(rows, "shapes", TOY.patch, "the record")
    assert text.startswith("In the record, the probe at ratio 0.75 differs from the probe at ratio 0.25 by +5.0 points "
                           "over 3 seeds (")
    assert S.probe_gap_text(rows[rows["ratio"] == 0.25], "shapes", TOY.patch, "x").startswith("Neither")


def test_chance_verdicts_are_the_sign_tests_rates_over_a_rules_comparisons():
    one = S.chance_verdicts(1)
    assert one == {"contradicted": 0.125, "supported": 0.125}
    seven = S.chance_verdicts(7)
    assert seven["contradicted"] == pytest.approx(1 - (7 / 8) ** 7) and seven["contradicted"] > 0.6
    assert seven["supported"] == pytest.approx(8.0 ** -7)
    # the per-comparison rate is the three-seed sign test: all differences on one side
    rng = np.random.default_rng(0)
    holds = np.mean([S.paired_outcome(rng.normal(size=3))["outcome"] == "holds" for _ in range(4000)])
    assert abs(holds - 0.125) < 0.02
    with pytest.raises(ValueError, match="n_comparisons = 0"):
        S.chance_verdicts(0)


def test_ledger_verdicts_need_both_datasets_at_three_seeds(tmp_path):
    params = S.SweepParams(datasets=S.DATASETS, ratios=(0.1, 0.5, 0.75, 0.9), unit_patches=(1,), seeds=(0, 1, 2),
                           steps=2, warmup_steps=1, n_images=32, batch_size=16, suite="smoke")
    peak = {0.1: 0.3, 0.5: 0.35, 0.75: 0.4, 0.9: 0.32}
    rows = [{"data": d, "kind": "pretrained", "ratio": r, "unit": params.patch, "seed": k, "probe": p + 0.01 * k}
            for d in S.DATASETS for k in params.seeds for r, p in peak.items()]

    def verdicts(rows_, p=params):
        return S.ledger_verdicts(S.load_recorded(S.record(S.SweepResult(p, rows_, 0, 0.0, 0.0),
                                                          tmp_path / "r.json", "pytest")))

    got = verdicts(rows)
    assert set(got) == set(S.LEDGER_ROWS)
    assert got["E4"] == "shapes: supported; Fashion-MNIST: supported"
    assert got["E8"] == "shapes: not measured; Fashion-MNIST: not measured"  # no shape bias in these rows
    assert verdicts([r for r in rows if r["seed"] < 2])["E4"] is None          # two seeds: open
    assert verdicts([r for r in rows if r["data"] == "shapes"])["E4"] is None  # one dataset: open
    assert S.ledger_verdicts(None) == {row: None for row in S.LEDGER_ROWS}


def test_record_labels_name_datasets_as_the_book_writes_them(tmp_path):
    params = S.SweepParams(datasets=S.DATASETS, ratios=(0.75,), unit_patches=(1,), seeds=(0,), steps=2,
                           warmup_steps=1, n_images=32, batch_size=16, suite="smoke")
    rows = [{"data": d, "kind": "pretrained", "ratio": 0.75, "unit": params.patch, "seed": 0, "probe": 0.5}
            for d in S.DATASETS]
    rec = S.load_recorded(S.record(S.SweepResult(params, rows, 0, 0.0, 0.0), tmp_path / "r.json", "pytest"))
    assert "(Fashion-MNIST: seeds [0]; shapes: seeds [0])" in rec.partial()
    assert list(S.shown_frames(pd.DataFrame(rows), "x", rec))[1] == "recorded (Fashion-MNIST: 1 seed, shapes: 1 seed)"


def test_geometry_counts_units_and_the_effective_ratio_by_hand():
    """32 px images, 4 px patches: a unit of one patch gives 8 units a side (64), of two patches 4 (16);
    the trainer keeps int(n (1 - r)) units, so 0.9 keeps 6 of 64 and hides 58/64 = 0.90625."""
    g = S.geometry(S.SweepParams(ratios=(0.75, 0.9), unit_patches=(1, 2), seeds=(0,)))
    assert g.loc[(0.9, 4)].to_dict() == {"unit (patches)": 1, "units a side": 8, "kept units": 6,
                                         "effective ratio": 58 / 64}
    assert g.loc[(0.75, 4), "kept units"] == 16 and g.loc[(0.75, 8), "units a side"] == 4
    assert g.loc[(0.75, 8), "kept units"] == 4 and g.loc[(0.75, 8), "effective ratio"] == 0.75


def test_point_table_shows_mean_and_t_interval_half_width():
    rows = [dict(data="shapes", kind="pretrained", ratio=0.75, unit=8, seed=s, probe=v) for s, v in ((0, 0.30), (1, 0.34))]
    rows += [dict(data="shapes", kind="random init", ratio=0.75, unit=4, seed=0, probe=0.2),
             dict(data="fashion_mnist", kind="pretrained", ratio=0.75, unit=4, seed=0, probe=0.9)]
    table = S.point_table(pd.DataFrame(rows), "shapes", 4, ["probe"], scale=100)
    # two seeds: half-width t(0.975, 1) * sd / sqrt(2) = 12.706 * 2.828 / 1.414 = 25.4 points
    assert table.to_dict() == {"linear probe top-1": {"r = 0.75, unit 2 patches": "32 ± 25", "random init": "20"}}


def test_keepable_takes_a_records_rows_and_seeds_and_refuses_a_stale_one(tmp_path):
    params = S.SweepParams(ratios=(0.75,), unit_patches=(1,), seeds=(0,))
    rows = [dict(zip(S.ROW_KEY, S.row_key(p, kind)), train_seconds=1.0) for p, kind in S.runs(params)]
    path = S.record(S.SweepResult(params.replace(seeds=(3,)), [{**r, "seed": 3} for r in rows], 0, 0.0, 0.0),
                    tmp_path / "r.json", "the first")
    both, kept, where = S.keepable(path, params, "--extend")
    assert both.seeds == (0, 3) and len(kept) == len(rows) and [s["command"] for s in where] == ["the first"]
    assert S.keepable(tmp_path / "none.json", params, "--extend") == (params, [], [])
    # datasets join the union only where asked
    with pytest.raises(ValueError, match=r"beyond the seeds \(record vs now: \{'datasets'"):
        S.keepable(path, params.replace(datasets=("fashion_mnist",)), "--extend")
    assert S.keepable(path, params.replace(datasets=("fashion_mnist",)), "x", ignore=("seeds", "datasets")
                      )[0].datasets == ("fashion_mnist", "shapes")
    payload = json.loads(path.read_text())
    path.write_text(json.dumps({**payload, "version": "0.0.1"}))
    with pytest.raises(ValueError, match=r"--extend .*r.json: the record is stale \(it was computed by library "
                                         r"version 0.0.1, .*\); its rows cannot be kept beside new ones"):
        S.keepable(path, params, "--extend")
