"""Turn the judge's per-test records into scored tests and exercises."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from grader.catalog import Exercise

STATUSES = ("passed", "failed", "error", "timeout", "skipped")
# Where to look first: code that does not run, then wrong shapes, named mistakes, wrong values, gradients;
# "todo" (not implemented yet) is no mistake and is not ranked.
KINDS = ("runs", "shape", "named", "values", "gradients", "todo")
VISIBILITIES = ("visible", "hidden")

GENERIC_HINT = {
    "en": "This check did not pass; run it again with --seed {seed} to reproduce it.",
    "zh": "此项检查未通过；可用 --seed {seed} 复现。",
}


@dataclass
class TestResult:
    id: str
    name: str
    status: str
    score: float
    max_score: float
    hint: str = ""
    visibility: str = "visible"
    output: str = ""  # what the learner's code printed during this test, made safe to show
    kind: str = "runs"  # runs, shape, named, values, gradients: what sort of mistake (see fix_first)
    mistake: str = ""  # the diagnosed mistake's key, where one was named
    difference: dict[str, Any] | None = None  # a wrong value: where, and the numbers around it (see `difference`)


@dataclass
class ExerciseResult:
    exercise: Exercise
    title: str
    tests: list[TestResult] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    @property
    def status(self) -> str:
        return "passed" if all(t.status == "passed" for t in self.tests) else "failed"


def _status(record: dict[str, Any]) -> str:
    outcome = record.get("outcome")
    if outcome == "passed":
        return "passed"
    if outcome == "skipped":
        return "skipped"
    verdict = record.get("metadata", {}).get("verdict")
    return verdict if verdict in STATUSES else "error"


# Escape sequences and control characters other than newline and tab: printed learner output must not
# move the cursor, recolour the terminal or hide text.
_UNSAFE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")


def safe_output(text: Any) -> str:
    return _UNSAFE.sub("", text) if isinstance(text, str) else ""


def _skip_reason(record: dict[str, Any]) -> str:
    longrepr = (record.get("setup") or {}).get("longrepr") or ""
    return str(longrepr).rsplit("Skipped: ", 1)[-1].strip(" ')\"")


def _numbers(values: Any, limit: int) -> list[float] | None:
    if not isinstance(values, list) or not 0 < len(values) <= limit:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]


def difference(meta: dict[str, Any], lang: str) -> dict[str, Any] | None:
    """The judge's expected-vs-got data for a wrong value, checked field by field (None when malformed):
    quantity, index of the first wrong element, the learner's and torch's values from `start` along the
    last axis, the largest error, and where that is (step, direction, gate) in the report's language."""
    data = meta.get("difference")
    if not isinstance(data, dict):
        return None
    got, expected = _numbers(data.get("got"), 16), _numbers(data.get("expected"), 16)
    index = data.get("index")
    if got is None or expected is None or len(got) != len(expected) or not isinstance(index, list) \
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in index) or len(index) > 8:
        return None
    start, worst, where = data.get("start"), data.get("worst"), data.get(f"where_{lang}", "")
    if not isinstance(start, int) or not isinstance(worst, (int, float)) or not isinstance(where, str):
        return None
    return {"quantity": safe_output(str(data.get("quantity", ""))[:40]), "index": index, "start": start,
            "got": got, "expected": expected, "worst": float(worst), "where": safe_output(where[:200])}


def score_test(record: dict[str, Any], lang: str, seed: int) -> TestResult:
    meta = record.get("metadata", {})
    status = _status(record)
    points = float(meta.get("points", 0))
    hint = ""
    if status != "passed":
        hint = meta.get(f"hint_{lang}") or (_skip_reason(record) if status == "skipped" else "")
        hint = hint or GENERIC_HINT[lang].format(seed=seed)
    return TestResult(
        id=f"{meta.get('exercise', '?')}::{meta.get('key', record.get('nodeid', '?'))}",
        name=meta.get(f"name_{lang}") or meta.get("name_en") or record.get("nodeid", "?"),
        status=status,
        score=points if status == "passed" else 0.0,
        max_score=points,
        hint=hint,
        output=safe_output(meta.get("output")),
        visibility=meta.get("visibility") if meta.get("visibility") in VISIBILITIES else "visible",
        kind=meta.get("kind") if meta.get("kind") in KINDS else "runs",
        mistake=str(meta.get("mistake") or ""),
        difference=difference(meta, lang) if status != "passed" else None,
    )


def score_exercises(exercises: list[Exercise], records: list[dict[str, Any]], lang: str, seed: int) -> list[ExerciseResult]:
    by_id = {e.id: ExerciseResult(e, e.title_zh if lang == "zh" else e.title) for e in exercises}
    for record in records:
        exercise_id = record.get("metadata", {}).get("exercise")
        if exercise_id in by_id:
            by_id[exercise_id].tests.append(score_test(record, lang, seed))
    return [by_id[e.id] for e in exercises]


def _function(hint: str) -> str:
    """'gru_gates' for a hint 'gru_gates: ...' (hints start with the function they are about)."""
    return hint.replace("：", ":").split(":", 1)[0] if ":" in hint.replace("：", ":") else hint


def fix_first(results: list[ExerciseResult]) -> list[tuple[ExerciseResult, TestResult]]:
    """One failing test per distinct mistake, ranked by where to look first.

    Code that does not run comes first, then wrong structure or shapes, then diagnosed mistakes,
    then other wrong values, then gradients alone; exercises in order within each. Checks worth
    no points are left out. Several tests showing the same mistake count once, and a function sent
    to its helper counts as the helper's mistake when the helper's own checks fail.
    """
    seen: set[tuple[str, str]] = set()
    ranked = []
    failing = {(r.exercise.id, _function(t.hint)) for r in results for t in r.tests if t.status != "passed"}
    for result in results:
        for test in result.tests:
            if test.status == "passed" or not test.max_score or test.kind == "todo":
                continue
            if test.mistake.startswith("helper:") and (result.exercise.id, test.mistake[7:]) in failing:
                continue  # right given torch's helper: the helper's own failing check names the mistake
            same = (result.exercise.id, f"named:{test.mistake}" if test.mistake else f"{test.kind}:{_function(test.hint)}")
            if same not in seen:
                seen.add(same)
                ranked.append((result, test))
    order = {e.id: n for n, e in enumerate(r.exercise for r in results)}
    return sorted(ranked, key=lambda pair: (KINDS.index(pair[1].kind), order[pair[0].exercise.id]))
