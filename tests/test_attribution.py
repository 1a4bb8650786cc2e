"""A function that is wrong only because a helper it calls is wrong sends the learner to the helper.

rnn_layer calls rnn_cell, lstm_cell calls lstm_gates, gru_cell calls gru_gates, chain_gradient calls
sigmoid_derivative. When a caller's check fails, the judge calls it again with torch's helper in place of
the learner's (grader/judge/attribution.py); only if it then passes is the helper blamed.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import SOLUTIONS, grade, plant, results_by_id
from grader.judge import attribution
from grader.sandbox import given, main

SELECTED = ("ex1", "ex3", "ex4", "ex5")

# Wrong helpers, right callers (the solutions' callers call the helpers by name; rnn_cell_concat may call rnn_cell).
WRONG_HELPERS = {
    "ex1_rnn_cell.py": """
_right_cell = rnn_cell
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    return _right_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh, "relu" if nonlinearity == "tanh" else "tanh")
def rnn_cell_concat(x, h, weight, bias=None):
    I = x.shape[1]
    return rnn_cell(x, h, weight[:, :I], weight[:, I:], bias, None)
""",
    "ex3_lstm.py": """
_right_gates = lstm_gates
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    i, f, g, o = _right_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return f, i, g, o
""",
    "ex4_gru.py": """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gi = x @ weight_ih.T + (0 if bias_ih is None else bias_ih)
    gh = h @ weight_hh.T + (0 if bias_hh is None else bias_hh)
    i_z, i_r, i_n = gi.chunk(3, dim=1)
    h_z, h_r, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    return r, z, torch.tanh(i_n + r * h_n)
""",
    "ex5_vanishing.py": """
def sigmoid_derivative(z):
    return torch.sigmoid(z)
""",
}

# (caller's test, caller, helper, the helper's own test and words of its own hint)
BLAMED = [
    ("ex1_rnn_cell::layer_values", "rnn_layer", "rnn_cell", "ex1_rnn_cell::cell_tanh", "applies relu"),
    ("ex1_rnn_cell::layer_gradients", "rnn_layer", "rnn_cell", "ex1_rnn_cell::cell_tanh", "applies relu"),
    ("ex1_rnn_cell::concat_values", "rnn_cell_concat", "rnn_cell", "ex1_rnn_cell::cell_tanh", "applies relu"),
    ("ex1_rnn_cell::concat_gradients", "rnn_cell_concat", "rnn_cell", "ex1_rnn_cell::cell_tanh", "applies relu"),
    ("ex3_lstm::cell_values", "lstm_cell", "lstm_gates", "ex3_lstm::input_gate", "row blocks as f, i, g, o"),
    ("ex3_lstm::cell_gradients", "lstm_cell", "lstm_gates", "ex3_lstm::input_gate", "row blocks as f, i, g, o"),
    ("ex4_gru::cell_values", "gru_cell", "gru_gates", "ex4_gru::reset_gate", "row blocks as z, r, n"),
    ("ex4_gru::cell_gradients", "gru_cell", "gru_gates", "ex4_gru::reset_gate", "row blocks as z, r, n"),
    ("ex5_vanishing::chain_gradient", "chain_gradient", "sigmoid_derivative", "ex5_vanishing::sigmoid_derivative",
     "returns σ(z) itself"),
]


def blame_words(caller: str, helper: str) -> dict[str, list[str]]:
    return {"en": [f"{caller} is right given torch's {helper}", f"the mistake is in your {helper}",
                   f"fix {helper} first"],
            "zh": [f"{caller} 在使用 torch 的 {helper} 时是正确的", f"错误在你的 {helper} 中", f"请先修正 {helper}"]}


@pytest.fixture(scope="module")
def wrong_helpers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    target = tmp_path_factory.mktemp("helpers") / "submission"
    for filename, code in WRONG_HELPERS.items():
        plant(target, filename, code)
    return {lang: results_by_id(grade(*SELECTED, "--target", str(target), "--seed", "5", "--lang", lang).report)
            for lang in ("en", "zh")}


@pytest.mark.parametrize("caller_test, caller, helper, own_test, own_words", BLAMED, ids=[b[0] for b in BLAMED])
def test_a_right_caller_of_a_wrong_helper_is_sent_to_the_helper(wrong_helpers, caller_test: str, caller: str,
                                                                 helper: str, own_test: str, own_words: str) -> None:
    for lang, words in blame_words(caller, helper).items():
        result = wrong_helpers[lang][caller_test]
        assert result["status"] == "failed" and result["score"] == 0, result
        assert result["mistakes"] == [f"helper:{helper}"], result
        for word in words:
            assert word in result["hint"], (lang, result["hint"])
    own = wrong_helpers["en"][own_test]
    assert own["status"] == "failed" and own_words in own["hint"], own
    assert "given torch's" not in own["hint"] and not any(m.startswith("helper:") for m in own.get("mistakes", []))


# Near misses: the caller is wrong on its own (its helper right, or wrong too), or it does not call the helper.
NEAR_MISSES = {
    "ex1_rnn_cell.py": WRONG_HELPERS["ex1_rnn_cell.py"] + """
def rnn_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    outputs = [rnn_cell(x_t, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity) for x_t in x]
    return torch.stack(outputs), outputs[-1]
""",
    "ex3_lstm.py": """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c_next = f * c + i * g
    return o * c_next, c_next
""",
    "ex4_gru.py": """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    raise NotImplementedError
""",
    "ex5_vanishing.py": WRONG_HELPERS["ex5_vanishing.py"] + """
def chain_gradient(z, w):
    return torch.sum(torch.sigmoid(z) * (1 - torch.sigmoid(z)) * w)
""",
}


@pytest.fixture(scope="module")
def near_misses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    target = tmp_path_factory.mktemp("near") / "submission"
    for filename, code in NEAR_MISSES.items():
        plant(target, filename, code)
    return {lang: results_by_id(grade(*SELECTED, "--target", str(target), "--seed", "6", "--lang", lang).report)
            for lang in ("en", "zh")}


@pytest.mark.parametrize("test_id, own_words", [
    ("ex1_rnn_cell::layer_values", "output differs from torch.nn.RNN"),  # wrong helper, and wrong on its own too
    ("ex3_lstm::cell_values", "h' = o·tanh(c')"),  # right helper, wrong on its own
    ("ex5_vanishing::chain_gradient", "it adds the factors"),  # inlines the helper (right), wrong on its own
])
def test_a_caller_wrong_on_its_own_keeps_its_own_hint(near_misses, test_id: str, own_words: str) -> None:
    result = near_misses["en"][test_id]
    assert result["status"] == "failed" and own_words in result["hint"], result
    assert "given torch's" not in result["hint"] and "fix " not in result["hint"], result
    assert not any(m.startswith("helper:") for m in result.get("mistakes", []))
    assert "在使用 torch 的" not in near_misses["zh"][test_id]["hint"]


def test_a_helper_not_written_yet_is_named_as_such(near_misses) -> None:
    """gru_cell is right, gru_gates still raises NotImplementedError: write gru_gates first (not a mistake)."""
    words = {"en": ["gru_cell is right given torch's gru_gates", "your gru_gates is not written yet",
                    "write gru_gates first"],
             "zh": ["gru_cell 在使用 torch 的 gru_gates 时是正确的", "你的 gru_gates 还没有实现", "请先完成 gru_gates"]}
    for lang, expected in words.items():
        for test_id in ("ex4_gru::cell_values", "ex4_gru::cell_gradients"):
            result = near_misses[lang][test_id]
            assert result["status"] == "failed" and "mistakes" not in result, result
            for word in expected:
                assert word in result["hint"], (lang, result["hint"])
    assert "not implemented yet" in near_misses["en"]["ex4_gru::reset_gate"]["hint"]


def test_only_helpers_the_callers_code_names_are_tried(tmp_path: Path) -> None:
    target = plant(tmp_path / "submission", "ex5_vanishing.py", NEAR_MISSES["ex5_vanishing.py"])
    used = attribution.names_used(target / "ex5_vanishing.py")
    assert attribution.helpers_called("chain_gradient", used) == ()  # the last definition, which inlines it
    solutions = attribution.names_used(SOLUTIONS / "ex5_vanishing.py")
    assert attribution.helpers_called("chain_gradient", solutions) == ("sigmoid_derivative",)
    assert attribution.helpers_called("hidden_jacobian", solutions) == ()
    for stem, caller, helper in (("ex1_rnn_cell", "rnn_layer", "rnn_cell"), ("ex3_lstm", "lstm_cell", "lstm_gates"),
                                 ("ex4_gru", "gru_cell", "gru_gates")):
        assert attribution.helpers_called(caller, attribution.names_used(SOLUTIONS / f"{stem}.py")) == (helper,)
        assert helper in given.HELPERS[stem]
    assert attribution.names_used(tmp_path / "missing.py") == {}


def test_the_sandbox_puts_the_learners_helper_back_after_the_call(tmp_path: Path, monkeypatch) -> None:
    """In the sandbox's own request handler: torch's rnn_cell for one call, the learner's before and after,
    also when the call raises."""
    target = plant(tmp_path / "submission", "ex1_rnn_cell.py", WRONG_HELPERS["ex1_rnn_cell.py"] + """
def rnn_layer_failing(x, h0, weight_ih, weight_hh):
    rnn_cell(x[0], h0, weight_ih, weight_hh)
    raise ValueError("after the helper")
""")
    monkeypatch.setattr(main, "TARGET", target.resolve())
    package = "attribution_probe"
    load = {"op": "load", "package": package, "stem": "ex1_rnn_cell", "refuse": {}}
    try:
        assert main.handle(load)["ok"]
        module = sys.modules[f"{package}.ex1_rnn_cell"]
        learners = module.rnn_cell
        torch.manual_seed(0)
        x, h0, w_ih, w_hh = torch.randn(3, 2, 4), torch.randn(2, 5), torch.randn(5, 4), torch.randn(5, 5)

        def call(name: str, helpers: list[str]) -> dict[str, Any]:
            return main.handle({"op": "call", "package": package, "stem": "ex1_rnn_cell", "name": name, "load": load,
                                "args": [x, h0, w_ih, w_hh], "kwargs": {}, "seed": 0, "build": None,
                                "cotangents": None, "grad_paths": [], "torch_helpers": helpers})

        mine, torchs = call("rnn_layer", []), call("rnn_layer", ["rnn_cell"])
        want = torch.nn.RNN(4, 5, bias=False)
        with torch.no_grad():
            want.weight_ih_l0.copy_(w_ih)
            want.weight_hh_l0.copy_(w_hh)
            output, _ = want(x, h0.unsqueeze(0))
        assert torch.allclose(torchs["result"][0], output, atol=1e-6)
        assert not torch.allclose(mine["result"][0], output, atol=1e-3)
        assert module.rnn_cell is learners
        failed = call("rnn_layer_failing", ["rnn_cell"])
        assert not failed["ok"] and failed["error"]["message"] == "after the helper"
        assert module.rnn_cell is learners
    finally:
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]


def test_where_to_look_first_counts_a_caller_sent_to_its_failing_helper_as_the_helpers_mistake() -> None:
    """gru_cell right given torch's gru_gates is not a second mistake while gru_gates' own checks fail."""
    from grader.catalog import Exercise
    from grader.scoring import ExerciseResult, TestResult, fix_first

    gates = TestResult("ex4_gru::new_gate", "n", "failed", 0, 3, "gru_gates: it applies r to h before the matmul",
                       kind="named", mistake="reset:before_matmul")
    cell = TestResult("ex4_gru::cell_values", "h'", "failed", 0, 6, "gru_cell is right given torch's gru_gates: ...",
                      kind="named", mistake="helper:gru_gates")
    result = ExerciseResult(Exercise("ex4_gru", "GRU", "GRU", 20), "GRU", [gates, cell])
    assert [t.id for _, t in fix_first([result])] == ["ex4_gru::new_gate"]
    # The helper's checks pass (it is wrong only for arguments its own checks never use): the caller's hint leads.
    result.tests = [cell]
    assert [t.id for _, t in fix_first([result])] == ["ex4_gru::cell_values"]
