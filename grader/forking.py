"""Start a process by forking a warm one (Linux): it begins with torch, pytest and the grader already imported.

Used by the warm grading process of `batch` (grader/warm.py): each submission's grader is forked
from it, forks its judge, and the judge forks its first sandbox, so no one of them starts Python or
imports torch again. Each child gets the descriptors, environment and folder a fresh process would
have had, every other descriptor closed, and is handed back as a `ForkedProcess`, which answers
the parts of `subprocess.Popen` the grader uses (pid, poll, wait, kill, stdin/stdout, returncode).

A fork copies one thread only, so the process that forks must have only one (see `can_fork`).
macOS and Windows keep the plain start: Apple's frameworks are not safe to use in a child forked
without exec (Python's multiprocessing stopped forking there for this reason), and Windows has no fork.
"""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import traceback
from typing import IO, Any, Callable, Mapping

TORCH_DEFAULT_SEED = 67280421310721  # the seed torch's CPU generator starts from in a fresh process
_POLL_S = 0.005


def supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 2  # unknown: assume the worst


def can_fork() -> bool:
    """Whether this process may fork a child that goes on to run Python: Linux, and one thread only."""
    return supported() and thread_count() == 1


class ForkedProcess:
    """A forked child, as much of `subprocess.Popen` as the grader uses."""

    def __init__(self, pid: int, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None):
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (a wait for any child): as Popen does
                self.returncode = 0
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        pidfd = self._pidfd()
        try:
            while self.poll() is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
                if pidfd is None:
                    time.sleep(_POLL_S if left is None else min(_POLL_S, left))
                else:  # readable once the child has ended: no wake-ups until then
                    select.select([pidfd], [], [], left)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        assert self.returncode is not None
        return self.returncode

    def _pidfd(self) -> int | None:
        """A descriptor that becomes readable when the child ends (Linux 5.3 and later), or None."""
        if self.returncode is not None or not hasattr(os, "pidfd_open"):
            return None
        try:
            return os.pidfd_open(self.pid)
        except OSError:
            return None

    def send_signal(self, number: int) -> None:
        if self.poll() is None:  # never signal a reaped pid: it may be another process's by now
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork(run: Callable[[], int], descriptors: Mapping[int, int], environment: Mapping[str, str], cwd: str,
         new_session: bool = False) -> int:
    """Fork a child that runs `run()` and exits with its result; the parent gets the child's pid.

    In the child, descriptor `n` of `descriptors` becomes a copy of the parent's descriptor `descriptors[n]`
    and every other one is closed; the environment is exactly `environment`; torch's generator starts where
    a fresh process's does."""
    for stream in (sys.stdout, sys.stderr):  # or output buffered so far would be written twice
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _become_fresh(descriptors, environment, cwd, new_session)
        code = run()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(code)
    raise AssertionError("unreachable")


def _become_fresh(descriptors: Mapping[int, int], environment: Mapping[str, str], cwd: str,
                  new_session: bool) -> None:
    import fcntl  # POSIX only, as fork is

    if new_session:
        os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Copies first, above every target, so that moving one into place never overwrites another's source.
    above = max(descriptors, default=2) + 1
    staged = {target: fcntl.fcntl(source, fcntl.F_DUPFD, above) for target, source in descriptors.items()}
    for target, copy in staged.items():
        os.dup2(copy, target)
    os.closerange(above, 2**31 - 1)  # close_range(2): one system call
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environment)
    _reset_torch()


def _reset_torch() -> None:
    torch: Any = sys.modules.get("torch")
    if torch is not None:
        torch.default_generator.manual_seed(TORCH_DEFAULT_SEED)
