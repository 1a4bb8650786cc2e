#!/usr/bin/env python3
"""How long naming a learner's mistakes adds to a grade: wrong submissions against right ones.

    python benchmarks/diagnosis.py [--rounds N] [--out benchmarks/DIAGNOSIS.md]

For every compound submission of the tests' catalog (tests/compound.py: real-style cells with two or
three deviations from torch.nn), grades its exercise with `python -m grader EXERCISE --target COPY`,
and in the same round the reference solutions' grade of the same exercise. The paired difference
(wrong minus right, same seed, same round) is what the failing checks cost, their diagnoses included:
an upper bound on what diagnosis adds. Prints and writes the median per submission, the median over
the catalog and the largest, with the machine's load.
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 0.5
EXERCISE = {"ex1_rnn_cell.py": "ex1", "ex3_lstm.py": "ex3", "ex4_gru.py": "ex4"}


def catalog() -> list:
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from compound import CATALOG
    finally:
        sys.path.remove(str(REPO / "tests"))
    return CATALOG


def planted(folder: Path, filename: str, code: str) -> Path:
    shutil.copytree(REPO / "solutions", folder, ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / filename, "a", encoding="utf-8") as file:
        file.write("\n\n" + code.strip() + "\n")
    return folder


def timed_grade(exercise: str, target: Path, seed: int) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "grader", exercise, "--target", str(target), "--seed", str(seed),
                           "--json", os.devnull], cwd=REPO, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=600)
    return time.perf_counter() - start, done.returncode


def measure(rounds: int, seed: int, limit: int | None = None) -> list[tuple[str, str, float, float]]:
    """(submission, exercise, median wrong grade s, median paired difference s) per catalog entry."""
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, item in enumerate(catalog()[:limit]):
            exercise = EXERCISE[item.file]
            target = planted(Path(scratch) / f"s{number}", item.file, item.code)
            wrong, diffs = [], []
            for _ in range(rounds):
                right_s, right_code = timed_grade(exercise, REPO / "solutions", seed)
                wrong_s, wrong_code = timed_grade(exercise, target, seed)
                if right_code != 0 or wrong_code != 1:
                    raise SystemExit(f"{item.key}: unexpected exit codes {right_code} (solutions), {wrong_code}")
                wrong.append(wrong_s)
                diffs.append(wrong_s - right_s)
            rows.append((item.key, exercise, statistics.median(wrong), statistics.median(diffs)))
            print(f"{exercise}  {statistics.median(diffs):+.3f} s  {item.key}", flush=True)
    return rows


def render(rows: list[tuple[str, str, float, float]], rounds: int, load: tuple[tuple[float, ...], ...]) -> str:
    diffs = [d for *_, d in rows]
    median, largest = statistics.median(diffs), max(diffs)
    lines = [
        "# Diagnosis time",
        "",
        f"Written by `python benchmarks/diagnosis.py` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{rounds} round(s), {os.cpu_count()} logical cores; load average (1, 5, 15 min) "
        f"{', '.join(f'{v:.2f}' for v in load[0])} at start, {', '.join(f'{v:.2f}' for v in load[1])} at end.",
        "",
        "Each row: the catalog's compound submission (tests/compound.py) graded on its exercise, against the "
        "reference solutions graded on the same exercise, seed and round. The difference is what the failing "
        "checks cost, their diagnoses included.",
        "",
        f"**Median over the catalog: {median:+.3f} s; largest: {largest:+.3f} s; goal: under {GOAL_S} s: "
        f"{'met' if largest < GOAL_S else 'not met'}.**",
        "",
        "| submission | exercise | wrong grade, median s | wrong − right, median s |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {key} | {exercise} | {wrong:.2f} | {diff:+.3f} |" for key, exercise, wrong, diff in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="grades of each submission (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the grades' seed (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N submissions (a quick look)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "DIAGNOSIS.md")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    start_load = os.getloadavg()
    rows = measure(args.rounds, args.seed, args.limit)
    text = render(rows, args.rounds, (start_load, os.getloadavg()))
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
