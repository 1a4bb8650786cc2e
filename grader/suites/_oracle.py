"""torch.nn as the oracle: the same computations the exercises ask for, done by PyTorch.

Weights are passed in as tensors (through `torch.func.functional_call`), so
gradients w.r.t. them flow back to the judge's inputs exactly as they do
for the learner's functions.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.func import functional_call

Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]


def _cell_params(weight_ih: torch.Tensor, weight_hh: torch.Tensor,
                 bias_ih: torch.Tensor | None, bias_hh: torch.Tensor | None) -> dict[str, torch.Tensor]:
    params = {"weight_ih": weight_ih, "weight_hh": weight_hh}
    if bias_ih is not None:
        params.update(bias_ih=bias_ih, bias_hh=bias_hh)
    return params


def _cell(kind: type[nn.Module], weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias: bool, **extra) -> nn.Module:
    hidden = weight_hh.shape[1]
    return kind(weight_ih.shape[1], hidden, bias=bias, device=weight_ih.device, dtype=weight_ih.dtype, **extra)


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    module = _cell(nn.RNNCell, weight_ih, weight_hh, bias_ih is not None, nonlinearity=nonlinearity)
    return functional_call(module, _cell_params(weight_ih, weight_hh, bias_ih, bias_hh), (x, h))


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    module = _cell(nn.LSTMCell, weight_ih, weight_hh, bias_ih is not None)
    return functional_call(module, _cell_params(weight_ih, weight_hh, bias_ih, bias_hh), (x, tuple(state)))


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    module = _cell(nn.GRUCell, weight_ih, weight_hh, bias_ih is not None)
    return functional_call(module, _cell_params(weight_ih, weight_hh, bias_ih, bias_hh), (x, h))


def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """(i, f, g, o), activated, in torch.nn.LSTMCell's row order."""
    pre = nn.functional.linear(x, weight_ih, bias_ih) + nn.functional.linear(h, weight_hh, bias_hh)
    i, f, g, o = pre.chunk(4, dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """(r, z, n) as torch.nn.GRUCell computes them (reset applied after the hidden matmul)."""
    xi = nn.functional.linear(x, weight_ih, bias_ih).chunk(3, dim=1)
    hh = nn.functional.linear(h, weight_hh, bias_hh).chunk(3, dim=1)
    r = torch.sigmoid(xi[0] + hh[0])
    z = torch.sigmoid(xi[1] + hh[1])
    n = torch.tanh(xi[2] + r * hh[2])
    return r, z, n


# --- cells with the run_layers signature, built on torch's fused kernels --------


def torch_rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh)


def torch_rnn_relu_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.rnn_relu_cell(x, h, w_ih, w_hh, b_ih, b_hh)


def torch_lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    return torch.lstm_cell(x, tuple(state), w_ih, w_hh, b_ih, b_hh)


def torch_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)


# --- whole layers ------------------------------------------------------------------

MODULES = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
CELLS = {"rnn_tanh": torch_rnn_tanh_cell, "rnn_relu": torch_rnn_relu_cell,
         "lstm": torch_lstm_cell, "gru": torch_gru_cell}


def parameter_names(num_layers: int, bidirectional: bool) -> list[str]:
    """torch.nn's names, in torch.nn's order: layer-major, forward before reverse."""
    names = []
    for layer in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            names.append(f"l{layer}{suffix}")
    return names


def make_module(mode: str, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                bidirectional: bool, dropout: float, dtype: torch.dtype, device: torch.device,
                batch_first: bool = False) -> nn.Module:
    extra = {"nonlinearity": mode.removeprefix("rnn_")} if mode.startswith("rnn_") else {}
    return MODULES[mode](input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, device=device, dtype=dtype, **extra)


def module_params(weights: Sequence[Weights], num_layers: int, bidirectional: bool) -> dict[str, torch.Tensor]:
    params = {}
    for tag, (w_ih, w_hh, b_ih, b_hh) in zip(parameter_names(num_layers, bidirectional), weights):
        params[f"weight_ih_{tag}"] = w_ih
        params[f"weight_hh_{tag}"] = w_hh
        if b_ih is not None:
            params[f"bias_ih_{tag}"] = b_ih
            params[f"bias_hh_{tag}"] = b_hh
    return params


def run_module(mode: str, x: torch.Tensor, hx, weights: Sequence[Weights], num_layers: int,
               bidirectional: bool = False, dropout: float = 0.0, training: bool = False, seed: int | None = None):
    """What torch.nn.{RNN, LSTM, GRU} returns for these weights: (output, h_n) or (output, (h_n, c_n)).

    With `seed`, torch's global generator is seeded just before the forward pass (dropout masks).
    """
    hidden = weights[0][1].shape[1]
    module = make_module(mode, x.shape[-1], hidden, num_layers, weights[0][2] is not None,
                         bidirectional, dropout, x.dtype, x.device)
    module.train(training)
    if seed is not None:
        torch.manual_seed(seed)
    return functional_call(module, module_params(weights, num_layers, bidirectional), (x, hx))


# --- the cells handed to learner code (ex5's gradient_norms) --------------------------------
# Calling the cell it is given is the learner's job there; these subclasses route that call
# through this file, so the forbidden-kernel guard sees the grader, not the learner, as caller.


class GivenRNNCell(nn.RNNCell):
    def forward(self, input, hx=None):
        return super().forward(input, hx)


class GivenGRUCell(nn.GRUCell):
    def forward(self, input, hx=None):
        return super().forward(input, hx)


class GivenLSTMCell(nn.LSTMCell):
    def forward(self, input, hx=None):
        return super().forward(input, hx)
