"""Hidden suite for ex4_gru: reset, update and new gates, then the whole cell, against torch.nn.GRUCell."""
from __future__ import annotations

import pytest

from grader.judge import oracle
from grader.judge.toolkit import (
    Case, Inputs, Out, Settings, expect_component, expect_gradients, expect_same, graded, load_module,
    saturating_case, standard_cases)

GATES = (Out("r", "(B, H)"), Out("z", "(B, H)"), Out("n", "(B, H)"))
H_NEXT = Out("h'", "(B, H)")


@pytest.fixture
def ex4(settings: Settings):
    return load_module(settings, "ex4_gru")


def cell_inputs(make: Inputs, case: Case, saturating: bool = False) -> dict:
    weights = make.saturating_weights if saturating else make.cell_weights
    return {"x": make.randn(case.B, case.I, dtype=case.dtype), "h": make.randn(case.B, case.H, dtype=case.dtype),
            **weights(case, gates=3)}


def check_gate(ex4, make: Inputs, position: int) -> None:
    for case in standard_cases(sequence=False):
        expect_component("gru_gates", ex4.gru_gates, oracle.gru_gates, cell_inputs(make, case), GATES, position,
                         case.describe(), "torch.nn.GRUCell")
    case = saturating_case()
    expect_component("gru_gates", ex4.gru_gates, oracle.gru_gates, cell_inputs(make, case, saturating=True), GATES,
                     position, case.describe(), "torch.nn.GRUCell", diagnose=False)


@graded(2, "reset gate r matches torch.nn.GRUCell", "重置门 r 与 torch.nn.GRUCell 一致")
def test_reset_gate(ex4, make):
    check_gate(ex4, make, 0)


@graded(2, "update gate z matches torch.nn.GRUCell", "更新门 z 与 torch.nn.GRUCell 一致")
def test_update_gate(ex4, make):
    check_gate(ex4, make, 1)


@graded(3, "new gate n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) matches torch.nn.GRUCell",
        "新门 n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) 与 torch.nn.GRUCell 一致")
def test_new_gate(ex4, make):
    check_gate(ex4, make, 2)


@graded(2, "gru_gates gradients match autograd", "gru_gates 的梯度与 autograd 一致")
def test_gates_gradients(ex4, make):
    for case in standard_cases(sequence=False):
        expect_gradients("gru_gates", ex4.gru_gates, oracle.gru_gates, cell_inputs(make, case), GATES,
                         case.describe(), "torch.nn.GRUCell", make)


@graded(6, "gru_cell h' = (1 - z) * n + z * h matches torch.nn.GRUCell",
        "gru_cell 的 h' = (1 - z) * n + z * h 与 torch.nn.GRUCell 一致")
def test_cell_values(ex4, make):
    for case in standard_cases(sequence=False):
        expect_same("gru_cell", ex4.gru_cell, oracle.gru_cell, cell_inputs(make, case), H_NEXT, case.describe(),
                    "torch.nn.GRUCell")
    case = saturating_case()
    expect_same("gru_cell", ex4.gru_cell, oracle.gru_cell, cell_inputs(make, case, saturating=True), H_NEXT,
                case.describe(), "torch.nn.GRUCell", diagnose=False)


@graded(5, "gru_cell gradients (x, h, weights, biases) match torch.nn.GRUCell",
        "gru_cell 的梯度（x、h、权重、偏置）与 torch.nn.GRUCell 一致")
def test_cell_gradients(ex4, make):
    for case in standard_cases(sequence=False):
        expect_gradients("gru_cell", ex4.gru_cell, oracle.gru_cell, cell_inputs(make, case), H_NEXT,
                         case.describe(), "torch.nn.GRUCell", make)
