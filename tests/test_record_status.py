"""benchmarks/record_status.py: the recorded runs' progress, read from the run cache."""
from __future__ import annotations


def test_an_empty_cache_has_every_run_left(tmp_path, monkeypatch, capsys, benchmark_script):
    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path))
    assert benchmark_script("record_status").main() == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| S") or line.startswith("| sw")]
    assert [r[0].strip() for r in rows] == ["Section 3.6", "sweep (after Section 3.6)"]
    # nothing complete or started; no measured step, so every run is counted apart, not guessed
    assert all(r[2].strip() == "0" and r[3].strip() == "0" for r in rows)
    n_runs = sum(int(r[1]) for r in rows)
    assert f"plus {n_runs} run(s) at a ratio with no measured step" in out


def test_cost_keys_go_from_specific_to_general(benchmark_script):
    p = {"mask_ratio": 0.1, "model": "mae_tiny", "batch_size": 128, "img_size": 32, "data": "shapes"}
    specific, general = benchmark_script("record_status").cost_keys(p)
    assert specific == (0.1, "mae_tiny", 128, 32, "shapes", "random") and general == specific[:4]
