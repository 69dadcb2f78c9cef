"""The small recorded form of results too long for ``make book`` (multi-seed sweeps, Section 3.6).

A record is one JSON file under ``book/recorded/``: the computation's parameters, what they resolve
to (the configurations of its runs), its rows, and provenance (commit, machine, date, command). No
checkpoint and no data set: a fresh clone can show a record but not recompute it, so a record is
checked against today's definitions when read. It is *stale* when its parameters no longer resolve
to the configurations recorded, or when another library version wrote it; the book then says so
instead of showing it as current.

``write`` and ``read`` are the shared halves; each computation (``sweep``, ``section36``) names its
format, its parameters class and what "resolves to" means for it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, TypeVar

import mae_hlvm

from .cache import provenance, write_json
from .params import Params


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


R = TypeVar("R", bound=Recorded)


def write(path: str | Path, fmt: str, params: Params, body: dict[str, Any], command: str) -> Path:
    """Write a record atomically: format, library version, parameters, ``body`` (the resolved
    configurations and the rows), provenance and the command that made it."""
    payload = {"format": fmt, "version": mae_hlvm.__version__, "params": params.to_dict(), **body,
               **provenance(), "command": command}
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
