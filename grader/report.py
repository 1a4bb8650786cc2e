"""Report formats: the native JSON report and the terminal summary."""
from __future__ import annotations

import platform
import re
import shlex
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from grader import __version__
from grader.scoring import ExerciseResult, TestResult, fix_first

SCHEMA_VERSION = 1
GUIDES_DIR = Path(__file__).resolve().parent.parent / "guides"


@dataclass(frozen=True)
class RunInfo:
    target: str
    device: str
    seed: int
    torch_version: str
    duration_s: float
    lang: str
    confinement: str = "none"  # how learner code was confined: "landlock+userns", "landlock", ... or "none"


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
        "confinement": info.confinement,
        "fix_first": [test.id for _, test in fix_first(results)],
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
                        **({"mistakes": t.mistake.split("+")} if t.mistake and t.status != "passed" else {}),
                        **({"difference": t.difference} if t.difference and t.status != "passed" else {}),
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
    "en": {"header": "Grading {target} on {device} (seed {seed})", "total": "Total: {score}/{max_score}",
           "rerun": "Re-run one exercise with: {command}   Same inputs again: --seed {seed}",
           "all_passed": "All checks passed.", "no_points": "no points: checks your own modules end to end",
           "guide": "Guide, with the common mistakes: {path}",
           "fix_first": "Where to look first:",
           "unconfined": "Your code ran without operating-system confinement here (it has it on Linux only): "
                         "grades are right, but code that reads or writes other files is not stopped."},
    "zh": {"header": "评测 {target}，设备 {device}（seed {seed}）", "total": "总分：{score}/{max_score}",
           "rerun": "只评测一个练习：{command}   复现相同输入：--seed {seed}",
           "all_passed": "全部检查通过。", "no_points": "不计分：端到端检查你自己的模块",
           "guide": "指南（含常见错误）：{path}",
           "fix_first": "建议先看这里：",
           "unconfined": "在此系统上，你的代码运行时没有操作系统级的隔离（仅 Linux 提供）：评分依然准确，"
                         "但读写其他文件的代码不会被阻止。"},
}
MARKS = {"passed": "✓", "failed": "✗", "error": "!", "timeout": "⏱", "skipped": "-"}
ASCII_MARKS = {"passed": "+", "failed": "x", "error": "!", "timeout": "T", "skipped": "-"}
WIDTH = 100  # terminal columns of a wrapped hint
FIX_FIRST_SHOWN = 5  # mistakes listed under "Where to look first"


def _columns(text: str) -> int:
    """Terminal columns of `text` (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Left-align `text` in `width` terminal columns."""
    return text + " " * max(0, width - _columns(text))


# A wrap may break at spaces and between two wide (CJK) characters.
_TOKENS = re.compile(r"\s+|[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]|[^\s\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]+")


def wrap(text: str, width: int, initial_indent: str, subsequent_indent: str) -> list[str]:
    """textwrap.wrap by terminal columns, so that Chinese lines are as wide as English ones."""
    lines: list[str] = []
    line, empty, space = initial_indent, True, False  # empty: only the indent so far
    for token in _TOKENS.findall(text):
        if token.isspace():
            space = True
            continue
        gap = " " if space and not empty else ""
        if not empty and _columns(line + gap + token) > width:
            lines.append(line)
            line, gap = subsequent_indent, ""
        line += gap + token
        empty, space = False, False
    lines.append(line)
    return lines


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


def _test_lines(tests: list[TestResult], text: str, marks: dict[str, str], color: bool) -> list[str]:
    """'  ✗ key, key (points): text', wrapped; the mark is painted after wrapping so codes don't count as width."""
    status = tests[0].status
    keys = ", ".join(t.id.split("::", 1)[-1] for t in tests)
    points = _number(sum(t.max_score for t in tests))
    lines = wrap(f"{keys} ({points}): {text}", WIDTH, initial_indent=f"  {marks[status]} ", subsequent_indent=" " * 6)
    lines[0] = lines[0].replace(marks[status], _paint(marks[status], status, color), 1)
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


def _failures(tests: list[TestResult]) -> list[list[TestResult]]:
    """Tests that did not pass, those with the same status and hint together (in order of first appearance)."""
    groups: dict[tuple[str, str], list[TestResult]] = {}
    for test in tests:
        if test.status != "passed":
            groups.setdefault((test.status, test.hint), []).append(test)
    return list(groups.values())


def _guide(result: ExerciseResult, lang: str) -> str | None:
    path = GUIDES_DIR / lang / f"{result.exercise.id}.md"
    return f"guides/{lang}/{path.name}" if path.is_file() else None


def _rerun_command(exercise_id: str, target: str) -> str:
    command = f"python -m grader {exercise_id.split('_')[0]}"
    if target != "exercises":
        command += f" --target {shlex.quote(target)}"
    return command


def _clip(text: str, width: int) -> str:
    """`text` cut to `width` terminal columns, with '…' where it was cut."""
    if _columns(text) <= width:
        return text
    kept, used = [], 0
    for ch in text:
        if used + _columns(ch) > width - 1:
            break
        kept.append(ch)
        used += _columns(ch)
    return "".join(kept) + "…"


def render_text(results: list[ExerciseResult], info: RunInfo, stream: TextIO, color: bool = False,
                verbose: bool = False) -> None:
    """Per exercise a score bar, then what to fix (every test with `verbose`), then the total."""
    words = WORDS[info.lang]
    unicode = _can_print_unicode(stream)
    marks = MARKS if unicode else ASCII_MARKS
    lines = [_paint(words["header"].format(target=info.target, device=info.device, seed=info.seed), "bold", color)]
    if info.confinement == "none":
        lines.extend(wrap(words["unconfined"], WIDTH, "", ""))
    lines.append("")
    first_failing = None
    id_width = max([15] + [len(result.exercise.id) for result in results])  # one column for every exercise's id
    for result in results:
        if result.max_score:
            score = f"{_number(result.score):>5}/{_number(result.max_score)}"
            bar = _bar(result.score, result.max_score, unicode)
        else:
            passed = sum(t.status == "passed" for t in result.tests)
            score, bar = f"{passed}/{len(result.tests)} {marks['passed']}", ""
        bar = _paint(f"{bar:<10}", _exercise_style(result), color)
        lines.append(f"{result.exercise.id:<{id_width}} {_pad(result.title, 38)} {bar} {score}")
        if verbose:
            for test in result.tests:
                lines.extend(_test_lines([test], test.hint if test.status != "passed" else test.name, marks, color))
                lines.extend(_output_lines(test, color, unicode))
        else:
            for group in _failures(result.tests):
                lines.extend(_test_lines(group, group[0].hint, marks, color))
                lines.extend(_output_lines(group[0], color, unicode))
        failed = any(t.status != "passed" for t in result.tests)
        if failed:
            first_failing = first_failing or result.exercise
            guide = _guide(result, info.lang)
            if guide and result.max_score:
                lines.append(_paint("  " + words["guide"].format(path=guide), "dim", color))
        if not result.max_score and result.tests:
            lines.append(_paint(f"  ({words['no_points']})", "dim", color))
    ranked = fix_first(results)
    if len(ranked) > 1:
        lines += ["", _paint(words["fix_first"], "bold", color)]
        lines += [_clip(f"  {n}. {result.exercise.id}  {test.hint}", WIDTH)
                  for n, (result, test) in enumerate(ranked[:FIX_FIRST_SHOWN], 1)]
        if len(ranked) > FIX_FIRST_SHOWN:
            lines.append(f"  ... +{len(ranked) - FIX_FIRST_SHOWN}")
    if ranked:
        first_failing = ranked[0][0].exercise
    score, max_score = total(results)
    lines += ["", _paint(words["total"].format(score=_number(score), max_score=_number(max_score)), "bold", color)]
    if first_failing is None:
        lines.append(words["all_passed"])
    else:
        lines.append(words["rerun"].format(command=_rerun_command(first_failing.id, info.target), seed=info.seed))
    stream.write("\n".join(lines) + "\n")
