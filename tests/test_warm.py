"""--watch primes the next run's judge (runner.prime): a fresh judge and sandbox started ahead of time, waiting
for their key. The verdicts are those of a cold run with the same seed, on the files as they are when the run
starts (not when the judge was primed), and a primed judge that is not used leaves nothing running."""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from conftest import REPO, SOLUTIONS, plant
from plants import code_of
from grader import catalog, reaper, runner

SEED = random.SystemRandom().randrange(2 ** 31)
WRONG_LSTM_CELL = code_of("h = o * c")


def verdicts(run: runner.SuiteRun) -> list[tuple]:
    return sorted((t["nodeid"], t["outcome"], t.get("metadata", {}).get("hint_en")) for t in run.tests)


def plan_for(target: Path) -> runner.RunPlan:
    return runner.RunPlan(exercises=catalog.select(["ex3"]), target=target, device="cpu", seed=SEED)


def test_a_primed_judge_grades_the_files_as_they_are_when_it_is_told_to_go(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    plan = plan_for(target)
    runner.prime(plan)
    time.sleep(3)  # the primed judge has imported torch and started its sandbox meanwhile
    with open(target / "ex3_lstm.py", "a", encoding="utf-8") as file:  # the learner saves a mistake
        file.write("\n\n" + WRONG_LSTM_CELL.strip() + "\n")
    warm = runner.run_suites(plan)
    cold = runner.run_suites(plan)
    assert verdicts(warm) == verdicts(cold)
    assert any(outcome == "failed" and "lstm_cell" in (hint or "") for _, outcome, hint in verdicts(warm))


def all_end(family: list[psutil.Process], within_s: float = 5.0) -> bool:
    """Every process ends (gone, or a zombie) within a few seconds: SIGKILL is delivered, not waited for, and a
    killed process can take a moment to exit."""
    def running(process: psutil.Process) -> bool:
        try:
            return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + within_s
    while True:
        alive = [p for p in family if running(p)]
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.05)


def test_a_primed_judge_for_another_plan_is_not_used_and_nothing_is_left_running(tmp_path: Path) -> None:
    other = plant(tmp_path / "other", "ex3_lstm.py", WRONG_LSTM_CELL)
    runner.prime(plan_for(other))
    primed = psutil.Process(runner._PRIMED[0].process.pid)
    time.sleep(2)
    family = [primed, *primed.children(recursive=True)]
    run = runner.run_suites(plan_for(SOLUTIONS))  # the solutions: the judge primed for `other` must not grade them
    assert all(t["outcome"] == "passed" for t in run.tests)
    assert not runner._PRIMED
    assert all_end(family)


def test_discarding_a_primed_judge_stops_it_and_its_sandbox(tmp_path: Path) -> None:
    runner.prime(plan_for(SOLUTIONS))
    primed = psutil.Process(runner._PRIMED[0].process.pid)
    deadline = time.monotonic() + 60
    while not primed.children() and time.monotonic() < deadline:
        time.sleep(0.1)
    family = [primed, *primed.children(recursive=True)]
    assert len(family) >= 2  # the judge and its sandbox
    runner.discard_primed()
    assert all_end(family)


def test_watch_regrades_each_save_with_the_same_verdicts_as_a_cold_run(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    argv = [sys.executable, "-m", "grader", "ex3", "--target", str(target), "--seed", str(SEED), "--lang", "en",
            "--watch"]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None

    def next_result() -> str:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "Watching" in line:
                return "".join(lines)
        raise AssertionError("".join(lines))

    try:
        assert "Total: 20/20" in next_result()
        time.sleep(1.1)
        with open(target / "ex3_lstm.py", "a", encoding="utf-8") as file:
            file.write("\n\n" + WRONG_LSTM_CELL.strip() + "\n")
        second = next_result()
    finally:
        reaper.kill_tree(process)
    cold = subprocess.run([sys.executable, "-m", "grader", "ex3", "--target", str(target), "--seed", str(SEED),
                           "--lang", "en"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert "Total: 10/20" in second and "Total: 10/20" in cold.stdout
    hints = [line for line in cold.stdout.splitlines() if "lstm_cell" in line]
    assert hints and all(line in second for line in hints)
