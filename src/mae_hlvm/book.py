"""Execute the book's chapter notebooks with papermill at a named profile.

The chapters are the ``book/executed/<stem>`` entries of ``_toc.yml``; each is executed from
``notebooks/<stem>.ipynb`` with the parameters of ``notebooks/profiles/<stem>.yaml[profile]`` and
written to ``book/executed/<stem>.ipynb``, where Jupyter Book reads it (the build never executes).

Usage::

    python -m mae_hlvm.book --profile smoke              # every chapter
    python -m mae_hlvm.book --profile default --only 06_pretraining
    python -m mae_hlvm.book --list                       # chapters, profiles and parameters
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

PROFILES: tuple[str, ...] = ("smoke", "default", "paper")
EXECUTED_DIR = Path("book") / "executed"
NOTEBOOK_DIR = Path("notebooks")
PROFILE_DIR = NOTEBOOK_DIR / "profiles"


class BookError(RuntimeError):
    """A refused request or a failed chapter; the message says which and why."""


@dataclass(frozen=True)
class ChapterRun:
    """Outcome of one executed chapter."""

    name: str
    profile: str
    output: Path
    seconds: float
    parameters: dict[str, Any]


def find_root(start: Path | None = None) -> Path:
    """The repository root: the first folder upwards from ``start`` (default: cwd) holding _toc.yml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / NOTEBOOK_DIR).is_dir():
            return folder
    raise BookError(f"no _toc.yml with a notebooks/ folder beside it at or above {here}")


def _toc_files(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        if "file" in node:
            yield str(node["file"])
        for value in node.values():
            yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def chapters(root: Path) -> list[str]:
    """Notebook stems of the executed chapters, in table-of-contents order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    prefix = EXECUTED_DIR.as_posix() + "/"
    names = [f[len(prefix):].removesuffix(".ipynb") for f in _toc_files(toc) if f.startswith(prefix)]
    for name in names:
        if not (root / NOTEBOOK_DIR / f"{name}.ipynb").is_file():
            raise BookError(f"_toc.yml lists chapter {name!r} but notebooks/{name}.ipynb does not exist")
    return names


def notebook_parameters(path: Path) -> dict[str, Any]:
    """Names and defaults of the ``parameters`` cell of a notebook (papermill's reading of it)."""
    import papermill as pm

    found = pm.inspect_notebook(str(path))
    if not found:
        raise BookError(f"{path} has no cell tagged 'parameters'")
    return {name: spec["default"] for name, spec in found.items()}


def profile_parameters(root: Path, name: str, profile: str) -> dict[str, Any]:
    """The parameter set ``profile`` of chapter ``name``, checked against the notebook's own."""
    if profile not in PROFILES:
        raise BookError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    path = root / PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise BookError(f"chapter {name!r} has no profile file {PROFILE_DIR / (name + '.yaml')}")
    sets = yaml.safe_load(path.read_text()) or {}
    missing = [p for p in PROFILES if p not in sets]
    if missing:
        raise BookError(f"{path.name} lacks profile(s) {', '.join(missing)}; every chapter defines {', '.join(PROFILES)}")
    params = dict(sets[profile] or {})
    known = notebook_parameters(root / NOTEBOOK_DIR / f"{name}.ipynb")
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise BookError(
            f"profile {profile!r} of {name!r} sets unknown parameter(s) {', '.join(unknown)}; "
            f"valid parameters: {', '.join(sorted(known))}"
        )
    return params


def chapter_parameters(root: Path, name: str, profile: str) -> dict[str, Any]:
    """Every parameter of chapter ``name`` as it runs at ``profile``: notebook defaults, then the profile.

    For a chapter that must rebuild another chapter's result with the same settings.
    """
    import ast

    defaults = notebook_parameters(root / NOTEBOOK_DIR / f"{name}.ipynb")
    params = {k: ast.literal_eval(v) for k, v in defaults.items()}  # papermill reports source text
    params.update(profile_parameters(root, name, profile))
    params["profile"] = profile
    return params


def run_chapter(root: Path, name: str, profile: str, out_dir: Path | None = None,
                overrides: dict[str, Any] | None = None) -> ChapterRun:
    """Execute one chapter; on failure raise BookError naming the chapter, the cell and its error.

    The executed copy is written even when a cell fails, so it can be inspected.
    """
    import papermill as pm

    params = profile_parameters(root, name, profile)
    if overrides:
        known = notebook_parameters(root / NOTEBOOK_DIR / f"{name}.ipynb")
        bad = sorted(set(overrides) - set(known))
        if bad:
            raise BookError(f"unknown parameter(s) {', '.join(bad)} for {name!r}; valid parameters: {', '.join(sorted(known))}")
        params.update(overrides)
    params["profile"] = profile  # every chapter takes `profile` so it can say which scale it ran at
    out_dir = out_dir or root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(root / NOTEBOOK_DIR / f"{name}.ipynb"), str(output), parameters=params,
            cwd=str(root), kernel_name="python3", progress_bar=False,
        )
    except pm.PapermillExecutionError as err:
        raise BookError(
            f"chapter {name!r} ({profile}) failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
            f"executed copy kept for inspection: {output}"
        ) from None
    return ChapterRun(name, profile, output, time.perf_counter() - start, params)


def run_book(root: Path, profile: str, only: Sequence[str] | None = None,
             out_dir: Path | None = None) -> list[ChapterRun]:
    """Execute the chapters (all, or those in ``only``) in order, printing elapsed time per chapter."""
    if profile not in PROFILES:
        raise BookError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    names = chapters(root)
    for name in only or ():
        if name not in names:
            raise BookError(f"unknown notebook {name!r}; valid notebooks: {', '.join(names)}")
    selected = [n for n in names if not only or n in only]
    for name in selected:  # refuse a bad profile file before spending time on any chapter
        profile_parameters(root, name, profile)
    runs = []
    for name in selected:
        print(f"[book] {name} ({profile}) ...", flush=True)
        run = run_chapter(root, name, profile, out_dir)
        print(f"[book] {name} done in {run.seconds:.1f} s", flush=True)
        runs.append(run)
    target = out_dir or root / EXECUTED_DIR
    (target / "_runs.json").write_text(json.dumps(
        [{"name": r.name, "profile": r.profile, "seconds": round(r.seconds, 2)} for r in runs], indent=2))
    print(f"[book] {len(runs)} chapter(s) at profile {profile!r} in {sum(r.seconds for r in runs):.1f} s")
    return runs


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mae_hlvm.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", help=f"one of {', '.join(PROFILES)} (default: default)")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this chapter (repeatable)")
    parser.add_argument("--out", type=Path, help="folder for executed copies (default: book/executed)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="override one parameter (YAML value) of the single --only chapter")
    parser.add_argument("--list", action="store_true", help="list chapters, their profiles and parameters")
    args = parser.parse_args(argv)
    try:
        root = find_root()
        if args.list:
            for name in chapters(root):
                print(name)
                for profile in PROFILES:
                    print(f"  {profile}: {profile_parameters(root, name, profile)}")
            return 0
        if args.parameter:
            if not args.only or len(args.only) != 1:
                raise BookError("-p/--parameter needs exactly one --only chapter")
            if args.only[0] not in chapters(root):
                raise BookError(f"unknown notebook {args.only[0]!r}; valid notebooks: {', '.join(chapters(root))}")
            overrides = {k: _parse_value(v) for k, v in args.parameter}
            run = run_chapter(root, args.only[0], args.profile, args.out, overrides)
            print(f"[book] {run.name} done in {run.seconds:.1f} s -> {run.output}")
            return 0
        run_book(root, args.profile, args.only, args.out)
    except BookError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
