#!/usr/bin/env python3
"""How long grading takes, next to the floor of starting Python and importing torch.

    python benchmarks/run.py [--rounds N] [--quick] [--no-batch] [--device cpu|cuda]
                             [--batch-size N] [--one EXERCISE] [--out benchmarks/RESULTS.md]

Runs, as subprocesses from the repository root and interleaved round by round
(A B C D, A B C D, ...) after one warm-up round:

  A  python -c "import torch"                         the floor
  B  python -m grader --target solutions              a full grade
  C  python -m grader EXERCISE --target solutions     one exercise
  D  pytest over the same hidden suites, with the grader's own command line and
     environment, but without the grader around it

then grades a folder of generated submissions (copies of solutions/, every other
one with a planted mistake) with `python -m grader batch DIR` (its warm process on
Linux) and again with `--cold`, checks that both give the same grades, and measures the two
ways a learner re-grades while working: `--watch` (from saving the exercise file to
the result on screen) and `check(EXERCISE)` in a Jupyter kernel (needs jupyter_client
and ipykernel: requirements-dev.txt; skipped without them).
Prints a table of medians, minima, ratios to the floor and peak memory, and the
goals met or not, and writes them with the machine's description to --out.

Standard library only; the grader's internals are used in one small function,
`bare_pytest_invocation`, and nowhere else.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20

FULL_GOAL_X = 2.0  # a full grade: at most this many times `import torch`
ONE_GOAL_X = 1.5  # one exercise
OVERHEAD_GOAL = 0.20  # the grader over bare pytest on the same suites: less than this
WATCH_GOAL_S = 0.5  # --watch: from saving a file to the result, at most this (median)
EDIT_PAUSE_S = 5.0  # a learner reads the result and edits before saving again (watch) or re-checking (notebook)
BATCH_GOAL_PER_MINUTE = 120.0  # batch over the generated submissions: at least this many per minute


def _plants() -> list[tuple[str, str]]:
    """Mistakes planted in every other generated submission: (file, code appended to a copy of solutions/),
    taken from the tests' catalog of learner mistakes."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from plants import PLANTS as CATALOG
    finally:
        sys.path.remove(str(REPO / "tests"))
    return [(plant.file, plant.code) for plant in CATALOG]


class BenchmarkError(Exception):
    """A measured command failed, or the benchmark cannot run here (exit code 1)."""


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


# --------------------------------------------------------------------------
# What is run
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    ok_codes: tuple[int, ...] = (0,)
    note: str = ""  # where the command line came from, when that is worth saying


@dataclass(frozen=True)
class Command:
    key: str
    label: str
    build: Callable[[Path], Invocation]  # scratch folder (fresh for every run) -> what to run


def base_environment() -> dict[str, str]:
    """This process's environment without pytest's or the grader's variables (as the runner does)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GRADER_"))}


def python_command(*args: str, cwd: Path = REPO, ok_codes: tuple[int, ...] = (0,)) -> Callable[[Path], Invocation]:
    return lambda scratch: Invocation([sys.executable, *args], base_environment(), cwd, ok_codes)


def bare_pytest_invocation(exercise_ids: list[str], device: str, seed: int, scratch: Path) -> Invocation:
    """The judge's pytest command line and environment, as the grader would start it, without the grader.

    Taken from the grader itself (`grader.runner._pytest_command` and `_judge_environment`), so the bare
    run is exactly the judge the grader starts.
    """
    sys.path.insert(0, str(REPO))
    try:
        from grader import catalog, runner

        plan = runner.RunPlan(exercises=catalog.select(exercise_ids), target=SOLUTIONS, device=device, seed=seed)
        argv = runner._pytest_command(plan, scratch / "report.json", [])
        env = runner._judge_environment(plan, scratch)
        return Invocation(list(argv), dict(env), Path(catalog.SUITES_DIR), note="from grader.runner")
    finally:
        sys.path.remove(str(REPO))


def check_exercise(token: str) -> None:
    """UsageError unless the grader knows the exercise `token` (uses `grader.catalog.select` and `UsageError`)."""
    sys.path.insert(0, str(REPO))
    try:
        from grader import catalog

        catalog.select([token])
    except (ImportError, AttributeError):
        return  # the grader will say so itself when it runs
    except Exception as error:  # noqa: BLE001 - the catalog's own message is the clearest
        raise UsageError(f"--one {token}: {error}") from None
    finally:
        sys.path.remove(str(REPO))


def batch_command(folder: Path, device: str, seed: int, out: Path, cold: bool = False) -> list[str]:
    """`python -m grader batch FOLDER`, everyone graded on the same device and seed; `cold`: with --cold."""
    return [sys.executable, "-m", "grader", "batch", str(folder), "--device", device, "--seed", str(seed),
            "--out", str(out), *(["--cold"] if cold else [])]


def commands(one: str, device: str, seed: int) -> list[Command]:
    grade = ("-m", "grader", "--target", "solutions", "--device", device, "--seed", str(seed))
    return [
        Command("torch", 'python -c "import torch"', python_command("-c", "import torch")),
        Command("full", "python -m grader --target solutions", python_command(*grade)),
        Command("one", f"python -m grader {one} --target solutions", python_command(*grade[:2], one, *grade[2:])),
        Command("bare", "bare pytest over the same suites", lambda s: bare_pytest_invocation([], device, seed, s)),
    ]


# --------------------------------------------------------------------------
# Measuring one run
# --------------------------------------------------------------------------


@dataclass
class Measurement:
    wall_s: float
    tree_rss_bytes: int  # peak of the summed resident size of the process tree, sampled
    largest_process_bytes: int  # the largest single process's peak resident size (exact, from wait4)


def _process_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, session id, resident bytes) of every process visible in /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        table[int(name)] = (int(fields[1]), int(fields[3]), int(fields[21]) * PAGE_SIZE)
    return table


def tree_rss(root: int) -> int:
    """Summed resident size of `root`, its descendants, and anything left in its session."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    members, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in table and pid not in members:
            members.add(pid)
            stack.extend(children.get(pid, []))
    members.update(pid for pid, (_, session, _) in table.items() if session == root)
    return sum(table[pid][2] for pid in members)


class TreeMemoryPoller:
    """Samples `tree_rss(root)` every `interval_s` on a thread; `peak` is the largest sample."""

    def __init__(self, root: int, interval_s: float = 0.05) -> None:
        self.root, self.interval_s, self.peak = root, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss(self.root))
            if self._stop.wait(self.interval_s):
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def measure(invocation: Invocation, scratch: Path, timeout_s: float) -> Measurement:
    """Run once; wall time from start to exit, and peak memory. Kills whatever the run leaves behind."""
    log = scratch / "output.log"
    with open(log, "wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(invocation.argv, cwd=invocation.cwd, env=invocation.env, stdin=subprocess.DEVNULL,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        poller = TreeMemoryPoller(process.pid)
        timer = threading.Timer(timeout_s, _kill_group, (process.pid,))
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        peak = poller.stop()
        _kill_group(process.pid)
    if process.returncode not in invocation.ok_codes:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        how = (f"was stopped after {timeout_s:g} s (--timeout)" if wall_s >= timeout_s
               else f"exited with {process.returncode} (expected {' or '.join(map(str, invocation.ok_codes))})")
        raise BenchmarkError(f"{shlex.join(invocation.argv)}\n{how}:\n{tail}")
    return Measurement(wall_s, peak, usage.ru_maxrss * 1024)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------
# Rounds, batch
# --------------------------------------------------------------------------


@dataclass
class Series:
    command: Command
    runs: list[Measurement] = field(default_factory=list)
    shown: str = ""  # the command line as run, for the results
    note: str = ""


def run_rounds(chosen: list[Command], rounds: int, warmup: bool, timeout_s: float) -> dict[str, Series]:
    series = {c.key: Series(c) for c in chosen}
    for number in range(-1 if warmup else 0, rounds):
        for command in chosen:
            with tempfile.TemporaryDirectory(prefix="rnn-bench-") as tmp:
                scratch = Path(tmp)
                invocation = command.build(scratch)
                result = measure(invocation, scratch, timeout_s)
                series[command.key].shown = show(invocation, scratch)
                series[command.key].note = invocation.note
            if number >= 0:
                series[command.key].runs.append(result)
            print(f"  round {'warm-up' if number < 0 else number + 1}: {command.label:<45} {result.wall_s:7.2f} s",
                  file=sys.stderr, flush=True)
    return series


def make_submissions(folder: Path, count: int) -> list[Path]:
    """`count` copies of solutions/; every other one with a planted mistake (cycling through the catalog in tests/plants.py)."""
    made, plants = [], _plants()
    for index in range(count):
        target = folder / f"submission_{index + 1:03d}"
        shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
        if index % 2 == 1:
            filename, code = plants[(index // 2) % len(plants)]
            with open(target / filename, "a", encoding="utf-8") as file:
                file.write("\n\n" + code.strip() + "\n")
        made.append(target)
    return made


@dataclass
class BatchResult:
    label: str
    shown: str
    count: int
    measurement: Measurement
    grades: bytes = b""  # its grades.csv

    @property
    def per_minute(self) -> float:
        return 60.0 * self.count / self.measurement.wall_s


def run_batch(count: int, device: str, seed: int, timeout_s: float, cold: bool = False) -> BatchResult:
    with tempfile.TemporaryDirectory(prefix="rnn-bench-batch-") as tmp:
        root = Path(tmp)
        folder = root / "submissions"
        make_submissions(folder, count)
        invocation = Invocation(batch_command(folder, device, seed, root / "grades", cold), base_environment(),
                                REPO, ok_codes=(0, 1))
        measurement = measure(invocation, root, timeout_s * count)
        grades = root / "grades" / "grades.csv"
        return BatchResult(f"python -m grader batch{' --cold' if cold else ''} ({count} submissions)",
                           show(invocation, root), count, measurement,
                           grades.read_bytes() if grades.is_file() else b"")


@dataclass
class Latency:
    label: str
    shown: str
    seconds: list[float]
    tree_rss_bytes: int


def _read_until(stream, marker: str, deadline: float) -> None:
    for line in stream:
        if marker in line:
            return
        if time.monotonic() > deadline:
            break
    raise BenchmarkError(f"no line with {marker!r} before the time limit (or the process ended)")


def run_watch(one: str, device: str, seed: int, rounds: int, timeout_s: float) -> Latency:
    """`python -m grader ONE --watch` on a copy of solutions/: from appending a line to the exercise file to
    the end of the result it prints (the next 'Watching' line), `rounds` times."""
    with tempfile.TemporaryDirectory(prefix="rnn-bench-watch-") as tmp:
        target = Path(tmp) / "solutions"
        shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
        exercise = next(target.glob(f"{one}*.py"), None) or next(target.glob("ex*.py"))
        argv = [sys.executable, "-m", "grader", one, "--target", str(target), "--seed", str(seed), "--device", device,
                "--lang", "en", "--watch"]
        env = {**base_environment(), "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        poller = TreeMemoryPoller(process.pid)
        seconds = []
        try:
            _read_until(process.stdout, "Watching", time.monotonic() + timeout_s)
            for number in range(rounds):
                time.sleep(EDIT_PAUSE_S)
                with open(exercise, "a", encoding="utf-8") as file:
                    file.write(f"\n# edit {number}\n")
                saved = time.perf_counter()
                _read_until(process.stdout, "Watching", time.monotonic() + timeout_s)
                seconds.append(time.perf_counter() - saved)
                print(f"  watch re-grade {number + 1}: {seconds[-1]:.2f} s", file=sys.stderr, flush=True)
        finally:
            peak = poller.stop()
            _kill_group(process.pid)
            process.wait()
        shown = shlex.join(["python", *argv[1:]]).replace(str(target), "$TMP/solutions")
        return Latency(f"--watch: save to result ({one})", shown, seconds, peak)


def run_notebook_check(one: str, device: str, seed: int, rounds: int, timeout_s: float) -> Latency | None:
    """`check(ONE, target="solutions")` in a python3 Jupyter kernel started in the repository root, after
    `from grader import check`: from sending the cell to the kernel going idle. None without jupyter_client."""
    try:
        from jupyter_client.manager import start_new_kernel
    except ImportError:
        print("  check() in a kernel: skipped (no jupyter_client; python -m pip install -r requirements-dev.txt)",
              file=sys.stderr)
        return None
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(REPO))
    poller = TreeMemoryPoller(manager.provisioner.process.pid) if manager.provisioner else None
    code = f"r = check({one!r}, target='solutions', seed={seed}, device={device!r}); r.max_score"
    seconds = []
    try:
        client.execute_interactive("from grader import check", timeout=timeout_s)
        for number in range(rounds):
            time.sleep(EDIT_PAUSE_S)
            started = time.perf_counter()
            reply = client.execute_interactive(code, timeout=timeout_s, output_hook=lambda message: None)
            seconds.append(time.perf_counter() - started)
            if reply["content"]["status"] != "ok":
                raise BenchmarkError(f"check() in the kernel failed: {reply['content']}")
            print(f"  check() in a kernel {number + 1}: {seconds[-1]:.2f} s", file=sys.stderr, flush=True)
    finally:
        peak = poller.stop() if poller else 0
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return Latency(f"check({one!r}) in a Jupyter kernel", code, seconds, peak)


def show(invocation: Invocation, scratch: Path) -> str:
    """The command line with its non-inherited environment, paths shortened to $REPO and $TMP."""
    inherited = base_environment()
    own = invocation.env != inherited  # a command with an environment of its own: show all it sets
    extra = [f"{k}={shlex.quote(v)}" for k, v in invocation.env.items()
             if inherited.get(k) != v or (own and k.startswith(("PYTEST_", "GRADER_", "PYTHON")))]
    prefix = "" if invocation.cwd == REPO else f"cd {invocation.cwd} && "
    text = prefix + " ".join(extra + [shlex.join(["python", *invocation.argv[1:]])])
    return text.replace(str(scratch), "$TMP").replace(str(REPO), "$REPO")


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    median_s: float
    min_s: float
    ratio: float | None  # median / median of `import torch`
    paired_ratio: float | None  # median over rounds of (this run / that round's `import torch`)
    tree_mib: float
    process_mib: float
    runs: int
    extra: str = ""


def summarize(series: dict[str, Series], batches: list[BatchResult], latencies: list[Latency]) -> list[Row]:
    floor = series["torch"].runs
    floor_median = statistics.median(m.wall_s for m in floor)
    rows = []
    for item in series.values():
        walls = [m.wall_s for m in item.runs]
        median = statistics.median(walls)
        paired = statistics.median(m.wall_s / f.wall_s for m, f in zip(item.runs, floor))
        rows.append(Row(item.command.label, median, min(walls), median / floor_median, paired,
                        max(m.tree_rss_bytes for m in item.runs) / MIB,
                        max(m.largest_process_bytes for m in item.runs) / MIB, len(walls)))
    for batch in batches:
        m = batch.measurement
        rows.append(Row(batch.label, m.wall_s, m.wall_s, None, None, m.tree_rss_bytes / MIB,
                        m.largest_process_bytes / MIB, 1, f"{batch.per_minute:.1f} submissions/min"))
    for latency in latencies:
        median = statistics.median(latency.seconds)
        rows.append(Row(latency.label, median, min(latency.seconds), median / floor_median, None,
                        latency.tree_rss_bytes / MIB, 0.0, len(latency.seconds)))
    return rows


def goals(series: dict[str, Series], batches: list[BatchResult] | None = None,
          latencies: list[Latency] | None = None) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) for each goal measured, from the medians. The first batch is the one with the goal
    (the default, warm); a second one (--cold) must give the same grades."""
    batches = batches or []
    batch = batches[0] if batches else None
    same = [(f"{batches[0].label} grades equal {other.label}'s", "grades.csv byte for byte",
             batches[0].grades == other.grades) for other in batches[1:]]
    median = {key: statistics.median(m.wall_s for m in s.runs) for key, s in series.items()}
    full_x, one_x = median["full"] / median["torch"], median["one"] / median["torch"]
    overhead = median["full"] / median["bare"] - 1.0
    return [
        (f"full grade ≤ {FULL_GOAL_X}× import torch", f"{full_x:.2f}×", full_x <= FULL_GOAL_X),
        (f"one exercise ≤ {ONE_GOAL_X}× import torch", f"{one_x:.2f}×", one_x <= ONE_GOAL_X),
        (f"overhead over bare pytest < {OVERHEAD_GOAL:.0%}", f"{overhead:+.1%}", overhead < OVERHEAD_GOAL),
    ] + ([(f"batch ≥ {BATCH_GOAL_PER_MINUTE:g} submissions/min", f"{batch.per_minute:.1f}/min",
           batch.per_minute >= BATCH_GOAL_PER_MINUTE)] if batch is not None else []) + same + [
        (f"watch re-grade ≤ {WATCH_GOAL_S:g} s", f"{statistics.median(latency.seconds):.2f} s",
         statistics.median(latency.seconds) <= WATCH_GOAL_S)
        for latency in latencies or [] if latency.label.startswith("--watch")]


def render_table(rows: list[Row]) -> str:
    lines = ["| measurement | median s | min s | × import torch | paired × | peak tree RSS MiB "
             "| largest process MiB | runs | throughput |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        paired = "" if r.paired_ratio is None else f"{r.paired_ratio:.2f}"
        lines.append(f"| {r.label} | {r.median_s:.2f} | {r.min_s:.2f} | {ratio} | {paired} | {r.tree_mib:.0f} "
                     f"| {r.process_mib:.0f} | {r.runs} | {r.extra} |")
    return "\n".join(lines)


def render_goals(met: list[tuple[str, str, bool]]) -> str:
    lines = ["| goal | measured | result |", "|---|---:|---|"]
    lines += [f"| {goal} | {value} | {'met' if ok else 'NOT met'} |" for goal, value, ok in met]
    return "\n".join(lines)


def _first_line(path: str, prefix: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def torch_facts() -> dict[str, str]:
    code = ("import torch; c = torch.cuda.is_available(); "
            "print(torch.__version__); print(c); print(torch.cuda.get_device_name(0) if c else '-')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=base_environment(),
                          timeout=300)
    if done.returncode != 0:
        raise BenchmarkError("python -c 'import torch' failed:\n" + done.stderr[-2000:])
    version, cuda, gpu = done.stdout.split("\n")[:3]
    return {"torch": version, "cuda": cuda, "gpu": gpu}


def machine_facts(torch: dict[str, str]) -> dict[str, str]:
    memory_kib = _first_line("/proc/meminfo", "MemTotal").split()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True)
    facts = {
        "CPU": _first_line("/proc/cpuinfo", "model name"),
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable by this process",
        "memory": f"{int(memory_kib) / 2**20:.1f} GiB" if memory_kib.isdigit() else "unknown",
        "OS": f"{_first_line('/etc/os-release', 'PRETTY_NAME').strip(chr(34))}, {platform.platform()}",
        "Python": f"{platform.python_version()} ({sys.executable})",
        "torch": torch["torch"],
        "Python variables in the environment": ", ".join(
            f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("PYTHON")) or "none",
        "git commit": (commit.stdout.strip() or "unknown") + (" with uncommitted changes" if dirty.stdout else ""),
    }
    if torch["cuda"] == "True":
        facts["GPU"] = torch["gpu"]
    return facts


def render_results(facts: dict[str, str], when: str, device: str, load: tuple[tuple[float, ...], tuple[float, ...]],
                   rows: list[Row], met: list[tuple[str, str, bool]], series: dict[str, Series],
                   batches: list[BatchResult], rounds: int, warmup: bool, latencies: list[Latency] | None = None) -> str:
    start, end = load
    cores = len(os.sched_getaffinity(0))
    busy = start[0] >= 0.5
    lines = [
        "# Grading benchmark", "",
        f"Written by `python benchmarks/run.py` on {when}, device `{device}`, "
        f"{rounds} round(s){' after one warm-up round' if warmup else ' (no warm-up)'}.", "",
        "## Machine", "",
        *[f"- {name}: {value}" for name, value in facts.items()],
        f"- load average (1, 5, 15 min): {_load(start)} at start, {_load(end)} at end, on {cores} cores "
        "(the benchmark itself keeps about one core busy)", "",
    ]
    if busy:
        lines += [f"**The machine was busy when the benchmark started (1-minute load {start[0]:.2f}): "
                  "these timings are inflated and noisy.**", ""]
    lines += ["## Results", "", render_table(rows), "",
              "- median / min: wall time of one run, from starting the process to its exit.",
              "- × import torch: this median over the median of `python -c \"import torch\"`; paired ×: the median "
              "over rounds of this run's time over the same round's `import torch`.",
              "- peak tree RSS: the largest sum of resident sizes over the process and all its descendants, "
              "sampled every 50 ms (shared library pages count once per process, so an upper bound).",
              "- largest process: the largest single process's peak resident size (ru_maxrss from wait4), "
              "the kernel's exact figure but for one process only.", "",
              "## Goals", "", render_goals(met), "", "## Commands", "",
              "Run from the repository root ($REPO); $TMP is a fresh temporary folder for each run.", ""]
    for item in series.values():
        note = f" ({item.note})" if item.note else ""
        lines += [f"- {item.command.label}{note}:", f"  `{item.shown}`"]
    for batch in batches:
        lines += [f"- {batch.label}, every other one with a planted mistake:", f"  `{batch.shown}`"]
    for latency in latencies or []:
        lines += [f"- {latency.label} (the median and minimum of {len(latency.seconds)} re-grades by one process "
                  f"that stays up, each {EDIT_PAUSE_S:g} s after the last result, as a learner edits in between; a "
                  "save sooner than the primed judge's start-up waits for the rest of it; its tree RSS is that "
                  "process's):", f"  `{latency.shown}`"]
    return "\n".join(lines) + "\n"


def _load(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {text}")
        return value
    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(prog="python benchmarks/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=_at_least(1), default=None, help="timed rounds (default 7; --quick: 2)")
    parser.add_argument("--quick", action="store_true",
                        help="a rough look: no warm-up round, 2 rounds and 5 submissions unless given")
    parser.add_argument("--no-batch", action="store_true", help="skip the batch grading measurement")
    parser.add_argument("--batch-size", type=_at_least(1), default=None,
                        help="submissions in the batch folder (default 50; --quick: 5)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the tests run (default cpu)")
    parser.add_argument("--one", default="ex3", metavar="EXERCISE",
                        help="the exercise of the one-exercise grade (default ex3)")
    parser.add_argument("--seed", type=_at_least(0), default=1234, help="the grader's seed (default 1234)")
    parser.add_argument("--timeout", type=_at_least(1), default=600, metavar="SECONDS",
                        help="limit for one run (default 600)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "RESULTS.md",
                        help="where the results go (default benchmarks/RESULTS.md)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 7)
    args.batch_size = args.batch_size or (5 if args.quick else 50)
    check_exercise(args.one)
    if not args.out.expanduser().resolve().parent.is_dir():
        raise UsageError(f"--out {args.out}: its folder does not exist")
    return args


def benchmark(args: argparse.Namespace) -> int:
    load_start = os.getloadavg()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    torch = torch_facts()
    if args.device == "cuda" and torch["cuda"] != "True":
        raise UsageError("--device cuda: no CUDA device is available on this machine (torch "
                         f"{torch['torch']}); run it on a machine with a GPU, or use --device cpu")
    facts = machine_facts(torch)
    warmup = not args.quick
    print(f"Timing {args.rounds} round(s) on {args.device}{' after a warm-up round' if warmup else ''} ...",
          file=sys.stderr)
    series = run_rounds(commands(args.one, args.device, args.seed), args.rounds, warmup, args.timeout)
    batches = []
    if not args.no_batch:
        print(f"Grading a folder of {args.batch_size} submissions, warm then --cold ...", file=sys.stderr)
        batches = [run_batch(args.batch_size, args.device, args.seed, args.timeout, cold) for cold in (False, True)]
    print("Re-grading while working: --watch and check() in a notebook ...", file=sys.stderr)
    latencies = [run_watch(args.one, args.device, args.seed, args.rounds, args.timeout)]
    in_kernel = run_notebook_check(args.one, args.device, args.seed, args.rounds, args.timeout)
    latencies += [in_kernel] if in_kernel is not None else []
    rows, met = summarize(series, batches, latencies), goals(series, batches, latencies)
    text = render_results(facts, when, args.device, (load_start, os.getloadavg()), rows, met, series, batches,
                          args.rounds, warmup, latencies)
    print("\n" + render_table(rows) + "\n\n" + render_goals(met), flush=True)
    args.out.expanduser().write_text(text, encoding="utf-8")
    print(f"\nWritten to {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return benchmark(parse_args(sys.argv[1:] if argv is None else argv))
    except UsageError as error:
        print(f"python benchmarks/run.py: error: {error}", file=sys.stderr)
        return 2
    except BenchmarkError as error:
        print(f"python benchmarks/run.py: a measured command failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
