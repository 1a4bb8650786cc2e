"""`python -m grader merge --out DIR SHARD_OUT...`: join the results of `batch --shard K/N` runs into one set of
files, as one unsharded batch over the whole class would have written them (grades.csv, pass_rates.csv,
summary.json, report.html, reports/STUDENT.json, sources.json), the similar pairs found across all of them.

Each shard's folder is read, never trusted blindly: its summary.json must say which slice it is, every
slice 1..N must be there exactly once, all graded with the same seed, language and similarity threshold,
and no student may appear twice. Reports are read as data (JSON); nothing in them runs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grader import batch
from grader.catalog import UsageError


def _parser() -> argparse.ArgumentParser:
    from grader.cli import _Parser

    parser = _Parser(prog="python -m grader merge",
                     description="Join the --out folders of `python -m grader batch --shard K/N` runs into one.")
    parser.add_argument("shards", nargs="+", metavar="SHARD_OUT", help="the shards' --out folders")
    parser.add_argument("--out", default="grades", metavar="DIR", help="where the joined results go (default: ./grades)")
    return parser


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: not a batch result ({type(error).__name__}: {error})") from None


def _summary(folder: Path) -> dict[str, Any]:
    summary = _read_json(folder / "summary.json")
    if not isinstance(summary, dict) or not isinstance(summary.get("grades"), list) or "shard" not in summary:
        raise UsageError(f"{folder}: summary.json is not from `python -m grader batch --shard K/N`")
    return summary


def _shard_outcomes(folder: Path, summary: dict[str, Any]) -> list[batch.Outcome]:
    sources = _read_json(folder / "sources.json")
    if not isinstance(sources, dict) or not all(isinstance(files, dict) and all(
            isinstance(name, str) and isinstance(text, str) for name, text in files.items())
            for files in sources.values()):
        raise UsageError(f"{folder}: sources.json is not from `python -m grader batch`")
    outcomes = []
    for row in summary["grades"]:
        student, error = str(row.get("student", "")), str(row.get("error", ""))
        if not student or "/" in student or "\\" in student or student.startswith("."):
            raise UsageError(f"{folder}: a row of summary.json names no valid student: {student!r}")
        if error:
            outcomes.append(batch.Outcome(student, error=error, sources=sources.get(student, {})))
            continue
        report = _read_json(folder / "reports" / f"{student}.json")
        try:
            tests = {t["id"]: t for e in report["exercises"] for t in e["tests"]}
        except (KeyError, TypeError):
            raise UsageError(f"{folder}: reports/{student}.json is not a grader report") from None
        outcomes.append(batch.Outcome(student, report=report, tests=tests, sources=sources.get(student, {})))
    return outcomes


def _check_slices(summaries: list[tuple[Path, dict[str, Any]]]) -> tuple[int, str, float | None]:
    """The seed, language and similarity threshold every slice shares; each of the slices 1..N exactly once."""
    slices = sorted(str(s["shard"]) for _, s in summaries)
    total = slices[0].split("/")[1]
    if slices != sorted(f"{k}/{total}" for k in range(1, int(total) + 1)):
        raise UsageError(f"the shards are {', '.join(slices)}: every slice 1/{total} .. {total}/{total} is needed, once")
    seeds = {s["seed"] for _, s in summaries}
    langs = {s.get("lang", "en") for _, s in summaries}
    if len(seeds) != 1 or len(langs) != 1:
        raise UsageError(f"the shards were graded with different seeds or languages: {sorted(seeds)}, {sorted(langs)}")
    thresholds = {(s.get("similarity") or {}).get("threshold") for _, s in summaries}
    if len(thresholds) != 1:
        raise UsageError(f"the shards were graded with different --similarity thresholds: {sorted(map(str, thresholds))}")
    threshold = next(iter(thresholds))
    if threshold is not None and not (isinstance(threshold, (int, float)) and 0 < threshold <= 1):
        raise UsageError(f"the shards' summary.json holds no valid similarity threshold: {threshold!r}")
    return seeds.pop(), langs.pop(), thresholds.pop()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    summaries = []
    for name in args.shards:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise UsageError(f"{name}: no such folder")
        summaries.append((folder, _summary(folder)))
    seed, lang, threshold = _check_slices(summaries)
    outcomes = [outcome for folder, summary in summaries for outcome in _shard_outcomes(folder, summary)]
    students = [o.student for o in outcomes]
    twice = sorted({s for s in students if students.count(s) > 1})
    if twice:
        raise UsageError(f"students in more than one shard: {', '.join(twice)}")
    outcomes.sort(key=lambda o: o.student)
    seconds = max(float(s.get("duration_s", 0)) for _, s in summaries)  # the shards ran side by side
    rates = batch.pass_rates(outcomes)
    pairs = batch.find_similar(outcomes, threshold)
    summary = batch.summarize(outcomes, rates, seed, lang, sum(int(s.get("workers", 1)) for _, s in summaries),
                              seconds, f"merged from {len(summaries)}", threshold, pairs,
                              warm_graded=all(s.get("warm") is True for _, s in summaries))
    out = Path(args.out).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        batch.write_results(outcomes, rates, summary, out, lang, pairs)
    except (batch.OutputError, OSError) as error:
        print(f"python -m grader merge: could not write the results: {error}", file=sys.stderr)
        return 3
    graded = sum(o.report is not None for o in outcomes)
    print(f"Merged {len(summaries)} shards: {graded}/{len(outcomes)} submissions graded, seed {seed}; written to {out}.")
    print("\n".join(batch.similarity_lines(pairs, threshold)))
    return 0 if graded == len(outcomes) else 1
