"""Exercise 1, written differently: concatenated weights, einsum, tanh through a guarded sigmoid."""
from typing import Optional

import torch
from torch import Tensor


def _sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) without overflow: exp of a non-positive number only (gradient right at 0 too)."""
    positive = x >= 0
    magnitude = torch.where(positive, x, -x)
    e = torch.exp(-magnitude)
    return torch.where(positive, 1 / (1 + e), e / (1 + e))


def _tanh(x: Tensor) -> Tensor:
    return 2 * _sigmoid(2 * x) - 1


def _relu(x: Tensor) -> Tensor:
    return torch.where(x > 0, x, torch.zeros_like(x))


def rnn_cell(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Optional[Tensor] = None,
             bias_hh: Optional[Tensor] = None, nonlinearity: str = "tanh") -> Tensor:
    acts = {"tanh": _tanh, "relu": _relu}
    if nonlinearity not in acts:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    weight = torch.cat([weight_ih, weight_hh], dim=1)  # (H, I + H)
    xh = torch.cat([x, h], dim=1)  # (B, I + H)
    pre = torch.einsum("hk,bk->bh", weight, xh)
    if bias_ih is not None or bias_hh is not None:
        bias = torch.zeros(weight.shape[0], dtype=x.dtype, device=x.device)
        for b in (bias_hh, bias_ih):
            if b is not None:
                bias = bias + b
        pre = bias + pre
    return acts[nonlinearity](pre)


def rnn_cell_concat(x: Tensor, h: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    n_in = x.shape[1]
    w_x, w_h = weight.split([n_in, weight.shape[1] - n_in], dim=1)
    pre = h @ w_h.T + x @ w_x.T
    if bias is not None:
        pre = pre + bias
    return _tanh(pre)


def rnn_layer(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Optional[Tensor] = None,
              bias_hh: Optional[Tensor] = None, nonlinearity: str = "tanh"):
    steps = x.shape[0]
    output = x.new_zeros(steps, h0.shape[0], h0.shape[1])
    h = h0
    for t in range(steps):
        h = rnn_cell(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        output[t] = h
    return output, h
