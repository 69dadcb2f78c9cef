"""benchmarks/record_status.py: the recorded runs' progress, read from the run cache."""
from __future__ import annotations


def table(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines()
            if line.startswith("| S") or line.startswith("| sw")]


def test_an_empty_cache_and_no_record_have_every_run_left(tmp_path, monkeypatch, capsys, benchmark_script):
    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path))
    assert benchmark_script("record_status").main(["--records", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    rows = table(out)
    assert [r[0] for r in rows] == ["Section 3.6", "sweep (after Section 3.6)"]
    # nothing recorded, complete or started; no measured step, so every run is counted apart, not guessed
    assert all(r[2] == r[3] == r[4] == "0" for r in rows)
    n_runs = sum(int(r[1]) for r in rows)
    assert f"plus {n_runs} run(s) at a ratio with no measured step" in out


def test_runs_the_records_hold_count_as_recorded_not_left(tmp_path, monkeypatch, capsys, benchmark_script):
    """The book's own records: with the cache gone, what they hold is not counted as left."""
    from mae_hlvm.book import find_root
    from mae_hlvm.experiments import section36, sweep

    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path))
    folder = find_root() / "book" / "recorded"
    script = benchmark_script("record_status")
    assert script.main(["--records", str(folder)]) == 0
    rows = table(capsys.readouterr().out)
    s36 = section36.load_recorded(folder / "section36_cpu.json")
    assert s36.current and rows[0][2] == rows[0][1]             # the whole Section 3.6 record
    sw = sweep.load_recorded(folder / "sweep_cpu.json")
    pretrained = [r for r in sw.payload["rows"] if r["kind"] == "pretrained"]
    keys = script.recorded_keys(folder)
    assert len(keys) >= max(len(pretrained), int(rows[0][1]))    # every recorded training, each once
    assert int(rows[0][2]) + int(rows[1][2]) == len(keys)       # a run both profiles share counts once
