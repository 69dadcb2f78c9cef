"""benchmarks/record_recheck.py: a recorded row computed again and compared, metric by metric."""
from __future__ import annotations

import math

import pytest

from mae_hlvm.experiments import sweep as S


def test_gap_reads_equal_missing_and_nan_values(benchmark_script):
    gap = benchmark_script("record_recheck").gap
    assert gap(0.25, 0.5) == 0.25 and gap(None, None) == 0.0 and gap(math.nan, math.nan) == 0.0
    assert gap(0.1, None) == math.inf and gap("a", "b") == math.inf and gap(3, 3.0) == 0.0
    # a loss curve: JSON's lists against Python's tuples, item by item; curves of other lengths differ
    assert gap([[50, 0.25], [100, 0.125]], [(50, 0.25), (100, 0.0)]) == 0.125
    assert gap([[50, 0.25]], [(50, 0.25), (100, 0.0)]) == math.inf


def test_differences_leave_out_the_key_and_the_timings(benchmark_script):
    script = benchmark_script("record_recheck")
    held = dict(data="shapes", seed=0, ratio=0.75, unit=4, kind="pretrained", train_seconds=9.0, probe=0.5, ssim=0.25)
    now = {**held, "train_seconds": 1.0, "probe": 0.625}
    assert script.differences(held, now) == [("probe", 0.5, 0.625, 0.125), ("ssim", 0.25, 0.25, 0.0)]


def test_seed_spread_compares_the_same_point_at_the_other_seeds(benchmark_script):
    spread = benchmark_script("record_recheck").seed_spread
    row = dict(data="shapes", ratio=0.75, unit=4, kind="pretrained")
    rows = [{**row, "seed": 0, "probe": 0.5}, {**row, "seed": 1, "probe": 0.75}, {**row, "seed": 2, "probe": 0.25},
            {**row, "seed": 1, "unit": 8, "probe": 0.0}]
    assert spread(rows, rows[0], "probe") == pytest.approx(0.25)
    assert spread(rows[:1], rows[0], "probe") is None


def test_a_row_computed_again_is_compared_and_a_difference_fails(tmp_path, benchmark_script, monkeypatch, capsys):
    """The comparison, with the computation replaced by a stand-in that changes one metric."""
    script = benchmark_script("record_recheck")
    params = S.SweepParams(ratios=(0.75,), unit_patches=(1,), seeds=(0, 1))
    rows = [dict(zip(S.ROW_KEY, S.row_key(p, kind)), train_seconds=1.0, probe=0.5 + 0.125 * p.seed)
            for p, kind in S.runs(params)]
    out = S.record(S.SweepResult(params, rows, 0, 0.0, 0.0), tmp_path / "r.json", "pytest")
    shift = {"probe": 0.0}

    def again(p, kind, suite, cache, device="cpu"):
        row = next(r for r in rows if S.row_key_of(r) == S.row_key(p, kind))
        return {**row, "train_seconds": 99.0, "probe": row["probe"] + shift["probe"]}, True

    monkeypatch.setattr(S, "point_row", again)
    assert script.main(["--record", str(out)]) == 0                     # the same values: exit 0
    report = capsys.readouterr().out
    assert "### ('shapes', 0, 0.75, 4, 'random init')" in report and "| probe | 0.5 | 0.5 | 0 | 0.125 |" in report
    shift["probe"] = 0.01
    assert script.main(["--record", str(out), "--row", "shapes", "1", "0.75", "4", "pretrained",
                        "--out", str(tmp_path / "report.md")]) == 1     # a difference beyond --tol: exit 1
    assert "| probe | 0.625 | 0.635 | 0.01 | 0.125 |" in (tmp_path / "report.md").read_text()
    assert script.main(["--record", str(out), "--row", "shapes", "5", "0.75", "4", "pretrained"]) == 2
    assert "row ('shapes', 5, 0.75, 4, 'pretrained'): the record holds no such row" in capsys.readouterr().err
