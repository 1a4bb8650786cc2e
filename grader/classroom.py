"""`--classroom`: results for GitHub Classroom's grading reporter (classroom-resources/autograding-grading-reporter).

The reporter reads one base64 JSON "runner result" per runner from the environment variable
`<RUNNER>_RESULTS`; its table gives each runner (share of its tests passed) x (its max_score),
and the `Points X/Y` it sends to Classroom add up the tests' `score` fields. With one runner per
graded test, worth that test's points, both equal the grader's own score, partial credit included.

Each runner result goes to $GITHUB_OUTPUT (`<runner>=<base64>`, plus `runners=<id>,<id>,...`), and to
$GITHUB_ENV as `<RUNNER>_RESULTS`, so the reporter step finds every runner without naming each one.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, Mapping

from grader.catalog import UsageError
from grader.report import RunInfo, _number
from grader.scoring import ExerciseResult, TestResult

RESULT_VERSION = 1
MAX_MESSAGE_CHARS = 2000  # a hint is a few hundred characters; this keeps every value far below 100 KB
# The reporter prints `message` only for tests with status "error", but `test_code` for every test:
# so a test that did not pass shows its hint and the command that reproduces it there.
STATUS = {"passed": "pass", "failed": "fail", "skipped": "fail", "error": "error", "timeout": "error"}


NO_OUTPUT = ("--classroom: $GITHUB_OUTPUT is not set; GitHub Actions sets it "
             "(to try it elsewhere: GITHUB_OUTPUT=out.txt python -m grader --classroom)")


def check_environment(env: Mapping[str, str]) -> None:
    """A usage error, before grading, when --classroom would have nowhere to write."""
    if not env.get("GITHUB_OUTPUT"):
        raise UsageError(NO_OUTPUT)


def runner_id(test: TestResult, taken: set[str]) -> str:
    """'ex3cellvalues' for 'ex3_lstm::cell_values': the reporter accepts letters and digits only."""
    exercise, _, key = test.id.partition("::")
    base = re.sub(r"[^a-z0-9]", "", (exercise.split("_")[0] + key).lower()) or "test"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    taken.add(name)
    return name


def _shown_with(result: ExerciseResult, test: TestResult, info: RunInfo) -> str:
    if test.status == "passed":
        return ""
    command = f"python -m grader {result.exercise.id.split('_')[0]} --seed {info.seed}"
    return f"{test.hint[:MAX_MESSAGE_CHARS]}\n(reproduce: {command})"


def runner_result(result: ExerciseResult, test: TestResult, info: RunInfo) -> dict[str, Any]:
    """One test as a runner result in the format of autograding-command-grader (version 1)."""
    status = STATUS.get(test.status, "error")
    return {
        "version": RESULT_VERSION,
        "status": status,
        "max_score": _number(test.max_score),
        "tests": [{
            "name": f"{test.id}: {test.name}",
            "status": status,
            "score": _number(test.score),
            "message": test.hint[:MAX_MESSAGE_CHARS],
            "test_code": _shown_with(result, test, info),
            "filename": "",
            "line_no": 0,
            "duration": 0,
        }],
    }


def runner_results(results: list[ExerciseResult], info: RunInfo) -> dict[str, dict[str, Any]]:
    """Runner id -> runner result, one per graded test, in report order."""
    taken: set[str] = set()
    return {runner_id(t, taken): runner_result(r, t, info) for r in results for t in r.tests}


def encode(result: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(result, ensure_ascii=False).encode("utf-8")).decode("ascii")


def step_summary(report_text: str, score: float, max_score: float) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the score and the grader's report with every hint."""
    return f"### RNN exercises: {_number(score)}/{_number(max_score)}\n\n```text\n{report_text.rstrip()}\n```\n"


def _append(path: str, lines: list[str]) -> None:
    with open(Path(path), "a", encoding="utf-8") as file:
        file.write("".join(line + "\n" for line in lines))


def _append_values(path: str, pairs: list[str]) -> None:
    """NAME=VALUE lines for $GITHUB_OUTPUT / $GITHUB_ENV. Every value is one line (base64, runner ids), so no
    heredoc (`NAME<<DELIMITER`) is used and no value can end one early to add a line of its own."""
    if any("\n" in pair or "\r" in pair for pair in pairs):
        raise ValueError("a value for $GITHUB_OUTPUT or $GITHUB_ENV spans lines")
    _append(path, pairs)


def write(results: list[ExerciseResult], info: RunInfo, report_text: str, env: Mapping[str, str]) -> list[str]:
    """Append the runner results to $GITHUB_OUTPUT (and $GITHUB_ENV, $GITHUB_STEP_SUMMARY when set).

    Returns the runner ids.
    """
    check_environment(env)
    encoded = {runner: encode(result) for runner, result in runner_results(results, info).items()}
    outputs = [f"runners={','.join(encoded)}"] + [f"{runner}={value}" for runner, value in encoded.items()]
    _append_values(env["GITHUB_OUTPUT"], outputs)
    if env.get("GITHUB_ENV"):
        _append_values(env["GITHUB_ENV"], [f"{runner.upper()}_RESULTS={value}" for runner, value in encoded.items()])
    if env.get("GITHUB_STEP_SUMMARY"):
        score = sum(r.score for r in results)
        max_score = sum(r.max_score for r in results)
        _append(env["GITHUB_STEP_SUMMARY"], [step_summary(report_text, score, max_score)])
    return list(encoded)

