"""The class report: one self-contained page (no server, no script, no file beside it) that a batch writes
as report.html: the score distribution, pass rates per exercise and per check as bar charts, and the
mistakes the hints named, ranked by how many students made them, each with an example hint, the pairs of
submissions whose code is alike (side by side, the shared parts marked), and every student with a link to
their report.

Everything shown that comes from a submission (names, hints) is escaped: the page runs no code.
"""
from __future__ import annotations

import html
import statistics
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from grader.similarity import Pair

BINS = 10  # score distribution: ten bands, each a tenth of the maximum score (labelled in percent)

TEXT = {
    "en": {"title": "Class report", "graded": "{graded} of {total} submissions graded, seed {seed}",
           "scores": "Score distribution", "mean": "mean {mean:.1f}, median {median:g}",
           "exercises": "Average score per exercise", "checks": "Pass rate per check, lowest first",
           "mistakes": "Mistakes the hints named, most common first", "students": "students",
           "example": "example hint", "colon": ": ", "none": "No hint named a mistake.", "errors": "Not graded",
           "mistake": "mistake", "function": "function", "check": "check", "rate": "passed",
           "similar": "Submissions whose exercise code is alike",
           "similar_about": "Names, strings, comments, whitespace and the stubs' own text are not compared, nor "
                            "code that more than a fifth of the class shares. A pair is listed when each of the two "
                            "has {threshold:.0%} or more of its own code in the other. This never changes a grade: "
                            "read the code side by side before you conclude anything.",
           "similar_none": "No two submissions are alike by {threshold:.0%} or more.",
           "similar_off": "Not checked (--similarity off).",
           "similar_missing": "Not checked: copydetect is not installed (python -m pip install copydetect==0.5.0).",
           "similar_shard": "Checked when the slices are joined (python -m grader merge).",
           "pair": "{first} and {second}: {score:.0%} alike", "share": "{share:.0%} of {student}'s code",
           "roster": "Students", "student": "student", "total": "total"},
    "zh": {"title": "班级报告", "graded": "共 {total} 份提交，已评分 {graded} 份，种子 {seed}",
           "scores": "分数分布", "mean": "平均 {mean:.1f}，中位数 {median:g}",
           "exercises": "各练习平均分", "checks": "各检查通过率（从低到高）",
           "mistakes": "提示指出的错误（按人数从多到少）", "students": "人数",
           "example": "提示示例", "colon": "：", "none": "没有提示指出具体错误。", "errors": "未能评分",
           "mistake": "错误", "function": "函数", "check": "检查", "rate": "通过",
           "similar": "练习代码相似的提交",
           "similar_about": "比较时不看名字、字符串、注释、空白和题目模板自带的文字，也不看全班五分之一以上的人都有的代码。"
                            "两份提交各自写的代码都有 {threshold:.0%} 或更多也出现在另一份里，才列出这一对。"
                            "这不会改变任何分数：下结论之前，请先并排读一读代码。",
           "similar_none": "没有两份提交的相似度达到 {threshold:.0%}。",
           "similar_off": "未检查（--similarity off）。",
           "similar_missing": "未检查：没有安装 copydetect（python -m pip install copydetect==0.5.0）。",
           "similar_shard": "在合并各份结果时检查（python -m grader merge）。",
           "pair": "{first} 与 {second}：相似度 {score:.0%}", "share": "{student} 的代码中有 {share:.0%}",
           "roster": "学生", "student": "学生", "total": "总分"},
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
.low .bar div{background:#d0574a}code{font-size:.85rem;overflow-wrap:break-word}
.side{display:grid;grid-template-columns:1fr 1fr;gap:.5rem}.side>div{min-width:0}.side h4{margin:.5rem 0 .2rem;font-size:.85rem}
.side pre{margin:0;padding:.4rem;background:#f6f6f6;overflow:auto;max-height:30rem;font-size:.75rem}
tr:has(+ .example) td{border-bottom:0}.example td{font-size:.8rem;color:#555}.wide{overflow-x:auto}mark{background:#ffd54a}details{margin:.5rem 0;border:1px solid #ddd;padding:.3rem .5rem}summary{cursor:pointer}
@media (max-width:40rem){.side{grid-template-columns:1fr}}
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


def _similar_pairs(pairs: list[Pair] | None, threshold: float | None, unchecked: str, t: dict[str, str]) -> list[str]:
    """The similar pairs, each with its files side by side (the HTML of the files is escaped, the shared parts
    in <mark>)."""
    e = html.escape
    parts = [f"<h2>{e(t['similar'])}</h2>"]
    if pairs is None:
        return parts + [f"<p>{e(t['similar_' + (unchecked or 'missing')])}</p>"]
    parts.append(f"<p>{e(t['similar_about'].format(threshold=threshold))}</p>")
    if not pairs:
        return parts + [f"<p>{e(t['similar_none'].format(threshold=threshold))}</p>"]
    for pair in pairs:
        shares = "; ".join(t["share"].format(share=share, student=student)
                           for share, student in zip(pair.shares, (pair.first, pair.second)))
        parts.append(f"<details><summary>{e(t['pair'].format(first=pair.first, second=pair.second, score=pair.score))}"
                     f" ({e(shares)})</summary>")
        for match in pair.files:
            parts.append(f'<div class="side"><div><h4>{e(pair.first)} / {e(match.file)}</h4><pre>{match.left}</pre>'
                         f'</div><div><h4>{e(pair.second)} / {e(match.file)}</h4><pre>{match.right}</pre></div></div>')
        parts.append("</details>")
    return parts


def _roster(outcomes: list[Graded], t: dict[str, str]) -> list[str]:
    """Every student: total, each exercise's score, and a link to the report (reports/STUDENT.json)."""
    e = html.escape
    names = [x["id"] for x in next((o.report["exercises"] for o in outcomes if o.report is not None), [])
             if x["max_score"]]
    parts = [f"<h2>{e(t['roster'])}</h2><div class=\"wide\"><table><tr><th>{e(t['student'])}</th>"
             f"<th>{e(t['total'])}</th>"]
    parts += [f"<th><code>{e(name)}</code></th>" for name in names] + ["</tr>"]
    for outcome in outcomes:
        if outcome.report is None:
            parts.append(f"<tr><td>{e(outcome.student)}</td><td colspan=\"{len(names) + 1}\">{e(outcome.error)}</td></tr>")
            continue
        link = "reports/" + urllib.parse.quote(f"{outcome.student}.json")
        scores = {x["id"]: x for x in outcome.report["exercises"]}
        cells = "".join(f"<td>{scores[name]['score']:g}</td>" if name in scores else "<td></td>" for name in names)
        parts.append(f'<tr><td><a href="{e(link)}">{e(outcome.student)}</a></td>'
                     f"<td>{outcome.report['score']:g}</td>{cells}</tr>")
    return parts + ["</table></div>"]


def render(outcomes: list[Graded], rates: list[dict[str, Any]], seed: int, lang: str = "en",
           pairs: list[Pair] | None = None, threshold: float | None = None, unchecked: str = "") -> str:
    """The whole page. `pairs` None: similarity not checked, because `unchecked` ('off', 'missing', 'shard')."""
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
        parts.append(f"<table><tr><th>{e(t['students'])}</th><th>{e(t['function'])}</th><th>{e(t['mistake'])}</th></tr>")
        parts += [f"<tr><td>{m.students}</td><td><code>{e(m.function)}</code></td><td><code>{e(m.key)}</code></td></tr>"
                  f'<tr class="example"><td></td><td colspan="2">{e(t["example"])}{t["colon"]}{e(m.example)}</td></tr>'
                  for m in mistakes]
        parts.append("</table>")
    else:
        parts.append(f"<p>{e(t['none'])}</p>")
    errors = [o for o in outcomes if o.report is None]
    if errors:
        parts.append(f"<h2>{e(t['errors'])}</h2><ul>")
        parts += [f"<li><code>{e(o.student)}</code>: {e(o.error)}</li>" for o in errors]
        parts.append("</ul>")
    parts += _similar_pairs(pairs, threshold, unchecked, t)
    parts += _roster(outcomes, t)
    parts.append("</body></html>\n")
    return "".join(parts)
