#!/usr/bin/env python3
"""Correct code must score full marks on every seed: grade correct implementations on many random seeds.

    python benchmarks/seed_sweep.py [--seeds N] [--targets DIR ...] [--workers N] [--seed-base B]
                                    [--timeout S] [--out benchmarks/SEEDS.md] [--json FILE]

  --seeds N        seeds per target (default 50)
  --targets DIR..  folders to grade, each with ex*.py + modules.py (default: solutions tests/variants,
                   the reference solutions and a second, differently written correct implementation)
  --workers N      grading processes at a time (default 2)
  --seed-base B    draw the seeds from random.Random(B), to repeat a sweep; without it the seeds are
                   fresh every run (and always recorded)
  --timeout S      time limit of one grade in seconds (default 600)
  --out FILE       the markdown record (default benchmarks/SEEDS.md)
  --json FILE      the same as JSON ('-' for stdout)

Every target is graded on the same seeds, each grade its own `python -m grader --target DIR --seed N
--json -` process from the repository root. A seed has full marks when the score is the maximum and
every check passed (the integration checks, worth no points, included). For each target it prints and
records the seeds run and the seeds with full marks, and for every check lost: the seed, the test id,
its hint and the largest difference the hint reports. A grade that could not run (the grader failed,
or ran out of time) is a loss too.

Exit code 0: every seed of every target had full marks; 1: some seed lost points (or could not be
graded); 2: usage error. Standard library only.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import random
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TARGETS = ("solutions", "tests/variants")
SEED_RANGE = 2**31  # the grader's seeds are non-negative ints; any in this range will do
_DIFFERENCE = re.compile(r"by up to (\d+(?:\.\d+)?(?:e[+-]?\d+)?|inf|nan)", re.IGNORECASE)


@dataclass
class Loss:
    seed: int
    test: str
    status: str
    hint: str
    max_difference: float | None


@dataclass
class TargetResult:
    target: str
    seeds_run: int = 0
    full_marks: int = 0
    scores: dict[int, float] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)


def draw_seeds(count: int, base: int | None) -> list[int]:
    """`count` distinct seeds: from random.Random(base) when given, else from the OS's randomness."""
    rng = random.Random(base) if base is not None else random.SystemRandom()
    seeds: list[int] = []
    while len(seeds) < count:
        seed = rng.randrange(SEED_RANGE)
        if seed not in seeds:
            seeds.append(seed)
    return seeds


def max_difference(hint: str) -> float | None:
    """The largest difference a hint reports ('off by up to 0.232', 'differs ... by up to 3e-08')."""
    found = _DIFFERENCE.findall(hint)
    return max(float(value) for value in found) if found else None


def grade_command(target: str, seed: int) -> list[str]:
    return [sys.executable, "-m", "grader", "--target", target, "--seed", str(seed), "--json", "-"]


def grade_once(target: str, seed: int, timeout: float) -> tuple[float | None, list[Loss]]:
    """(score or None, the checks lost) of one grade."""
    environment = {**os.environ, "LANG": "C.UTF-8"}
    environment.pop("LC_ALL", None)
    try:
        done = subprocess.run(grade_command(target, seed), cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=environment, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, [Loss(seed, "(whole grade)", "timeout", f"the grade took longer than {timeout:g} s", None)]
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, [Loss(seed, "(whole grade)", f"exit {done.returncode}", tail[:500], None)]
    losses = [Loss(seed, test["id"], test["status"], test.get("hint", ""), max_difference(test.get("hint", "")))
              for exercise in report["exercises"] for test in exercise["tests"] if test["status"] != "passed"]
    if report["score"] != report["max_score"] and not losses:
        losses.append(Loss(seed, "(whole grade)", "score", f"{report['score']}/{report['max_score']}", None))
    return report["score"], losses


def sweep(targets: list[str], seeds: list[int], workers: int, timeout: float,
          progress=None) -> dict[str, TargetResult]:
    results = {target: TargetResult(target) for target in targets}
    jobs = [(target, seed) for seed in seeds for target in targets]
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(grade_once, target, seed, timeout): (target, seed) for target, seed in jobs}
        for future in concurrent.futures.as_completed(futures):
            target, seed = futures[future]
            score, losses = future.result()
            result = results[target]
            result.seeds_run += 1
            result.scores[seed] = score if score is not None else float("nan")
            if losses:
                result.losses.extend(losses)
            else:
                result.full_marks += 1
            if progress:
                progress(target, seed, score, losses)
    for result in results.values():
        result.losses.sort(key=lambda loss: (seeds.index(loss.seed), loss.test))
        result.scores = {seed: result.scores[seed] for seed in seeds if seed in result.scores}
    return results


def _commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=30)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "") if done.returncode == 0 else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:  # not available on this platform
        return (float("nan"),) * 3


def markdown(record: dict) -> str:
    lines = [
        "# Seed sweep: correct code scores full marks on every seed",
        "",
        "Written by `benchmarks/seed_sweep.py`. "
        + ("The command below draws fresh seeds each run; the seeds of this one are listed at the end."
           if record["seed_base"] is None else "The command below repeats this draw of seeds exactly.")
        + " One seed again: `python -m grader --target TARGET --seed N`.",
        "",
        f"- date: {record['date']}",
        f"- command: `{record['command']}`",
        f"- commit: {record['commit']}",
        f"- machine: {record['machine']}, {record['cpus']} CPUs; Python {record['python']}",
        f"- load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in record['load_before'])}; "
        f"after: {', '.join(f'{x:.2f}' for x in record['load_after'])}",
        f"- workers: {record['workers']}; time taken: {record['duration_s']:.1f} s "
        f"({record['duration_s'] / max(1, record['grades']):.2f} s per grade over {record['grades']} grades)",
        "",
        "| target | seeds run | seeds with full marks | checks lost |",
        "|---|---|---|---|",
    ]
    for result in record["targets"]:
        lines.append(f"| {result['target']} | {result['seeds_run']} | {result['full_marks']} | "
                     f"{len(result['losses'])} |")
    lines += ["", f"Verdict: {'every seed had full marks' if record['ok'] else 'SOME SEEDS LOST POINTS'}.", ""]
    for result in record["targets"]:
        if result["losses"]:
            lines += [f"## Losses: {result['target']}", "", "| seed | test | status | max difference | hint |",
                      "|---|---|---|---|---|"]
            for loss in result["losses"]:
                diff = "" if loss["max_difference"] is None else f"{loss['max_difference']:.3g}"
                hint = loss["hint"].replace("|", "\\|").replace("\n", " ")
                lines.append(f"| {loss['seed']} | {loss['test']} | {loss['status']} | {diff} | {hint} |")
            lines.append("")
    lines += ["## Seeds", "", ", ".join(str(s) for s in record["seeds"]), ""]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=50, help="seeds per target (default 50)")
    parser.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS),
                        help="folders to grade (default: solutions tests/variants)")
    parser.add_argument("--workers", type=int, default=2, help="grading processes at a time (default 2)")
    parser.add_argument("--seed-base", type=int, default=None,
                        help="draw the seeds from random.Random(B) (default: fresh seeds every run)")
    parser.add_argument("--timeout", type=float, default=600, help="time limit of one grade in s (default 600)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "SEEDS.md"),
                        help="markdown record (default benchmarks/SEEDS.md)")
    parser.add_argument("--json", default=None, help="also write the record as JSON ('-' = stdout)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.workers < 1 or args.timeout <= 0:
        parser.error("--seeds, --workers and --timeout must be positive")
    for target in args.targets:
        if not (REPO / target).is_dir() and not Path(target).is_dir():
            parser.error(f"no such target folder: {target}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    seeds = draw_seeds(args.seeds, args.seed_base)
    print(f"seed sweep: {len(args.targets)} target(s) x {len(seeds)} seeds, {args.workers} workers; "
          f"seeds: {' '.join(map(str, seeds))}", file=sys.stderr, flush=True)

    def progress(target: str, seed: int, score: float | None, losses: list[Loss]) -> None:
        mark = "ok" if not losses else f"LOST {', '.join(sorted({loss.test for loss in losses}))}"
        print(f"  {target} seed {seed}: {score if score is not None else '-'} {mark}", file=sys.stderr, flush=True)

    load_before, started = _load(), time.monotonic()
    results = sweep(args.targets, seeds, args.workers, args.timeout, progress)
    duration, load_after = time.monotonic() - started, _load()
    repeat = ["python", "benchmarks/seed_sweep.py", "--seeds", str(args.seeds), "--targets", *args.targets,
              "--workers", str(args.workers), "--seed-base", str(args.seed_base)] if args.seed_base is not None else \
        ["python", "benchmarks/seed_sweep.py", "--seeds", str(args.seeds), "--targets", *args.targets,
         "--workers", str(args.workers)]
    record = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join(repeat),
        "commit": _commit(),
        "machine": f"{platform.system()} {platform.machine()} ({_cpu_name()})",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "workers": args.workers,
        "seed_base": args.seed_base,
        "seeds": seeds,
        "grades": len(seeds) * len(args.targets),
        "duration_s": duration,
        "load_before": list(load_before),
        "load_after": list(load_after),
        "targets": [{**asdict(r), "scores": {str(k): v for k, v in r.scores.items()}} for r in results.values()],
        "ok": all(not r.losses for r in results.values()),
    }
    text = markdown(record)
    Path(args.out).write_text(text, encoding="utf-8")
    if args.json == "-":
        print(json.dumps(record, indent=1))
    elif args.json:
        Path(args.json).write_text(json.dumps(record, indent=1), encoding="utf-8")
    for result in results.values():
        print(f"{result.target}: {result.full_marks}/{result.seeds_run} seeds with full marks", file=sys.stderr)
        for loss in result.losses:
            print(f"  seed {loss.seed} {loss.test} ({loss.status}, max difference {loss.max_difference}): "
                  f"{loss.hint}", file=sys.stderr)
    print(f"{duration:.1f} s; record in {args.out}", file=sys.stderr)
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
