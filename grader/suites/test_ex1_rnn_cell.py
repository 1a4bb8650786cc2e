"""Hidden suite for ex1_rnn_cell: the Elman cell, its concatenated form, and one unrolled layer."""
from __future__ import annotations

import functools

import pytest
import torch

from grader.judge import oracle
from grader.judge.toolkit import (Case, Fail, Inputs, Out, Settings, expect_gradients, expect_same, graded, load_module, raised,
                    saturating_case, standard_cases)

H_NEXT = Out("h'", "(B, H)")
LAYER = (Out("output", "(T, B, H)"), Out("h_n", "(B, H)"))


@pytest.fixture
def ex1(settings: Settings):
    return load_module(settings, "ex1_rnn_cell")


def cell_inputs(make: Inputs, case: Case, saturating: bool = False) -> dict:
    weights = make.saturating_weights if saturating else make.cell_weights
    return {"x": make.randn(case.B, case.I, dtype=case.dtype),
            "h": make.randn(case.B, case.H, dtype=case.dtype),
            **weights(case, gates=1)}


KINK_MARGIN = 1e-3  # a relu's pre-activations at least this far from 0, where its slope jumps from 0 to 1


def relu_inputs(make: Inputs, case: Case) -> dict:
    """Cell inputs whose pre-activations all keep KINK_MARGIN away from 0, drawn again until they do.

    A pre-activation within rounding of 0 (about 1e-6 in float32) can be +0.0000001 for torch and
    -0.0000001 for a correct learner who adds in another order: the relu's slope then differs, 1 against 0,
    and so do the gradients, by a whole term. Keeping clear of the kink makes every seed fair."""
    for _ in range(1000):
        inputs = cell_inputs(make, case)
        pre = inputs["x"].double() @ inputs["weight_ih"].double().T + inputs["h"].double() @ inputs["weight_hh"].double().T
        if inputs["bias_ih"] is not None:
            pre = pre + inputs["bias_ih"].double() + inputs["bias_hh"].double()
        if float(pre.abs().min()) > KINK_MARGIN:
            return inputs
    raise RuntimeError("no inputs clear of the relu's kink")  # about 1 chance in 100 per draw: never


def concat_inputs(make: Inputs, case: Case) -> dict:
    weights = make.cell_weights(case, gates=1)
    return {"x": make.randn(case.B, case.I, dtype=case.dtype),
            "h": make.randn(case.B, case.H, dtype=case.dtype),
            "weight": torch.cat([weights["weight_ih"], weights["weight_hh"]], dim=1),
            "bias": weights["bias_ih"]}


def concat_reference(x, h, weight, bias=None):
    """W [x, h] + b is the Elman cell with W_ih = W[:, :I], W_hh = W[:, I:], b_ih = b and no b_hh."""
    I = x.shape[1]  # noqa: E741
    bias_hh = None if bias is None else torch.zeros_like(bias)
    return oracle.rnn_cell(x, h, weight[:, :I], weight[:, I:], bias, bias_hh)


def layer_inputs(make: Inputs, case: Case) -> dict:
    return {"x": make.randn(case.T, case.B, case.I, dtype=case.dtype),
            "h0": make.randn(case.B, case.H, dtype=case.dtype),
            **make.cell_weights(case, gates=1)}


def layer_reference(nonlinearity: str):
    def run(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
        output, h_n = oracle.run_module(f"rnn_{nonlinearity}", x, h0.unsqueeze(0),
                                        [(weight_ih, weight_hh, bias_ih, bias_hh)], num_layers=1)
        return output, h_n[0]
    return run


@graded(3, "rnn_cell with tanh matches torch.nn.RNNCell", "rnn_cell（tanh）与 torch.nn.RNNCell 一致")
def test_cell_tanh(ex1, make):
    for case in standard_cases(sequence=False):
        expect_same("rnn_cell", ex1.rnn_cell, oracle.rnn_cell, cell_inputs(make, case), H_NEXT,
                    case.describe(), "torch.nn.RNNCell")
    case = saturating_case()
    expect_same("rnn_cell", ex1.rnn_cell, oracle.rnn_cell, cell_inputs(make, case, saturating=True), H_NEXT,
                case.describe(), "torch.nn.RNNCell", diagnose=False)


@graded(2, "rnn_cell with relu matches torch.nn.RNNCell(nonlinearity='relu')",
        "rnn_cell（relu）与 torch.nn.RNNCell(nonlinearity='relu') 一致")
def test_cell_relu(ex1, make):
    for case in standard_cases(sequence=False):
        expect_same("rnn_cell", ex1.rnn_cell.bind(nonlinearity="relu"),
                    functools.partial(oracle.rnn_cell, nonlinearity="relu"), cell_inputs(make, case), H_NEXT,
                    case.describe(), "torch.nn.RNNCell(nonlinearity='relu')")


@graded(1, "rnn_cell rejects an unknown nonlinearity with ValueError",
        "rnn_cell 对未知的 nonlinearity 抛出 ValueError")
def test_cell_bad_nonlinearity(ex1, make):
    inputs = cell_inputs(make, standard_cases(sequence=False)[0])
    for bad in ("sigmoid", "Tanh"):
        error = raised("rnn_cell", ex1.rnn_cell, *inputs.values(), nonlinearity=bad)
        if error is None:
            raise Fail(
                f"rnn_cell(..., nonlinearity={bad!r}) returned normally; only 'tanh' and 'relu' are allowed, "
                "anything else must raise ValueError.",
                f"rnn_cell(..., nonlinearity={bad!r}) 正常返回了；只允许 'tanh' 和 'relu'，其他取值必须抛出 ValueError。",
            )
        if error["type"] != "ValueError":
            raise Fail(
                f"rnn_cell(..., nonlinearity={bad!r}) raised {error['type']}; raise ValueError instead.",
                f"rnn_cell(..., nonlinearity={bad!r}) 抛出了 {error['type']}；应当抛出 ValueError。",
            )


@graded(3, "rnn_cell gradients (x, h, weights, biases) match autograd through torch.nn.RNNCell",
        "rnn_cell 的梯度（x、h、权重、偏置）与 torch.nn.RNNCell 一致")
def test_cell_gradients(ex1, make):
    for case in standard_cases(sequence=False):
        for act in ("tanh", "relu"):
            inputs = relu_inputs(make, case) if act == "relu" else cell_inputs(make, case)
            expect_gradients("rnn_cell", ex1.rnn_cell.bind(nonlinearity=act),
                             functools.partial(oracle.rnn_cell, nonlinearity=act), inputs,
                             H_NEXT, case.describe(), f"torch.nn.RNNCell({act})", make)


@graded(3, "rnn_cell_concat computes tanh(W [x, h] + b)", "rnn_cell_concat 计算 tanh(W [x, h] + b)")
def test_concat_values(ex1, make):
    for case in standard_cases(sequence=False):
        expect_same("rnn_cell_concat", ex1.rnn_cell_concat, concat_reference, concat_inputs(make, case), H_NEXT,
                    case.describe(), "torch.nn.RNNCell with W = [W_ih, W_hh]")


@graded(2, "rnn_cell_concat gradients match autograd", "rnn_cell_concat 的梯度与 autograd 一致")
def test_concat_gradients(ex1, make):
    for case in standard_cases(sequence=False):
        expect_gradients("rnn_cell_concat", ex1.rnn_cell_concat, concat_reference, concat_inputs(make, case),
                         H_NEXT, case.describe(), "torch.nn.RNNCell with W = [W_ih, W_hh]", make)


@graded(3, "rnn_layer matches a one-layer torch.nn.RNN (output and h_n)",
        "rnn_layer 与单层 torch.nn.RNN 一致（output 和 h_n）")
def test_layer_values(ex1, make):
    for case in standard_cases():
        for act in ("tanh", "relu"):
            expect_same("rnn_layer", ex1.rnn_layer.bind(nonlinearity=act), layer_reference(act),
                        layer_inputs(make, case), LAYER, case.describe(), f"torch.nn.RNN({act})")


@graded(3, "rnn_layer gradients through time match torch.nn.RNN",
        "rnn_layer 随时间反向传播的梯度与 torch.nn.RNN 一致")
def test_layer_gradients(ex1, make):
    for case in standard_cases():
        expect_gradients("rnn_layer", ex1.rnn_layer, layer_reference("tanh"), layer_inputs(make, case), LAYER,
                         case.describe(), "torch.nn.RNN", make)
