"""Leave no process behind: whatever learner code starts, detached or not, is killed before a report is read.

A process that calls this module's `adopt_orphans` becomes a child subreaper
(Linux): a descendant whose parent dies is re-parented to it rather than to
init, so `kill_descendants` finds it however it detached (double fork, setsid).
Used by the grader before it reads the judge's report, and by the judge before
it writes one; `kill_tree` stops one child with everything it started (the judge's
sandbox, each grader of a batch). Elsewhere descendants are found while their parents live; on Linux
the sandbox's pid namespace also takes every process inside down with it.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Iterable

import psutil

_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1


def adopt_orphans() -> None:
    """Become the parent of every descendant that is orphaned from now on (no-op where unsupported)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def die_with_parent() -> None:
    """Be sent SIGKILL when the parent ends (Linux; no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def children(pid: int | None = None) -> list[psutil.Process]:
    """A process's children (this process's by default) as they are now."""
    pid = os.getpid() if pid is None else pid
    listed = _listed_children(pid)
    if listed is not None:
        return _processes(listed)
    try:
        return psutil.Process(pid).children()
    except psutil.Error:
        return []


def descendants(pid: int) -> list[psutil.Process]:
    """A process's descendants as they are now (none once it is gone)."""
    if _CHILDREN_LISTED:
        found: list[int] = []
        parents = [pid]
        while parents:
            listed = _listed_children(parents.pop())
            if listed is None:
                break
            found.extend(listed)
            parents.extend(listed)
        else:
            return _processes(found)
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _children_listed() -> bool:
    """Whether Linux lists each thread's children in /proc (CONFIG_PROC_CHILDREN): one read per process of the tree,
    where psutil reads every process of the machine to find a tree."""
    return os.path.exists(f"/proc/self/task/{os.getpid()}/children")


_CHILDREN_LISTED = sys.platform.startswith("linux") and _children_listed()


def _listed_children(pid: int) -> list[int] | None:
    """The children of `pid` from /proc ([] once it is gone), None where the kernel does not list them."""
    if not _CHILDREN_LISTED:
        return None
    found = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    except OSError:
        return None
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children", "rb") as listing:
                found.extend(int(child) for child in listing.read().split())
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        except (OSError, ValueError):
            return None
    return found


def _processes(pids: Iterable[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))  # records its start time: a later kill checks it is the same process
        except psutil.Error:
            pass
    return found


def _live(processes: list[psutil.Process]) -> list[psutil.Process]:
    live = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                live.append(process)
        except psutil.Error:
            pass
    return live


def kill_all(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL each process that is still the one it was (psutil compares start times); nothing is reaped."""
    for process in processes:
        try:
            process.kill()  # psutil checks that the pid is still the same process
        except psutil.Error:
            pass


def kill_tree(process: subprocess.Popen, known: Iterable[psutil.Process] = ()) -> list[psutil.Process]:
    """SIGKILL a child process, its process group (POSIX), every descendant it has now and those it was seen
    with before (`known`), then reap it. Returns the processes killed besides it.

    The group is signalled only while the child is not reaped yet: a reaped pid can belong to a new session
    leader (another sandbox or grader) whose group would then be killed."""
    members = {p.pid: p for p in known}
    members.update((p.pid, p) for p in descendants(process.pid))
    if process.poll() is None and hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
    kill_all(members.values())
    process.kill()
    process.wait()
    return list(members.values())


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
        doomed = [p for p in _live(descendants(os.getpid())) if p.pid not in keep]
        kill_all(doomed)
        _reap_children()
        if not doomed:
            return
        time.sleep(0.01)
