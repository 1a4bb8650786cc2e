"""Hidden suite for ex5_vanishing: sigma', the chain product D_n, dh_T/dh_0, gradient norms through time, clipping."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from grader.judge import oracle
from grader.judge.toolkit import (Explain, Inputs, Out, Settings, expect_outputs, expect_same, graded, invoke,
                    load_module, Text)

DTYPES = (torch.float64, torch.float32)


@pytest.fixture
def ex5(settings: Settings):
    return load_module(settings, "ex5_vanishing")


def label(dtype: torch.dtype, more: str = "") -> Text:
    kind = "float64" if dtype == torch.float64 else "float32"
    return Text(f"[{kind}{', ' + more if more else ''}]", f"[{kind}{'，' + more if more else ''}]")


def sigmoid_derivative(z: torch.Tensor) -> torch.Tensor:
    """sigma'(z) by autograd, the oracle."""
    leaf = z.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(torch.sigmoid(leaf).sum(), leaf)
    return grad


@graded(3, "sigmoid_derivative equals autograd's sigma'(z), also for large |z|",
        "sigmoid_derivative 与 autograd 求得的 sigma'(z) 一致（|z| 很大时也一致）")
def test_sigmoid_derivative(ex5, make):
    for dtype in DTYPES:
        for shape in ((7,), (3, 4), ()):
            z = make.randn(*shape, dtype=dtype, scale=4.0)
            expect_same("sigmoid_derivative", ex5.sigmoid_derivative, sigmoid_derivative, {"z": z},
                        Out("sigma'(z)", "(same shape as z)"), label(dtype, f"z.shape={tuple(shape)}"), "autograd")
        extremes = torch.tensor([-40.0, -15.0, 0.0, 15.0, 40.0], dtype=dtype, device=make.device)
        expect_same("sigmoid_derivative", ex5.sigmoid_derivative, sigmoid_derivative, {"z": extremes},
                    Out("sigma'(z)", "(same shape as z)"), label(dtype, "z = ±15, ±40, 0"), "autograd")
    # Saturation, past float32's exp overflow at 88.7: sigma' vanishes there, torch's value stays finite.
    saturating = torch.tensor([-200.0, -100.0, -90.0, 0.0, 90.0, 100.0, 200.0], dtype=torch.float32, device=make.device)
    expect_same("sigmoid_derivative", ex5.sigmoid_derivative, sigmoid_derivative, {"z": saturating},
                Out("sigma'(z)", "(same shape as z)"), label(torch.float32, "z = ±90, ±100, ±200, 0"), "autograd")


def chain_reference(z: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """D_n by autograd: back-propagate through the chain h_i = sigma(w_i h_{i-1} + b_i) itself, with the
    biases b_i chosen so that the pre-activations equal z_i; d h_n / d h_0 is the product the notes derive."""
    h0 = torch.zeros((), dtype=z.dtype, device=z.device, requires_grad=True)
    h = h0
    for z_i, w_i in zip(z, w):
        h = torch.sigmoid(w_i * h + (z_i - w_i * h.detach()))  # value z_i, slope w_i with respect to h
    (grad,) = torch.autograd.grad(h, h0)
    return grad


@graded(3, "chain_gradient computes D_n = prod sigma'(z_i) w_i as a 0-dim tensor",
        "chain_gradient 计算 D_n = prod sigma'(z_i) w_i，返回 0 维张量")
def test_chain_gradient(ex5, make):
    for dtype in DTYPES:
        for n in (1, 6, 20):
            for scale in (0.5, 6.0):  # |w| below 4 vanishes, above 4 can explode
                z = make.randn(n, dtype=dtype, scale=0.3)
                w = make.randn(n, dtype=dtype) * scale
                # D_n is a product: rounding errors are relative to it, however small it is (about 1e-24 for
                # n=20, |w|~0.5, where an absolute tolerance would accept anything near 0).
                want = chain_reference(z, w)
                expect_same("chain_gradient", ex5.chain_gradient, lambda *a, want=want: want, {"z": z, "w": w},
                            Out("D_n", "() (a 0-dim tensor)"), label(dtype, f"n={n}, |w|~{scale}"),
                            "autograd through the chain", scales=[want.abs()])


def unrolled_rnn(make: Inputs, T: int, H: int, dtype: torch.dtype):
    """A tanh RNN's states h_1..h_T, W_hh and the map h_0 -> h_T (for the oracle jacobian)."""
    I = 3  # noqa: E741
    w_ih = make.randn(H, I, dtype=dtype, scale=0.6)
    w_hh = make.randn(H, H, dtype=dtype, scale=0.6)
    xs = make.randn(T, I, dtype=dtype)
    h0 = make.randn(H, dtype=dtype, scale=0.5)

    def run(h: torch.Tensor) -> torch.Tensor:
        states = []
        for x in xs:
            h = torch.tanh(w_ih @ x + w_hh @ h)
            states.append(h)
        return torch.stack(states)
    return run(h0), w_hh, lambda h: run(h)[-1], h0


def product_size(h_seq: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """What rounding errors of dh_T/dh_0 = D_T W ... D_1 W (D_k = diag(1 - h_k²)) are relative to, element by element.

    The product can cancel to far less than its terms; multiplied in any order, its rounding errors stay
    within about T*H*eps times P = |D_T W| ... |D_1 W|. Each D_k also carries its own rounding, about eps
    times 1 + h_k² however it is written (1 - h², (1 - h)(1 + h), autograd's 1 - y*y), which is far more
    than eps times |1 - h_k²| for a saturated unit; through the other factors that costs about eps times
    Q = the sum over k of P with |D_k| replaced by 1 + h_k². The size is P + Q: for T*H = 30, both kinds of
    error stay under a tenth of the toolkit's atol (about 300 eps in float32, 9000 eps in float64) times it."""
    eye = torch.eye(w_hh.shape[0], dtype=torch.float64, device=w_hh.device)
    weights = w_hh.detach().double().abs()
    product, replaced = eye, torch.zeros_like(eye)
    for h in h_seq.detach().double():
        step, rounding = (1 - h * h).abs()[:, None] * weights, (1 + h * h)[:, None] * weights
        product, replaced = step @ product, step @ replaced + rounding @ product
    return product + replaced


def jacobian(f, h0: torch.Tensor) -> torch.Tensor:
    """d f(h0) / d h0 by autograd, one row per output element (scalar backward passes)."""
    leaf = h0.detach().clone().requires_grad_(True)
    out = f(leaf)
    rows = [torch.autograd.grad(out[i], leaf, retain_graph=True)[0] for i in range(out.shape[0])]
    return torch.stack(rows)


@graded(4, "hidden_jacobian equals dh_T/dh_0 of a tanh RNN (autograd's jacobian)",
        "hidden_jacobian 等于 tanh RNN 的 dh_T/dh_0（与 autograd 的雅可比矩阵一致）")
def test_hidden_jacobian(ex5, make):
    for dtype in DTYPES:
        for T, H in ((1, 4), (6, 5)):
            h_seq, w_hh, last_state, h0 = unrolled_rnn(make, T, H, dtype)
            want = jacobian(last_state, h0)
            expect_same("hidden_jacobian", ex5.hidden_jacobian, lambda *a, want=want: want, {"h_seq": h_seq, "weight_hh": w_hh},
                        Out("dh_T/dh_0", "(H, H)"), label(dtype, f"T={T}, H={H}"), "autograd's jacobian",
                        scales=[product_size(h_seq, w_hh)])


def norms_reference(cell: nn.Module, x: torch.Tensor, state=None) -> torch.Tensor:
    lstm = isinstance(cell, nn.LSTMCell)
    B, H = x.shape[1], cell.hidden_size
    if state is None:
        zeros = x.new_zeros(B, H)
        state = (zeros, zeros.clone()) if lstm else zeros
    hs = []
    for x_t in x:
        state = cell(x_t, state)
        hs.append(state[0] if lstm else state)
    grads = torch.autograd.grad(hs[-1].sum(), hs)
    return torch.stack([g.norm() for g in grads]).detach()


@graded(5, "gradient_norms gives ||dL/dh_t|| for RNNCell, GRUCell and LSTMCell",
        "gradient_norms 对 RNNCell、GRUCell、LSTMCell 给出 ||dL/dh_t||")
def test_gradient_norms(ex5, make, settings):
    T, B, I, H = 7, 3, 4, 5  # noqa: E741
    for dtype in DTYPES:
        for kind in (oracle.GivenRNNCell, oracle.GivenGRUCell, oracle.GivenLSTMCell):
            torch.manual_seed(make.generator.initial_seed())
            cell = kind(I, H, device=settings.device, dtype=dtype)
            x = make.randn(T, B, I, dtype=dtype)
            for given in (False, True):
                state = None
                if given:
                    h = make.randn(B, H, dtype=dtype)
                    state = (h, make.randn(B, H, dtype=dtype)) if kind is oracle.GivenLSTMCell else h
                what = label(dtype, f"{kind.__name__.removeprefix('Given')}, T={T}, state={'given' if given else 'None'}")
                expect_same("gradient_norms", ex5.gradient_norms, norms_reference, {"cell": cell, "x": x, "state": state},
                            Out("norms", "(T,)"), what, "autograd")


def clip_reference(grads: list[torch.Tensor], max_norm: float):
    params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    total = nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad for p in params], total


@graded(5, "clip_grad_norm matches torch.nn.utils.clip_grad_norm_ and leaves its inputs alone",
        "clip_grad_norm 与 torch.nn.utils.clip_grad_norm_ 一致，且不修改输入")
def test_clip_grad_norm(ex5, make):
    for dtype in DTYPES:
        grads = [make.randn(4, 3, dtype=dtype), make.randn(5, dtype=dtype), make.randn(2, 2, 2, dtype=dtype)]
        total = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        # Far from the threshold on both sides: implementations may compare total > max_norm or clamp
        # max_norm / (total + 1e-6) at 1 (as torch does), which differ only within 1e-6 of it.
        for max_norm in (total / 3, total * 2):
            spec = ([Out(f"clipped_grads[{k}]", "(same shape as grads[k])") for k in range(len(grads))],
                    Out("total_norm", "()"))
            want_grads, want_total = clip_reference(grads, max_norm)
            # An input changed in place is told after the values, so that clamp_ hears about clamping too.
            reply = invoke("clip_grad_norm", ex5.clip_grad_norm, (grads, max_norm), {}, defer_in_place=True)
            got = reply.result
            if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], float):
                got = (got[0], torch.tensor(got[1], dtype=want_total.dtype, device=want_total.device))
            what = label(dtype, f"max_norm={'total/3' if max_norm < total else '2*total'}")
            expect_outputs("clip_grad_norm", got, (want_grads, want_total), (tuple(spec[0]), spec[1]), what,
                           "torch.nn.utils.clip_grad_norm_", Explain("clip_grad_norm", {"grads": grads, "max_norm": max_norm}),
                           modified=reply.modified)
