"""Grade from a notebook: `from grader import check`, then `check("ex3")`, or `check()` for every exercise.

The grader runs as its own process on the files in exercises/ (what is saved on disk, not what the
kernel has imported, so a stale import never matters), exactly as `python -m grader EX --json -` does:
one `python -m grader serve` per kernel, which starts the next check's judge while the learner edits, so
a re-check does not wait for Python and torch to start (a fresh judge and sandbox every time all the same),
and the result shows as HTML in Jupyter, JupyterLab, VS Code and Colab: a bar per exercise, each failing
check with its hint, and for a wrong value the first element that differs with its neighbours, yours
against torch.nn's. Where HTML cannot show (a terminal, a plain console), it prints as text.
"""
from __future__ import annotations

import html
import json
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from grader import reaper
from grader.batch import last_error_line
from grader.target import REPO_ROOT

TEXT = {
    "en": {"total": "Total", "passed": "Every check passed.", "failing": "What to fix",
           "yours": "yours", "torch": "torch.nn", "index": "index", "first": "first wrong element at {index}",
           "largest": "largest difference {worst:.3g}", "error": "The grader could not grade this",
           "seed": "seed {seed}; the same inputs again: check({args}seed={seed})"},
    "zh": {"total": "总分", "passed": "所有检查都通过了。", "failing": "需要修改的地方",
           "yours": "你的", "torch": "torch.nn", "index": "下标", "first": "第一个不同的元素在 {index}",
           "largest": "最大差值 {worst:.3g}", "error": "评分程序无法完成评分",
           "seed": "种子 {seed}；用相同的输入再检查一次：check({args}seed={seed})"},
}

STYLE = (".rnn-grade{font-family:system-ui,sans-serif;font-size:14px;line-height:1.4;max-width:52rem}"
         ".rnn-grade .row{display:flex;align-items:center;gap:.5rem;margin:.15rem 0}"
         ".rnn-grade .name{width:11rem;font-family:monospace}.rnn-grade .pts{width:5.5rem;text-align:right}"
         ".rnn-grade .bar{flex:1;max-width:16rem;height:.8rem;background:#e6e6e6}"
         ".rnn-grade .bar div{height:100%;background:#3f9b4f}.rnn-grade .bar.part div{background:#d9822b}"
         ".rnn-grade .check{margin:.6rem 0;padding:.4rem .6rem;border-left:3px solid #d0574a;background:#fbf3f2}"
         ".rnn-grade table{border-collapse:collapse;font-family:monospace;font-size:12px;margin-top:.3rem}"
         ".rnn-grade td,.rnn-grade th{padding:.1rem .4rem;border:1px solid #ddd;text-align:right}"
         ".rnn-grade td.off{background:#ffd9d4}.rnn-grade .meta{color:#666;font-size:12px}")


@dataclass
class Result:
    """One run of the grader. Shown as HTML in a notebook, as text elsewhere; `report` is the native JSON."""

    report: dict[str, Any] | None
    lang: str = "en"
    error: str = ""
    args: list[str] = field(default_factory=list)  # the call's arguments, as typed: to repeat it with the seed

    @property
    def score(self) -> float:
        return self.report["score"] if self.report else 0

    @property
    def max_score(self) -> float:
        return self.report["max_score"] if self.report else 0

    def failing(self) -> list[dict[str, Any]]:
        return [t for e in (self.report or {}).get("exercises", []) for t in e["tests"] if t["status"] != "passed"]

    def __repr__(self) -> str:
        t = TEXT[self.lang]
        if self.report is None:
            return f"{t['error']}: {self.error}"
        lines = [f"{e['id']:<16} {_points(e['score'])}/{_points(e['max_score'])}" for e in self.report["exercises"]
                 if e["max_score"]]
        lines.append(f"{t['total']:<16} {_points(self.score)}/{_points(self.max_score)}")
        failing = self.failing()
        lines += ["", t["failing"] + ":"] if failing else ["", t["passed"]]
        for test in failing:
            lines.append(f"- {test['name']} [{test['status']}]\n  {test['hint']}")
            if test.get("difference"):
                lines.append("  " + _difference_text(test["difference"], t))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        t, e = TEXT[self.lang], html.escape
        if self.report is None:
            return f'<div class="rnn-grade"><style>{STYLE}</style><b>{e(t["error"])}</b>: {e(self.error)}</div>'
        parts = [f'<div class="rnn-grade"><style>{STYLE}</style>']
        for exercise in self.report["exercises"]:
            if exercise["max_score"]:
                parts.append(_bar_row(exercise["id"], exercise["score"], exercise["max_score"]))
        parts.append(_bar_row(t["total"], self.score, self.max_score))
        failing = self.failing()
        parts.append(f"<h4>{e(t['failing'])}</h4>" if failing else f"<p>{e(t['passed'])}</p>")
        for test in failing:
            parts.append(f'<div class="check"><b>{e(test["name"])}</b> <span class="meta">{e(test["status"])}</span>'
                         f"<div>{e(test['hint'])}</div>")
            if test.get("difference"):
                parts.append(_difference_table(test["difference"], t))
            parts.append("</div>")
        args = "".join(f"{a}, " for a in self.args)
        parts.append(f'<p class="meta">{e(t["seed"].format(seed=self.report["seed"], args=args))}</p></div>')
        return "".join(parts)


def _points(value: float) -> str:
    return f"{value:g}"


def _bar_row(name: str, score: float, top: float) -> str:
    share = score / top if top else 0.0
    kind = "bar" if share >= 1 else "bar part"
    return (f'<div class="row"><span class="name">{html.escape(name)}</span><span class="pts">{_points(score)} / '
            f'{_points(top)}</span><span class="{kind}"><div style="width:{100 * share:.0f}%"></div></span></div>')


def _where(difference: dict[str, Any], t: dict[str, str]) -> str:
    index = "(" + ", ".join(map(str, difference["index"])) + ")"
    text = t["first"].format(index=index)
    if difference["where"]:
        text += f" ({difference['where']})"
    return f"{difference['quantity']}: {text}; {t['largest'].format(worst=difference['worst'])}"


def _difference_text(difference: dict[str, Any], t: dict[str, str]) -> str:
    pairs = ", ".join(f"{g:.4g}/{w:.4g}" for g, w in zip(difference["got"], difference["expected"]))
    return f"{_where(difference, t)}. {t['yours']}/{t['torch']}: {pairs}"


def _difference_table(difference: dict[str, Any], t: dict[str, str]) -> str:
    """Yours against torch.nn's along the last axis, from `start`; the elements that differ as shown marked."""
    e = html.escape
    got, want, start = difference["got"], difference["expected"], difference["start"]
    head = "".join(f"<th>{start + k}</th>" for k in range(len(got)))
    off = [f"{g:.4g}" != f"{w:.4g}" for g, w in zip(got, want)]
    yours = "".join(f'<td class="off">{g:.4g}</td>' if bad else f"<td>{g:.4g}</td>" for g, bad in zip(got, off))
    torch_row = "".join(f"<td>{w:.4g}</td>" for w in want)
    return (f'<div class="meta">{e(_where(difference, t))}</div><table><tr><th>{e(t["index"])}</th>{head}</tr>'
            f"<tr><th>{e(t['yours'])}</th>{yours}</tr><tr><th>{e(t['torch'])}</th>{torch_row}</tr></table>")


def _language(lang: str | None) -> str:
    if lang in ("en", "zh"):
        return lang
    from grader.cli import requested_language

    return requested_language([])


class _Server:
    """One `python -m grader serve` for this kernel: requests in, one JSON line out per request."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "grader", "serve"], cwd=REPO_ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, encoding="utf-8", errors="replace")
        self.answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def ask(self, argv: list[str], timeout_s: float) -> dict[str, Any] | None:
        """The answer, or None when the server is gone or out of time (then it is stopped)."""
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"argv": argv}) + "\n")
            self.process.stdin.flush()
            line = self.answers.get(timeout=timeout_s)
            answer = json.loads(line) if line else None
        except (OSError, ValueError, queue.Empty):
            answer = None
        if not isinstance(answer, dict):
            self.stop()
            return None
        return answer

    def stop(self) -> None:
        reaper.kill_tree(self.process)


_SERVER: list[_Server] = []


def _served(argv: list[str], timeout_s: float) -> dict[str, Any] | None:
    if not _SERVER or _SERVER[0].process.poll() is not None:
        _SERVER[:] = [_Server()]
    answer = _SERVER[0].ask(argv, timeout_s)
    if answer is None:
        _SERVER.clear()
    return answer


def _one_shot(argv: list[str], timeout_s: float) -> dict[str, Any]:
    """`python -m grader ARGV --json -` in a process of its own: where the server could not answer."""
    try:
        done = subprocess.run([sys.executable, "-m", "grader", *argv, "--json", "-"], cwd=REPO_ROOT,
                              capture_output=True, text=True, encoding="utf-8", errors="replace",
                              timeout=timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"exit": 3, "report": None, "error": f"no result within {timeout_s:g} s"}
    if done.returncode in (0, 1):
        try:
            return {"exit": done.returncode, "report": json.loads(done.stdout), "error": ""}
        except ValueError:
            pass
    return {"exit": done.returncode, "report": None, "error": done.stderr}


def check(*exercises: str, target: str = "exercises", seed: int | None = None, lang: str | None = None,
          device: str = "cpu", timeout_s: float = 900) -> Result:
    """Grade `exercises` (ids or prefixes: "ex3", "lstm"; none: all) of `target` (exercises/ by default)."""
    language = _language(lang)
    typed = [repr(e) for e in exercises] + ([f"target={target!r}"] if target != "exercises" else [])
    argv = [*exercises, "--target", target, "--lang", language, "--device", device]
    if seed is not None:
        argv += ["--seed", str(seed)]
    answer = _served(argv, timeout_s) or _one_shot(argv, timeout_s)
    report = answer.get("report")
    if answer.get("exit") in (0, 1) and isinstance(report, dict):
        return Result(report, language, args=typed)
    return Result(None, language, last_error_line(str(answer.get("error") or ""), f"exit code {answer.get('exit', 3)}"), typed)
