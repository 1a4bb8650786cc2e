"""`python -m grader batch SUBMISSIONS_DIR`: grade every submission (one folder each) in parallel.

Each submission is graded by its own `python -m grader --target FOLDER --json FILE` process (so one
submission's crash, hang or mess cannot touch another's), at most --workers at a time, under a
wall-clock limit. Written to --out: reports/STUDENT.json (the native report), grades.csv (student, total, one
column per exercise, error), pass_rates.csv and summary.json (how often each test passed: the
common mistakes first).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from grader.catalog import ALL, EXERCISES, UsageError
from grader.report import _number
from grader.target import EXPECTED_FILES, REPO_ROOT

DEFAULT_TIME_LIMIT_S = 300.0
PRINTED_RATES = 15  # the rest is in pass_rates.csv


@dataclass
class Submission:
    student: str
    folder: Path

    @property
    def target(self) -> Path:
        """The folder with the exercise files: the submission itself, or its exercises/ (a whole repository)."""
        inner = self.folder / "exercises"
        return inner if any((inner / name).is_file() for name in EXPECTED_FILES) else self.folder


@dataclass
class Outcome:
    student: str
    report: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchSettings:
    out: Path
    seed: int
    lang: str
    device: str
    time_limit_s: float
    workers: int
    suites: Path | None


def find_submissions(folder: Path) -> list[Submission]:
    """One submission per visible sub-folder, by name."""
    return [Submission(path.name, path) for path in sorted(folder.iterdir())
            if path.is_dir() and not path.name.startswith((".", "__"))]


def _command(submission: Submission, settings: BatchSettings, report: Path) -> list[str]:
    command = [sys.executable, "-m", "grader", "--target", str(submission.target), "--json", str(report),
               "--seed", str(settings.seed), "--lang", settings.lang, "--device", settings.device]
    if settings.suites is not None:
        command += ["--suites", str(settings.suites)]
    return command


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("(see ")]
    return lines[-1].removeprefix("python -m grader: ").removeprefix("error: ") if lines else "no message"


def grade_one(submission: Submission, settings: BatchSettings) -> Outcome:
    """Grade one submission in its own process group; never raises for anything the submission does."""
    report_path = settings.out / "reports" / f"{submission.student}.json"
    report_path.unlink(missing_ok=True)
    started = time.monotonic()
    process = subprocess.Popen(_command(submission, settings, report_path), cwd=REPO_ROOT,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, errors="replace", start_new_session=True,
                               env={**os.environ, "NO_COLOR": "1"})
    try:
        _, stderr = process.communicate(timeout=settings.time_limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the grader and its judge process
        process.communicate()
        return Outcome(submission.student, error=f"timed out after {settings.time_limit_s:g} s",
                       seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    if process.returncode in (0, 1) and report_path.is_file():
        report = json.loads(report_path.read_text(encoding="utf-8"))
        tests = {t["id"]: t for e in report["exercises"] for t in e["tests"]}
        return Outcome(submission.student, report=report, seconds=seconds, tests=tests)
    kind = "not gradable" if process.returncode == 2 else f"grader failed (exit {process.returncode})"
    return Outcome(submission.student, error=f"{kind}: {_last_error_line(stderr)}", seconds=seconds)


def grade_rows(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """grades.csv rows: student, total, max_score, each exercise's score, integration (passed/total), error.
    A submission that could not be graded has empty scores and says why."""
    rows = []
    for outcome in outcomes:
        row: dict[str, Any] = {"student": outcome.student, "total": "", "max_score": ""}
        row.update({e.id: "" for e in ALL})
        if outcome.report is not None:
            row.update(total=outcome.report["score"], max_score=outcome.report["max_score"])
            for exercise in outcome.report["exercises"]:
                if exercise["max_score"]:
                    row[exercise["id"]] = exercise["score"]
                else:
                    passed = sum(t["status"] == "passed" for t in exercise["tests"])
                    row[exercise["id"]] = f"{passed}/{len(exercise['tests'])}"
        row["error"] = outcome.error
        rows.append(row)
    return rows


def pass_rates(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Per test: how many graded submissions passed it; lowest rate (the most common mistake) first."""
    graded = [o for o in outcomes if o.report is not None]
    order: dict[str, dict[str, Any]] = {}
    for outcome in graded:
        for test_id, test in outcome.tests.items():
            entry = order.setdefault(test_id, {"test": test_id, "name": test["name"], "points": test["max_score"],
                                               "passed": 0, "graded": 0})
            entry["graded"] += 1
            entry["passed"] += test["status"] == "passed"
    rates = list(order.values())
    for entry in rates:
        entry["pass_rate"] = round(entry["passed"] / entry["graded"], 3) if entry["graded"] else 0.0
    return sorted(rates, key=lambda e: e["pass_rate"])  # stable: report order among equal rates


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class ProgressBar:
    """`[#####.....] 12/50 graded` rewritten in place on a terminal; silent elsewhere."""

    def __init__(self, stream: TextIO, total: int):
        self.stream, self.total = stream, total
        self.active = hasattr(stream, "isatty") and stream.isatty()

    def update(self, done: int, errors: int) -> None:
        if self.active:
            filled = round(20 * done / self.total) if self.total else 20
            extra = f", {errors} not graded" if errors else ""
            self.stream.write(f"\r[{'#' * filled}{'.' * (20 - filled)}] {done}/{self.total} graded{extra}")
            self.stream.flush()

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run_batch(submissions: list[Submission], settings: BatchSettings, progress: ProgressBar) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=settings.workers) as pool:
        futures = [pool.submit(grade_one, s, settings) for s in submissions]
        for future in as_completed(futures):
            outcomes.append(future.result())
            progress.update(len(outcomes), sum(1 for o in outcomes if o.error))
    progress.clear()
    return sorted(outcomes, key=lambda o: o.student)


def summary_text(outcomes: list[Outcome], rates: list[dict[str, Any]], seconds: float, settings: BatchSettings) -> str:
    graded = [o for o in outcomes if o.report is not None]
    lines = [f"Graded {len(graded)}/{len(outcomes)} submissions in {seconds:.1f} s with {settings.workers} workers "
             f"({60 * len(outcomes) / seconds:.1f} submissions/minute), seed {settings.seed}."]
    if graded:
        mean = sum(o.report["score"] for o in graded if o.report) / len(graded)
        lines.append(f"Mean score {mean:.1f}/100.")
    for outcome in outcomes:
        if outcome.error:
            lines.append(f"  not graded: {outcome.student}: {outcome.error}")
    missed = [r for r in rates if r["pass_rate"] < 1]
    if missed:
        lines += ["", "Tests that not every submission passed (most common mistake first):",
                  f"  {'pass rate':>9}  {'passed':>9}  test"]
        lines += [f"  {r['pass_rate']:>9.0%}  {r['passed']:>4}/{r['graded']:<4}  {r['test']} ({_number(r['points'])})"
                  for r in missed[:PRINTED_RATES]]
        if len(missed) > PRINTED_RATES:
            lines.append(f"  ... {len(missed) - PRINTED_RATES} more in pass_rates.csv")
    lines += ["", f"Written to {settings.out}: grades.csv, pass_rates.csv, summary.json, reports/STUDENT.json."]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    from grader.cli import _Parser, _positive, _seed

    parser = _Parser(prog="python -m grader batch",
                     description="Grade every submission folder in SUBMISSIONS_DIR (one folder per student, holding "
                                 "ex1_rnn_cell.py ... modules.py, or a repository with exercises/).")
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    parser.add_argument("--out", default="grades", metavar="DIR", help="where results go (default: ./grades)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of CPUs)")
    parser.add_argument("--time-limit", type=_positive, default=DEFAULT_TIME_LIMIT_S, metavar="SECONDS",
                        help=f"wall-clock limit of one submission (default: {DEFAULT_TIME_LIMIT_S:g})")
    parser.add_argument("--seed", type=_seed, default=None, help="inputs' seed, the same for everyone (default: fresh)")
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the hints (default: en)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="default: cpu")
    parser.add_argument("--suites", metavar="DIR", help="private suites (see python -m grader --help)")
    return parser


def _settings(args: argparse.Namespace) -> BatchSettings:
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1: {args.workers}")
    suites = None
    if args.suites is not None:
        suites = Path(args.suites).expanduser().resolve()
        if not suites.is_dir():
            raise UsageError(f"--suites {args.suites}: no such folder")
    out = Path(args.out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out} is not a folder")
    return BatchSettings(out=out, seed=args.seed if args.seed is not None else secrets.randbelow(2**31),
                         lang=args.lang, device=args.device, time_limit_s=args.time_limit, workers=args.workers,
                         suites=suites)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    folder = Path(args.submissions).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{args.submissions}: no such folder")
    submissions = find_submissions(folder)
    if not submissions:
        raise UsageError(f"{args.submissions} holds no submission folders (one folder per student)")
    settings = _settings(args)
    (settings.out / "reports").mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    outcomes = run_batch(submissions, settings, ProgressBar(sys.stderr, len(submissions)))
    seconds = time.monotonic() - started
    rates = pass_rates(outcomes)
    rows = grade_rows(outcomes)
    _write_csv(settings.out / "grades.csv", rows, ["student", "total", "max_score", *(e.id for e in ALL), "error"])
    _write_csv(settings.out / "pass_rates.csv", rates, ["test", "name", "points", "passed", "graded", "pass_rate"])
    summary = {"seed": settings.seed, "submissions": len(outcomes),
               "graded": sum(o.report is not None for o in outcomes), "workers": settings.workers,
               "duration_s": round(seconds, 2), "submissions_per_minute": round(60 * len(outcomes) / seconds, 2),
               "exercises": [e.id for e in EXERCISES], "grades": rows, "pass_rates": rates}
    (settings.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
    sys.stdout.write(summary_text(outcomes, rates, seconds, settings))
    return 0 if all(o.report is not None for o in outcomes) else 1
