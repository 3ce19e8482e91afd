"""A run lock, so two `digest run` or `digest send` on one machine never overlap.

An OS file lock (flock): it is released when the process exits, even by SIGKILL, so a
crashed run never leaves a stale lock behind. The holder writes its pid into the file, for
the message the next run prints, and clears it when it lets go.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import LockedError

# The holder writes its pid just after it takes the lock: a run that starts at the same moment
# (two cron lines, a double click) finds the lock taken and the file still empty, or still
# naming the holder before, killed. It waits this long at most for the holder's own pid.
HOLDER_WAIT = 2.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _holder(fd: int) -> str:
    """The pid written in the lock file by the process that holds it now."""
    deadline = time.monotonic() + HOLDER_WAIT
    while True:
        written = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if written.isdigit() and _alive(int(written)):
            return written
        if time.monotonic() >= deadline:
            # Still nothing live: the lock is held by a process that did not say who it is
            # (a child of a killed run, say); name what the file says, if anything.
            return f"{written}, not running" if written else "unknown"
        time.sleep(0.01)


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"another digest run or send is under way (pid {_holder(fd)}, lock {path})"
            ) from None
        mine = f"{os.getpid()}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, mine, 0)
        try:
            yield
        finally:
            # Cleared while still held (and only by this process, not a forked child), so
            # the next holder's rival never reads a pid that is not the holder's.
            if os.pread(fd, 64, 0) == mine:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the lock
