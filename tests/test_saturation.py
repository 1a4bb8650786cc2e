"""Saturating inputs: a tanh or sigmoid written with exp overflows to NaN in float32 at |z| around 100.

The hidden suites check rnn_cell (tanh), lstm_gates, lstm_cell, gru_gates, gru_cell and sigmoid_derivative
at pre-activations near ±100, where torch's results are finite. NaN or inf there gets a hint saying so;
it names exp overflow only when the learner's function, or a helper it calls in the same file, uses exp.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import REPO, grade, plant, results_by_id
from grader.judge import overflow

SATURATED = ("ex1_rnn_cell::cell_tanh", "ex3_lstm::input_gate", "ex3_lstm::forget_gate", "ex3_lstm::cell_candidate",
             "ex3_lstm::output_gate", "ex3_lstm::cell_values", "ex4_gru::reset_gate", "ex4_gru::update_gate",
             "ex4_gru::new_gate", "ex4_gru::cell_values", "ex5_vanishing::sigmoid_derivative")
SELECTORS = ("ex1", "ex3", "ex4", "ex5")

NON_FINITE = ("NaN or inf where", "出现了 NaN 或 inf")
EXP_OVERFLOW = ("Your code computes exp: in float32, exp(z) overflows to inf once z > 88.7",
                "你的代码里用了 exp：在 float32 中，z > 88.7 时 exp(z) 会溢出为 inf")
USE_TORCH = ("Use torch.tanh and torch.sigmoid", "请改用 torch.tanh 和 torch.sigmoid")
CASE_TEXT = ("saturating: b_ih = b_hh = ±50", "饱和区：b_ih = b_hh = ±50")
PRE_ACTIVATION = ("at inputs with |pre-activation| up to", "激活前的值 |z| 最大为")

# tanh and sigmoid written straight from their definitions with exp: exp(z) is inf past 88.7, inf / inf is NaN.
EXP_TANH = """
def _tanh(z):
    return (torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z))


def _sigmoid(z):
    return torch.exp(z) / (1 + torch.exp(z))
"""

EXP_PLANTS = {
    "ex1_rnn_cell.py": EXP_TANH + """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return _tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
    "ex3_lstm.py": EXP_TANH + """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = gates.chunk(4, dim=1)
    return _sigmoid(i), _sigmoid(f), _tanh(g), _sigmoid(o)
""",
    "ex4_gru.py": EXP_TANH + """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gi, gh = x @ weight_ih.T, h @ weight_hh.T
    if bias_ih is not None:
        gi, gh = gi + bias_ih, gh + bias_hh
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = _sigmoid(i_r + h_r)
    return r, _sigmoid(i_z + h_z), _tanh(i_n + r * h_n)
""",
    "ex5_vanishing.py": """
def sigmoid_derivative(z):
    e = (-z).exp()
    return e / (1 + e) ** 2
""",
}

# NaN at large |z| without any exp: the hint says what happened, not why.
NAN_PLANTS = {
    "ex1_rnn_cell.py": """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    return torch.where(pre.abs() > 80, pre * float("nan"), act(pre))
""",
    "ex5_vanishing.py": """
def sigmoid_derivative(z):
    s = torch.sigmoid(z)
    return torch.where(z.abs() > 80, z * float("nan"), s * (1 - s))
""",
}

# Near misses: exp written the overflow-safe way passes; finite wrong values at saturation are no overflow.
STABLE_PLANTS = {
    "ex1_rnn_cell.py": """
def _tanh(z):
    return 1 - 2 / (torch.exp(2 * z) + 1)


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return _tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
    "ex5_vanishing.py": """
def sigmoid_derivative(z):
    s = 1 / (1 + torch.exp(-z))
    return s * (1 - s)
""",
}
FINITE_PLANTS = {
    "ex3_lstm.py": EXP_TANH + """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = (torch.nan_to_num(a, nan=0.0) for a in gates.chunk(4, dim=1))
    return _sigmoid(i).nan_to_num(nan=0.0), _sigmoid(f).nan_to_num(nan=0.0), _tanh(g).nan_to_num(nan=0.0), \\
        _sigmoid(o).nan_to_num(nan=0.0)
""",
}


def _graded(tmp_path: Path, plants: dict[str, str], seed: str = "5") -> dict[str, dict[str, dict]]:
    target = tmp_path / "submission"
    for filename, code in plants.items():
        plant(target, filename, code)
    return {lang: results_by_id(grade(*SELECTORS, "--target", str(target), "--seed", seed, "--lang", lang).report)
            for lang in ("en", "zh")}


@pytest.fixture(scope="module")
def exp_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    return _graded(tmp_path_factory.mktemp("exp"), EXP_PLANTS)


# The cells call the planted gate functions: right given torch's gates, they are sent to the helper.
THROUGH_HELPER = {"ex3_lstm::cell_values": "lstm_gates", "ex4_gru::cell_values": "gru_gates"}


@pytest.mark.parametrize("test_id", [t for t in SATURATED if t not in THROUGH_HELPER])
def test_exp_written_activations_get_the_exp_overflow_hint_in_both_languages(exp_reports, test_id: str) -> None:
    for k, lang in enumerate(("en", "zh")):
        result = exp_reports[lang][test_id]
        assert result["status"] == "failed" and result["score"] == 0, result
        for words in (NON_FINITE, EXP_OVERFLOW, USE_TORCH, PRE_ACTIVATION):
            assert words[k] in result["hint"], (lang, result["hint"])
        if test_id != "ex5_vanishing::sigmoid_derivative":
            assert CASE_TEXT[k] in result["hint"], (lang, result["hint"])


@pytest.mark.parametrize("test_id", THROUGH_HELPER)
def test_a_cell_that_overflows_only_through_its_gates_is_sent_to_them(exp_reports, test_id: str) -> None:
    helper = THROUGH_HELPER[test_id]
    for lang, words in (("en", f"fix {helper} first"), ("zh", f"请先修正 {helper}")):
        result = exp_reports[lang][test_id]
        assert result["status"] == "failed" and words in result["hint"], (lang, result["hint"])
        assert result["mistakes"] == [f"helper:{helper}"], result


def test_only_the_saturating_cases_fail(exp_reports) -> None:
    """The plants are right at ordinary inputs: the gradients, layers and chains built on them still pass."""
    for test_id, result in exp_reports["en"].items():
        if test_id.split("::")[0] in ("ex1_rnn_cell", "ex3_lstm", "ex4_gru", "ex5_vanishing"):
            assert (result["status"] == "failed") == (test_id in SATURATED), (test_id, result.get("hint"))


def test_the_plants_really_give_nan_in_float32() -> None:
    z = torch.tensor([-100.0, 0.5, 100.0])
    assert torch.isnan((torch.exp(z) - torch.exp(-z)) / (torch.exp(z) + torch.exp(-z))).any()
    assert torch.isnan(torch.exp(z) / (1 + torch.exp(z))).any()
    e = (-z).exp()
    assert torch.isnan(e / (1 + e) ** 2).any()
    assert torch.isfinite(torch.tanh(z)).all() and torch.isfinite(torch.sigmoid(z)).all()


def test_nan_without_exp_gets_the_non_finite_hint_without_blaming_exp(tmp_path: Path) -> None:
    reports = _graded(tmp_path, NAN_PLANTS)
    for test_id in ("ex1_rnn_cell::cell_tanh", "ex5_vanishing::sigmoid_derivative"):
        for k, lang in enumerate(("en", "zh")):
            hint = reports[lang][test_id]["hint"]
            assert reports[lang][test_id]["status"] == "failed"
            assert NON_FINITE[k] in hint and PRE_ACTIVATION[k] in hint, (lang, hint)
            assert EXP_OVERFLOW[k] not in hint and USE_TORCH[k] not in hint, (lang, hint)
        assert "overflows, or a division by zero" in reports["en"][test_id]["hint"]


def test_near_misses_are_not_named(tmp_path: Path) -> None:
    """exp in an overflow-safe form passes; a finite wrong value at saturation is not called an overflow."""
    reports = _graded(tmp_path, {**STABLE_PLANTS, **FINITE_PLANTS})["en"]
    assert reports["ex1_rnn_cell::cell_tanh"]["status"] == "passed"
    assert reports["ex5_vanishing::sigmoid_derivative"]["status"] == "passed"
    finite = [reports[t] for t in ("ex3_lstm::input_gate", "ex3_lstm::output_gate")]
    assert any(r["status"] == "failed" for r in finite)
    for result in finite:
        if result["status"] == "failed":
            assert "differs from torch.nn.LSTMCell by up to" in result["hint"], result["hint"]
            assert NON_FINITE[0] not in result["hint"] and EXP_OVERFLOW[0] not in result["hint"], result["hint"]
            assert CASE_TEXT[0] in result["hint"]
            assert "mistakes" not in result
    cell = reports["ex3_lstm::cell_values"]
    assert cell["status"] == "failed" and "fix lstm_gates first" in cell["hint"], cell
    assert NON_FINITE[0] not in cell["hint"] and EXP_OVERFLOW[0] not in cell["hint"], cell


def test_correct_code_passes_the_saturating_cases(solutions_run) -> None:
    tests = results_by_id(solutions_run.report)
    for test_id in SATURATED:
        assert tests[test_id]["status"] == "passed", tests[test_id]
    variants = results_by_id(grade(*SELECTORS, "--target", str(REPO / "tests" / "variants"), "--seed", "13").report)
    for test_id in SATURATED:
        assert variants[test_id]["status"] == "passed", variants[test_id]


def _source(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "ex3_lstm.py"
    path.write_text("import math\nimport torch\n" + code, encoding="utf-8")
    return path


@pytest.mark.parametrize("code, function, expected", [
    ("def f(z):\n    return torch.exp(z)\n", "f", True),
    ("def f(z):\n    return z.exp() / 2\n", "f", True),
    ("from math import exp as E\ndef f(z):\n    return E(z)\n", "f", True),
    ("def f(z):\n    return math.e ** z\n", "f", True),
    ("def _s(z):\n    return 1 / (1 + torch.exp(-z))\ndef g(z):\n    return _s(z)\ndef f(z):\n    return g(z)\n", "f", True),
    ("class _Cell:\n    def run(self, z):\n        return self.act(z)\n    def act(self, z):\n        return torch.exp(z)\n"
     "def f(z):\n    return _Cell().run(z)\n", "f", True),
    ("def f(z):\n    return torch.tanh(z)\ndef unused(z):\n    return torch.exp(z)\n", "f", False),
    ("def sigmoid(z):\n    return torch.exp(z)\ndef f(z):\n    return torch.sigmoid(z)\n", "f", False),
    ("def f(z):\n    return torch.sigmoid(z)\n", "missing", False),
    ("def f(z:\n", "f", False),
])
def test_uses_exp_reads_the_function_and_its_helpers(tmp_path: Path, code: str, function: str, expected: bool) -> None:
    assert overflow.uses_exp(_source(tmp_path, code), function) is expected


def test_pre_activation_size_of_a_cell_and_of_z() -> None:
    x, h = torch.ones(2, 3), torch.ones(2, 4)
    inputs = {"x": x, "h": h, "weight_ih": torch.ones(8, 3), "weight_hh": torch.ones(8, 4),
              "bias_ih": torch.full((8,), 40.0), "bias_hh": torch.full((8,), 50.0)}
    assert overflow.pre_activation_size(inputs) == 97.0
    assert overflow.pre_activation_size({**inputs, "h": None, "state": (h, h)}) == 97.0
    assert overflow.pre_activation_size({"z": torch.tensor([-200.0, 3.0])}) == 200.0
    assert overflow.pre_activation_size({"grads": [x]}) is None
