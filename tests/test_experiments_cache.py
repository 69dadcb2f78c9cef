"""The run cache: keys, atomic records, lookup, resume state, results, listing and pruning."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mae_hlvm.experiments import cache as C

ROOT = Path(__file__).resolve().parents[1]


def test_key_depends_on_kind_config_and_version():
    k = C.config_key("a", {"x": 1, "y": [1, 2]})
    assert k == C.config_key("a", {"y": [1, 2], "x": 1})          # order-free
    assert k != C.config_key("b", {"x": 1, "y": [1, 2]})
    assert k != C.config_key("a", {"x": 2, "y": [1, 2]})
    assert k != C.config_key("a", {"x": 1, "y": [1, 2]}, version="9.9")
    assert len(k) == C.KEY_CHARS


def test_begin_finish_lookup(tmp_path):
    cache = C.RunCache(tmp_path)
    cfg = {"x": 1}
    assert cache.lookup("train", cfg) is None
    run = cache.begin("train", cfg)
    assert not cache.lookup("train", cfg).complete
    again = cache.begin("train", cfg)           # an interrupted run is resumed in the same folder
    assert again.folder == run.folder and again.record["resumed"]
    done = cache.finish(run, loss=0.5)
    found = cache.lookup("train", cfg)
    assert found.complete and found.record["loss"] == 0.5 and found.record["finished"]["commit"]
    assert {"host", "cpu_cores", "cpu_model", "cpu_capability"} <= set(found.record["finished"]["machine"])
    with pytest.raises(C.CacheError, match="complete already"):
        cache.begin("train", cfg)
    assert cache.lookup("train", {"x": 2}) is None
    assert done.folder != cache.folder("train", {"x": 2})


def test_a_record_of_another_configuration_is_refused(tmp_path):
    cache = C.RunCache(tmp_path)
    run = cache.begin("train", {"x": 1})
    rec = json.loads((run.folder / C.RUN_FILE).read_text())
    rec["config"] = {"x": 5}
    (run.folder / C.RUN_FILE).write_text(json.dumps(rec))
    with pytest.raises(C.CacheError, match="another configuration"):
        cache.lookup("train", {"x": 1})


def test_unreadable_record_names_the_file(tmp_path):
    cache = C.RunCache(tmp_path)
    run = cache.begin("train", {"x": 1})
    (run.folder / C.RUN_FILE).write_text("{not json")
    with pytest.raises(C.CacheError, match="run.json"):
        cache.lookup("train", {"x": 1})


def test_results_are_keyed_by_their_configuration(tmp_path):
    cache = C.RunCache(tmp_path)
    run = cache.begin("train", {"x": 1})
    assert cache.load_result(run, "eval", {"n": 1}) is None
    cache.save_result(run, "eval", {"n": 1}, {"acc": 0.9})
    assert cache.load_result(run, "eval", {"n": 1}) == {"acc": 0.9}
    assert cache.load_result(run.folder, "eval", {"n": 2}) is None


def test_write_json_leaves_no_temporary_files(tmp_path):
    C.write_json(tmp_path / "a.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_write_json_gives_the_permissions_of_open(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        C.write_json(tmp_path / "a.json", {"a": 1})
        with open(tmp_path / "b.json", "w"):
            pass
    finally:
        os.umask(old)
    mode = {n: stat.S_IMODE((tmp_path / n).stat().st_mode) for n in ("a.json", "b.json")}
    assert mode["a.json"] == mode["b.json"] == 0o644      # not mkstemp's 0600


def test_kind_must_name_a_folder(tmp_path):
    with pytest.raises(ValueError, match="identifier"):
        C.RunCache(tmp_path).folder("../x", {})


def _dead_pid() -> int:
    """A pid no process can hold: above the kernel's largest (a finished child's pid could be reused)."""
    pid_max = Path("/proc/sys/kernel/pid_max")
    return (int(pid_max.read_text()) if pid_max.exists() else 2**22) + 1


def _interrupt(cache: C.RunCache, run: C.CachedRun) -> None:
    """Make ``run`` look begun by a process that has since ended."""
    C.write_json(run.folder / C.RUN_FILE, {**run.record, "pid": _dead_pid()})


def test_prune_and_cli(tmp_path, capsys):
    cache = C.RunCache(tmp_path)
    cache.finish(cache.begin("train", {"x": 1}))
    _interrupt(cache, cache.begin("train", {"x": 2}))              # interrupted
    with pytest.raises(ValueError, match="needs a filter"):
        cache.prune()
    assert C.main(["--root", str(tmp_path), "list"]) == 0
    out = capsys.readouterr().out
    assert out.count("train") == 2 and "running" in out and "complete" in out
    assert C.main(["--root", str(tmp_path), "prune", "--incomplete", "--dry-run"]) == 0
    assert len(cache.runs()) == 2
    assert C.main(["--root", str(tmp_path), "prune", "--incomplete"]) == 0
    assert [r.complete for r in cache.runs()] == [True]
    assert C.main(["--root", str(tmp_path), "prune", "--older-than", "-1"]) == 1
    assert "days must be >= 0" in capsys.readouterr().err


def test_default_root_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MAE_HLVM_CACHE", str(tmp_path / "c"))
    assert C.RunCache().root == tmp_path / "c"


def test_the_next_write_removes_temp_files_of_killed_writes(tmp_path):
    orphan = tmp_path / "run.json.999999999.x1y2z3.tmp"  # the process that wrote it is gone
    orphan.write_text('{"half": ')
    C.write_json(tmp_path / "run.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_git_commit_names_the_repository_head_or_the_environments(monkeypatch):
    monkeypatch.delenv("MAE_HLVM_COMMIT", raising=False)
    head = C.git_commit()
    if (ROOT / ".git").exists():  # a checkout names its HEAD (dirty or not); a bare copy says unknown
        assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", head), head
    else:
        assert head == "unknown"
    # a copy of the tree without .git (the GPU machine's) names the commit it was copied from
    monkeypatch.setenv("MAE_HLVM_COMMIT", "0123abc")
    assert C.git_commit() == "0123abc" and C.provenance()["commit"] == "0123abc"


def test_a_long_process_names_the_commit_it_started_with(monkeypatch):
    monkeypatch.delenv("MAE_HLVM_COMMIT", raising=False)
    C.commit_of_this_process.cache_clear()
    try:
        monkeypatch.setattr(C, "git_commit", lambda: "a" * 40)
        assert C.commit_of_this_process() == "a" * 40
        monkeypatch.setattr(C, "git_commit", lambda: "b" * 40)  # a commit made while the recorder ran
        assert C.provenance()["commit"] == "a" * 40
    finally:
        C.commit_of_this_process.cache_clear()


def test_a_rewritten_record_does_not_make_the_code_dirty(tmp_path, monkeypatch):
    import subprocess

    monkeypatch.delenv("MAE_HLVM_COMMIT", raising=False)
    repo = tmp_path / "repo"
    (repo / C.RECORDS_DIR).mkdir(parents=True)
    (repo / "src").mkdir()
    (repo / C.RECORDS_DIR / "r.json").write_text("{}")
    (repo / "src" / "code.py").write_text("x = 1\n")

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    head = C.git_commit(repo / "src")
    assert len(head) == 40
    (repo / C.RECORDS_DIR / "r.json").write_text('{"rows": []}')  # a recorder wrote its record
    assert C.git_commit(repo / "src") == head
    (repo / "src" / "code.py").write_text("x = 2\n")  # code changed: dirty
    assert C.git_commit(repo / "src") == head + "+dirty"


def test_prune_leaves_a_run_that_may_still_be_computing(tmp_path, capsys):
    import os
    import time

    cache = C.RunCache(tmp_path)
    mine = cache.begin("train", {"x": 1})                          # begun by this (live) process
    assert mine.record["pid"] == os.getpid() and mine.live()
    assert cache.prune(incomplete=True) == [] and mine.folder.is_dir()
    assert C.main(["--root", str(tmp_path), "prune", "--incomplete"]) == 0
    assert "deleted 0 run(s)" in (out := capsys.readouterr().out) and "left train" in out
    # a record without a pid (an older version's): live while its files keep changing
    old = cache.begin("train", {"x": 2})
    record = {k: v for k, v in old.record.items() if k != "pid"}
    C.write_json(old.folder / C.RUN_FILE, record)
    assert C.CachedRun(old.folder, record).live()
    past = time.time() - 60 * (C.LIVE_QUIET_MINUTES + 1)
    for path in old.folder.rglob("*"):
        os.utime(path, (past, past))
    assert not C.CachedRun(old.folder, record).live()
    assert [r.key for r in cache.prune(incomplete=True)] == [old.key]
    _interrupt(cache, mine)
    assert not cache.runs()[0].live() and len(cache.prune(incomplete=True)) == 1
    assert not cache.finish(cache.begin("train", {"x": 3})).live()  # complete: never live
