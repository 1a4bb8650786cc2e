"""`python -m grader plot vanishing`: the learner's exercise 5 code drawn as a PNG or as text."""
from __future__ import annotations

import importlib.util
import math

import pytest

from conftest import SOLUTIONS, plant, run_grader
from grader import plot

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _plot(*args: str, **kwargs) -> "object":
    return run_grader("plot", "vanishing", *args, **kwargs)


def test_curves_from_the_solutions_show_vanishing_and_the_forget_bias_effect() -> None:
    curves = plot.collect(SOLUTIONS, timeout_s=120, lang="en")
    assert curves.steps_back == list(range(50))
    for name, values in curves.gradients.items():
        assert values[0] == pytest.approx(math.sqrt(4 * 32)), name  # ‖∂(h_T.sum())/∂h_T‖ = sqrt(B·H)
    rnn, lstm, forget = (curves.gradients[k] for k in ("tanh RNN", "LSTM", "LSTM, forget bias 1"))
    assert rnn[49] < 1e-6 * rnn[0]
    assert forget[30] > 10 * lstm[30]
    n = curves.chain_n
    assert curves.chain["|w| = 1"] == pytest.approx([0.25 ** k for k in n])
    assert curves.chain["|w| = 4"] == pytest.approx([1.0] * len(n))
    assert curves.chain["|w| = 8"] == pytest.approx([2.0 ** k for k in n])


def test_text_rendering_has_a_chart_a_table_and_a_legend(tmp_path) -> None:
    run = _plot("--target", "solutions", "--text", "--lang", "en", "--out", str(tmp_path / "v.png"))
    assert run.returncode == 0, run.stderr
    assert "steps back from T" in run.stdout and "R: tanh RNN" in run.stdout
    assert "F: LSTM, forget-gate bias 1" in run.stdout
    assert "1.131e+01" in run.stdout                              # sqrt(128), 0 steps back
    assert "9.095e-13   9.537e-07   1.000e+00" in run.stdout      # n = 20: 0.25^20, 0.5^20, 1
    assert not (tmp_path / "v.png").exists()


def test_text_rendering_in_chinese(tmp_path) -> None:
    run = _plot("--target", "solutions", "--text", "--lang", "zh", "--out", str(tmp_path / "v.png"))
    assert run.returncode == 0, run.stderr
    assert "从 T 往回的步数" in run.stdout and "LSTM（遗忘门偏置 1）" in run.stdout and "上图" in run.stdout


def test_without_matplotlib_it_says_how_to_get_the_png_and_draws_text(tmp_path) -> None:
    hidden = tmp_path / "hide"
    (hidden / "matplotlib").mkdir(parents=True)
    (hidden / "matplotlib" / "__init__.py").write_text("raise ImportError('hidden for a test')\n")
    out = tmp_path / "v.png"
    run = _plot("--target", "solutions", "--lang", "en", "--out", str(out), env={"PYTHONPATH": str(hidden)})
    assert run.returncode == 0, run.stderr
    assert "matplotlib is not installed" in run.stdout and "python -m pip install matplotlib" in run.stdout
    assert "R: tanh RNN" in run.stdout and not out.exists()
    zh = _plot("--target", "solutions", "--lang", "zh", "--out", str(out), env={"PYTHONPATH": str(hidden)})
    assert "没有安装 matplotlib" in zh.stdout


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is not installed")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_png_is_written_with_matplotlib(tmp_path, lang) -> None:
    out = tmp_path / "vanishing.png"
    run = _plot("--target", "solutions", "--lang", lang, "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert str(out) in run.stdout


@pytest.mark.parametrize("lang, message", [
    ("en", "gradient_norms is not implemented yet — finish exercise 5 first"),
    ("zh", "gradient_norms 尚未实现"),
])
def test_unimplemented_stub_names_the_function(tmp_path, lang, message) -> None:
    run = _plot("--target", "exercises", "--lang", lang, "--out", str(tmp_path / "v.png"))
    assert run.returncode == 1
    assert message in run.stderr and "--target solutions" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


@pytest.mark.parametrize("code, message", [
    ("def gradient_norms(cell, x, state=None):\n    raise ValueError('boom')",
     "gradient_norms raised an error: ValueError: boom (line"),
    ("def chain_gradient(z, w):\n    return (z * w).sum(0, keepdim=True).repeat(2)",
     "chain_gradient returned (2,), expected a 0-dim tensor"),
    ("def gradient_norms(cell, x, state=None):\n    return torch.ones(3)",
     "gradient_norms returned (3,), expected a tensor of shape (50,)"),
    ("import os\nos._exit(3)", "ended abruptly (exit code 3)"),
    ("raise RuntimeError('broken import')", "ex5_vanishing.py could not be imported: RuntimeError: broken import"),
])
def test_broken_learner_code_gives_a_clear_message_and_exit_1(tmp_path, code, message) -> None:
    target = plant(tmp_path / "learner", "ex5_vanishing.py", code)
    run = _plot("--target", str(target), "--lang", "en", "--out", str(tmp_path / "v.png"))
    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr + run.stdout


def test_an_endless_loop_is_stopped_at_the_time_limit(tmp_path) -> None:
    target = plant(tmp_path / "learner", "ex5_vanishing.py",
                   "def chain_gradient(z, w):\n    while True:\n        pass")
    run = _plot("--target", str(target), "--timeout", "5", "--out", str(tmp_path / "v.png"), "--lang", "en")
    assert run.returncode == 1
    assert "did not finish within 5 s" in run.stderr


def test_a_wrong_last_gradient_is_pointed_out(tmp_path) -> None:
    target = plant(tmp_path / "learner", "ex5_vanishing.py",
                   "_right = gradient_norms\n\ndef gradient_norms(cell, x, state=None):\n"
                   "    return 2 * _right(cell, x, state)")
    run = _plot("--target", str(target), "--text", "--lang", "en", "--out", str(tmp_path / "v.png"))
    assert run.returncode == 0
    assert "should be sqrt(B·H) = 11.31, but your gradient_norms gives 22.63" in run.stdout


@pytest.mark.parametrize("args, message", [
    (["scatter"], "unknown plot 'scatter'; choose from: vanishing"),
    ([], "the following arguments are required: PLOT"),
    (["vanishing", "--out", "figure.svg"], "must end in .png"),
    (["vanishing", "--out", "no/such/folder/v.png"], "does not exist"),
    (["vanishing", "--timeout", "0"], "must be positive"),
    (["vanishing", "--target", "no/such/folder"], "no such folder"),
    (["vanishing", "--lang", "fr"], "invalid choice"),
])
def test_bad_input_is_a_usage_error(args, message) -> None:
    run = run_grader("plot", *args)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr


def test_a_target_without_exercise_5_is_a_usage_error(tmp_path) -> None:
    (tmp_path / "modules.py").write_text("")
    run = run_grader("plot", "vanishing", "--target", str(tmp_path))
    assert run.returncode == 2 and "has no ex5_vanishing.py" in run.stderr


def test_plot_is_listed_in_help() -> None:
    assert "plot vanishing" in run_grader("--help").stdout
