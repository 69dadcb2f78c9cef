"""Rules of the project that a file edit can break: dependencies, notebooks, profiles, README."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from mae_hlvm import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {r for r in pip_section if not r.startswith("-e")}
    assert listed == declared, (
        f"only in environment.yml: {sorted(listed - declared)}; only in pyproject.toml: {sorted(declared - listed)}")


def test_constraints_pin_every_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    declared = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert declared <= pinned, f"not pinned in constraints.txt: {sorted(declared - pinned)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterised(path: Path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
        f"{path.name} is committed with outputs; clear them"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert re.search(r"^profile\s*=", "".join(tagged[0]["source"]), re.M), \
        f"{path.name}: the parameters cell must define `profile`"
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# "), f"{path.name} must open with a title"
    assert "Reproduces" in first, f"{path.name} must open by naming what it reproduces"


def test_every_chapter_has_all_profiles_and_valid_parameters(root: Path):
    for name in book.chapters(root):
        profiles = book.chapter_profiles(root, name)  # raises if one of book.PROFILES is missing
        assert set(book.PROFILES) <= set(profiles)
        for profile in profiles:  # a chapter's own profiles (the sweep's gpu) too
            book.chapter_params(name, profile, root)  # raises on unknown parameters and invalid values


def test_every_notebook_is_a_chapter(root: Path):
    assert {p.stem for p in NOTEBOOKS} == set(book.chapters(root))


def test_readme_states_the_two_commands_first():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*make (\w+)", text, re.M)
    assert commands[:2] == ["book", "test"], f"README must open with `make book` then `make test`, found {commands[:2]}"
    assert text.index("papermill notebooks/") > text.index("make test"), "how to run one chapter comes after the two commands"


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_chapter_knobs_have_one_definition(root: Path, name: str):
    """The Params class named in the notebook is the one definition: the parameters cell mirrors its
    defaults (python -m mae_hlvm.book --sync-parameters writes it), and the default profile adds nothing."""
    cls = book.params_class(root, name)
    assert cls is not None, f"{name} names no Params class in its metadata (mae_hlvm.params)"
    nb = json.loads((root / "notebooks" / f"{name}.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    assert "".join(cell["source"]) == cls.parameters_cell(), \
        f"{name}: parameters cell out of date; run python -m mae_hlvm.book --sync-parameters"
    assert "remove-cell" in cell["metadata"]["tags"], f"{name}: the parameters cell is shown once, as a table"
    assert book.profile_parameters(root, name, "default") == {}, \
        f"{name}: the default profile is the defaults of {cls.__name__}; list only smoke/paper differences"


def test_a_profile_naming_an_unknown_knob_fails(root: Path, tmp_path: Path):
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(root / "notebooks", copy / "notebooks")
    shutil.copy(root / "_toc.yml", copy / "_toc.yml")
    prof = copy / "notebooks" / "profiles" / "06_pretraining.yaml"
    sets = yaml.safe_load(prof.read_text())
    sets["smoke"]["mask_ratoi"] = 0.5
    prof.write_text(yaml.safe_dump(sets))
    with pytest.raises(book.BookError, match="unknown parameter.*mask_ratoi.*valid parameters:.*mask_ratio"):
        book.profile_parameters(copy, "06_pretraining", "smoke")
    sets["smoke"] = {"steps": "12"}
    prof.write_text(yaml.safe_dump(sets))
    with pytest.raises(book.BookError, match=r"steps must be int, got '12'"):
        book.profile_parameters(copy, "06_pretraining", "smoke")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_code_fits_the_page(path: Path):
    """Code lines longer than about 100 characters run past the edge of the rendered page."""
    nb = json.loads(path.read_text())
    long = [line for c in nb["cells"] if c["cell_type"] == "code"
            and "remove-cell" not in c.get("metadata", {}).get("tags", [])
            for line in "".join(c["source"]).splitlines() if len(line) > 100]
    assert not long, f"{path.name}: {len(long)} code line(s) over 100 characters, e.g. {long[0]!r}"


GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")


def glue_in_code(text: str) -> list[str]:
    """Lines of markdown where a glue role sits inside an inline code span (MyST then prints the role
    literally): a glue role after an odd number of other backticks on its line."""
    bad = []
    for line in text.splitlines():
        pos = 0
        for m in GLUE_ROLE.finditer(line):
            if line[pos:m.start()].count("`") % 2:
                bad.append(line)
                break
            pos = m.end()
    return bad


def test_glue_in_code_finds_a_role_inside_an_inline_code_span():
    assert glue_in_code("after `f({glue:text}`x`)` are {glue:text}`y`.") != []
    assert glue_in_code("`code` then {glue:text}`x` and `more` {glue}`y`") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_glue_roles_are_not_inside_inline_code(path: Path):
    nb = json.loads(path.read_text())
    bad = [line for c in nb["cells"] if c["cell_type"] == "markdown" for line in glue_in_code("".join(c["source"]))]
    assert not bad, f"{path.name}: a glue role inside inline code renders literally: {bad[0]!r}"


def test_the_library_imports_without_the_notebook_stack():
    """A GPU machine's image has torch and timm but no IPython, papermill or Jupyter Book: the library
    (everything but the book runner) must import there, as the GPU check does."""
    import subprocess
    import sys

    blocked = ["IPython", "papermill", "nbformat", "myst_nb", "jupyter_book"]
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in blocked)
            + "import mae_hlvm.data, mae_hlvm.eval, mae_hlvm.experiments, mae_hlvm.hierarchy, mae_hlvm.mae\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


# The library's layers, top to bottom: a module may import its own subpackage and the layers below it,
# never a layer above or beside it (the house rule: imports point down, never in a circle).
LAYERS: dict[str, set[str]] = {
    "book": {"experiments", "mae", "eval", "data", "hierarchy", "base"},
    "experiments": {"mae", "eval", "data", "hierarchy", "base"},
    "mae": {"data", "hierarchy", "base"},
    "eval": {"data", "hierarchy", "base"},
    "data": {"hierarchy", "base"},
    "hierarchy": {"base"},
    "base": set(),  # atomic, compute, reproducibility: plain helpers every layer may use
}


def _layer(module: str) -> str:
    part = module.split(".")[1] if "." in module else ""
    return part if part in LAYERS else "base"


def _imports(path: Path, module: str) -> set[str]:
    """Every mae_hlvm module ``path`` imports, at the top or inside a function, relative ones resolved."""
    import ast

    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mae_hlvm")}
        elif isinstance(node, ast.ImportFrom):
            base = (package[:len(package) - node.level + 1] if node.level else [])
            name = ".".join(base + ([node.module] if node.module else []))
            if name.startswith("mae_hlvm"):
                found.add(name)
    return found


def test_library_imports_point_down_the_layers():
    src = ROOT / "src"
    wrong = []
    for path in sorted((src / "mae_hlvm").rglob("*.py")):
        module = ".".join(path.relative_to(src).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        here = _layer(module)
        for target in _imports(path, module):
            there = _layer(target)
            if target != "mae_hlvm" and there != here and there not in LAYERS[here]:
                wrong.append(f"{module} ({here}) imports {target} ({there})")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_layer_check_resolves_relative_imports(tmp_path: Path):
    f = tmp_path / "linear_probe.py"
    f.write_text("from ..compute import x\nfrom .features import y\ndef g():\n    from ..mae.model import M\n")
    assert _imports(f, "mae_hlvm.eval.linear_probe") == {"mae_hlvm.compute", "mae_hlvm.eval.features",
                                                         "mae_hlvm.mae.model"}
