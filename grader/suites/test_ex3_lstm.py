"""Hidden suite for ex3_lstm: the four gates one by one, then the whole cell, against torch.nn.LSTMCell."""
from __future__ import annotations

import pytest

from grader.judge import oracle
from grader.judge.toolkit import (
    Case, Inputs, Out, Settings, expect_component, expect_gradients, expect_same, graded, load_module,
    saturating_case, standard_cases)

GATES = (Out("i", "(B, H)"), Out("f", "(B, H)"), Out("g", "(B, H)"), Out("o", "(B, H)"))
STATE = (Out("h'", "(B, H)"), Out("c'", "(B, H)"))


@pytest.fixture
def ex3(settings: Settings):
    return load_module(settings, "ex3_lstm")


def gate_inputs(make: Inputs, case: Case, saturating: bool = False) -> dict:
    weights = make.saturating_weights if saturating else make.cell_weights
    return {"x": make.randn(case.B, case.I, dtype=case.dtype), "h": make.randn(case.B, case.H, dtype=case.dtype),
            **weights(case, gates=4)}


def cell_inputs(make: Inputs, case: Case, saturating: bool = False) -> dict:
    weights = make.saturating_weights if saturating else make.cell_weights
    return {"x": make.randn(case.B, case.I, dtype=case.dtype),
            "state": (make.randn(case.B, case.H, dtype=case.dtype), make.randn(case.B, case.H, dtype=case.dtype)),
            **weights(case, gates=4)}


def check_gate(ex3, make: Inputs, position: int) -> None:
    for case in standard_cases(sequence=False):
        expect_component("lstm_gates", ex3.lstm_gates, oracle.lstm_gates, gate_inputs(make, case), GATES, position,
                         case.describe(), "torch.nn.LSTMCell")
    case = saturating_case()
    expect_component("lstm_gates", ex3.lstm_gates, oracle.lstm_gates, gate_inputs(make, case, saturating=True), GATES,
                     position, case.describe(), "torch.nn.LSTMCell", diagnose=False)


@graded(2, "input gate i matches torch.nn.LSTMCell", "输入门 i 与 torch.nn.LSTMCell 一致")
def test_input_gate(ex3, make):
    check_gate(ex3, make, 0)


@graded(2, "forget gate f matches torch.nn.LSTMCell", "遗忘门 f 与 torch.nn.LSTMCell 一致")
def test_forget_gate(ex3, make):
    check_gate(ex3, make, 1)


@graded(2, "cell candidate g matches torch.nn.LSTMCell", "候选细胞状态 g 与 torch.nn.LSTMCell 一致")
def test_cell_candidate(ex3, make):
    check_gate(ex3, make, 2)


@graded(2, "output gate o matches torch.nn.LSTMCell", "输出门 o 与 torch.nn.LSTMCell 一致")
def test_output_gate(ex3, make):
    check_gate(ex3, make, 3)


@graded(2, "lstm_gates gradients match autograd", "lstm_gates 的梯度与 autograd 一致")
def test_gates_gradients(ex3, make):
    for case in standard_cases(sequence=False):
        expect_gradients("lstm_gates", ex3.lstm_gates, oracle.lstm_gates, gate_inputs(make, case), GATES,
                         case.describe(), "torch.nn.LSTMCell", make)


@graded(5, "lstm_cell (h', c') matches torch.nn.LSTMCell", "lstm_cell 的 (h', c') 与 torch.nn.LSTMCell 一致")
def test_cell_values(ex3, make):
    for case in standard_cases(sequence=False):
        expect_same("lstm_cell", ex3.lstm_cell, oracle.lstm_cell, cell_inputs(make, case), STATE, case.describe(),
                    "torch.nn.LSTMCell")
    case = saturating_case()
    expect_same("lstm_cell", ex3.lstm_cell, oracle.lstm_cell, cell_inputs(make, case, saturating=True), STATE,
                case.describe(), "torch.nn.LSTMCell", diagnose=False)


@graded(5, "lstm_cell gradients (x, h, c, weights, biases) match torch.nn.LSTMCell",
        "lstm_cell 的梯度（x、h、c、权重、偏置）与 torch.nn.LSTMCell 一致")
def test_cell_gradients(ex3, make):
    for case in standard_cases(sequence=False):
        expect_gradients("lstm_cell", ex3.lstm_cell, oracle.lstm_cell, cell_inputs(make, case), STATE,
                         case.describe(), "torch.nn.LSTMCell", make)
