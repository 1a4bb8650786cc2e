"""What the judge hands to learner code: torch-built cells, passed as arguments or put in place of siblings.

- `CELLS`: cells with `run_layers`' signature, on torch's fused kernels (exercise 2 is
  graded with them, so a mistake in the learner's own cells costs nothing there);
- `Given*Cell`: torch.nn cell modules for exercise 5's `gradient_norms`;
- `GivenRNN`, `GivenLSTM`, `GivenGRU` (and torch's `Linear`, `Embedding`): the modules exercise 6 is
  built from, rebuilt in the sandbox from their spec (`MODULES`);
- `STAND_INS`: torch versions of the learner's cell files, for the modules check of exercise 2;
- `HELPERS`: torch versions of the helpers a graded function calls in its own file, put in place
  of the learner's for one call, to tell whether the caller is right given a right helper.

Weights are passed in as tensors (through `torch.func.functional_call`), so gradients
w.r.t. them flow back exactly as they do through the learner's own functions. The judge's
oracle uses the same functions, so both sides compute the reference the same way.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call


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


def sigmoid_derivative(z):
    """σ'(z), elementwise, by torch's own backward kernel of sigmoid (differentiable, like the learner's)."""
    return torch.ops.aten.sigmoid_backward(torch.ones_like(z), torch.sigmoid(z))


# --- cells with the run_layers signature, built on torch's fused kernels --------


def torch_rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.rnn_tanh_cell(x, h, w_ih, w_hh, b_ih, b_hh)


def torch_rnn_relu_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.rnn_relu_cell(x, h, w_ih, w_hh, b_ih, b_hh)


def torch_lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    return torch.lstm_cell(x, tuple(state), w_ih, w_hh, b_ih, b_hh)


def torch_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):
    return torch.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)


CELLS = {"rnn_tanh": torch_rnn_tanh_cell, "rnn_relu": torch_rnn_relu_cell,
         "lstm": torch_lstm_cell, "gru": torch_gru_cell}


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


class GivenRNN(nn.RNN):
    def forward(self, input, hx=None):
        return super().forward(input, hx)


class GivenLSTM(nn.LSTM):
    def forward(self, input, hx=None):
        return super().forward(input, hx)


class GivenGRU(nn.GRU):
    def forward(self, input, hx=None):
        return super().forward(input, hx)


# The modules the judge may hand to learner code (ex6), by class name: the sandbox rebuilds them from a spec.
MODULES = {"GivenRNN": GivenRNN, "GivenLSTM": GivenLSTM, "GivenGRU": GivenGRU,
           "Linear": nn.Linear, "Embedding": nn.Embedding}


# --- exercise 6 in torch's terms: the helpers its graded functions call -------------------------


def final_features(h_n, bidirectional):
    """The last layer's final hidden state(s), forward then backward: (B, D*H)."""
    directions = 2 if bidirectional else 1
    rows, batch, hidden = h_n.shape
    last_layer = h_n.view(rows // directions, directions, batch, hidden)[-1]
    return last_layer.permute(1, 0, 2).reshape(batch, directions * hidden)


def generate(rnn, embedding, head, first_input, steps, hx=None):
    """Greedy decoding: each step's argmax, embedded, is the next step's input: (steps, B, C)."""
    state, inputs, logits = hx, [first_input], []
    while len(logits) < steps:
        output, state = rnn(inputs[-1][None], state)
        logits.append(head(output[-1]))
        inputs.append(embedding(logits[-1].argmax(-1)))
    return torch.stack(logits)


def shift_right(target, start_token):
    """The decoder's inputs under teacher forcing: the start token, then target[0..M-2]: (M, B)."""
    return torch.cat([torch.full_like(target[:1], start_token), target[:-1]])


# Sibling modules with torch's cells in place of the learner's (ex2's modules check).
STAND_INS = {
    "torch_cells": {
        "ex1_rnn_cell": {"rnn_cell": rnn_cell},
        "ex3_lstm": {"lstm_cell": lstm_cell, "lstm_gates": lstm_gates},
        "ex4_gru": {"gru_cell": gru_cell, "gru_gates": gru_gates},
    },
}

# Per exercise file, the helpers its graded functions call, in torch's version (by name: the judge names them).
HELPERS = {
    "ex1_rnn_cell": {"rnn_cell": rnn_cell},
    "ex3_lstm": {"lstm_gates": lstm_gates},
    "ex4_gru": {"gru_gates": gru_gates},
    "ex5_vanishing": {"sigmoid_derivative": sigmoid_derivative},
    "ex6_sequence_tasks": {"final_features": final_features, "generate": generate, "shift_right": shift_right},
}
