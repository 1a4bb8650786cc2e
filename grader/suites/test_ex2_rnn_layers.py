"""Hidden suite for ex2_rnn_layers: run_layers, graded with torch's own cells.

The cells passed to run_layers are torch's fused kernels, and modules.py is
loaded with torch-based cells in place of the learner's, so only run_layers
(the wrapper) decides this exercise's score.
"""
from __future__ import annotations

import re

import pytest
import torch

from grader.judge import oracle
from grader.judge.toolkit import (Case, Fail, Inputs, Out, Settings, call, expect_gradients, expect_outputs, expect_same, graded,
                    load_module)

CASES = [Case(5, 3, 4, 6, torch.float64, True), Case(4, 2, 7, 3, torch.float32, False)]


@pytest.fixture
def ex2(settings: Settings):
    return load_module(settings, "ex2_rnn_layers")


def spec(mode: str):
    output = Out("output", "(T, B, D*H)")
    if mode == "lstm":
        return output, (Out("h_n", "(L*D, B, H)"), Out("c_n", "(L*D, B, H)"))
    return output, Out("h_n", "(L*D, B, H)")


def layer_inputs(make: Inputs, case: Case, mode: str, num_layers: int, bidirectional: bool) -> dict:
    directions = 2 if bidirectional else 1
    weights = []
    for layer in range(num_layers):
        for _ in range(directions):
            w = make.cell_weights(case, oracle.GATES[mode], case.I if layer == 0 else directions * case.H)
            weights.append((w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"]))
    state = (num_layers * directions, case.B, case.H)
    hx = make.randn(*state, dtype=case.dtype)
    if mode == "lstm":
        hx = (hx, make.randn(*state, dtype=case.dtype))
    return {"cell": oracle.CELLS[mode], "x": make.randn(case.T, case.B, case.I, dtype=case.dtype), "hx": hx,
            "weights": weights, "num_layers": num_layers, "bidirectional": bidirectional}


def reference(mode: str, dropout: float = 0.0, training: bool = False, seed: int | None = None):
    def run(cell, x, hx, weights, num_layers, bidirectional):
        return oracle.run_module(mode, x, hx, weights, num_layers, bidirectional, dropout, training, seed)
    return run


def learner(ex2, dropout: float = 0.0, training: bool = False, seed: int | None = None):
    """The learner's run_layers with these settings; `seed` seeds torch's generator just before the call."""
    return ex2.run_layers.bind(seed=seed, dropout=dropout, training=training)


def describe(case: Case, mode: str, num_layers: int, bidirectional: bool, more: str = ""):
    layout = f"{mode} cell, num_layers={num_layers}, bidirectional={bidirectional}{more}"
    return Case(case.T, case.B, case.I, case.H, case.dtype, case.bias, layout).describe()


def torch_name(num_layers: int, bidirectional: bool):
    """'weights[2][1]' -> 'weights[2][1] (weight_hh_l1)': torch.nn's name for a weight."""
    tags = oracle.parameter_names(num_layers, bidirectional)
    kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

    def rename(path: str) -> str:
        found = re.fullmatch(r"weights\[(\d+)\]\[(\d+)\]", path)
        return f"{path} ({kinds[int(found[2])]}_{tags[int(found[1])]})" if found else path
    return rename


def check_layout(ex2, make: Inputs, mode: str, num_layers: int, bidirectional: bool) -> None:
    for case in CASES:
        inputs = layer_inputs(make, case, mode, num_layers, bidirectional)
        expect_same("run_layers", learner(ex2), reference(mode), inputs, spec(mode),
                    describe(case, mode, num_layers, bidirectional), f"torch.nn.{oracle.MODULES[mode].__name__}")


@graded(3, "one layer, one direction matches torch.nn.RNN / GRU", "单层单向与 torch.nn.RNN / GRU 一致")
def test_single_layer(ex2, make):
    for mode in ("rnn_tanh", "gru"):
        check_layout(ex2, make, mode, num_layers=1, bidirectional=False)


@graded(3, "stacked layers (num_layers=3) match torch.nn.RNN / LSTM", "多层堆叠（num_layers=3）与 torch.nn.RNN / LSTM 一致")
def test_multi_layer(ex2, make):
    for mode in ("rnn_tanh", "lstm"):
        check_layout(ex2, make, mode, num_layers=3, bidirectional=False)


@graded(4, "bidirectional layer matches torch.nn.GRU / LSTM(bidirectional=True)",
        "双向单层与 torch.nn.GRU / LSTM(bidirectional=True) 一致")
def test_bidirectional(ex2, make):
    for mode in ("gru", "lstm"):
        check_layout(ex2, make, mode, num_layers=1, bidirectional=True)


@graded(3, "stacked bidirectional layers match torch.nn (h_n rows layer-major, direction-minor)",
        "多层双向与 torch.nn 一致（h_n 按层优先、方向其次排列）")
def test_stacked_bidirectional(ex2, make):
    for mode in ("rnn_relu", "lstm", "gru"):
        check_layout(ex2, make, mode, num_layers=2, bidirectional=True)


@graded(3, "gradients (x, initial state, every weight) match torch.nn for 2 bidirectional layers",
        "两层双向时的梯度（x、初始状态、所有权重）与 torch.nn 一致")
def test_gradients(ex2, make):
    for case in CASES:
        for mode in ("lstm", "gru"):
            inputs = layer_inputs(make, case, mode, 2, True)
            expect_gradients("run_layers", learner(ex2), reference(mode), inputs, spec(mode),
                             describe(case, mode, 2, True), f"torch.nn.{oracle.MODULES[mode].__name__}", make,
                             rename=torch_name(2, True))


@graded(2, "dropout: between layers in training only, never after the last layer",
        "dropout：只在训练时用于层与层之间，最后一层之后不用")
def test_dropout(ex2, make):
    case = CASES[0]
    mode, versus = "lstm", "torch.nn.LSTM"
    # Every call has a fixed seed, so that a diagnosis can draw a mistaken learner's masks too
    # (dropout in evaluation mode, or at a fixed rate); right code draws none or, below, torch's.
    seed = make.generator.initial_seed()
    # Evaluation mode: dropout must do nothing.
    inputs = layer_inputs(make, case, mode, 2, True)
    expect_same("run_layers", learner(ex2, 0.5, False, seed), reference(mode, 0.5, False), inputs,
                spec(mode), describe(case, mode, 2, True, ", dropout=0.5, training=False"), versus)
    # dropout=1 zeroes everything it touches, so the result is deterministic: the second
    # layer reads zeros, and the last layer's output is left alone.
    for layers in (1, 2, 3):
        inputs = layer_inputs(make, case, mode, layers, True)
        expect_same("run_layers", learner(ex2, 1.0, True, seed), reference(mode, 1.0, True), inputs,
                    spec(mode), describe(case, mode, layers, True, ", dropout=1.0, training=True"), versus)
    if not torch.backends.cudnn.enabled:
        # Without cuDNN, torch.nn draws its masks with one F.dropout call per layer boundary, on the
        # concatenated output: with the same seed, the same masks (this also checks the 1/(1-p) scale).
        inputs = layer_inputs(make, case, mode, 3, True)
        try:
            expect_same("run_layers", learner(ex2, 0.5, True, seed), reference(mode, 0.5, True, seed), inputs,
                        spec(mode), describe(case, mode, 3, True, ", dropout=0.5, training=True"), versus)
        except Fail as failure:
            raise Fail(
                failure.en + " With the same torch.manual_seed, torch.nn draws the same masks as one "
                "F.dropout(out, p=dropout, training=training) per layer boundary, on the concatenated output.",
                failure.zh + " 在相同的 torch.manual_seed 下，torch.nn 的掩码等同于在每个层与层之间、对拼接后的输出"
                "调用一次 F.dropout(out, p=dropout, training=training)。",
                failure.status, failure.kind, failure.mistake,
            ) from None


# --- modules.py with torch's cells: batch_first, hx=None, parameter names -----------------


@pytest.fixture
def modules_with_torch_cells(settings: Settings):
    """modules.py with torch.nn's cells standing in for the learner's ex1, ex3 and ex4."""
    return load_module(settings, "modules", package="submission_with_torch_cells", stand_ins="torch_cells")


@graded(2, "modules.RNN / LSTM / GRU (batch_first, hx=None, state_dict) match torch.nn with your run_layers",
        "modules.RNN / LSTM / GRU（batch_first、hx=None、state_dict）配合你的 run_layers 与 torch.nn 一致")
def test_modules(modules_with_torch_cells, make, settings):
    for mode, name, layers, bidirectional, batch_first in (("rnn_tanh", "RNN", 2, False, True),
                                                           ("lstm", "LSTM", 2, True, False),
                                                           ("gru", "GRU", 1, True, True)):
        case = CASES[0]
        torch.manual_seed(make.generator.initial_seed())
        theirs = oracle.make_module(mode, case.I, case.H, layers, True, bidirectional, 0.0, case.dtype,
                                    settings.device, batch_first)
        kwargs = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first}
        ours = getattr(modules_with_torch_cells, name).built(case.I, case.H, dtype=case.dtype, device=settings.device,
                                                             state=theirs.state_dict(), **kwargs)
        shape = (case.B, case.T, case.I) if batch_first else (case.T, case.B, case.I)
        x = make.randn(*shape, dtype=case.dtype)
        what = describe(case, mode, layers, bidirectional, f", batch_first={batch_first}, hx=None")
        out_dims = "(B, T, D*H)" if batch_first else "(T, B, D*H)"
        out_spec = (Out("output", out_dims), spec(mode)[1])
        expect_outputs(f"modules.{name}", call("run_layers", ours, x), theirs(x), out_spec, what,
                       f"torch.nn.{name}")
