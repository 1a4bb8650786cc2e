"""`python -m grader batch SUBMISSIONS_DIR`: grade every submission (one folder each) in parallel.

Learner code may run unconfined (no Landlock: macOS, Windows, old Linux), as the instructor's user, so
one submission must not be able to change another's grade or the batch's results:
- every submission is first copied, before any is graded, into a private folder (mode 0700) outside
  --out, without following links: a link, a special file or more than 20 MiB is that submission's
  error; each is graded from its copy, which is deleted afterwards;
- each is graded by its own `python -m grader --target COPY --json -` process (a crash, hang or mess
  stays there), at most --workers at a time, under a wall-clock limit; its whole process tree is
  killed (psutil) before its report is read. On Linux with the CPU that process is forked from the
  warm process (grader/warm.py), which imported torch, pytest and the grader once; --cold starts it
  from scratch, as on every other platform, with the same grades;
- only this process writes --out, once grading is over, each file whole (a temporary file, then
  os.replace): reports/STUDENT.json (the native report), grades.csv (student, total, one column per
  exercise, error), pass_rates.csv and summary.json (how often each test passed: the common mistakes
  first), report.html (the class report: scores, pass rates, the named mistakes ranked, the similar pairs),
  sources.json (each submission's exercise files as copied, before any was graded: what `merge` compares)
  and similarity.csv (the pairs whose code is alike; never a grade's business).
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import psutil

from grader import class_report, reaper, similarity, warm
from grader.catalog import ALL, EXERCISES, UsageError
from grader.report import _number
from grader.target import EXPECTED_FILES, REPO_ROOT

DEFAULT_TIME_LIMIT_S = 300.0
MAX_SUBMISSION_BYTES = 20 * 2**20
MAX_REPORT_BYTES = 64 * 2**20
MAX_SOURCE_BYTES = 256 * 2**10  # of one exercise file, for the similarity check
NOT_COPIED = {".git", "__pycache__"}
PRINTED_RATES = 15  # the rest is in pass_rates.csv


@dataclass
class Submission:
    student: str
    folder: Path


class SubmissionError(Exception):
    """A submission that is not graded as it is (a link, a special file, too large): its row says why."""

    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.zh = zh

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else str(self)


class OutputError(Exception):
    """A result file that could not be written (a folder is in its place)."""


@dataclass
class Outcome:
    student: str
    report: dict[str, Any] | None = None
    error: str = ""
    seconds: float = 0.0
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # exercise file -> its text, as submitted
    warm: bool = False  # graded by a grader forked from the warm process


@dataclass(frozen=True)
class BatchSettings:
    out: Path
    seed: int
    lang: str
    device: str
    time_limit_s: float
    workers: int
    suites: Path | None
    shard: tuple[int, int] = (1, 1)  # (K, N): this run grades the K-th of N slices
    similarity_threshold: float | None = similarity.DEFAULT_THRESHOLD  # None: not checked
    warm: bool = True  # fork each grader from the warm process where it can (grader/warm.py)


def find_submissions(folder: Path) -> list[Submission]:
    """One submission per visible sub-folder, by name (a link to a folder too: it becomes an error, not a grade)."""
    return [Submission(path.name, path) for path in sorted(folder.iterdir())
            if (path.is_dir() or path.is_symlink()) and not path.name.startswith((".", "__"))]


def shard_of(submissions: list[Submission], shard: tuple[int, int]) -> list[Submission]:
    """The K-th of N slices (every N-th submission by name, from the K-th): the same on every machine."""
    k, n = shard
    return submissions[k - 1::n]


def _link_error(name: str) -> SubmissionError:
    return SubmissionError(f"{name} is a symbolic link, which is not followed: submit the file itself",
                           f"{name} 是符号链接，评测程序不会跟随链接：请提交文件本身")


def _exercise_folder(submission: Submission) -> tuple[Path, str]:
    """The folder with the exercise files, and its name as shown: the submission itself, or its exercises/
    (a whole repository). Links are refused, never followed."""
    if submission.folder.is_symlink():
        raise _link_error(submission.student)
    inner = submission.folder / "exercises"
    if inner.is_symlink():
        raise _link_error("exercises")
    if inner.is_dir() and any(os.path.lexists(inner / name) for name in EXPECTED_FILES):
        return inner, "exercises/"
    return submission.folder, ""


def _copy_file(source: str, destination: Path, shown: str, budget: list[int]) -> None:
    """Copy one regular file, opened without following a link (it may have been swapped since it was listed)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(source, flags)
    except OSError:
        raise _link_error(shown) from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise SubmissionError(f"{shown} is not a regular file", f"{shown} 不是普通文件")
        data = file.read(budget[0] + 1)
    budget[0] -= len(data)
    if budget[0] < 0:
        raise SubmissionError(f"the submission is larger than {MAX_SUBMISSION_BYTES >> 20} MiB",
                              f"提交的文件超过 {MAX_SUBMISSION_BYTES >> 20} MiB")
    with open(os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600),
              "wb") as out:
        out.write(data)


def _copy_folder(source: Path, destination: Path, shown: str, budget: list[int]) -> None:
    destination.mkdir(mode=0o700)
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        name = shown + entry.name
        if entry.name in NOT_COPIED:
            continue
        if entry.is_symlink():
            raise _link_error(name)
        if entry.is_dir(follow_symlinks=False):
            _copy_folder(Path(entry.path), destination / entry.name, name + "/", budget)
        elif entry.is_file(follow_symlinks=False):
            _copy_file(entry.path, destination / entry.name, name, budget)
        else:
            raise SubmissionError(f"{name} is not a regular file", f"{name} 不是普通文件")


def copy_submission(submission: Submission, destination: Path) -> Path:
    """Copy the submission's exercise folder to `destination` (which must not exist yet): the copy to grade.
    Raises SubmissionError for a link, a special file, or more than MAX_SUBMISSION_BYTES in all."""
    folder, shown = _exercise_folder(submission)
    _copy_folder(folder, destination, shown, [MAX_SUBMISSION_BYTES])
    return destination


def read_sources(copy: Path) -> dict[str, str]:
    """The exercise files of a submission's private copy (modules.py is ready-made: not the student's)."""
    sources = {}
    for exercise in EXERCISES:
        path = copy / f"{exercise.id}.py"
        if path.is_file():
            sources[path.name] = _read(path, MAX_SOURCE_BYTES).decode("utf-8", errors="replace")
    return sources


def _command(target: Path, settings: BatchSettings) -> list[str]:
    command = [sys.executable, "-m", "grader", "--target", str(target), "--json", "-",
               "--seed", str(settings.seed), "--lang", settings.lang, "--device", settings.device]
    if settings.suites is not None:
        command += ["--suites", str(settings.suites)]
    return command


def last_error_line(stderr: str, default: str = "no message") -> str:
    """The message of `python -m grader`'s error output: its last line, without the program's prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith("(see ")]
    return lines[-1].removeprefix("python -m grader: ").removeprefix("error: ") if lines else default


def run_to_end(command: list[str], stdout: Any, stderr: Any, time_limit_s: float) -> int | None:
    """Run one submission's grader in a session of its own and kill its whole process tree however it ends,
    so nothing of that submission's is still running when its report is read. None: out of time."""
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                               start_new_session=True, env={**os.environ, "NO_COLOR": "1"})
    family: dict[int, psutil.Process] = {}
    deadline = time.monotonic() + time_limit_s
    returncode = None
    try:
        while returncode is None and time.monotonic() < deadline:
            family.update((p.pid, p) for p in reaper.descendants(process.pid))
            try:
                returncode = process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
    finally:
        psutil.wait_procs(reaper.kill_tree(process, family.values()), timeout=5)
    return returncode


def _read(path: Path, limit: int = MAX_REPORT_BYTES) -> bytes:
    with open(path, "rb") as file:
        return file.read(limit)


def _grade_to_end(command: list[str], stdout: Any, stderr: Any, time_limit_s: float,
                  warm_grader: warm.WarmGrader | None) -> tuple[int | None, bool]:
    """`run_to_end`, by a grader forked from the warm process where there is one; and whether it was."""
    if warm_grader is not None:
        try:
            return warm_grader.run(command[3:], {**os.environ, "NO_COLOR": "1"}, REPO_ROOT, stdout, stderr,
                                   time_limit_s), True
        except (warm.WarmUnavailable, OSError):
            stdout.seek(0)
            stdout.truncate()
            stderr.seek(0)
            stderr.truncate()
    return run_to_end(command, stdout, stderr, time_limit_s), False


def grade_one(submission: Submission, prepared: Path | SubmissionError, settings: BatchSettings,
              warm_grader: warm.WarmGrader | None = None) -> Outcome:
    """Grade one submission from its private copy; never raises for anything the submission does."""
    if isinstance(prepared, SubmissionError):
        return Outcome(submission.student, error=prepared.text(settings.lang))
    scratch = prepared.parent
    started = time.monotonic()
    try:
        with open(scratch / "stdout", "wb") as stdout, open(scratch / "stderr", "wb") as stderr:
            returncode, forked = _grade_to_end(_command(prepared, settings), stdout, stderr, settings.time_limit_s,
                                               warm_grader)
        seconds = time.monotonic() - started
        if returncode is None:
            return Outcome(submission.student, error=f"timed out after {settings.time_limit_s:g} s", seconds=seconds)
        if returncode in (0, 1):
            report = json.loads(_read(scratch / "stdout"))
            report["target"] = str(submission.folder)  # the student's folder, not the private copy graded
            tests = {t["id"]: t for e in report["exercises"] for t in e["tests"]}
            return Outcome(submission.student, report=report, seconds=seconds, tests=tests, warm=forked)
        stderr_text = _read(scratch / "stderr").decode("utf-8", errors="replace").replace(
            str(prepared), str(submission.folder))
        kind = "not gradable" if returncode == 2 else f"grader failed (exit {returncode})"
        return Outcome(submission.student, error=f"{kind}: {last_error_line(stderr_text)}", seconds=seconds)
    except (OSError, ValueError, KeyError, TypeError) as error:  # an unreadable or malformed report
        return Outcome(submission.student, error=f"grader failed: {type(error).__name__}: {error}",
                       seconds=time.monotonic() - started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write_atomic(path: Path, text: str, replace_folder: bool = False) -> None:
    """Write `path` whole or not at all: a temporary file beside it, then os.replace. Whatever is at `path`
    (a file, a link, a FIFO) is replaced as an entry, never followed or opened; a folder there is removed
    when `replace_folder` (the batch's own reports/), else an OutputError."""
    if path.is_dir() and not path.is_symlink():
        if not replace_folder:
            raise OutputError(f"{path} is a folder; move it away and run the batch again")
        shutil.rmtree(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _own_folder(path: Path) -> Path:
    """reports/ as a real folder: a link or a file in its place (put there while grading) is removed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    path.mkdir(exist_ok=True)
    return path


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


def run_batch(submissions: list[Submission], settings: BatchSettings, progress: ProgressBar,
              workspace: Path) -> tuple[list[Outcome], list[similarity.Pair] | None]:
    """Copy every submission first (none is graded before all are copied), then grade the copies; meanwhile compare
    the copies' code (the similar pairs; None: not checked, as in a slice of the class)."""
    warm_grader = _launch_warm(settings) if submissions else None  # it imports torch while the copies are made
    comparing = ThreadPoolExecutor(max_workers=1)
    try:
        prepared, sources = _copy_all(submissions, workspace)
        # Compared while the submissions are graded: it reads only the copies' text.
        similar = (comparing.submit(similar_sources, sources, settings.similarity_threshold)
                   if settings.shard[1] == 1 else None)
        warm_grader = _ready(warm_grader, needed=any(isinstance(p, Path) for p in prepared))
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(max_workers=settings.workers) as pool:
            futures = [pool.submit(grade_one, s, p, settings, warm_grader) for s, p in zip(submissions, prepared)]
            for future in as_completed(futures):
                outcomes.append(future.result())
                outcomes[-1].sources = sources.get(outcomes[-1].student, {})
                progress.update(len(outcomes), sum(1 for o in outcomes if o.error))
        pairs = similar.result() if similar is not None else None
    finally:
        if warm_grader is not None:
            warm_grader.close()
        comparing.shutdown(wait=True)
    progress.clear()
    return sorted(outcomes, key=lambda o: o.student), pairs


def _copy_all(submissions: list[Submission],
              workspace: Path) -> tuple[list[Path | SubmissionError], dict[str, dict[str, str]]]:
    """Each submission's private copy (or why there is none), and the text of its exercise files."""
    prepared: list[Path | SubmissionError] = []
    sources: dict[str, dict[str, str]] = {}
    for index, submission in enumerate(submissions):
        scratch = workspace / str(index)
        scratch.mkdir(mode=0o700)
        try:
            prepared.append(copy_submission(submission, scratch / "submission"))
            sources[submission.student] = read_sources(prepared[-1])
        except SubmissionError as error:
            prepared.append(error)
            shutil.rmtree(scratch, ignore_errors=True)
        except OSError as error:
            prepared.append(SubmissionError(f"could not be read: {error}", f"无法读取：{error}"))
            shutil.rmtree(scratch, ignore_errors=True)
    return prepared, sources


def _launch_warm(settings: BatchSettings) -> warm.WarmGrader | None:
    """The warm process (Linux, CPU), starting; None where there is none: then every grader starts the plain way,
    with the same grades."""
    if not settings.warm or not warm.supported(settings.device):
        return None
    try:
        return warm.WarmGrader({**os.environ, "NO_COLOR": "1"})
    except OSError as error:
        sys.stderr.write(f"python -m grader batch: grading without the warm process ({error})\n")
        return None


def _ready(warm_grader: warm.WarmGrader | None, needed: bool = True) -> warm.WarmGrader | None:
    """The warm process once it is ready, or None (not `needed`: nothing to grade; or it could not start)."""
    if warm_grader is None:
        return None
    if not needed:
        warm_grader.close()
        return None
    try:
        warm_grader.wait_ready()
        return warm_grader
    except warm.WarmUnavailable as error:
        sys.stderr.write(f"python -m grader batch: grading without the warm process ({error})\n")
        return None


def find_similar(outcomes: list[Outcome], threshold: float | None) -> list[similarity.Pair] | None:
    """The pairs of submissions whose exercise code is alike by `threshold` or more; None: not checked
    (switched off, or copydetect is not installed). The stubs' own text is left out."""
    return similar_sources({o.student: o.sources for o in outcomes}, threshold)


def similar_sources(sources: dict[str, dict[str, str]], threshold: float | None) -> list[similarity.Pair] | None:
    """`find_similar` on each student's exercise files."""
    if threshold is None or not similarity.available():
        return None
    stubs = {f"{e.id}.py": (REPO_ROOT / "exercises" / f"{e.id}.py").read_text(encoding="utf-8") for e in EXERCISES}
    return similarity.similar_pairs({student: files for student, files in sources.items() if files}, stubs, threshold)


def summarize(outcomes: list[Outcome], rates: list[dict[str, Any]], seed: int, lang: str, workers: int,
              seconds: float, shard: str, threshold: float | None = None,
              pairs: list[similarity.Pair] | None = None, warm_graded: bool | None = None) -> dict[str, Any]:
    """summary.json: what the batch graded, how fast, the rows of grades.csv and pass_rates.csv, the similar pairs,
    and whether every graded submission was graded by a grader forked from the warm process."""
    graded = [o for o in outcomes if o.report is not None]
    return {"seed": seed, "lang": lang, "shard": shard, "submissions": len(outcomes),
            "graded": len(graded), "workers": workers,
            "warm": bool(graded) and all(o.warm for o in graded) if warm_graded is None else warm_graded,
            "duration_s": round(seconds, 2), "submissions_per_minute": round(60 * len(outcomes) / max(seconds, 1e-9), 2),
            "exercises": [e.id for e in EXERCISES], "grades": grade_rows(outcomes), "pass_rates": rates,
            "similarity": {"threshold": threshold, "checked": pairs is not None,
                           "pairs": [pair.row() for pair in pairs or []]}}


def write_results(outcomes: list[Outcome], rates: list[dict[str, Any]], summary: dict[str, Any], out: Path,
                  lang: str = "en", pairs: list[similarity.Pair] | None = None) -> None:
    """Every result file, from this process only, after all grading is over."""
    if out.is_symlink() or not out.is_dir():
        raise OutputError(f"{out} is no longer a folder")
    reports = _own_folder(out / "reports")
    for outcome in outcomes:
        path = reports / f"{outcome.student}.json"
        if outcome.report is not None:
            write_atomic(path, json.dumps(outcome.report, ensure_ascii=False, indent=2) + "\n", replace_folder=True)
        elif path.is_dir() and not path.is_symlink():  # a report left from an earlier batch is not this one's
            shutil.rmtree(path)
        elif path.is_symlink() or path.exists():
            path.unlink()
    write_atomic(out / "grades.csv", _csv_text(summary["grades"], ["student", "total", "max_score",
                                                                  *(e.id for e in ALL), "error"]))
    write_atomic(out / "pass_rates.csv", _csv_text(rates, ["test", "name", "points", "passed", "graded",
                                                           "pass_rate"]))
    write_atomic(out / "summary.json", json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    write_atomic(out / "sources.json", json.dumps({o.student: o.sources for o in outcomes if o.sources},
                                                  ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    if pairs is None:
        _remove_stale(out / "similarity.csv")  # an earlier batch's pairs are not this one's
    else:
        write_atomic(out / "similarity.csv", _csv_text([p.row() for p in pairs], ["first", "second", "score",
                                                                                 "first_share", "second_share", "files"]))
    threshold = summary["similarity"]["threshold"]
    unchecked = "off" if threshold is None else "shard" if summary["shard"] != "1/1" and not summary["shard"].startswith("merged") \
        else "missing"
    write_atomic(out / "report.html", class_report.render(outcomes, rates, summary["seed"], lang, pairs, threshold,
                                                          unchecked))


def similarity_lines(pairs: list[similarity.Pair] | None, threshold: float | None, sharded: bool = False) -> list[str]:
    if sharded:
        return ["Similarity is checked when the slices are merged (python -m grader merge)."]
    if threshold is None:
        return ["Similarity not checked (--similarity off)."]
    if pairs is None:
        return [f"Similarity not checked: copydetect is not installed ({similarity.INSTALL})."]
    if not pairs:
        return [f"No two submissions' exercise code is alike by {threshold:.0%} or more."]
    return [f"Pairs whose exercise code is alike by {threshold:.0%} or more (see report.html; grades unchanged):",
            *(f"  {p.score:>5.0%}  {p.first}  {p.second}" for p in pairs)]


def _remove_stale(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()


def summary_text(outcomes: list[Outcome], rates: list[dict[str, Any]], seconds: float, settings: BatchSettings,
                 pairs: list[similarity.Pair] | None = None) -> str:
    graded = [o for o in outcomes if o.report is not None]
    lines = [f"Graded {len(graded)}/{len(outcomes)} submissions in {seconds:.1f} s with {settings.workers} workers "
             f"({60 * len(outcomes) / seconds:.1f} submissions/minute), seed {settings.seed}."]
    if graded:
        mean = sum(o.report["score"] for o in graded if o.report) / len(graded)
        most = max(o.report["max_score"] for o in graded if o.report)
        lines.append(f"Mean score {mean:.1f}/{most:g}.")
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
    lines += ["", *similarity_lines(pairs, settings.similarity_threshold, settings.shard[1] > 1), "",
              f"Written to {settings.out}: grades.csv, pass_rates.csv, summary.json, report.html, "
              "reports/STUDENT.json, sources.json" + (", similarity.csv." if pairs is not None else ".")]
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
    parser.add_argument("--similarity", type=_threshold, default=similarity.DEFAULT_THRESHOLD, metavar="T",
                        help="list the pairs whose exercise code is alike by at least T (0 < T <= 1; default "
                             f"{similarity.DEFAULT_THRESHOLD:g}; needs copydetect) in report.html and similarity.csv, "
                             "or 'off'. It never changes a grade")
    parser.add_argument("--cold", action="store_true",
                        help="start every submission's grader, judge and sandbox from scratch, as on macOS and "
                             "Windows (slower, same grades; by default on Linux they are forked from one warm "
                             "process that has imported torch once)")
    parser.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                        help="grade only the K-th of N slices of the class (needs --seed; join the slices' --out "
                             "folders with python -m grader merge)")
    return parser


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, e.g. 2/4: {text!r}")
    return int(k), int(n)


def _threshold(text: str) -> float | None:
    if text == "off":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 (e.g. 0.8) or 'off': {text!r}")
    return value


def _settings(args: argparse.Namespace) -> BatchSettings:
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1: {args.workers}")
    suites = None
    if args.suites is not None:
        suites = Path(args.suites).expanduser().resolve()
        if not suites.is_dir():
            raise UsageError(f"--suites {args.suites}: no such folder")
    if args.shard[1] > 1 and args.seed is None:
        raise UsageError("--shard needs --seed: every slice must be graded on the same inputs",
                         "--shard 需要 --seed：每一份都必须用相同的输入评分")
    out = Path(args.out).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out} is not a folder")
    return BatchSettings(out=out, seed=args.seed if args.seed is not None else secrets.randbelow(2**31),
                         lang=args.lang, device=args.device, time_limit_s=args.time_limit, workers=args.workers,
                         suites=suites, shard=args.shard, similarity_threshold=args.similarity, warm=not args.cold)


def _workspace(out: Path) -> Path:
    """The private folder (mode 0700) of the submissions' copies: never inside --out."""
    workspace = Path(tempfile.mkdtemp(prefix="rnn-batch-")).resolve()
    if workspace == out or out in workspace.parents:
        shutil.rmtree(workspace)
        workspace = Path(tempfile.mkdtemp(prefix="rnn-batch-", dir=out.parent)).resolve()
    return workspace


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    folder = Path(args.submissions).expanduser()
    if not folder.is_dir():
        raise UsageError(f"{args.submissions}: no such folder", f"{args.submissions}：没有这个文件夹")
    settings = _settings(args)
    everyone = find_submissions(folder)
    if not everyone:
        raise UsageError(f"{args.submissions} holds no submission folders (one folder per student)",
                         f"{args.submissions} 里没有提交的文件夹（每个学生一个文件夹）")
    submissions = shard_of(everyone, settings.shard)  # a slice may be empty: its results are, too
    settings.out.mkdir(parents=True, exist_ok=True)
    workspace = _workspace(settings.out)
    started = time.monotonic()
    try:
        outcomes, pairs = run_batch(submissions, settings, ProgressBar(sys.stderr, len(submissions)), workspace)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    seconds = time.monotonic() - started
    rates = pass_rates(outcomes)
    summary = summarize(outcomes, rates, settings.seed, settings.lang, settings.workers, seconds,
                        f"{settings.shard[0]}/{settings.shard[1]}", settings.similarity_threshold, pairs)
    try:
        write_results(outcomes, rates, summary, settings.out, settings.lang, pairs)
    except (OutputError, OSError) as error:
        sys.stderr.write(f"python -m grader batch: could not write the results: {error}\n"
                         if settings.lang != "zh" else f"python -m grader batch：无法写入结果：{error}\n")
        return 3
    sys.stdout.write(summary_text(outcomes, rates, seconds, settings, pairs))
    return 0 if all(o.report is not None for o in outcomes) else 1
