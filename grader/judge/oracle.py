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

from grader.sandbox.given import (CELLS, GivenGRUCell, GivenLSTMCell, GivenRNNCell, final_features,  # noqa: F401
                                  generate, gru_cell, gru_gates, lstm_cell, lstm_gates, rnn_cell, shift_right)

Weights = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]


# --- whole layers ------------------------------------------------------------------

MODULES = {"rnn_tanh": nn.RNN, "rnn_relu": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


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


# --- exercise 6: compositions of torch.nn modules ---------------------------------------------


def hidden_of(state):
    """h_n of a recurrent module's final state: the state itself (RNN, GRU) or its first member (LSTM)."""
    return state[0] if isinstance(state, tuple) else state


def tag_steps(rnn, head, x, hx=None):
    return head(rnn(x, hx)[0])


def classify_sequence(rnn, head, x, hx=None):
    _, state = rnn(x, hx)
    return head(final_features(hidden_of(state), rnn.bidirectional))


def seq2seq(encoder, decoder, embedding, head, source, target, start_token, teacher_forcing=True):
    _, state = encoder(source)
    if teacher_forcing:
        return head(decoder(embedding(shift_right(target, start_token)), state)[0])
    start = embedding(torch.full((target.shape[1],), start_token, dtype=torch.long, device=target.device))
    return generate(decoder, embedding, head, start, target.shape[0], state)
