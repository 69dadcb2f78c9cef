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
    from mae_hlvm.experiments import recorded, section36, sweep

    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path))
    folder = find_root() / "book" / "recorded"
    script = benchmark_script("record_status")
    assert script.main(["--records", str(folder)]) == 0
    rows = table(capsys.readouterr().out)
    s36 = section36.load_recorded(folder / "section36_cpu.json")
    assert s36.current and rows[0][2] == rows[0][1]             # the whole Section 3.6 record
    pretrained = [r for path in (folder / "sweep_cpu.json", recorded.pending_path(folder / "sweep_cpu.json"))
                  if path.is_file() for r in sweep.load_recorded(path).payload["rows"] if r["kind"] == "pretrained"]
    keys = script.recorded_keys(folder)
    assert len(keys["sweep"]) == len(pretrained) and len(keys["section36"]) == int(rows[0][1])
    assert (int(rows[0][2]), int(rows[1][2])) == (len(keys["section36"]), len(keys["sweep"]))


def test_a_shared_run_one_record_holds_is_left_for_the_other(tmp_path, monkeypatch, capsys, benchmark_script):
    """Section 3.6's baselines are sweep points: with the cache gone, the Section 3.6 record holding
    such a run's row does not make it recorded for the sweep, whose record lacks that row: the sweep
    must train it again."""
    import shutil

    from mae_hlvm.book import chapter_params, find_root
    from mae_hlvm.experiments.cache import config_key
    from mae_hlvm.experiments.pretraining import KIND

    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "records"
    folder.mkdir()
    shutil.copy(find_root() / "book" / "recorded" / "section36_cpu.json", folder)
    script = benchmark_script("record_status")
    assert script.main(["--records", str(folder)]) == 0
    rows = table(capsys.readouterr().out)
    sweep_runs = {config_key(KIND, p.cache_config()) for p in chapter_params("09_sweep", "paper").points()}
    shared = sweep_runs & script.recorded_keys(folder)["section36"]
    assert shared, "no sweep point is a Section 3.6 run any more: this test has nothing to check"
    assert rows[1][1:3] == [str(len(sweep_runs)), "0"]  # every sweep run, the shared ones included, is left
