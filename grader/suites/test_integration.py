"""End to end, worth no points: the learner's modules with the learner's own wrapper and cells.

A BiLSTM is two LSTMs run in opposite directions; once run_layers and the
cells are right, modules.LSTM(bidirectional=True) equals torch.nn.LSTM.
"""
from __future__ import annotations

import pytest
import torch

from grader.judge import oracle
from grader.judge.toolkit import Case, Out, Settings, expect_gradients, graded, load_module

CASE = Case(5, 3, 4, 6, torch.float64, True)


@pytest.fixture
def modules(settings: Settings):
    return load_module(settings, "modules")


def check_module(modules, make, settings, mode: str, name: str, layers: int) -> None:
    torch.manual_seed(make.generator.initial_seed())
    theirs = oracle.make_module(mode, CASE.I, CASE.H, layers, True, True, 0.0, CASE.dtype, settings.device)
    ours = getattr(modules, name).built(CASE.I, CASE.H, num_layers=layers, bidirectional=True, dtype=CASE.dtype,
                                        device=settings.device, state=theirs.state_dict())
    state = (Out("h_n", "(L*D, B, H)"), Out("c_n", "(L*D, B, H)")) if mode == "lstm" else Out("h_n", "(L*D, B, H)")
    what = Case(CASE.T, CASE.B, CASE.I, CASE.H, CASE.dtype, True, f"{name}, num_layers={layers}, bidirectional").describe()
    expect_gradients(f"modules.{name}", ours, theirs, {"input": make.randn(CASE.T, CASE.B, CASE.I, dtype=CASE.dtype)},
                     (Out("output", "(T, B, 2*H)"), state), what, f"torch.nn.{name}", make)


@graded(0, "your BiLSTM (modules.LSTM, 2 layers, bidirectional) equals torch.nn.LSTM",
        "你的 BiLSTM（modules.LSTM，两层双向）与 torch.nn.LSTM 一致")
def test_bilstm(modules, make, settings):
    check_module(modules, make, settings, "lstm", "LSTM", 2)


@graded(0, "your BiGRU (modules.GRU, 2 layers, bidirectional) equals torch.nn.GRU",
        "你的 BiGRU（modules.GRU，两层双向）与 torch.nn.GRU 一致")
def test_bigru(modules, make, settings):
    check_module(modules, make, settings, "gru", "GRU", 2)


@graded(0, "your bidirectional RNN (modules.RNN) equals torch.nn.RNN", "你的双向 RNN（modules.RNN）与 torch.nn.RNN 一致")
def test_birnn(modules, make, settings):
    check_module(modules, make, settings, "rnn_tanh", "RNN", 2)
