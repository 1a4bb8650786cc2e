"""Planted mistakes: each one costs points in its own exercise, with the hint that names it."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import exercise, grade, plant, results_by_id

# (what is planted, file, code appended to a copy of the solutions, graded exercise, test id, words in the hint)
PLANTS = [
    ("a wrong output shape", "ex1_rnn_cell.py", """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    return torch.tanh(x @ weight_ih.T + h @ weight_hh.T).T
""", "ex1", "ex1_rnn_cell::cell_tanh", ["has shape", "expected", "= (B, H)"]),
    ("float32 output for float64 input", "ex1_rnn_cell.py", """
def rnn_cell_concat(x, h, weight, bias=None):
    out = torch.cat([x, h], dim=1) @ weight.T
    return torch.tanh(out if bias is None else out + bias).float()
""", "ex1", "ex1_rnn_cell::concat_values", ["dtype torch.float32", "expected torch.float64"]),
    ("an exception in learner code", "ex1_rnn_cell.py", """
def rnn_cell_concat(x, h, weight, bias=None):
    return torch.tanh(torch.cat([x, h]) @ weight.T)
""", "ex1", "ex1_rnn_cell::concat_values", ["rnn_cell_concat raised RuntimeError", "ex1_rnn_cell.py, line"]),
    ("wrong values no diagnosis explains", "ex3_lstm.py", """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c_next = f * c + i * g
    return o * torch.tanh(c_next) + 0.01 * x.sum(), c_next
""", "ex3", "ex3_lstm::cell_values", ["h' differs from torch.nn.LSTMCell by up to", "first at index"]),
    ("a detached result", "ex4_gru.py", """
_right_gru_cell = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _right_gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh).detach()
""", "ex4", "ex4_gru::cell_gradients", ["carry no gradient"]),
    ("one input cut out of the graph", "ex4_gru.py", """
_right_gru_cell = gru_cell
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return _right_gru_cell(x, h, weight_ih, weight_hh.detach(), bias_ih, bias_hh)
""", "ex4", "ex4_gru::cell_gradients", ["no gradient reaches `weight_hh`"]),
    ("an input modified in place", "ex5_vanishing.py", """
def clip_grad_norm(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return grads, total
""", "ex5", "ex5_vanishing::clip_grad_norm", ["changed one of its input tensors in place"]),
    ("a wrong return structure", "ex3_lstm.py", """
_right_gates = lstm_gates
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    i, f, g, o = _right_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return i, f, o
""", "ex3", "ex3_lstm::forget_gate", ["should return a tuple (i, f, g, o)", "length 3"]),
    ("no ValueError for a bad nonlinearity", "ex1_rnn_cell.py", """
_right_cell = rnn_cell
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    act = torch.relu if nonlinearity == "relu" else torch.tanh
    return act(x @ weight_ih.T + h @ weight_hh.T + (0 if bias_ih is None else bias_ih + bias_hh))
""", "ex1", "ex1_rnn_cell::cell_bad_nonlinearity", ["returned normally", "must raise ValueError"]),
    ("SystemExit inside a function", "ex5_vanishing.py", """
def chain_gradient(z, w):
    raise SystemExit(0)
""", "ex5", "ex5_vanishing::chain_gradient", ["called sys.exit()"]),
    ("a syntax error", "ex4_gru.py", "def gru_cell(x, h:\n    return h\n", "ex4", "ex4_gru::cell_values",
     ["ex4_gru.py has a syntax error at line"]),
    ("dropout applied after the last layer", "ex2_rnn_layers.py", """
_right_run_layers = run_layers
def run_layers(cell, x, hx, weights, num_layers, bidirectional=False, dropout=0.0, training=False):
    output, h_n = _right_run_layers(cell, x, hx, weights, num_layers, bidirectional, dropout, training)
    return torch.nn.functional.dropout(output, dropout, training), h_n
""", "ex2", "ex2_rnn_layers::dropout", ["dropout=1.0, training=True", "dropout after the last layer too"]),
]


@pytest.mark.parametrize("what, filename, code, selector, test_id, words", PLANTS, ids=[p[0] for p in PLANTS])
def test_planted_mistake_gets_its_hint(tmp_path: Path, what, filename, code, selector, test_id, words) -> None:
    target = plant(tmp_path / "submission", filename, code)
    run = grade(selector, "--target", str(target), "--seed", "7")
    assert run.returncode == 1, run.stderr
    test = results_by_id(run.report)[test_id]
    assert test["status"] == "failed" and test["score"] == 0
    for word in words:
        assert word in test["hint"], test["hint"]


def test_a_mistake_costs_points_only_in_its_own_exercise(tmp_path: Path) -> None:
    """A broken LSTM cell: ex3 loses points, ex2 (graded with torch's cells) keeps full marks."""
    target = plant(tmp_path / "submission", "ex3_lstm.py", """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    raise RuntimeError("broken on purpose")
""")
    run = grade("--target", str(target), "--seed", "8")
    report = run.report
    assert run.returncode == 1
    assert exercise(report, "ex3_lstm")["score"] < 20
    for other in ("ex1_rnn_cell", "ex2_rnn_layers", "ex4_gru", "ex5_vanishing", "ex6_sequence_tasks"):
        assert exercise(report, other)["score"] == 20, other
    # The end-to-end BiLSTM check uses the learner's own cells, so it shows the mistake (for no points).
    integration = results_by_id(report)
    assert integration["integration::bilstm"]["status"] == "failed"
    assert "broken on purpose" in integration["integration::bilstm"]["hint"]
    assert integration["integration::bigru"]["status"] == "passed"
