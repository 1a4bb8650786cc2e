"""Leave no process behind: whatever learner code starts, detached or not, is killed before a report is read.

A process that calls this module's `adopt_orphans` becomes a child subreaper
(Linux): a descendant whose parent dies is re-parented to it rather than to
init, so `kill_descendants` finds it however it detached (double fork, setsid).
Used by the grader before it reads the judge's report, and by the judge before
it writes one. Elsewhere descendants are found while their parents live; on Linux
the sandbox's pid namespace also takes every process inside down with it.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time

import psutil

_PR_SET_CHILD_SUBREAPER = 36


def adopt_orphans() -> None:
    """Become the parent of every descendant that is orphaned from now on (no-op where unsupported)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _descendants() -> list[psutil.Process]:
    """Live (not zombie) descendants of this process."""
    try:
        children = psutil.Process(os.getpid()).children(recursive=True)
    except psutil.Error:
        return []
    live = []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                live.append(child)
        except psutil.Error:
            pass
    return live


def _reap_children() -> None:
    if os.name != "posix":
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(keep: frozenset[int] = frozenset(), timeout_s: float = 5.0) -> None:
    """SIGKILL every live descendant but those in `keep`, reap the children, and repeat for late arrivals."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doomed = [p for p in _descendants() if p.pid not in keep]
        for process in doomed:
            try:
                process.kill()
            except psutil.Error:
                pass
        _reap_children()
        if not doomed:
            return
        time.sleep(0.01)
