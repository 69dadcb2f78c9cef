"""The prepared GPU script runs end to end on the CPU in its dry mode, so it cannot rot unnoticed."""
from __future__ import annotations

import json


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
