"""Exercise 5, written differently: hand-written sigma', float64 loops, a left-to-right Jacobian, a backward recursion."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor


def sigmoid_derivative(z: Tensor) -> Tensor:
    """sigma'(z) = e / (1 + e)^2 with e = exp(-|z|): symmetric, no overflow."""
    e = torch.exp(-torch.where(z >= 0, z, -z))
    return e / ((1 + e) * (1 + e))


def chain_gradient(z: Tensor, w: Tensor) -> Tensor:
    """The product, one factor at a time from the last to the first, in float64."""
    d = torch.ones((), dtype=torch.float64, device=z.device)
    z64, w64 = z.to(torch.float64), w.to(torch.float64)
    for k in range(z.shape[0] - 1, -1, -1):
        d = d * (w64[k] * sigmoid_derivative(z64[k]))
    return d.to(z.dtype)


def hidden_jacobian(h_seq: Tensor, weight_hh: Tensor) -> Tensor:
    """J = D_T W D_{T-1} W ... D_1 W, multiplied from the left end (latest step) to the right."""
    size = weight_hh.shape[0]
    jac = torch.eye(size, dtype=weight_hh.dtype, device=weight_hh.device)
    for t in range(h_seq.shape[0] - 1, -1, -1):
        d = 1 - h_seq[t] ** 2
        jac = torch.einsum("ij,j,jk->ik", jac, d, weight_hh)
    return jac


def gradient_norms(cell: torch.nn.Module, x: Tensor,
                   state: Optional[Union[Tensor, Tuple[Tensor, Tensor]]] = None) -> Tensor:
    """dL/dh_t by a backward recursion, one step's vector-Jacobian product at a time."""
    lstm = isinstance(cell, torch.nn.LSTMCell)
    batch, hidden = x.shape[1], cell.hidden_size
    with torch.enable_grad():
        if state is None:
            h = torch.zeros(batch, hidden, dtype=x.dtype, device=x.device)
            c = torch.zeros(batch, hidden, dtype=x.dtype, device=x.device)
        elif lstm:
            h, c = state
        else:
            h, c = state, None
        h = h.detach().requires_grad_(True)
        c = c.detach().requires_grad_(True) if lstm else None
        inputs, outputs = [], []
        for t in range(x.shape[0]):
            inputs.append((h, c))
            if lstm:
                h_new, c_new = cell(x[t], (h, c))
            else:
                h_new, c_new = cell(x[t], h), None
            outputs.append((h_new, c_new))
            # the next step starts from fresh leaves, so each step's backward pass is separate
            h = h_new.detach().requires_grad_(True)
            c = c_new.detach().requires_grad_(True) if lstm else None
        grad_h = torch.ones_like(outputs[-1][0])
        grad_c = torch.zeros_like(outputs[-1][0]) if lstm else None
        norms = [None] * x.shape[0]
        for t in range(x.shape[0] - 1, -1, -1):
            norms[t] = torch.sqrt((grad_h * grad_h).sum())
            if t == 0:
                break
            (h_in, c_in), (h_out, c_out) = inputs[t], outputs[t]
            if lstm:
                grad_h, grad_c = torch.autograd.grad((h_out, c_out), (h_in, c_in), (grad_h, grad_c),
                                                     allow_unused=True)
                grad_c = torch.zeros_like(h_in) if grad_c is None else grad_c
            else:
                (grad_h,) = torch.autograd.grad(h_out, h_in, grad_h)
    out = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for t, value in enumerate(norms):
        out[t] = value.detach()
    return out


def clip_grad_norm(grads: Sequence[Tensor], max_norm: float) -> Tuple[List[Tensor], Tensor]:
    grads = list(grads)
    if not grads:
        return [], torch.tensor(0.0)
    total64 = torch.sqrt(sum((g.to(torch.float64) ** 2).sum() for g in grads))
    total = total64.to(grads[0].dtype)
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [g * scale for g in grads], total
