"""Temporary files that a killed process cannot leave behind for good.

A file being written is staged as ``.<name>.<pid>-<thread>.partial`` next to its target (or in the system
temp directory) and renamed into place when complete. SIGKILL skips every ``finally``, so the next
writer into the same directory first removes the partial files of processes that no longer exist
(whatever their name: a content-addressed model is re-fitted under another name); a live process's
file (a concurrent run writing the same content) is left alone.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

SUFFIX = ".partial"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep(directory: str | Path) -> int:
    """Remove the partial files in ``directory`` left by dead processes; how many were removed."""
    removed = 0
    for path in Path(directory).glob(f".*{SUFFIX}"):
        owner = path.name[: -len(SUFFIX)].rsplit(".", 1)[-1]  # "<pid>-<thread>"
        pid = owner.split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def staging_path(directory: str | Path, name: str) -> str:
    """A fresh, empty staging file for ``name`` in ``directory``, after sweeping dead ones."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sweep(directory)
    path = directory / f".{name}.{os.getpid()}-{threading.get_native_id()}{SUFFIX}"
    path.unlink(missing_ok=True)  # this thread's own leftover from an earlier, interrupted write
    path.touch()
    return str(path)
