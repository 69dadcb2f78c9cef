"""The prepared GPU script runs end to end on the CPU in its dry mode, so it cannot rot unnoticed."""
from __future__ import annotations

import json

import pytest


def test_gpu_check_dry_run_writes_its_report(tmp_path, benchmark_script):
    gpu_check = benchmark_script("gpu_check")
    assert gpu_check.main(["--dry", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["loss"]["finite"]  # 6 dry steps need not make the loss fall
    assert report["throughput"]["rows"] and report["sweep"]["points"] == 4
    assert (tmp_path / "sweep_gpu.json").is_file() and (tmp_path / "gpu_check.md").is_file()


def test_nominal_peaks_know_the_lent_cards(benchmark_script):
    gpu_check = benchmark_script("gpu_check")
    assert gpu_check.nominal_peak("NVIDIA H100 80GB HBM3") == 989.4e12
    assert gpu_check.nominal_peak("NVIDIA H200") == 989.4e12
    assert gpu_check.nominal_peak("Some CPU") is None


def test_dry_record_holds_the_whole_grid_in_grid_order(tmp_path, benchmark_script):
    from mae_hlvm.experiments import sweep

    gpu_check = benchmark_script("gpu_check")
    assert gpu_check.main(["--dry", "--out", str(tmp_path), "--skip", "throughput", "loss"]) == 0
    rec = sweep.load_recorded(tmp_path / "sweep_gpu.json")
    assert rec.partial() == "" and not rec.stale
    frame = rec.frame()
    params = gpu_check.sweep_params(dry=True)
    # the unit series trains first, but the record lists the points as the sweep defines them
    assert list(zip(frame.ratio, frame.unit))[:-1] == params.grid()
    assert list(frame.kind) == ["pretrained"] * len(params.grid()) + ["random init"]


def test_a_spent_deadline_stops_between_points_and_records_what_finished(tmp_path, benchmark_script):
    from mae_hlvm.experiments import sweep

    gpu_check = benchmark_script("gpu_check")
    assert gpu_check.main(["--dry", "--out", str(tmp_path), "--skip", "throughput", "loss",
                           "--deadline-s", "0"]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["sweep"]["points"] == 1 and "stopped before the deadline" in report["sweep"]["stopped"]
    rec = sweep.load_recorded(tmp_path / "sweep_gpu.json")
    assert len(rec.frame()) == 1 and rec.partial().startswith("a partial record, 1 of the 4 runs")
    # the first point trained is the unit series' (ratio 0.75, one patch), the CPU's unaffordable part first
    assert (rec.frame().ratio[0], rec.frame().unit[0]) == (0.75, gpu_check.sweep_params(dry=True).patch)


def test_a_failing_step_is_reported_and_the_others_still_run(tmp_path, benchmark_script, monkeypatch):
    gpu_check = benchmark_script("gpu_check")

    def broken(*args, **kwargs):
        raise RuntimeError("planted")

    monkeypatch.setattr(gpu_check, "loss_check", broken)
    assert gpu_check.main(["--dry", "--out", str(tmp_path), "--skip", "throughput"]) == 1
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["failed"] == {"loss": "RuntimeError: planted"} and report["sweep"]["points"] == 4
    assert "FAILED loss: RuntimeError: planted" in (tmp_path / "gpu_check.md").read_text()


def test_the_gpu_profile_keeps_the_papers_three_units(benchmark_script):
    p = benchmark_script("gpu_check").sweep_params(dry=False)
    side = p.base().img_size // p.patch
    assert side == 16 and [side // k for k in p.unit_patches] == [16, 8, 4]
    assert p.ratios == (0.1, 0.25, 0.5, 0.75, 0.9) and p.datasets == ("shapes",)


def test_a_later_lease_extends_the_record_with_new_seeds_only(tmp_path, benchmark_script):
    from mae_hlvm.experiments import sweep

    gpu_check = benchmark_script("gpu_check")
    first, second = tmp_path / "first", tmp_path / "second"
    assert gpu_check.main(["--dry", "--out", str(first), "--skip", "throughput", "loss"]) == 0
    assert gpu_check.main(["--dry", "--out", str(second), "--skip", "throughput", "loss", "--seeds", "1",
                           "--extend", str(first / "sweep_gpu.json")]) == 0
    report = json.loads((second / "gpu_check.json").read_text())["sweep"]
    assert (report["points"], report["new"]) == (8, 4)       # seed 0's four rows kept, not run again
    rec = sweep.load_recorded(second / "sweep_gpu.json")
    assert rec.params.seeds == (0, 1) and rec.partial() == "" and not rec.stale
    old = sweep.load_recorded(first / "sweep_gpu.json").payload["rows"]
    assert [r for r in rec.payload["rows"] if r["seed"] == 0] == old
    # the kept rows name the lease that computed them; the record's own provenance, the new ones
    (first_lease,) = rec.payload["earlier"]
    assert first_lease["command"] == sweep.load_recorded(first / "sweep_gpu.json").payload["command"]
    assert [tuple(k) for k in first_lease["rows"]] == [sweep.row_key_of(r) for r in old]


def test_extending_a_record_of_other_settings_is_refused(tmp_path, benchmark_script):
    from mae_hlvm.experiments import sweep

    gpu_check = benchmark_script("gpu_check")
    other = gpu_check.sweep_params(dry=True).replace(ratios=(0.5, 0.75))
    path = sweep.record(sweep.SweepResult(other, [], 0, 0.0, 0.0), tmp_path / "other.json", "pytest")
    with pytest.raises(ValueError, match=r"differ from this sweep's beyond the seeds .*'ratios'"):
        gpu_check.extended(gpu_check.sweep_params(dry=True), path)
    assert gpu_check.main(["--dry", "--out", str(tmp_path / "x"), "--skip", "throughput", "loss",
                           "--extend", str(path)]) == 2
    assert not (tmp_path / "x").exists()                      # refused before anything ran
