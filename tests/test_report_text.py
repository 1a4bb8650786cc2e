"""The terminal report: grouped hints, width by terminal columns, the guide, a re-run command that works."""
from __future__ import annotations

import io

from grader import catalog
from grader.report import RunInfo, _columns, render_text, wrap
from grader.scoring import ExerciseResult
from grader.scoring import TestResult as Result

EX1, EX2 = catalog.EXERCISES[0], catalog.EXERCISES[1]
NOT_YET = "rnn_cell is not implemented yet: replace `raise NotImplementedError` with your code."
DIFF_ZH = ("rnn_layer：output 与 torch.nn.RNN 的结果最多相差 1.9（首个不同位置 (0, 0, 0)：得到 0.521335，"
           "应为 -0.0671738）[float64，有偏置，T=5, B=3, I=4, H=6]。")


def _test(key: str, status: str, points: float, hint: str = "") -> Result:
    return Result(id=f"ex1_rnn_cell::{key}", name=f"{key} matches torch.nn", status=status,
                      score=points if status == "passed" else 0, max_score=points, hint=hint)


class _Utf8(io.StringIO):
    encoding = "utf-8"


def _render(results: list[ExerciseResult], lang: str = "en", target: str = "exercises", verbose: bool = False) -> str:
    out = _Utf8()
    info = RunInfo(target=target, device="cpu", seed=7, torch_version="x", duration_s=1.0, lang=lang)
    render_text(results, info, out, verbose=verbose)
    return out.getvalue()


def _ex1(hint_b: str = NOT_YET) -> ExerciseResult:
    return ExerciseResult(EX1, EX1.title, [_test("cell_tanh", "failed", 3, NOT_YET), _test("cell_relu", "failed", 2, hint_b),
                                           _test("concat_values", "passed", 15)])


def test_tests_with_the_same_hint_share_one_line() -> None:
    text = _render([_ex1()])
    assert "✗ cell_tanh, cell_relu (5): rnn_cell is not implemented yet" in text
    assert text.count("not implemented yet") == 1
    assert "concat_values" not in text


def test_different_hints_stay_apart_and_verbose_lists_every_test() -> None:
    text = _render([_ex1(hint_b="something else")])
    assert "✗ cell_tanh (3): rnn_cell is not implemented" in text and "✗ cell_relu (2): something else" in text
    verbose = _render([_ex1()], verbose=True)
    assert verbose.count("not implemented yet") == 2 and "✓ concat_values (15): concat_values matches" in verbose


def test_a_failing_exercise_points_to_its_guide_in_the_chosen_language() -> None:
    passing = ExerciseResult(EX2, EX2.title, [Result("ex2_rnn_layers::x", "x", "passed", 20, 20)])
    text = _render([_ex1(), passing])
    assert "Guide, with the common mistakes: guides/en/ex1_rnn_cell.md" in text
    assert "ex2_rnn_layers.md" not in text
    assert "指南（含常见错误）：guides/zh/ex1_rnn_cell.md" in _render([_ex1()], lang="zh")


def test_the_rerun_command_keeps_the_target() -> None:
    assert "python -m grader ex1   Same inputs again: --seed 7" in _render([_ex1()])
    assert "python -m grader ex1 --target /tmp/my work   " not in _render([_ex1()], target="/tmp/my work")
    assert "python -m grader ex1 --target '/tmp/my work'" in _render([_ex1()], target="/tmp/my work")
    assert "python -m grader ex1 --target solutions" in _render([_ex1()], target="solutions")


def test_chinese_hints_wrap_at_the_same_terminal_width() -> None:
    results = [ExerciseResult(EX1, EX1.title_zh, [_test("layer_values", "failed", 3, DIFF_ZH * 2)])]
    lines = _render(results, lang="zh").splitlines()
    hint_lines = [line for line in lines if "rnn_layer" in line or line.startswith("      ")]
    assert len(hint_lines) >= 3
    assert all(_columns(line) <= 100 for line in lines), [(_columns(line), line) for line in lines]
    assert "总分：0/3" in lines


def test_wrap_breaks_at_spaces_and_between_chinese_characters() -> None:
    assert wrap("aaa bbb ccc", 9, "> ", "  ") == ["> aaa bbb", "  ccc"]
    assert wrap("一二三四五六", 8, "", "") == ["一二三四", "五六"]
    assert wrap("word", 3, "", "") == ["word"]  # a word longer than the line is never cut
