"""Temporary files for atomic writes (write beside the target, then ``os.replace``), and the removal
of those a killed process left behind.

A temp file is named ``<target name>.<pid>.<random>.tmp``. A process killed mid-write (SIGKILL, out of
memory, power) never runs its clean-up, so its temp file stays; the next write of the same target
removes every such file whose process is gone (and those of the older ``<name>.<random>.tmp``
naming), leaving a live writer's file alone.
"""
from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_temp", "remove_orphan_temps"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: the process exists under another user
        return True
    return True


def remove_orphan_temps(path: str | Path) -> list[Path]:
    """Delete the temp files of ``path`` whose writing process is gone; returns those removed."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f"{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 1:].split(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or _alive(int(pid))):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def atomic_temp(path: str | Path, mode: str = "wb"):
    """``(file object, temp path)`` for writing ``path`` atomically, after removing the orphans of
    earlier killed writes; the caller writes, closes, then ``os.replace(temp, path)``."""
    path = Path(path)
    remove_orphan_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file 0600; give it what open() would (0666 less the umask), so a renamed
    # record or checkpoint is as readable as any other file the user writes (and committable as is)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(fd, 0o666 & ~umask)
    return os.fdopen(fd, mode), tmp
