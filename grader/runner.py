"""Run the hidden suites on the learner's code, in a separate pytest process.

The grader itself never imports learner code. The suites run in a child
process (the judge) that writes a pytest-json-report file, and the judge runs
learner code in a sandbox process of its own, restarted after any fault. If
the judge itself dies or hangs all the same, the test it was running is
recorded as the culprit and the suites run again without it, so every other
test still gets its verdict. Before a report is read, every process the run
left behind is killed: nothing of the learner's can write it afterwards.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import psutil

from grader import forking, reaper, seal
from grader.sandbox import confine
from grader.catalog import SUITES_DIR, Exercise

Progress = Callable[[int, int], None]
Child = "subprocess.Popen | forking.ForkedProcess"
MAX_ROUNDS = 8  # each round after the first has set aside one more crashing test


class GraderFailure(Exception):
    """The grader itself could not do its job (exit code 3)."""


@dataclass(frozen=True)
class RunPlan:
    exercises: list[Exercise]
    target: Path
    device: str
    seed: int
    test_timeout_s: float = 10.0
    memory_mib: int = 2048
    confine: str = "auto"  # "none": run learner code without OS confinement (the path of OSes that have none)
    private_suites: Path | None = None  # --suites DIR: its files are laid over grader/suites/
    suites_dir: Path = SUITES_DIR  # where the judge runs; a temporary merged copy with private suites

    @property
    def round_timeout_s(self) -> float:
        """Long enough for every test to use its whole time limit, and a start-up."""
        return 120.0 + 40 * (self.test_timeout_s + 5.0)


@dataclass
class SuiteRun:
    """Per-test records (pytest-json-report's entries) and what the judge reported about itself."""

    tests: list[dict[str, Any]]
    judge: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Round:
    report: dict[str, Any] | None
    manifest: list[dict[str, Any]] | None
    started: list[str]
    finished: set[str]
    returncode: int | None  # None: killed at the round's time limit
    stderr: str
    tampered: bool = False  # a report was there, but not the judge's (its seal did not match)


def run_suites(plan: RunPlan, on_progress: Progress | None = None) -> SuiteRun:
    """Every selected test's record; `on_progress(finished, total)` is called while tests run."""
    if plan.private_suites is None:
        return _run_rounds(plan, on_progress)
    with tempfile.TemporaryDirectory(prefix="rnn-grader-suites-") as tmp:
        merged = merge_suites(plan.private_suites, Path(tmp) / "suites")
        return _run_rounds(dataclasses.replace(plan, suites_dir=merged), on_progress)


def merge_suites(private: Path, destination: Path) -> Path:
    """grader/suites/ with the private folder's files laid over it (the judge's helpers stay the grader's own
    unless the private folder replaces them)."""
    skip = shutil.ignore_patterns("__pycache__", ".*")
    if SUITES_DIR.is_dir():  # a student copy may ship without grader/suites/
        shutil.copytree(SUITES_DIR, destination, ignore=skip)
    shutil.copytree(private, destination, ignore=skip, dirs_exist_ok=True)
    return destination


def _run_rounds(plan: RunPlan, on_progress: Progress | None) -> SuiteRun:
    set_aside: dict[str, dict[str, Any]] = {}
    manifest: list[dict[str, Any]] | None = None
    tampered_rounds = 0
    for _ in range(MAX_ROUNDS):
        result = _run_round(plan, sorted(set_aside), on_progress)
        manifest = result.manifest or manifest
        if result.report is not None:
            if result.report.get("exitcode") not in (0, 1):
                raise GraderFailure(f"the test process ended with pytest exit code {result.report.get('exitcode')}:\n"
                                    + result.stderr[-2000:])
            return SuiteRun(tests=result.report["tests"] + list(set_aside.values()),
                            judge=result.report.get("grader", {}))
        if result.tampered:
            tampered_rounds += 1
            continue  # another process wrote the report: grade again
        culprit = _culprit(result)
        if culprit is None or manifest is None:
            raise GraderFailure("the test process failed before running any test:\n" + result.stderr[-2000:])
        set_aside[culprit] = _aborted_record(culprit, manifest, result)
    if tampered_rounds == MAX_ROUNDS:
        raise GraderFailure("every report of the judge was overwritten by another process")
    # Out of rounds: whatever never finished is reported as aborted.
    assert manifest is not None
    tests = [set_aside.get(m["nodeid"]) or _aborted_record(m["nodeid"], manifest, None) for m in manifest]
    return SuiteRun(tests=tests)


def _culprit(result: _Round) -> str | None:
    unfinished = [nodeid for nodeid in result.started if nodeid not in result.finished]
    return unfinished[-1] if unfinished else None


def _exit_description(result: _Round | None) -> tuple[str, str, str]:
    """(status, English, Chinese) describing how the test process ended."""
    if result is None:
        return ("error", "it was not run: too many earlier tests crashed the grading process",
                "未运行：之前有太多测试使评测进程崩溃")
    if result.returncode is None:
        return ("timeout", "the grading process stopped responding during this test and was stopped",
                "评测进程在此测试中失去响应，已被终止")
    code = result.returncode
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return ("error", f"the grading process was killed by {name} during this test (a crash in native code, "
                         "or too much memory)", f"评测进程在此测试中被 {name} 终止（本地代码崩溃或内存过多）")
    return ("error", f"the grading process exited with code {code} during this test (does your code call "
                     "os._exit or exit the interpreter?)",
            f"评测进程在此测试中以退出码 {code} 结束（你的代码是否调用了 os._exit 或退出了解释器？）")


def _aborted_record(nodeid: str, manifest: list[dict[str, Any]], result: _Round | None) -> dict[str, Any]:
    identity = next((m for m in manifest if m["nodeid"] == nodeid), {"nodeid": nodeid})
    status, en, zh = _exit_description(result)
    metadata = {k: v for k, v in identity.items() if k != "nodeid"}
    metadata.update(verdict=status, hint_en=en[0].upper() + en[1:] + ".", hint_zh=zh + "。")
    return {"nodeid": nodeid, "outcome": "failed", "metadata": metadata}


JUDGE_START = Path(__file__).resolve().parent / "judge" / "start.py"
DEPENDENCIES = ("torch", "numpy", "pytest", "pytest_jsonreport", "psutil")


def site_paths() -> list[str]:
    """The folders the grader's dependencies are imported from (an isolated interpreter may not look there)."""
    folders = []
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            folder = str(Path(spec.origin).resolve().parents[1])
            if folder not in folders:
                folders.append(folder)
    return folders


def _pytest_command(plan: RunPlan, report: Path, deselect: list[str]) -> list[str]:
    command = [
        sys.executable, "-I", str(JUDGE_START), *(str(e.suite_in(plan.suites_dir)) for e in plan.exercises),
        "-c", str(plan.suites_dir / "pytest.ini"), "--rootdir", str(plan.suites_dir),
        "-p", "grader.judge.plugin", "-p", "pytest_jsonreport.plugin", "--json-report",
        f"--json-report-file={report}", "--json-report-omit", "collectors", "log", "streams", "warnings", "keywords",
        "-q", "--no-header", "-p", "no:cacheprovider",
        "--tb=native",  # nobody reads the judge's tracebacks: pytest's long style took 0.1 s per failed check
        "--noconftest",  # the suites are test files only: no conftest.py anywhere near them is loaded
    ]
    if plan.suites_dir == SUITES_DIR:
        # The grader's own suites judge with the toolkit, never a bare assert (a test checks this), so pytest's
        # rewriting of their asserts, about 16 ms of every judge's start, would change nothing. Private suites
        # keep it: an instructor's assert shows its values.
        command.append("--assert=plain")
    for nodeid in deselect:
        command += ["--deselect", nodeid]
    return command


def _judge_environment(plan: RunPlan, workdir: Path) -> dict[str, str]:
    """An allowlist (no tokens or credentials reach the judge, let alone the sandbox), and the run's settings."""
    env = confine.safe_environment(os.environ, workdir)
    env.update(
        # The graded tensors are tiny: one thread each for the judge and the sandbox. More only spin
        # and compete for the cores (a grade took 40% longer with torch's default threads on 2 cores).
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        GRADER_SITE_PATHS=os.pathsep.join(site_paths()),
        GRADER_TARGET=str(plan.target),
        GRADER_SEED=str(plan.seed),
        GRADER_DEVICE=plan.device,
        GRADER_TEST_TIMEOUT=str(plan.test_timeout_s),
        GRADER_MEMORY_MIB=str(plan.memory_mib),
        GRADER_CONFINE=plan.confine,
        # "off": the static allowlist of what exercise code may use is not applied (the project's own tests
        # of the defences behind it); the denylist of built-in recurrent kernels still is.
        GRADER_ALLOWLIST=os.environ.get("GRADER_ALLOWLIST", "on"),
        GRADER_PROGRESS=str(workdir / "progress.log"),
        GRADER_MANIFEST=str(workdir / "manifest.json"),
    )
    return env


MAX_FILE_BYTES = 64 * 2**20  # the judge's report and manifest; anything larger was not written by it


def _read_text(path: Path) -> str | None:
    """A regular file's text; None for anything else (a FIFO or a folder in its place must not block or crash)."""
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return None


def _read_progress(path: Path) -> tuple[list[str], set[str]]:
    started, finished = [], set()
    for line in (_read_text(path) or "").splitlines():
        event, _, nodeid = line.partition(" ")
        if event == "start":
            started.append(nodeid)
        elif event == "end":
            finished.add(nodeid)
    return started, finished


STOPPED_LIMIT_S = 2.0  # a judge held stopped (SIGSTOP, a debugger) this long is given up on
JUDGE_MEMORY_MIB = 4096  # the judge's own tensors are tiny; past this something inflated it


def _stopped_or_bloated(process: Child) -> tuple[bool, bool]:
    """(held stopped, over its memory limit): the judge is watched from outside, where nothing can undo it."""
    try:
        judge = psutil.Process(process.pid)
        stopped = judge.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
        return stopped, judge.memory_info().rss > JUDGE_MEMORY_MIB * 2**20
    except psutil.Error:
        return False, False


def _wait(process: Child, timeout_s: float, workdir: Path, on_progress: Progress | None) -> int | None:
    """The exit code, or None after killing the process at its time limit, once it has been held stopped or
    once it grew past its memory limit; reports progress meanwhile."""
    deadline = time.monotonic() + timeout_s
    total = 0  # tests in this round, known once the judge has written its manifest
    stopped_since: float | None = None
    while True:
        try:
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            stopped, bloated = _stopped_or_bloated(process)
            stopped_since = (stopped_since or now) if stopped else None
            if now > deadline or bloated or (stopped_since is not None and now - stopped_since > STOPPED_LIMIT_S):
                process.kill()
                process.wait()
                return None
            if on_progress is not None:
                total = total or len(_read_json(workdir / "manifest.json") or [])
                if total:
                    on_progress(len(_read_progress(workdir / "progress.log")[1]), total)


# Set in a grader forked from the warm grading process of `batch` (grader/warm.py), which holds torch, pytest and
# the judge's modules: its judges are forked from it too, and each judge forks its first sandbox (see `forks_judge`).
FORK_JUDGES = False


def uses_cuda(device: str) -> bool:
    """Whether the judge will run on CUDA (the judge's own rule for "auto")."""
    return device.startswith("cuda") or (device == "auto" and Path("/dev/nvidiactl").exists())


def forks_judge(plan: RunPlan, deselect: Sequence[str] = ()) -> bool:
    """Fork this run's judge rather than start it: in a warm grader, on the CPU, for the first round only (a later
    round's grader has read a judge's report), and not with private suites (whose copy this process makes)."""
    return (FORK_JUDGES and not deselect and plan.private_suites is None and not uses_cuda(plan.device)
            and forking.can_fork())


def _spawn_judge(plan: RunPlan, report_file: Path, deselect: list[str], workdir: Path,
                 errors: BinaryIO) -> Child:
    """The judge, started: it imports torch, starts its sandbox, then waits for its key (see `_go`)."""
    command = _pytest_command(plan, report_file, deselect)
    environment = _judge_environment(plan, workdir)
    if forks_judge(plan, deselect):
        return _fork_judge(command, environment, plan.suites_dir, errors)
    return subprocess.Popen(command, cwd=plan.suites_dir, env=environment, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=errors)


def _fork_judge(command: list[str], environment: dict[str, str], cwd: Path,
                errors: BinaryIO) -> forking.ForkedProcess:
    """The same judge, forked from this warm process: the descriptors, environment and folder it would have had.
    It forks its first sandbox in turn, before it has read any suite or its key."""
    key_read, key_write = os.pipe()
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        pid = forking.fork(lambda: _judge_main(command), {0: key_read, 1: devnull, 2: errors.fileno()},
                           {**environment, "GRADER_FORK_SANDBOX": "1"}, str(cwd))
    finally:
        os.close(key_read)
        os.close(devnull)
    return forking.ForkedProcess(pid, stdin=os.fdopen(key_write, "wb"))


def _judge_main(command: list[str]) -> int:
    """In the forked judge: what `python -I judge/start.py ARGS` runs."""
    from grader.judge import start, toolkit

    toolkit.read_environment()  # imported by the warm process, before this run's environment
    sys.argv = command[2:]
    return start.main(command[3:])


def _go(process: Child, key: bytes) -> None:
    """Hand the judge its key: it collects and runs the tests from then on."""
    assert process.stdin is not None
    try:
        process.stdin.write(key)
        process.stdin.close()
    except OSError:
        pass  # the judge died: its round reports why


@dataclass
class _Primed:
    """A judge started ahead of time for the next run of `plan`, waiting for its key."""

    plan: RunPlan
    process: Child
    scratch: tempfile.TemporaryDirectory
    errors: BinaryIO
    baseline: Any  # what the caller fingerprinted before the judge started (see `primed_baseline`)


def _start(plan: RunPlan, deselect: list[str], baseline: Any = None) -> _Primed:
    """A judge started in a private scratch folder, waiting for its key."""
    reaper.adopt_orphans()
    scratch = tempfile.TemporaryDirectory(prefix="rnn-grader-")
    workdir = Path(scratch.name)
    errors = open(workdir / "judge.err", "wb")
    return _Primed(plan, _spawn_judge(plan, workdir / "report.json", deselect, workdir, errors), scratch, errors,
                   baseline)


_PRIMED: list[_Primed] = []  # at most one


def prime(plan: RunPlan, baseline: Any = None) -> None:
    """Start the judge (and so its sandbox) of the next run of `plan` now, for `--watch`: the next `run_suites`
    with the same plan sends it its key and pays only for the checks, not for starting Python and torch twice.
    It is a fresh judge and a fresh sandbox, as in every run (never one that graded before), started after
    everything of the last run was killed; it reads the learner's files only once it is told to go. `baseline` is
    kept for the caller (a fingerprint of the grader's files taken before it started)."""
    discard_primed()
    if plan.private_suites is not None:
        return  # the merged suites folder lives only as long as one run
    _PRIMED.append(_start(plan, [], baseline))


def primed_baseline(plan: RunPlan) -> Any:
    """The baseline given to `prime` when a judge is primed for this plan, else None."""
    return _PRIMED[0].baseline if _PRIMED and _PRIMED[0].plan == plan else None


def discard_primed() -> None:
    """Stop a primed judge that will not be used, and everything it started."""
    while _PRIMED:
        primed = _PRIMED.pop()
        reaper.kill_tree(primed.process)
        primed.errors.close()
        primed.scratch.cleanup()


def _take_primed(plan: RunPlan, deselect: list[str]) -> _Primed | None:
    if deselect or not _PRIMED or _PRIMED[0].plan != plan or _PRIMED[0].process.poll() is not None:
        discard_primed()
        return None
    return _PRIMED.pop()


def _run_round(plan: RunPlan, deselect: list[str], on_progress: Progress | None) -> _Round:
    primed = _take_primed(plan, deselect) or _start(plan, deselect)
    key = seal.new_key()
    with primed.scratch as tmp, primed.errors:
        workdir = Path(tmp)
        report_file = workdir / "report.json"
        _go(primed.process, key)
        returncode = _wait(primed.process, plan.round_timeout_s, workdir, on_progress)
        primed.errors.close()
        reaper.kill_descendants()
        stderr = _read_text(workdir / "judge.err") or ""
        started, finished = _read_progress(workdir / "progress.log")
        report = _read_json(report_file) if returncode is not None else None
        tampered = report is not None and not (isinstance(report.get("tests"), list) and seal.verify(key, report))
        return _Round(report=None if tampered else report, manifest=_read_json(workdir / "manifest.json"),
                      started=started, finished=finished, returncode=returncode, stderr=stderr, tampered=tampered)
