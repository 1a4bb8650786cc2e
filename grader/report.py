"""Report formats: the native JSON report and the terminal summary."""
from __future__ import annotations

import platform
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Any, TextIO

from grader import __version__
from grader.scoring import ExerciseResult, TestResult

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunInfo:
    target: str
    device: str
    seed: int
    torch_version: str
    duration_s: float
    lang: str


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def total(results: list[ExerciseResult]) -> tuple[float, float]:
    return sum(r.score for r in results), sum(r.max_score for r in results)


def to_json(results: list[ExerciseResult], info: RunInfo) -> dict[str, Any]:
    score, max_score = total(results)
    return {
        "schema_version": SCHEMA_VERSION,
        "score": _number(score),
        "max_score": _number(max_score),
        "target": info.target,
        "device": info.device,
        "seed": info.seed,
        "versions": {"grader": __version__, "torch": info.torch_version, "python": platform.python_version()},
        "duration_s": round(info.duration_s, 2),
        "exercises": [
            {
                "id": r.exercise.id,
                "title": r.title,
                "score": _number(r.score),
                "max_score": _number(r.max_score),
                "status": r.status,
                "tests": [
                    {
                        "id": t.id,
                        "name": t.name,
                        "status": t.status,
                        "score": _number(t.score),
                        "max_score": _number(t.max_score),
                        **({"hint": t.hint} if t.status != "passed" else {}),
                        "visibility": t.visibility,
                        **({"output": t.output} if t.output else {}),
                    }
                    for t in r.tests
                ],
            }
            for r in results
        ],
    }


# --- terminal ---------------------------------------------------------------------


class ProgressLine:
    """'grading 12/36' rewritten in place on a terminal while the tests run; silent elsewhere."""

    def __init__(self, stream: TextIO, lang: str):
        self.stream = stream
        self.active = hasattr(stream, "isatty") and stream.isatty()
        self.label = "评测中" if lang == "zh" else "grading"
        self.shown = (-1, -1)

    def update(self, finished: int, total: int) -> None:
        if self.active and (finished, total) != self.shown:
            self.shown = (finished, total)
            self.stream.write(f"\r{self.label} {finished}/{total} ...")
            self.stream.flush()

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\033[K")
            self.stream.flush()


WORDS = {
    "en": {"header": "Grading {target} on {device} (seed {seed})", "total": "Total",
           "rerun": "Re-run one exercise with: python -m grader {id}   Same inputs again: --seed {seed}",
           "all_passed": "All checks passed.", "no_points": "no points: checks your own modules end to end"},
    "zh": {"header": "评测 {target}，设备 {device}（seed {seed}）", "total": "总分",
           "rerun": "只评测一个练习：python -m grader {id}   复现相同输入：--seed {seed}",
           "all_passed": "全部检查通过。", "no_points": "不计分：端到端检查你自己的模块"},
}
MARKS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⏱", "skipped": "-"}
ASCII_MARKS = {"passed": "+", "failed": "x", "error": "!", "timeout": "T", "skipped": "-"}


def _pad(text: str, width: int) -> str:
    """Left-align `text` in `width` terminal columns (CJK characters take two)."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def _bar(score: float, max_score: float, unicode: bool, width: int = 10) -> str:
    filled = round(width * score / max_score) if max_score else 0
    full, empty = ("█", "░") if unicode else ("#", ".")
    return full * filled + empty * (width - filled)


def _can_print_unicode(stream: TextIO) -> bool:
    try:
        "█░✓✗⏱".encode(stream.encoding or "ascii")
        return True
    except (LookupError, UnicodeEncodeError):
        return False


COLORS = {"passed": "32", "failed": "31", "error": "33", "timeout": "33", "skipped": "2", "dim": "2", "bold": "1"}


def _paint(text: str, style: str, color: bool) -> str:
    return f"\033[{COLORS[style]}m{text}\033[0m" if color else text


def _exercise_style(result: ExerciseResult) -> str:
    if result.status == "passed":
        return "passed"
    return "failed" if result.score == 0 else "error"


def _test_lines(test: TestResult, text: str, marks: dict[str, str], color: bool) -> list[str]:
    """'  ✗ key (points): text', wrapped; the mark is painted after wrapping so codes don't count as width."""
    head = f"  {marks[test.status]} {test.id.split('::', 1)[-1]} ({_number(test.max_score)}): "
    lines = textwrap.wrap(text, width=100, initial_indent=head, subsequent_indent=" " * 6) or [head]
    lines[0] = lines[0].replace(marks[test.status], _paint(marks[test.status], test.status, color), 1)
    return lines


OUTPUT_LINES = 5


def _output_lines(test: TestResult, color: bool, unicode: bool) -> list[str]:
    """What the learner's code printed, a few lines, each behind a margin (so no line of it starts a line here)."""
    margin = _paint("      │ " if unicode else "      | ", "dim", color)
    lines = test.output.splitlines()
    shown = [margin + line[:200] for line in lines[:OUTPUT_LINES]]
    if len(lines) > OUTPUT_LINES:
        shown.append(margin + _paint(f"... ({len(lines) - OUTPUT_LINES} more lines in the JSON report)", "dim", color))
    return shown


def render_text(results: list[ExerciseResult], info: RunInfo, stream: TextIO, color: bool = False,
                verbose: bool = False) -> None:
    """Per exercise a score bar, then what to fix (every test with `verbose`), then the total."""
    words = WORDS[info.lang]
    unicode = _can_print_unicode(stream)
    marks = MARKS if unicode else ASCII_MARKS
    lines = [_paint(words["header"].format(target=info.target, device=info.device, seed=info.seed), "bold", color), ""]
    first_failing = None
    for result in results:
        if result.max_score:
            score = f"{_number(result.score):>5}/{_number(result.max_score)}"
            bar = _bar(result.score, result.max_score, unicode)
        else:
            passed = sum(t.status == "passed" for t in result.tests)
            score, bar = f"{passed}/{len(result.tests)} {marks['passed']}", ""
        bar = _paint(f"{bar:<10}", _exercise_style(result), color)
        lines.append(f"{result.exercise.id:<15} {_pad(result.title, 38)} {bar} {score}")
        for test in result.tests:
            if test.status != "passed":
                first_failing = first_failing or result.exercise
                lines.extend(_test_lines(test, test.hint, marks, color))
                lines.extend(_output_lines(test, color, unicode))
            elif verbose:
                lines.extend(_test_lines(test, test.name, marks, color))
                lines.extend(_output_lines(test, color, unicode))
        if not result.max_score and result.tests:
            lines.append(_paint(f"  ({words['no_points']})", "dim", color))
    score, max_score = total(results)
    lines += ["", _paint(f"{words['total']}: {_number(score)}/{_number(max_score)}", "bold", color)]
    if first_failing is None:
        lines.append(words["all_passed"])
    else:
        lines.append(words["rerun"].format(id=first_failing.id.split("_")[0], seed=info.seed))
    stream.write("\n".join(lines) + "\n")
