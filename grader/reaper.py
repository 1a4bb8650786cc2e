"""Leave no process behind: whatever learner code starts, detached or not, is killed before a report is read.

A process that calls this module's `adopt_orphans` becomes a child subreaper
(Linux): a descendant whose parent dies is re-parented to it rather than to
init, so `kill_children` finds it however it detached (double fork, setsid).
Used by the grader before it reads the judge's report, and by the judge before
it writes one. Standard library only.
"""
from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Become the parent of every descendant that is orphaned from now on (no-op where unsupported)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def kill_children(timeout_s: float = 5.0) -> None:
    """SIGKILL every live child, reap them, and repeat for orphans that arrive meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = _children()
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
        if not children:
            return
        time.sleep(0.01)
