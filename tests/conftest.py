"""Shared helpers for the project's own tests: run the grader as a learner would, read its report."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_grader(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> Run:
    """`python -m grader ARGS` from the repository root, as a learner types it."""
    environment = {**os.environ, "LANG": "C.UTF-8"}
    for name in ("LC_ALL", "GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY"):
        environment.pop(name, None)  # the same outside and inside GitHub Actions (tests.yml), unless `env` says
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-m", "grader", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env=environment, stdin=subprocess.DEVNULL)
    return Run(done.returncode, done.stdout, done.stderr)


def grade(*args: str, **kwargs: Any) -> Run:
    """Grade with the JSON report on stdout."""
    return run_grader(*args, "--json", "-", **kwargs)


def results_by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for e in report["exercises"] for t in e["tests"]}


def exercise(report: dict[str, Any], exercise_id: str) -> dict[str, Any]:
    return next(e for e in report["exercises"] if e["id"] == exercise_id)


def plant(folder: Path, filename: str, code: str) -> Path:
    """A copy of the solutions in `folder`, with `code` appended to `filename` (redefining what it names)."""
    if not (folder / "modules.py").exists():
        shutil.copytree(SOLUTIONS, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / filename, "a", encoding="utf-8") as file:
        file.write("\n\n" + code.strip() + "\n")
    return folder


Item = TypeVar("Item")


def batches(items: list[Item], home: Callable[[Item], str]) -> list[list[Item]]:
    """Planted mistakes grouped so that no batch has two with the same `home` (file or function): graded
    together, they cannot mask each other."""
    grouped: list[list[Item]] = []
    for item in items:
        batch = next((b for b in grouped if all(home(other) != home(item) for other in b)), None)
        if batch is None:
            grouped.append(batch := [])
        batch.append(item)
    return grouped


def grade_batches(folder: Callable[[str], Path], grouped: list[list[Any]], *args: str) -> list[dict[str, dict[str, Any]]]:
    """Each batch's plants (items with `file` and `code`) in one copy of the solutions, graded with `args`
    in each language: for each batch, {lang: report}. `folder(name)` makes a fresh folder."""
    reports = []
    for number, batch in enumerate(grouped):
        target = folder(f"batch{number}") / "submission"
        for item in batch:
            plant(target, item.file, item.code)
        reports.append({lang: grade(*args, "--target", str(target), "--lang", lang).report for lang in ("en", "zh")})
    return reports


@pytest.fixture(scope="session")
def solutions_run() -> Run:
    return grade("--target", "solutions", "--seed", "11")


@pytest.fixture(scope="session")
def stubs_run() -> Run:
    return grade("--seed", "12")
