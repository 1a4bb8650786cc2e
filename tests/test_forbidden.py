"""Calling the PyTorch implementation an exercise asks for earns no credit, however it is spelled."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO, exercise, grade, plant, results_by_id

sys.path.insert(0, str(REPO))
from grader.judge import forbidden  # noqa: E402


def scan(tmp_path: Path, code: str, filename: str = "ex3_lstm.py") -> dict:
    path = tmp_path / filename
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return {name: [v.what for v in found] for name, found in forbidden.scan(path).items()}


@pytest.mark.parametrize("code, flagged", [
    ("import torch\ndef f(x): return torch.nn.LSTMCell(3, 4)(x)", "torch.nn.LSTMCell(...)"),
    ("from torch import nn\ndef f(x): return nn.GRU(3, 4)(x)", "torch.nn.GRU(...)"),
    ("import torch.nn as tnn\ndef f(x): return tnn.RNN(3, 4)(x)", "torch.nn.RNN(...)"),
    ("from torch.nn import LSTM as L\ndef f(x): return L(3, 4)(x)", "torch.nn.LSTM(...)"),
    ("import torch\ndef f(x, h, a, b): return torch.rnn_tanh_cell(x, h, a, b)", "torch.rnn_tanh_cell"),
    ("import torch as t\ndef f(*a): return t.lstm_cell(*a)", "torch.lstm_cell"),
    ("import torch\ndef f(*a): return torch._VF.gru_cell(*a)", "torch._VF.gru_cell"),
    ("import torch\ndef f(*a): return getattr(torch, 'lstm')(*a)", "getattr(..., 'lstm')"),
    ("import torch\ndef f(g): return torch.nn.utils.clip_grad_norm_(g, 1.0)", None),  # allowed outside ex5
])
def test_static_scan_flags_the_function(tmp_path, code, flagged) -> None:
    found = scan(tmp_path, code)
    if flagged is None:
        assert found == {}
    else:
        assert flagged in found["f"]


@pytest.mark.parametrize("code", [
    "import torch\nfrom torch import nn\ndef f(cell): return isinstance(cell, nn.LSTMCell)",
    "def lstm_cell(x): return x\ndef f(x): return lstm_cell(x)",
    "import torch\ndef f(x, w): return torch.sigmoid(x @ w.T).chunk(4, 1)",
    "def f(self): return self.lstm(self.gru)",
])
def test_static_scan_allows_plain_code(tmp_path, code) -> None:
    assert scan(tmp_path, code) == {}


def test_clip_grad_norm_is_forbidden_in_ex5(tmp_path) -> None:
    found = scan(tmp_path, "import torch\ndef f(g): return torch.nn.utils.clip_grad_norm_(g, 1.0)", "ex5_vanishing.py")
    assert found == {"f": ["torch.nn.utils.clip_grad_norm_"]}


def test_module_level_import_of_solutions_taints_the_file(tmp_path) -> None:
    assert scan(tmp_path, "from solutions.ex3_lstm import lstm_cell\n") == {"": ["from solutions.ex3_lstm import ..."]}


# --- through the grader --------------------------------------------------------------------


def test_a_builtin_cell_costs_that_function_only(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex3_lstm.py", """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    cell = torch.nn.LSTMCell(x.shape[1], weight_hh.shape[1], dtype=x.dtype)
    return torch.func.functional_call(cell, {"weight_ih": weight_ih, "weight_hh": weight_hh,
                                             "bias_ih": bias_ih, "bias_hh": bias_hh}, (x, state))
""")
    run = grade("ex3", "--target", str(target), "--seed", "3")
    tests = results_by_id(run.report)
    for key in ("cell_values", "cell_gradients"):
        assert "uses torch.nn.LSTMCell(...)" in tests[f"ex3_lstm::{key}"]["hint"]
        assert "earns no credit" in tests[f"ex3_lstm::{key}"]["hint"]
    assert run.report["score"] == 10  # the four gates and their gradients keep their points


def test_a_hidden_builtin_is_caught_at_run_time_even_if_the_error_is_swallowed(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex4_gru.py", """
_right = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    kernel = getattr(torch, "gru" + "_cell")
    try:
        return kernel(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    except BaseException:
        return _right(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
""")
    run = grade("ex4", "--target", str(target), "--seed", "3")
    hint = results_by_id(run.report)["ex4_gru::cell_values"]["hint"]
    assert "uses torch.gru_cell (ex4_gru.py, line" in hint
    assert exercise(run.report, "ex4_gru")["score"] == 9


def test_importing_the_solutions_gets_no_credit(tmp_path) -> None:
    target = plant(tmp_path / "s", "ex1_rnn_cell.py", "")
    (target / "ex1_rnn_cell.py").write_text("from solutions.ex1_rnn_cell import *\n", encoding="utf-8")
    (target / "ex5_vanishing.py").write_text(textwrap.dedent(f"""
        import importlib, sys
        def _load():
            sys.path.insert(0, {str(REPO)!r})
            return importlib.import_module("sol" + "utions.ex5_vanishing")
        def sigmoid_derivative(z): return _load().sigmoid_derivative(z)
        def chain_gradient(z, w): return _load().chain_gradient(z, w)
        def hidden_jacobian(h_seq, weight_hh): return _load().hidden_jacobian(h_seq, weight_hh)
        def gradient_norms(cell, x, state=None): return _load().gradient_norms(cell, x, state)
        def clip_grad_norm(grads, max_norm): return _load().clip_grad_norm(grads, max_norm)
    """), encoding="utf-8")
    run = grade("ex1", "ex4", "ex5", "--target", str(target), "--seed", "3")
    report = run.report
    assert exercise(report, "ex1_rnn_cell")["score"] == 0
    assert "from solutions.ex1_rnn_cell import ..." in results_by_id(report)["ex1_rnn_cell::cell_tanh"]["hint"]
    assert exercise(report, "ex5_vanishing")["score"] == 0
    assert "uses import solutions" in results_by_id(report)["ex5_vanishing::chain_gradient"]["hint"]
    assert exercise(report, "ex4_gru")["score"] == 20


def test_the_cell_given_to_gradient_norms_may_be_called(solutions_run) -> None:
    assert results_by_id(solutions_run.report)["ex5_vanishing::gradient_norms"]["status"] == "passed"
