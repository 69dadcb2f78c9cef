"""The run cache: content-addressed folders that hold a run's checkpoint, metrics and results.

A run is named by what determines it: its kind (``"pretraining"``, ...), its full resolved
configuration and the library version. The SHA-256 of that canonical JSON is the run's key, and
``<root>/<kind>/<key>/`` its folder:

- ``run.json``: kind, key, configuration, status (``running`` or ``complete``), commit, machine, date
  and command of the process that wrote it (written atomically, updated on completion);
- whatever the computation writes (``checkpoint.pt``, ``metrics.jsonl``, ...);
- ``results/<name>-<key>.json``: results of evaluations of the run, each keyed the same way by its
  own configuration.

A request for a run that is complete loads it; a ``running`` folder (an interrupted run) resumes from
its checkpoint; a different configuration never collides. The root is ``$MAE_HLVM_CACHE`` when set,
else ``runs/cache`` under the repository root (or the working directory outside a repository).

Command line::

    python -m mae_hlvm.experiments.cache list
    python -m mae_hlvm.experiments.cache prune --incomplete        # interrupted runs
    python -m mae_hlvm.experiments.cache prune --kind pretraining --older-than 30
"""
from __future__ import annotations

import argparse
import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import mae_hlvm
from mae_hlvm.atomic import atomic_temp

RUN_FILE = "run.json"
RESULTS_DIR = "results"
LIVE_QUIET_MINUTES = 15.0  # an incomplete run without a pid whose files changed this recently may be live
KEY_CHARS = 16  # 64 bits of SHA-256: collisions are out of reach for a cache of any size


class CacheError(RuntimeError):
    """A cache folder that cannot be used: unreadable run.json, a key that does not match its content."""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal configurations give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_key(kind: str, config: Mapping[str, Any], version: str | None = None) -> str:
    """The key of a run: SHA-256 of kind, configuration and library version (first 16 hex digits)."""
    payload = {"kind": kind, "config": config, "version": version or mae_hlvm.__version__}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:KEY_CHARS]


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON to a temporary file beside ``path`` and rename it: never a half-written file (and the
    temp file of a process killed mid-write is removed by the next write)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f, tmp = atomic_temp(path, "w")
    try:
        with f:
            json.dump(obj, f, indent=1, allow_nan=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CacheError(f"cannot read {path}: {err}; delete the folder or prune the cache") from None


RECORDS_DIR = "book/recorded"  # where the recorded forms live, relative to the repository root


def git_commit(start: Path | None = None) -> str:
    """The repository's HEAD commit (``+dirty`` when tracked files changed), or ``"unknown"``.
    ``$MAE_HLVM_COMMIT``, when set, is taken as it is: a copy of the tree without ``.git`` (a remote
    GPU machine's, say) can still name the commit it was copied from. The records under
    ``RECORDS_DIR`` do not count as changes: they are what recorders write, not code, and a recorder
    started after an earlier one rewrote a record (not yet committed) would otherwise call clean code
    dirty."""
    if os.environ.get("MAE_HLVM_COMMIT"):
        return os.environ["MAE_HLVM_COMMIT"]
    cwd = start or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                f":(top,exclude){RECORDS_DIR}"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    """What a timing depends on, and what a result's last digits do: host, CPU (its model name and the
    vector instructions torch's kernels use, which decide how sums are rounded), cores, torch threads,
    accelerator."""
    import torch

    info: dict[str, Any] = {"host": platform.node(), "platform": platform.platform(terse=True),
                            "processor": platform.processor() or platform.machine(), "cpu_model": _cpu_model(),
                            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                            "cpu_cores": os.cpu_count(), "torch": torch.__version__,
                            "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_model() -> str:
    """The CPU's model name (Linux's ``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def commit_of_this_process() -> str:
    """:func:`git_commit` when this process first asked. A recorder asks when it starts, so that a
    record it writes hours later names the code that ran, not a HEAD committed meanwhile."""
    return git_commit()


def provenance() -> dict[str, Any]:
    """Commit (``$MAE_HLVM_COMMIT``, else :func:`commit_of_this_process`), machine, date (UTC, ISO
    8601) and command of this process."""
    return {"commit": os.environ.get("MAE_HLVM_COMMIT") or commit_of_this_process(), "machine": machine(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"}


def default_root() -> Path:
    """``$MAE_HLVM_CACHE``, else ``runs/cache`` in the repository root above the working directory."""
    if os.environ.get("MAE_HLVM_CACHE"):
        return Path(os.environ["MAE_HLVM_CACHE"])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "src" / "mae_hlvm").is_dir():
            return folder / "runs" / "cache"
    return here / "runs" / "cache"


@dataclass(frozen=True)
class CachedRun:
    """One folder of the cache and its ``run.json``."""

    folder: Path
    record: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.record["kind"]

    @property
    def key(self) -> str:
        return self.record["key"]

    @property
    def complete(self) -> bool:
        return self.record.get("status") == "complete"

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())

    def live(self, quiet_minutes: float = LIVE_QUIET_MINUTES) -> bool:
        """Whether an incomplete run may still be computing: the process that began it (``pid`` on
        this host) is alive, or, for records without one, a file of its folder changed within the last
        ``quiet_minutes``. A complete run is never live."""
        if self.complete:
            return False
        pid, host = self.record.get("pid"), (self.record.get("started") or {}).get("machine", {}).get("host")
        if isinstance(pid, int) and host == platform.node():
            try:
                os.kill(pid, 0)  # signal 0: is it there?
                return True
            except ProcessLookupError:
                return False
            except PermissionError:  # there, under another user
                return True
        newest = max((p.stat().st_mtime for p in self.folder.rglob("*") if p.is_file()), default=0.0)
        return time.time() - newest < 60 * quiet_minutes


class RunCache:
    """Folders of runs keyed by configuration (see the module docstring)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def folder(self, kind: str, config: Mapping[str, Any]) -> Path:
        if not kind.isidentifier():
            raise ValueError(f"run kind {kind!r} must be an identifier (it names a folder)")
        return self.root / kind / config_key(kind, config)

    def lookup(self, kind: str, config: Mapping[str, Any]) -> CachedRun | None:
        """The run of this configuration, complete or interrupted, or None."""
        folder = self.folder(kind, config)
        if not (folder / RUN_FILE).is_file():
            return None
        record = read_json(folder / RUN_FILE)
        if record.get("config") != json.loads(canonical_json(config)):
            raise CacheError(f"{folder / RUN_FILE} holds another configuration than its key says; "
                             f"delete {folder}")
        return CachedRun(folder, record)

    def begin(self, kind: str, config: Mapping[str, Any]) -> CachedRun:
        """The folder for a run about to be computed; ``run.json`` says ``running`` until :meth:`finish`.

        An interrupted run's folder is reused as it is (its checkpoint lets the computation resume)."""
        found = self.lookup(kind, config)
        if found is not None and found.complete:
            raise CacheError(f"run {found.folder} is complete already; load it instead of computing it again")
        folder = self.folder(kind, config)
        record = {"kind": kind, "key": folder.name, "version": mae_hlvm.__version__,
                  "config": json.loads(canonical_json(config)), "status": "running", "pid": os.getpid(),
                  "started": provenance(), **({"resumed": True} if found is not None else {})}
        write_json(folder / RUN_FILE, record)
        return CachedRun(folder, record)

    def finish(self, run: CachedRun, **summary: Any) -> CachedRun:
        """Mark ``run`` complete, adding ``summary`` (timings, final loss...) and this process's provenance."""
        record = {**run.record, **summary, "status": "complete", "finished": provenance()}
        write_json(run.folder / RUN_FILE, record)
        return CachedRun(run.folder, record)

    def runs(self, kind: str | None = None) -> list[CachedRun]:
        """Every run folder (of ``kind``), oldest first; folders without a readable run.json are skipped
        by ``list`` but reported by ``prune --incomplete``."""
        found = []
        for path in sorted(self.root.glob(f"{kind or '*'}/*/{RUN_FILE}")):
            try:
                found.append(CachedRun(path.parent, read_json(path)))
            except CacheError:
                found.append(CachedRun(path.parent, {"kind": path.parent.parent.name, "key": path.parent.name,
                                                     "status": "unreadable"}))
        return sorted(found, key=lambda r: (r.record.get("started") or {}).get("date", ""))

    def prune(self, kind: str | None = None, incomplete: bool = False, older_than_days: float | None = None,
              dry_run: bool = False) -> list[CachedRun]:
        """Delete runs matching every given filter; returns them. Without a filter nothing is deleted, and
        a run that may still be computing (:meth:`CachedRun.live`) is never deleted (:meth:`live_runs`
        lists them)."""
        if not incomplete and older_than_days is None and kind is None:
            raise ValueError("prune needs a filter (kind, incomplete or older_than_days); "
                             "to empty the cache delete its folder")
        now = _dt.datetime.now(_dt.timezone.utc)
        chosen = []
        for run in self.runs(kind):
            if (incomplete and run.complete) or run.live():
                continue
            if older_than_days is not None:
                date = (run.record.get("finished") or run.record.get("started") or {}).get("date")
                age = (now - _dt.datetime.fromisoformat(date)).total_seconds() / 86400 if date else float("inf")
                if age < older_than_days:
                    continue
            chosen.append(run)
        if not dry_run:
            for run in chosen:
                shutil.rmtree(run.folder)
        return chosen

    def live_runs(self, kind: str | None = None) -> list[CachedRun]:
        """The incomplete runs that may still be computing (:meth:`CachedRun.live`), which prune leaves."""
        return [r for r in self.runs(kind) if r.live()]

    # results of computations on a run (evaluations), keyed by their own configuration
    def result_path(self, run: CachedRun | Path, name: str, config: Mapping[str, Any]) -> Path:
        folder = run.folder if isinstance(run, CachedRun) else Path(run)
        return folder / RESULTS_DIR / f"{name}-{config_key(name, config)}.json"

    def load_result(self, run: CachedRun | Path, name: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
        path = self.result_path(run, name, config)
        return read_json(path)["result"] if path.is_file() else None

    def save_result(self, run: CachedRun | Path, name: str, config: Mapping[str, Any],
                    result: Mapping[str, Any]) -> Path:
        return write_json(self.result_path(run, name, config),
                          {"name": name, "config": json.loads(canonical_json(config)), "result": result,
                           "version": mae_hlvm.__version__, **provenance()})


def _describe(run: CachedRun) -> str:
    rec = run.record
    cfg = rec.get("config", {})
    brief = ", ".join(f"{k}={cfg[k]}" for k in ("data", "mask_ratio", "mask_unit", "steps", "seed") if k in cfg)
    date = (rec.get("finished") or rec.get("started") or {}).get("date", "?")
    return f"{run.kind:<12} {run.key}  {rec.get('status', '?'):<10} {date:<25} {run.size_bytes() / 1e6:7.1f} MB  {brief}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mae_hlvm.experiments.cache",
                                     description="List and prune the run cache.")
    parser.add_argument("--root", type=Path, help="cache folder (default: $MAE_HLVM_CACHE or runs/cache)")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="one line per run: kind, key, status, date, size, main settings")
    ls.add_argument("--kind")
    pr = sub.add_parser("prune", help="delete runs matching all the given filters")
    pr.add_argument("--kind")
    pr.add_argument("--incomplete", action="store_true", help="runs that never finished")
    pr.add_argument("--older-than", type=float, metavar="DAYS")
    pr.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    args = parser.parse_args(argv)
    cache = RunCache(args.root)
    try:
        if args.command == "list":
            runs = cache.runs(args.kind)
            print("\n".join(_describe(r) for r in runs) if runs else f"no runs in {cache.root}")
        else:
            if args.older_than is not None and args.older_than < 0:
                raise ValueError(f"--older-than {args.older_than}: days must be >= 0")
            gone = cache.prune(args.kind, args.incomplete, args.older_than, args.dry_run)
            verb = "would delete" if args.dry_run else "deleted"
            for r in gone:
                print(f"{verb} {_describe(r)}")
            print(f"{verb} {len(gone)} run(s)")
            for r in cache.live_runs(args.kind):
                print(f"left {_describe(r)} (may still be computing: its process is alive, or its files "
                      f"changed within {LIVE_QUIET_MINUTES:g} minutes)")
    except (ValueError, CacheError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
