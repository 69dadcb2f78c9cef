"""The small recorded form of results too long for ``make book`` (multi-seed sweeps, Section 3.6).

A record is one JSON file under ``book/recorded/``: the computation's parameters, what they resolve
to (the configurations of its runs), its rows, and provenance (commit, machine, date, command). No
checkpoint and no data set: a fresh clone can show a record but not recompute it, so a record is
checked against today's definitions when read. It is *stale* when its parameters no longer resolve
to the configurations recorded, or when another library version wrote it; the book then says so
instead of showing it as current.

``write`` and ``read`` are the shared halves; each computation (``sweep``, ``section36``) names its
format, its parameters class and what "resolves to" means for it. A recorder that rewrites its record
as runs finish asks :func:`target` where to write, so that a run starting again from its first seed
never replaces a record holding more than it has done yet.

A recording outlives a session (hours of CPU; a session's run cache may not survive it), so a
recorder also keeps the rows it has finished, not only the blocks: the rows of a block still open go
to ``<name>.pending.json`` beside the record (committed like it; the book never reads it), and a
recorder started again keeps the rows of both files instead of computing them again. Rows carried
over from an earlier recording keep that recording's provenance: a record names its own commit,
machine, date and command for the rows it computed, and lists the others under ``earlier``
(:func:`sources`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Collection, Sequence, TypeVar

import mae_hlvm

from .cache import provenance, write_json
from .params import Params
from .prose import counted


@dataclass
class Recorded:
    """A record, and whether it still describes the current definitions."""

    payload: dict[str, Any]
    stale: list[str]        # what differs from what the recorded parameters resolve to today
    params_type: ClassVar[type[Params]] = Params

    @property
    def params(self):
        """The recorded parameters (of a partial record: the seeds done when it was written)."""
        return self.params_type.from_dict(self.payload["params"])

    def frame(self):
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.payload["rows"])

    @property
    def current(self) -> bool:
        """True when the record still describes today's definitions (nothing makes it stale)."""
        return not self.stale

    def provenance_text(self) -> str:
        """Where the rows come from, for prose: "the command ..., 2026-11-27, commit c120a15c", and,
        where it carried rows over from earlier recordings, "; 21 of its rows from an earlier recording
        (commit 923a7384, 2026-11-28)"."""
        p = self.payload
        own = f"the command {p['command'].strip()}, {p['date'][:10]}, commit {p['commit'][:8]}"
        earlier = p.get("earlier") or []
        if not earlier:
            return own
        n = sum(len(s["rows"]) for s in earlier)
        which = "; ".join(f"commit {s['commit'][:8]}, {s['date'][:10]}" for s in earlier)
        return (f"{own}; {n} of its rows from {'an earlier recording' if len(earlier) == 1 else 'earlier recordings'} "
                f"({which})")


def load(path: str | Path, loader: Callable[[Path], R]) -> R | None:
    """``loader(path)`` where there is a record at ``path``; None where there is none."""
    path = Path(path)
    return loader(path) if path.is_file() else None


R = TypeVar("R", bound=Recorded)


def lost_rows(path: str | Path, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> int:
    """How many rows of the record at ``path`` are not among ``rows`` (rows matched on the ``key``
    fields); 0 where there is no record."""
    return _lost(_rows_at(Path(path)), rows, key)


def _rows_at(path: Path) -> list[dict[str, Any]] | None:
    return json.loads(path.read_text()).get("rows", []) if path.is_file() else None


def _lost(held: Sequence[dict[str, Any]] | None, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> int:
    have = {tuple(r.get(k) for k in key) for r in rows}
    return sum(tuple(r.get(k) for k in key) not in have for r in held or [])


def target(path: str | Path, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> Path | None:
    """Where a recorder holding ``rows`` so far writes: ``path``, unless that would drop rows the record
    there already holds (a recording of more seeds or points, restarted from its first one); then
    ``<name>.partial.json`` beside it (git ignores it), until ``rows`` cover the record. None when the
    record there holds exactly ``rows``: a restarted recorder leaves it as it is (its provenance
    names the process that computed them)."""
    path = Path(path)
    held = _rows_at(path)
    if held is not None and _canonical(held) == _canonical(rows):
        return None
    return path if _lost(held, rows, key) == 0 else partial_path(path)


def pending_path(path: str | Path) -> Path:
    """Where a recorder keeps the finished rows of blocks it has not finished, beside the record at
    ``path`` (``<name>.pending.json``; committed, so that the next session goes on from them)."""
    path = Path(path)
    return path.with_name(path.stem + ".pending.json")


def sources(payload: dict[str, Any], keys: Collection[tuple], key: Sequence[str]) -> list[dict[str, Any]]:
    """Where the rows ``keys`` (their ``key`` fields) of the record ``payload`` were computed, as a
    recorder that carries them over lists them under ``earlier``: one entry per recording, its
    commit, machine, date and command and the keys of its rows among ``keys`` (the record's own
    provenance for the rows it computed, the sources it lists for those it carried over itself)."""
    earlier = payload.get("earlier") or []
    carried = {tuple(k) for s in earlier for k in s["rows"]}
    own = [list(k) for k in (tuple(r.get(f) for f in key) for r in payload["rows"]) if k not in carried]
    mine = {**{f: payload.get(f) for f in ("commit", "machine", "date", "command")}, "rows": own}
    return restrict([*earlier, mine], keys)


def restrict(sources: Sequence[dict[str, Any]], keys: Collection[tuple]) -> list[dict[str, Any]]:
    """``sources`` (:func:`sources`' entries) cut to the rows whose keys are among ``keys``: an entry
    left with no row is dropped, and entries of one recording (same commit, machine and command: its
    record and its pending file) become one, dated by the later."""
    keys, merged = {tuple(k) for k in keys}, {}
    for s in sources:  # one entry per recording: the record and the pending file of one are one source
        rows = [k for k in s["rows"] if tuple(k) in keys]
        same = (s.get("commit"), json.dumps(s.get("machine"), sort_keys=True), s.get("command"))
        if rows and same in merged:
            held = merged[same]
            merged[same] = {**held, "date": max(held["date"], s["date"]), "rows": held["rows"] + rows}
        elif rows:
            merged[same] = {**s, "rows": rows}
    return list(merged.values())


def partial_path(path: str | Path) -> Path:
    """Where :func:`target` puts the rows of a recorder still catching up with the record at ``path``."""
    path = Path(path)
    return path.with_name(path.stem + ".partial.json")


def drop_partial(path: str | Path) -> None:
    """Remove the partial file beside the record at ``path``: a recorder calls it once the record
    holds its rows (written there, or found there), when the partial rows are out of date."""
    partial_path(path).unlink(missing_ok=True)


def save_progress(path: str | Path, rows: Sequence[dict[str, Any]], key: Sequence[str],
                  write_to: Callable[[Path], Any]) -> str:
    """A recorder's step after each finished block: ``write_to(where)`` the rows done so far, where
    :func:`target` says (the record, or its partial file while they hold fewer rows than the record
    already there), and drop a partial file the record has overtaken. Returns a line for the log."""
    where = target(path, rows, key)
    if where is not None:
        write_to(where)
    if where is None or where == Path(path):  # the record holds these rows: a partial is out of date
        drop_partial(path)
    return f"{counted(len(rows), 'row')} " + (f"written to {where}" if where else f"already in {path}, left as it is")


def _canonical(rows: Any) -> str:
    return json.dumps(rows, sort_keys=True, allow_nan=True)


def write(path: str | Path, fmt: str, params: Params, body: dict[str, Any], command: str,
          earlier: Sequence[dict[str, Any]] = ()) -> Path:
    """Write a record atomically: format, library version, parameters, ``body`` (the resolved
    configurations and the rows), provenance and the command that made it, and ``earlier``, the
    recordings some of the rows were carried over from (:func:`sources`; left out when none)."""
    payload = {"format": fmt, "version": mae_hlvm.__version__, "params": params.to_dict(), **body,
               **provenance(), "command": command, **({"earlier": list(earlier)} if earlier else {})}
    return write_json(path, payload)


def read(path: str | Path, fmt: str, cls: type[R], changes: Callable[[Any, dict[str, Any]], list[str]]) -> R:
    """Read a record of format ``fmt`` as ``cls``; ``changes(params, payload)`` lists what its
    parameters resolve to today that differs from what it recorded (each entry makes it stale).
    A file of another format is refused, naming both."""
    payload = json.loads(Path(path).read_text())
    if payload.get("format") != fmt:
        raise ValueError(f"{path}: format {payload.get('format')!r}, expected {fmt!r}")
    try:
        params = cls.params_type.from_dict(payload["params"])
    except ValueError as err:
        return cls(payload, [f"its parameters are no longer valid: {err}"])
    stale = changes(params, payload)
    if payload.get("version") != mae_hlvm.__version__:
        stale.append(f"it was computed by library version {payload.get('version')}, this is {mae_hlvm.__version__}")
    return cls(payload, stale)
