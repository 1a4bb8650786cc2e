"""The warm grading process of `batch`: torch, pytest and the grader imported once, each submission forked from it.

Usage (by `batch`, on Linux with the CPU): python -I warm.py CONTROL_FD

Every submission is graded by `python -m grader --target COPY --json -` as in a cold batch, but that
grader is forked from this process instead of started, so it begins with everything imported; it forks
its judge, and the judge forks its first sandbox (grader/forking.py, grader/runner.py,
grader/judge/remote.py). Each is a fresh process that never graded before, with the same
environment, limits and confinement as a cold start (the sandbox still enters its namespaces and
Landlock, possible because a forked child has one thread). This process itself never reads a
submission, a suite or a key: it imports public modules and forks.

Protocol over the Unix socket CONTROL_FD (packets): the batch sends one request per submission, a JSON object
{"argv": [...], "env": {...}, "cwd": "..."} with three descriptors attached (the grader's stdout and stderr,
and a socket for the answer); this process answers on that socket with the grader's pid, a line, and,
once it has ended, its exit code (negative: the signal that killed it), a line. It ends, killing every
grader it forked, when the batch closes the control socket or dies.
"""
from __future__ import annotations

import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import psutil

ROOT = str(Path(__file__).resolve().parents[1])
START_LIMIT_S = 180.0  # importing torch on a loaded machine
MAX_REQUEST = 1 << 16  # one message on the control socket: argv, environment, folder
_LOOP_S = 0.02

# Imported once here; all of it public code (the student copy ships it). Not the judge's plugin: it starts the sandbox
# and reads the run's settings when imported, so each judge imports it itself (and has the toolkit read them again).
PRELOADED = (
    "torch", "torch.nn", "torch.nn.functional", "torch.func", "numpy", "psutil", "pytest", "_pytest.python",
    "pytest_jsonreport.plugin", "grader.cli", "grader.batch", "grader.judge.toolkit", "grader.judge.remote",
    "grader.judge.oracle",
    "grader.judge.diagnose", "grader.judge.identify", "grader.judge.deviations", "grader.judge.forbidden",
    "grader.judge.overflow", "grader.judge.attribution", "grader.judge.tolerance", "grader.judge.start",
    "grader.sandbox.main", "grader.sandbox.start", "grader.sandbox.given", "grader.sandbox.guards", "grader.sandbox.wire",
)


class WarmUnavailable(Exception):
    """The warm process could not be started: the batch grades the plain way."""


def supported(device: str) -> bool:
    from grader import forking, runner

    return forking.supported() and not runner.uses_cuda(device)


# --------------------------------------------------------------------------
# The batch's side
# --------------------------------------------------------------------------


class WarmGrader:
    """The warm process, started by the batch; once `wait_ready` returns, `run` grades one submission in a grader
    forked from it."""

    def __init__(self, environment: dict[str, str]):
        from grader import runner

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**environment, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "GRADER_SITE_PATHS": os.pathsep.join(runner.site_paths())}
        self.errors = tempfile.TemporaryFile()  # read only if it fails: a pipe nobody reads could fill and block it
        self.process = subprocess.Popen([sys.executable, "-I", __file__, str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=self.errors)
        theirs.close()
        self.control = ours
        self.lock = threading.Lock()

    def wait_ready(self) -> None:
        """Wait until the warm process has imported everything (it starts doing so when this object is made, so the
        caller can do other work meanwhile); WarmUnavailable if it cannot."""
        self.control.settimeout(START_LIMIT_S)
        try:
            ready = self.control.recv(16)
        except OSError:
            ready = b""
        if ready != b"ready\n":
            self.errors.seek(0)
            why = self.errors.read().decode("utf-8", "replace")[-500:].strip()
            self.close()
            raise WarmUnavailable(why or "it ended before it was ready")
        self.control.settimeout(None)

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, stdout: BinaryIO, stderr: BinaryIO,
            time_limit_s: float) -> int | None:
        """Grade in a forked grader; its exit code, or None once it ran out of time (its tree is then killed).
        Every process of its tree is killed however it ends, as in `batch.run_to_end`."""
        from grader import reaper

        answer, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = json.dumps({"argv": argv, "env": env, "cwd": str(cwd)}).encode()
        if len(request) > MAX_REQUEST:
            raise WarmUnavailable(f"a request of {len(request)} bytes (an environment this large?)")
        with answer, theirs:
            with self.lock:
                socket.send_fds(self.control, [request], [stdout.fileno(), stderr.fileno(), theirs.fileno()])
            theirs.close()
            lines = _Lines(answer)
            deadline = time.monotonic() + time_limit_s
            pid = lines.next(deadline)
            if pid is None:
                raise WarmUnavailable("the warm grading process did not answer")
            grader = _process(int(pid))
            family: dict[int, psutil.Process] = {}
            code = None
            while code is None and not lines.ended and time.monotonic() < deadline:
                if grader is not None:
                    family.update((p.pid, p) for p in reaper.descendants(grader.pid))
                code = lines.next(min(deadline, time.monotonic() + 0.2))
            if code is None and grader is not None:
                _kill_session(grader)
            reaper.kill_all([*([grader] if grader is not None else []), *family.values()])
            if code is None and lines.ended:
                raise WarmUnavailable("the warm grading process ended")  # this submission is graded the plain way
            if code is None:
                lines.next(time.monotonic() + 5.0)  # reaped by the warm process
                return None
            return int(code)

    def close(self) -> None:
        from grader import reaper

        try:
            self.control.close()
        except OSError:
            pass
        reaper.kill_tree(self.process)
        self.errors.close()


class _Lines:
    """Lines read from a socket, each within a deadline."""

    def __init__(self, sock: socket.socket):
        self.sock, self.buffer = sock, b""
        self.ended = False  # the other end closed the socket

    def next(self, deadline: float) -> str | None:
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.ended:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(64)
            except socket.timeout:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.ended = True
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _kill_session(grader: psutil.Process) -> None:
    """The grader leads a session of its own: signal its group while it is surely still the same process."""
    try:
        if grader.is_running():
            os.killpg(grader.pid, signal.SIGKILL)
    except (OSError, psutil.Error):
        pass


# --------------------------------------------------------------------------
# The warm process
# --------------------------------------------------------------------------


def _preload() -> None:
    import importlib

    for folder in filter(None, os.environ.get("GRADER_SITE_PATHS", "").split(os.pathsep)):
        if folder not in sys.path:
            sys.path.append(folder)
    from _pytest.config import default_plugins

    for name in [*PRELOADED, *(f"_pytest.{plugin}" for plugin in default_plugins)]:
        importlib.import_module(name)
    import torch

    torch.set_num_threads(1)
    _warm_kernels()
    # What is imported now is shared with every child until written to. Out of the collector's sight, its objects
    # are not visited (so not copied) by each child's garbage collections.
    gc.collect()
    gc.freeze()


def _warm_kernels() -> None:
    """Run torch.nn's recurrent layers once, forward and backward, in both dtypes: their first call in a process
    prepares kernels (tens of milliseconds), which every forked judge would otherwise do again (other operations'
    first calls cost little: warming them measured no faster). Public computations on made-up numbers; the
    generator each child starts from is reset when it is forked (grader/forking.py)."""
    import torch
    from grader.judge import oracle

    for dtype in (torch.float64, torch.float32):
        for mode in oracle.MODULES:
            for layers, bidirectional in ((1, False), (2, True)):
                dropout = 0.5 if layers > 1 else 0.0  # torch warns of dropout on one layer
                module = oracle.make_module(mode, 3, 2, layers, True, bidirectional, dropout, dtype,
                                            torch.device("cpu"))  # in training mode: dropout runs
                x = torch.randn(4, 2, 3, dtype=dtype, requires_grad=True)
                output, _ = module(x)
                torch.autograd.grad(output.sum(), [x, *module.parameters()])
                with torch.no_grad():
                    module.eval()(x)


def _receive(control: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """One request and its three descriptors; None when the batch is gone."""
    message, fds, _flags, _address = socket.recv_fds(control, MAX_REQUEST, 3)
    if not message:
        return None
    return json.loads(message), fds


def _fork_grader(request: dict[str, Any], stdout: int, stderr: int) -> int:
    from grader import cli, forking, runner

    def grade() -> int:
        runner.FORK_JUDGES = True
        sys.argv = ["grader", *request["argv"]]
        return cli.main(request["argv"])

    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        return forking.fork(grade, {0: devnull, 1: stdout, 2: stderr}, request["env"], request["cwd"],
                            new_session=True)
    finally:
        os.close(devnull)


def serve(control: socket.socket) -> None:
    from grader import forking, reaper

    answers: dict[int, socket.socket] = {}
    try:
        while True:
            readable, _, _ = select.select([control], [], [], _LOOP_S)
            if readable:
                received = _receive(control)
                if received is None:
                    return
                request, fds = received
                if len(fds) != 3:
                    for fd in fds:
                        os.close(fd)
                    continue
                stdout, stderr, answer_fd = fds
                answer = socket.socket(fileno=answer_fd)
                try:
                    if not forking.can_fork():
                        raise OSError("the warm process has more than one thread")
                    pid = _fork_grader(request, stdout, stderr)
                    answer.sendall(f"{pid}\n".encode())
                    answers[pid] = answer
                except OSError:
                    answer.close()
                finally:
                    os.close(stdout)
                    os.close(stderr)
            if _reap(answers):  # what an ended grader left running came here: kill it (reaped by `_reap` later,
                # which alone reaps here: a grader reaped anywhere else would never have its exit code answered)
                reaper.kill_all([p for p in reaper.children() if p.pid not in answers])
    finally:
        reaper.kill_descendants()  # every grader's tree: this process adopts whatever they leave behind


def _reap(answers: dict[int, socket.socket]) -> bool:
    """Reap ended children and answer for the graders among them; whether any grader ended."""
    ended = False
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        answer = answers.pop(pid, None)
        ended = ended or answer is not None
        if answer is not None:
            try:
                answer.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:
                pass
            answer.close()


def main(argv: list[str]) -> int:
    sys.path.insert(0, ROOT)
    control = socket.socket(fileno=int(argv[0]))
    from grader import reaper

    reaper.die_with_parent()  # the batch gone, this goes too
    reaper.adopt_orphans()  # a grader's processes left behind when it ends come here, to be killed
    _preload()
    control.sendall(b"ready\n")
    serve(control)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
