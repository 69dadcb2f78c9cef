"""benchmarks/record_status.py: the recorded runs' progress, read from the run cache."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("record_status", ROOT / "benchmarks" / "record_status.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_an_empty_cache_has_every_run_left(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path))
    assert _script().main() == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| S") or line.startswith("| sw")]
    assert [r[0].strip() for r in rows] == ["Section 3.6", "sweep (after Section 3.6)"]
    # nothing complete or started; no measured step, so every run is counted apart, not guessed
    assert all(r[2].strip() == "0" and r[3].strip() == "0" for r in rows)
    n_runs = sum(int(r[1]) for r in rows)
    assert f"plus {n_runs} run(s) at a ratio with no measured step" in out


def test_cost_keys_go_from_specific_to_general():
    p = {"mask_ratio": 0.1, "model": "mae_tiny", "batch_size": 128, "img_size": 32, "data": "shapes"}
    specific, general = _script().cost_keys(p)
    assert specific == (0.1, "mae_tiny", 128, 32, "shapes", "random") and general == specific[:4]
