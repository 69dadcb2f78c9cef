"""The chapter runner: refusals with useful messages, failure reporting, parameter injection."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from mae_hlvm import book


def _make_root(tmp_path: Path, source: str, params: dict | None = None) -> Path:
    (tmp_path / "notebooks" / "profiles").mkdir(parents=True)
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/executed/toy"}]}))
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Toy\n\nReproduces: nothing."),
        nbformat.v4.new_code_cell('profile = "default"\nx = 1', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(source),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "notebooks" / "toy.ipynb")
    sets = {p: (params or {}) for p in book.PROFILES}
    (tmp_path / "notebooks" / "profiles" / "toy.yaml").write_text(yaml.safe_dump(sets))
    return tmp_path


def test_chapters_follow_the_toc(root: Path):
    names = book.chapters(root)
    assert names and names[0] == "01_setup"


def test_unknown_profile_is_refused_with_the_valid_ones(root: Path):
    with pytest.raises(book.BookError, match="unknown profile 'huge'.*smoke, default, paper"):
        book.run_book(root, "huge")


def test_unknown_notebook_is_refused_with_the_valid_ones(root: Path):
    with pytest.raises(book.BookError, match="unknown notebook 'nope'.*01_setup"):
        book.run_book(root, "smoke", only=["nope"])


def test_unknown_parameter_in_profile_is_refused(tmp_path: Path):
    r = _make_root(tmp_path, "y = x + 1", params={"z": 3})
    with pytest.raises(book.BookError, match="unknown parameter.*z.*valid parameters: profile, x"):
        book.profile_parameters(r, "toy", "smoke")


def test_missing_profile_key_is_refused(tmp_path: Path):
    r = _make_root(tmp_path, "y = 1")
    (r / "notebooks" / "profiles" / "toy.yaml").write_text(yaml.safe_dump({"smoke": {}}))
    with pytest.raises(book.BookError, match="lacks profile.*default, paper"):
        book.profile_parameters(r, "toy", "smoke")


def test_toc_entry_without_notebook_is_refused(tmp_path: Path):
    r = _make_root(tmp_path, "y = 1")
    (r / "notebooks" / "toy.ipynb").unlink()
    with pytest.raises(book.BookError, match="notebooks/toy.ipynb does not exist"):
        book.chapters(r)


def test_run_injects_parameters_and_profile(tmp_path: Path):
    r = _make_root(tmp_path, "assert x == 5 and profile == 'smoke'", params={"x": 5})
    runs = book.run_book(r, "smoke")
    assert runs[0].parameters == {"x": 5, "profile": "smoke"}
    assert (r / "book" / "executed" / "toy.ipynb").is_file()


def test_failing_chapter_names_notebook_and_error_and_keeps_copy(tmp_path: Path):
    r = _make_root(tmp_path, "raise ValueError('boom 42')")
    with pytest.raises(book.BookError, match=r"chapter 'toy' \(smoke\) failed in cell .*ValueError: boom 42") as err:
        book.run_book(r, "smoke")
    kept = r / "book" / "executed" / "toy.failed.ipynb"
    assert kept.is_file() and str(kept) in str(err.value)
    assert not (r / "book" / "executed" / "toy.ipynb").exists()


def test_cli_exit_code_and_message(tmp_path: Path, monkeypatch, capsys):
    r = _make_root(tmp_path, "raise RuntimeError('bad cell')")
    monkeypatch.chdir(r)
    assert book.main(["--profile", "smoke"]) == 1
    assert "RuntimeError: bad cell" in capsys.readouterr().err
    assert book.main(["--profile", "nope"]) == 1
    assert "valid profiles" in capsys.readouterr().err


def test_cli_override_needs_one_chapter(tmp_path: Path, monkeypatch, capsys):
    r = _make_root(tmp_path, "assert x == 7")
    monkeypatch.chdir(r)
    assert book.main(["--profile", "smoke", "-p", "x", "7"]) == 1
    assert "exactly one --only" in capsys.readouterr().err
    assert book.main(["--profile", "smoke", "--only", "toy", "-p", "x", "7"]) == 0
    assert book.main(["--profile", "smoke", "--only", "toy", "-p", "w", "7"]) == 1
    assert "unknown parameter(s) w" in capsys.readouterr().err


def test_failed_chapter_keeps_the_last_good_copy(tmp_path: Path):
    r = _make_root(tmp_path, "assert x == 1")
    good = book.run_book(r, "smoke")[0].output
    before = good.read_bytes()
    with pytest.raises(book.BookError, match="toy.failed.ipynb"):
        book.run_chapter(r, "toy", "smoke", overrides={"x": 2})
    assert good.read_bytes() == before
    assert (r / "book" / "executed" / "toy.failed.ipynb").is_file()
    book.run_chapter(r, "toy", "smoke")  # a later success removes the failed copy
    assert not (r / "book" / "executed" / "toy.failed.ipynb").exists()


def test_injected_parameters_are_hidden_in_the_executed_copy(tmp_path: Path):
    r = _make_root(tmp_path, "y = x", params={"x": 5})
    out = book.run_book(r, "smoke")[0].output
    cells = nbformat.read(out, as_version=4).cells
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "remove-cell" in injected[0].metadata["tags"]


def test_malformed_profile_yaml_names_the_file(tmp_path: Path):
    r = _make_root(tmp_path, "y = 1")
    (r / "notebooks" / "profiles" / "toy.yaml").write_text("smoke: [1, 2\n")
    with pytest.raises(book.BookError, match="toy.yaml is not valid YAML"):
        book.profile_parameters(r, "toy", "smoke")


def test_progress_lines_are_passed_on(capsys):
    sink = book._ProgressLines("toy")
    sink.write("[pretrain] step 1/2 loss 0.1\nsome warn")
    sink.write("ing\n")
    err = capsys.readouterr().err
    assert "[book] toy: [pretrain] step 1/2" in err and "warning" not in err


def test_glue_all_stores_numpy_scalars_as_plain_numbers(monkeypatch):
    import numpy as np
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.__setitem__(name, value))
    book.glue_all({"a": np.float64(0.5), "b": np.int64(3), "c": "text", "d": np.arange(2)})
    assert type(seen["a"]) is float and type(seen["b"]) is int and seen["c"] == "text"
    assert isinstance(seen["d"], np.ndarray)


def test_a_chapters_own_profile_runs_and_other_chapters_refuse_it(tmp_path: Path, root: Path, capsys,
                                                                  monkeypatch):
    r = _make_root(tmp_path, "y = x + 1")
    sets = {**{p: {} for p in book.PROFILES}, "gpu": {"x": 5}}
    (r / "notebooks" / "profiles" / "toy.yaml").write_text(yaml.safe_dump(sets))
    assert book.profile_parameters(r, "toy", "gpu") == {"x": 5}
    assert set(book.chapter_profiles(r, "toy")) == {*book.PROFILES, "gpu"}
    monkeypatch.chdir(r)
    assert book.main(["--list"]) == 0 and "gpu: {'x': 5}" in capsys.readouterr().out
    # the sweep chapter defines gpu; a chapter that does not names the profiles it has
    assert "gpu" in book.chapter_profiles(root, "09_sweep")
    with pytest.raises(book.BookError, match="unknown profile 'gpu' for chapter '01_setup'.*smoke, default, paper"):
        book.run_book(root, "gpu")


def test_an_extra_profile_with_a_bad_value_is_refused(tmp_path: Path):
    r = _make_root(tmp_path, "y = 1")
    sets = {**{p: {} for p in book.PROFILES}, "gpu": [1, 2]}
    (r / "notebooks" / "profiles" / "toy.yaml").write_text(yaml.safe_dump(sets))
    with pytest.raises(book.BookError, match="profile 'gpu' of toy.yaml must be a mapping"):
        book.profile_parameters(r, "toy", "smoke")


def test_duration_text_picks_a_unit_a_reader_can_read():
    from mae_hlvm.book import duration_text

    assert duration_text(0.7) == "1 s" and duration_text(119) == "119 s"
    assert duration_text(150) == "2.5 minutes" and duration_text(7200) == "2.0 hours"
    with pytest.raises(ValueError, match="seconds = -1"):
        duration_text(-1)
    with pytest.raises(ValueError, match="nan"):
        duration_text(float("nan"))


def test_sync_parameters_rewrites_the_parameters_cell_from_the_params_class(tmp_path: Path):
    from mae_hlvm.experiments.pretraining import PretrainingParams

    r = _make_root(tmp_path, "y = x + 1")
    path = r / "notebooks" / "toy.ipynb"
    assert book.sync_parameters(r) == []                       # no Params class named: left alone
    nb = nbformat.read(path, as_version=4)
    nb.metadata["mae_hlvm"] = {"params": "mae_hlvm.experiments.pretraining:PretrainingParams"}
    nbformat.write(nb, path)
    assert book.sync_parameters(r) == ["toy"]
    after = nbformat.read(path, as_version=4)
    assert after.cells[1].source == PretrainingParams.parameters_cell()
    assert after.cells[1].metadata["tags"] == ["parameters"] and after.cells[2].source == "y = x + 1"
    assert book.sync_parameters(r) == []                       # in sync: nothing written again
    after.cells[1].metadata["tags"] = []
    nbformat.write(after, path)
    with pytest.raises(book.BookError, match="toy.ipynb has no cell tagged 'parameters'"):
        book.sync_parameters(r)
