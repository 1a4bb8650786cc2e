"""The class report: one self-contained page (no server, no script, no file beside it) that a batch writes
as report.html: the score distribution, pass rates per exercise and per check as bar charts, and the
mistakes the hints named, ranked by how many students made them, each with an example hint.

Everything shown that comes from a submission (names, hints) is escaped: the page runs no code.
"""
from __future__ import annotations

import html
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

BINS = 10  # score distribution: ten bands, each a tenth of the maximum score (labelled in percent)

TEXT = {
    "en": {"title": "Class report", "graded": "{graded} of {total} submissions graded, seed {seed}",
           "scores": "Score distribution", "mean": "mean {mean:.1f}, median {median:g}",
           "exercises": "Average score per exercise", "checks": "Pass rate per check, lowest first",
           "mistakes": "Mistakes the hints named, most common first", "students": "students",
           "example": "example hint", "none": "No hint named a mistake.", "errors": "Not graded",
           "mistake": "mistake", "function": "function", "check": "check", "rate": "passed"},
    "zh": {"title": "班级报告", "graded": "共 {total} 份提交，已评分 {graded} 份，种子 {seed}",
           "scores": "分数分布", "mean": "平均 {mean:.1f}，中位数 {median:g}",
           "exercises": "各练习平均分", "checks": "各检查通过率（从低到高）",
           "mistakes": "提示指出的错误（按人数从多到少）", "students": "人数",
           "example": "提示示例", "none": "没有提示指出具体错误。", "errors": "未能评分",
           "mistake": "错误", "function": "函数", "check": "检查", "rate": "通过"},
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:60rem;padding:1rem;
line-height:1.4;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.hist{display:flex;align-items:flex-end;gap:.3rem;height:10rem;border-bottom:1px solid #999}
.hist div{flex:1;background:#4a7bd0;position:relative;min-height:1px}
.hist span{position:absolute;top:-1.3rem;width:100%;text-align:center;font-size:.8rem}
.axis{display:flex;gap:.3rem;font-size:.75rem;color:#555}.axis div{flex:1;text-align:center}
table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{padding:.25rem .4rem;text-align:left;
vertical-align:top;border-bottom:1px solid #ddd}
.bar{background:#eee;height:.9rem;min-width:6rem}.bar div{background:#4a7bd0;height:100%}
.low .bar div{background:#d0574a}code{font-size:.85rem;word-break:break-all}
"""


class Graded(Protocol):
    """What the report reads of one batch outcome."""

    student: str
    report: dict[str, Any] | None
    error: str


@dataclass(frozen=True)
class Mistake:
    function: str
    key: str
    students: int
    example: str


def named_mistakes(outcomes: list[Graded]) -> list[Mistake]:
    """Each (function, deviation) a hint named, with the number of students whose hint named it; most first.

    A check sent to its helper ("fix rnn_cell first") is not counted: the helper's own checks name the mistake."""
    students: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    for outcome in outcomes:
        seen: set[tuple[str, str]] = set()
        for test in _failed_tests(outcome):
            function = test["hint"].replace("：", ":").split(":", 1)[0]
            for key in test.get("mistakes", []):
                if key.startswith("helper:"):
                    continue
                seen.add((function, key))
                examples.setdefault((function, key), test["hint"])
        students.update(seen)
    ranked = sorted(students.items(), key=lambda item: (-item[1], item[0]))
    return [Mistake(function, key, count, examples[(function, key)]) for (function, key), count in ranked]


def _failed_tests(outcome: Graded) -> list[dict[str, Any]]:
    if outcome.report is None:
        return []
    return [t for e in outcome.report["exercises"] for t in e["tests"] if t["status"] != "passed" and t.get("hint")]


def score_bins(outcomes: list[Graded]) -> list[int]:
    """How many graded submissions fall in each tenth of the maximum score (full marks in the last)."""
    bins = [0] * BINS
    for outcome in outcomes:
        if outcome.report is not None and outcome.report.get("max_score"):
            share = outcome.report["score"] / outcome.report["max_score"]
            bins[min(BINS - 1, int(share * BINS))] += 1
    return bins


def exercise_means(outcomes: list[Graded]) -> list[tuple[str, float, float]]:
    """(exercise id, mean score, max score) over the graded submissions, for exercises worth points."""
    totals: dict[str, list[float]] = {}
    for outcome in outcomes:
        for exercise in (outcome.report or {}).get("exercises", []):
            if exercise["max_score"]:
                entry = totals.setdefault(exercise["id"], [0.0, 0.0, exercise["max_score"]])
                entry[0] += exercise["score"]
                entry[1] += 1
    return [(name, total / count, top) for name, (total, count, top) in totals.items()]


def _bar(share: float) -> str:
    return f'<div class="bar"><div style="width:{100 * max(0.0, min(1.0, share)):.1f}%"></div></div>'


def _histogram(bins: list[int]) -> str:
    most = max(bins) or 1
    bars = "".join(f'<div style="height:{100 * n / most:.1f}%"><span>{n}</span></div>' for n in bins)
    labels = "".join(f"<div>{10 * k}–{10 * k + 9 if k < BINS - 1 else 100}%</div>" for k in range(BINS))
    return f'<div class="hist">{bars}</div><div class="axis">{labels}</div>'


def render(outcomes: list[Graded], rates: list[dict[str, Any]], seed: int, lang: str = "en") -> str:
    """The whole page."""
    t, e = TEXT["zh" if lang == "zh" else "en"], html.escape
    graded = [o for o in outcomes if o.report is not None]
    scores = [o.report["score"] for o in graded]
    parts = [f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(t['title'])}</title><style>{STYLE}</style></head><body>",
             f"<h1>{e(t['title'])}</h1><p>{e(t['graded'].format(graded=len(graded), total=len(outcomes), seed=seed))}</p>",
             f"<h2>{e(t['scores'])}</h2>"]
    if scores:
        parts.append(f"<p>{e(t['mean'].format(mean=statistics.mean(scores), median=statistics.median(scores)))}</p>")
    parts.append(_histogram(score_bins(outcomes)))
    parts.append(f"<h2>{e(t['exercises'])}</h2><table>")
    for name, mean, top in exercise_means(outcomes):
        parts.append(f"<tr><td><code>{e(name)}</code></td><td>{mean:.1f} / {top:g}</td><td>{_bar(mean / top)}</td></tr>")
    parts.append(f"</table><h2>{e(t['checks'])}</h2><table><tr><th>{e(t['check'])}</th><th>{e(t['rate'])}</th><th></th></tr>")
    for rate in rates:
        low = ' class="low"' if rate["pass_rate"] < 0.5 else ""
        parts.append(f"<tr{low}><td><code>{e(rate['test'])}</code></td><td>{rate['passed']}/{rate['graded']}</td>"
                     f"<td>{_bar(rate['pass_rate'])}</td></tr>")
    parts.append(f"</table><h2>{e(t['mistakes'])}</h2>")
    mistakes = named_mistakes(outcomes)
    if mistakes:
        parts.append(f"<table><tr><th>{e(t['students'])}</th><th>{e(t['function'])}</th><th>{e(t['mistake'])}</th>"
                     f"<th>{e(t['example'])}</th></tr>")
        parts += [f"<tr><td>{m.students}</td><td><code>{e(m.function)}</code></td><td><code>{e(m.key)}</code></td>"
                  f"<td>{e(m.example)}</td></tr>" for m in mistakes]
        parts.append("</table>")
    else:
        parts.append(f"<p>{e(t['none'])}</p>")
    errors = [o for o in outcomes if o.report is None]
    if errors:
        parts.append(f"<h2>{e(t['errors'])}</h2><ul>")
        parts += [f"<li><code>{e(o.student)}</code>: {e(o.error)}</li>" for o in errors]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)
