"""Command-line usage: selection of exercises, and clear messages with exit code 2 for bad input."""
from __future__ import annotations

import pytest

from conftest import run_grader
from grader import catalog
from grader.catalog import UsageError


@pytest.mark.parametrize("tokens, expected", [
    ([], ["ex1_rnn_cell", "ex2_rnn_layers", "ex3_lstm", "ex4_gru", "ex5_vanishing", "ex6_sequence_tasks",
      "integration"]),
    (["ex3"], ["ex3_lstm"]),
    (["lstm"], ["ex3_lstm"]),
    (["ex3_lstm"], ["ex3_lstm"]),
    (["ex3_lstm.py"], ["ex3_lstm"]),
    (["GRU", "ex1"], ["ex1_rnn_cell", "ex4_gru"]),
    (["rnn"], ["ex1_rnn_cell", "ex2_rnn_layers"]),
    (["vanish", "vanishing"], ["ex5_vanishing"]),
])
def test_select_by_id_or_prefix(tokens, expected) -> None:
    assert [e.id for e in catalog.select(tokens)] == expected


@pytest.mark.parametrize("token", ["ex9", "transformer", ""])
def test_unknown_exercise_is_a_usage_error(token) -> None:
    with pytest.raises(UsageError, match="unknown exercise"):
        catalog.select([token])


@pytest.mark.parametrize("args, message", [
    (["ex9"], "unknown exercise 'ex9'"),
    (["--target", "no/such/folder"], "no such folder"),
    (["--target", "grader/__init__.py"], "not a folder"),
    (["--target", "grader"], "holds none of the exercise files"),
    (["--seed", "abc"], "not an integer"),
    (["--seed", "-1"], "between 0 and"),
    (["--device", "tpu"], "invalid choice"),
    (["--lang", "fr"], "invalid choice"),
    (["--timeout", "0"], "must be positive"),
    (["--memory", "100"], "at least 512 MiB"),
    (["--memory", "lots"], "not a whole number"),
    (["--json", "no/such/folder/report.json"], "does not exist"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_gives_a_clear_message_and_exit_2(args, message) -> None:
    run = run_grader(*args)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_help_exits_0_and_documents_exit_codes() -> None:
    run = run_grader("--help")
    assert run.returncode == 0
    for option in ("--target", "--device", "--seed", "--json", "--lang"):
        assert option in run.stdout
    assert "2 usage error" in run.stdout


def test_cuda_request_without_cuda_is_a_usage_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = run_grader("--device", "cuda")
    assert run.returncode == 2 and "no CUDA device" in run.stderr


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_under_no_color(monkeypatch) -> None:
    from grader.cli import _use_color

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert _use_color(_Terminal())
    monkeypatch.setenv("NO_COLOR", "")
    assert not _use_color(_Terminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not _use_color(_Terminal())


def test_piped_output_has_no_colour_codes_and_verbose_lists_passed_tests() -> None:
    run = run_grader("ex4", "--target", "solutions", "--seed", "1", "--verbose")
    assert run.returncode == 0
    assert "\033[" not in run.stdout
    assert "✓ reset_gate (2): reset gate r matches torch.nn.GRUCell" in run.stdout
    quiet = run_grader("ex4", "--target", "solutions", "--seed", "1")
    assert "reset_gate" not in quiet.stdout


def test_progress_line_on_a_terminal_only() -> None:
    import io

    from grader.report import ProgressLine

    class TerminalBuffer(io.StringIO):
        def isatty(self) -> bool:
            return True

    shown = TerminalBuffer()
    line = ProgressLine(shown, "en")
    line.update(3, 36), line.update(3, 36), line.update(4, 36), line.clear()
    assert shown.getvalue() == "\rgrading 3/36 ...\rgrading 4/36 ...\r\033[K"
    piped = io.StringIO()
    ProgressLine(piped, "en").update(3, 36)
    assert piped.getvalue() == ""


def test_watch_grades_again_after_a_save(tmp_path) -> None:
    import io
    import os
    import threading

    from grader.watch import watch

    stub = tmp_path / "ex3_lstm.py"
    stub.write_text("x = 1\n", encoding="utf-8")
    runs = []

    def grade_once() -> int:
        runs.append(len(runs))
        if len(runs) == 1:  # a save while the learner reads the first report
            threading.Timer(0.2, lambda: os.utime(stub, ns=(0, stub.stat().st_mtime_ns + 10**9))).start()
        return len(runs)

    out = io.StringIO()
    assert watch(grade_once, tmp_path, out, "en", poll_s=0.05, max_runs=2) == 2
    assert runs == [0, 1]
    assert "save a file to grade again" in out.getvalue()


def test_watch_is_an_option() -> None:
    run = run_grader("--help")
    assert "--watch" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["ex9"], "没有练习 'ex9'"),
    (["--target", "no/such/folder"], "文件夹不存在"),
    (["--seed", "abc"], "参数 --seed：不是整数：'abc'"),
    (["--device", "tpu"], "参数 --device：无效的选项 'tpu'"),
    (["--timeout", "0"], "参数 --timeout：必须为正数：0"),
    (["--bogus"], "无法识别的参数：--bogus"),
    (["--json", "no/such/folder/report.json"], "不存在"),
    (["plot", "scatter"], "没有图 'scatter'；可选：vanishing"),
    (["plot"], "缺少必需的参数：PLOT"),
])
def test_usage_errors_in_chinese(args, message) -> None:
    for lang_args, env in ((["--lang", "zh"], None), ([], {"LANG": "zh_CN.UTF-8"})):
        run = run_grader(*args, *lang_args, env=env)
        assert run.returncode == 2
        assert "错误：" in run.stderr and message in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


def test_an_untranslated_message_stays_readable_in_english() -> None:
    from grader.cli import usage_message

    assert usage_message(UsageError("something new"), "zh") == "something new"
    assert usage_message(UsageError("english", "中文"), "en") == "english"
