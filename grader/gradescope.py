"""`--gradescope PATH`: results.json in Gradescope's autograder format.

Fields (https://gradescope-autograders.readthedocs.io/en/latest/specs/): top-level `score`,
`execution_time` (seconds), `output` and `output_format`, and `tests`, each with `name`, `number`,
`score`, `max_score`, `status` ("passed" / "failed"), `output` (the hint), `visibility` and `tags`.
A test the suites mark hidden is shown to students only once grades are published.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grader.report import RunInfo, _number, total
from grader.scoring import ExerciseResult, TestResult

VISIBILITY = {"visible": "visible", "hidden": "after_published"}


def _test(number: str, result: ExerciseResult, test: TestResult) -> dict[str, Any]:
    return {
        "name": f"{test.id}: {test.name}",
        "number": number,
        "score": _number(test.score),
        "max_score": _number(test.max_score),
        "status": "passed" if test.status == "passed" else "failed",
        "output": test.hint if test.status != "passed" else "",
        "visibility": VISIBILITY.get(test.visibility, "visible"),
        "tags": [result.exercise.id, test.status],
    }


def to_results(results: list[ExerciseResult], info: RunInfo, report_text: str) -> dict[str, Any]:
    """The results.json object; `report_text` (the grader's terminal report) is shown as its `output`."""
    score, _ = total(results)
    tests = [
        _test(f"{exercise_number}.{test_number}", result, test)
        for exercise_number, result in enumerate(results, start=1)
        for test_number, test in enumerate(result.tests, start=1)
    ]
    return {
        "score": _number(score),
        "execution_time": max(1, round(info.duration_s)),
        "output": report_text,
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write(path: str, results: list[ExerciseResult], info: RunInfo, report_text: str) -> None:
    target = Path(path).expanduser()
    text = json.dumps(to_results(results, info, report_text), ensure_ascii=False, indent=2)
    target.write_text(text + "\n", encoding="utf-8")
