"""Execute the book's chapter notebooks with papermill at a named profile.

The chapters are the ``book/executed/<stem>`` entries of ``_toc.yml``; each is executed from
``notebooks/<stem>.ipynb`` with the parameters of ``notebooks/profiles/<stem>.yaml[profile]`` and
written to ``book/executed/<stem>.ipynb``, where Jupyter Book reads it (the build never executes).

Usage::

    python -m mae_hlvm.book --profile smoke              # every chapter
    python -m mae_hlvm.book --profile default --only 06_pretraining
    python -m mae_hlvm.book --list                       # chapters, profiles and parameters
    python -m mae_hlvm.book --sync-parameters            # rewrite parameters cells from the Params classes

A chapter names the :class:`mae_hlvm.experiments.params.Params` subclass that defines its knobs in
its notebook metadata (``"mae_hlvm": {"params": "module:Class"}``). That class is the one definition
of the knobs: its defaults are the ``default`` profile (whose profile entry is therefore ``{}``), the
``smoke`` and ``paper`` entries list what differs, and the notebook's ``parameters`` cell is generated
from it. A chapter may define further profiles of its own (the sweep's ``gpu``); they run with
``--only`` that chapter. The executed copy hides the parameters cells: the chapter shows the values it used once.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

import yaml

PROFILES: tuple[str, ...] = ("smoke", "default", "paper")  # every chapter defines these; some define more
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


def params_class(root: Path, name: str) -> type | None:
    """The Params class that chapter ``name`` names in its notebook metadata, or None."""
    import nbformat

    meta = nbformat.read(root / NOTEBOOK_DIR / f"{name}.ipynb", as_version=4).metadata.get("mae_hlvm", {})
    target = meta.get("params")
    if not target:
        return None
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise BookError(f"chapter {name!r} names Params class {target!r}, which cannot be imported: {err}") from None


def notebook_parameters(path: Path) -> dict[str, Any]:
    """Names and defaults (source text) of the ``parameters`` cell of a notebook (papermill's reading)."""
    import papermill as pm

    found = pm.inspect_notebook(str(path))
    if not found:
        raise BookError(f"{path} has no cell tagged 'parameters'")
    return {name: spec["default"] for name, spec in found.items()}


def known_parameters(root: Path, name: str) -> list[str]:
    """The knobs chapter ``name`` takes (besides ``profile``)."""
    cls = params_class(root, name)
    if cls is not None:
        return list(cls.knobs())
    return [k for k in notebook_parameters(root / NOTEBOOK_DIR / f"{name}.ipynb") if k != "profile"]


def _check_values(root: Path, name: str, values: dict[str, Any], where: str) -> None:
    """Refuse unknown knobs (listing the valid ones) and, with a Params class, wrong types or ranges."""
    known = known_parameters(root, name)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise BookError(f"unknown parameter(s) {', '.join(unknown)} in {where}; "
                        f"valid parameters: {', '.join(sorted(['profile', *known]))}")
    cls = params_class(root, name)
    if cls is not None:
        from mae_hlvm.experiments.params import ParamsError

        try:
            cls.from_dict(values)
        except ParamsError as err:
            raise BookError(f"{where}: {err}") from None


def chapter_profiles(root: Path, name: str) -> dict[str, dict[str, Any]]:
    """Chapter ``name``'s profiles and the values each sets, in its profile file's order: every one of
    :data:`PROFILES` (refused if one is missing) and any further profile of its own; the values are
    checked against the chapter's knobs when a profile is asked for."""
    path = root / PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise BookError(f"chapter {name!r} has no profile file {PROFILE_DIR / (name + '.yaml')}")
    sets = _load_yaml(path.read_text(), str(PROFILE_DIR / path.name)) or {}
    if not isinstance(sets, dict):
        raise BookError(f"{PROFILE_DIR / path.name} must map profile names to parameter sets")
    missing = [p for p in PROFILES if p not in sets]
    if missing:
        raise BookError(f"{path.name} lacks profile(s) {', '.join(missing)}; every chapter defines {', '.join(PROFILES)}")
    for profile, params in sets.items():
        if not isinstance(params or {}, dict):
            raise BookError(f"profile {profile!r} of {path.name} must be a mapping of parameters, got {params!r}")
    return {profile: dict(params or {}) for profile, params in sets.items()}


def profile_parameters(root: Path, name: str, profile: str) -> dict[str, Any]:
    """The values that ``profile`` sets for chapter ``name`` (what the runner injects), checked:
    one of :data:`PROFILES`, or a further profile that this chapter's file defines."""
    sets = chapter_profiles(root, name)
    if profile not in sets:
        raise BookError(f"unknown profile {profile!r} for chapter {name!r}; valid profiles: {', '.join(sets)}")
    _check_values(root, name, sets[profile], f"profile {profile!r} of {name!r}")
    return sets[profile]


def chapter_params(name: str, profile: str, root: Path | None = None, **overrides: Any) -> Any:
    """The Params object chapter ``name`` runs with at ``profile`` (plus ``overrides``).

    For a chapter that uses another chapter's computation with the same settings, e.g. the evaluation
    chapter asking for the pretraining chapter's run."""
    root = root or find_root()
    cls = params_class(root, name)
    if cls is None:
        raise BookError(f"chapter {name!r} names no Params class in its notebook metadata")
    return cls.from_dict({**profile_parameters(root, name, profile), **overrides},
                         source=f"profile {profile!r} of {name!r}")


def sync_parameters(root: Path) -> list[str]:
    """Rewrite each chapter's ``parameters`` cell from its Params class; returns the chapters changed."""
    import nbformat

    changed = []
    for name in chapters(root):
        cls = params_class(root, name)
        if cls is None:
            continue
        path = root / NOTEBOOK_DIR / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
        if cell is None:
            raise BookError(f"{path} has no cell tagged 'parameters'")
        source = cls.parameters_cell()
        if cell.source != source:
            cell.source = source
            nbformat.write(nb, path)
            changed.append(name)
    return changed


class _ProgressLines:
    """A file-like sink for the kernel's stderr that passes on progress lines (``[pretrain] ...``) with
    the chapter's name, so a long chapter shows signs of life; other stderr stays in the notebook."""

    def __init__(self, name: str) -> None:
        self.name, self.pending = name, ""

    def write(self, text: str) -> None:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith("[") and "]" in line:
                print(f"[book] {self.name}: {line}", file=sys.stderr, flush=True)

    def flush(self) -> None:
        pass


def _kernel_manager(log: IO[str]) -> type:
    """A kernel manager on IPC sockets whose own console output (ipykernel's log lines, e.g. "running
    over TCP without encryption" or a KeyboardInterrupt at shutdown) goes to the open file ``log``
    instead of the runner's console; cell outputs are unaffected (they travel over the kernel's sockets)."""
    from jupyter_client.manager import AsyncKernelManager

    class QuietIPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")  # a local kernel needs no TCP ports
            super().__init__(**kwargs)

        async def _async_start_kernel(self, **kw: Any) -> None:
            kw.setdefault("stderr", log)
            kw.setdefault("stdout", kw["stderr"])
            await super()._async_start_kernel(**kw)

        start_kernel = _async_start_kernel

    return QuietIPCKernelManager


def _hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell``: the chapter shows its values once."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, path)


def run_chapter(root: Path, name: str, profile: str, out_dir: Path | None = None,
                overrides: dict[str, Any] | None = None) -> ChapterRun:
    """Execute one chapter; on failure raise BookError naming the chapter, the cell and its error.

    The executed copy replaces ``<out_dir>/<name>.ipynb`` only when every cell ran; a failed run is
    kept as ``<name>.failed.ipynb`` for inspection and the last good copy stays in place."""
    import papermill as pm

    params = profile_parameters(root, name, profile)
    if overrides:
        _check_values(root, name, {**params, **overrides}, f"the parameters given for {name!r}")
        params.update(overrides)
    params["profile"] = profile  # every chapter takes `profile` so it can say which scale it ran at
    out_dir = out_dir or root / EXECUTED_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    running = out_dir / f".{name}.running.ipynb"
    failed = out_dir / f"{name}.failed.ipynb"
    # tqdm.auto (imported by timm) warns in every kernel without ipywidgets; our chapters draw no bars
    quiet = "ignore:IProgress not found"
    if quiet not in os.environ.get("PYTHONWARNINGS", ""):
        os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
    start = time.perf_counter()
    try:
        with (out_dir / f".{name}.kernel.log").open("a") as kernel_log:
            pm.execute_notebook(
                str(root / NOTEBOOK_DIR / f"{name}.ipynb"), str(running), parameters=params,
                cwd=str(root), kernel_name="python3", progress_bar=False, stderr_file=_ProgressLines(name),
                kernel_manager_class=_kernel_manager(kernel_log),
            )
    except pm.PapermillExecutionError as err:
        os.replace(running, failed)
        raise BookError(
            f"chapter {name!r} ({profile}) failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
            f"executed copy kept for inspection: {failed}"
        ) from None
    except BaseException:
        running.unlink(missing_ok=True)
        raise
    _hide_injected_parameters(running)
    os.replace(running, output)
    failed.unlink(missing_ok=True)
    return ChapterRun(name, profile, output, time.perf_counter() - start, params)


def run_book(root: Path, profile: str, only: Sequence[str] | None = None,
             out_dir: Path | None = None) -> list[ChapterRun]:
    """Execute the chapters (all, or those in ``only``) in order, printing elapsed time per chapter."""
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


def _load_yaml(text: str, where: str) -> Any:
    """YAML as the library reads it (``1e-3`` is a float); BookError naming ``where`` and the line."""
    from mae_hlvm.mae.configs import ConfigError, load_yaml

    try:
        return load_yaml(text, where)
    except ConfigError as err:
        raise BookError(str(err)) from None


def _parse_value(text: str) -> Any:
    return _load_yaml(text, f"parameter value {text!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mae_hlvm.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default",
                        help=f"one of {', '.join(PROFILES)}, or a profile of the --only chapter's own "
                             "(09_sweep: gpu); default: default")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this chapter (repeatable)")
    parser.add_argument("--out", type=Path, help="folder for executed copies (default: book/executed)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="override one parameter (YAML value) of the single --only chapter")
    parser.add_argument("--list", action="store_true", help="list chapters, their profiles and parameters")
    parser.add_argument("--sync-parameters", action="store_true",
                        help="rewrite each chapter's parameters cell from its Params class, then exit")
    args = parser.parse_args(argv)
    try:
        root = find_root()
        if args.sync_parameters:
            changed = sync_parameters(root)
            print(f"rewrote the parameters cell of {', '.join(changed)}" if changed else "parameters cells in sync")
            return 0
        if args.list:
            for name in chapters(root):
                print(name)
                for profile in chapter_profiles(root, name):
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


def glue_all(values: dict[str, Any]) -> None:
    """``myst_nb.glue(name, value, display=False)`` for every entry: the numbers a chapter's prose cites.

    NumPy scalars become Python numbers first: their repr (``np.float64(0.43)``) is what MyST-NB would
    otherwise store, and ``{glue:text}`name:.2f``` cannot format it."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 else value,
             display=False)


def duration_text(seconds: float) -> str:
    """A wall time for prose: "42 s" under two minutes, else "3.5 minutes", or "2.1 hours" from two
    hours (a short run glued as minutes would read "0.0 minutes")."""
    if not seconds >= 0:
        raise ValueError(f"seconds = {seconds!r}: a duration is a number >= 0")
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} minutes" if seconds < 7200 else f"{seconds / 3600:.1f} hours"
