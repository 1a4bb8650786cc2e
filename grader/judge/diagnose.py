"""Diagnoses: which mistake a wrong output is, told by the numerical signature it leaves.

When an output of a learner's function differs from torch's, the judge asks this
module why. Each function has a table of known mistakes; an entry computes, from
the same inputs with plain torch operations, what the function would return had
the learner made that mistake. If the learner's output equals that prediction,
the entry's sentence names the mistake. When none fits, `locate` still says
where the difference starts (time step, direction, gate block, h_n row).

Everything here runs in the judge, on tensors the sandbox sent back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F

from grader.judge import deviations, identify
from grader.judge.tolerance import allowed_error, close

APART = 10  # a prediction counts only when it is at least this many tolerances away from torch's output


def _agree(got: torch.Tensor, want: torch.Tensor) -> bool:
    """Whether `got` passes the test's own comparison with `want` (a diagnosis is never looser than the test)."""
    return got.shape == want.shape and bool(close(got, want.to(got.dtype)).all())


def _apart(predicted: torch.Tensor, want: torch.Tensor) -> bool:
    """Whether a prediction is clearly not torch's answer: somewhere more than APART tolerances away."""
    gap = (predicted.detach().double() - want.detach().double()).abs()
    return bool((gap.nan_to_num(nan=float("inf")) > APART * allowed_error(want)).any())


@dataclass(frozen=True)
class Found:
    """A sentence in both languages; `key` names the diagnosed mistake ('' for a location)."""

    key: str  # the deviations' keys joined by "+"
    en: str
    zh: str


@dataclass
class Context:
    """One failed comparison: the function, its inputs, the learner's and torch's outputs (flat)."""

    function: str
    inputs: dict[str, Any]
    got: list[torch.Tensor]
    want: list[torch.Tensor]
    index: int  # which output differs
    options: dict[str, Any] = field(default_factory=dict)  # keyword arguments the call was made with
    seed: int | None = None  # torch's seed just before the call, when the test fixed it (dropout masks)

    def matches(self, predicted: torch.Tensor | None, index: int | None = None) -> bool:
        """The learner's output passes the test against `predicted`, and `predicted` is clearly not torch's."""
        k = self.index if index is None else index
        got, want = self.got[k], self.want[k]
        if predicted is None or not isinstance(predicted, torch.Tensor) or predicted.shape != got.shape:
            return False
        return _agree(got, predicted) and _apart(predicted.to(got.dtype), want)

    def value(self, name: str) -> Any:
        return self.inputs[name]


@dataclass(frozen=True)
class Diagnosis:
    key: str
    predict: Callable[[Context], torch.Tensor | None]  # the compared output, had the mistake been made
    en: str
    zh: str
    outputs: tuple[int, ...] | None = None  # which outputs this applies to (None: any)
    shape: bool = False  # the mistake gives an output of another shape than torch's (see `diagnose_shape`)


# --------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------


def _lin(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    out = x @ w.T
    return out if b is None else out + b


ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def _has_bias(ctx: Context, name: str = "bias_ih") -> bool:
    return ctx.inputs.get(name) is not None


def _asked(ctx: Context) -> str:
    return ctx.options.get("nonlinearity", "tanh")


# --------------------------------------------------------------------------
# ex1: rnn_cell_concat, rnn_layer (the cells of ex1, ex3 and ex4 are identified by identify.py)
# --------------------------------------------------------------------------


def _concat_with(order: str = "xh", use_bias: bool = True, act: str = "tanh") -> Callable[[Context], torch.Tensor]:
    def predict(ctx: Context) -> torch.Tensor:
        x, h = ctx.value("x"), ctx.value("h")
        joined = torch.cat([x, h] if order == "xh" else [h, x], dim=1)
        pre = _lin(joined, ctx.value("weight"), ctx.value("bias") if use_bias else None)
        return pre if act == "none" else ACTIVATIONS[act](pre)
    return predict


RNN_CELL_CONCAT = [
    Diagnosis("cat_order", _concat_with(order="hx"),
              "it concatenates [h, x]; the weight's first I columns belong to x: use torch.cat([x, h], dim=1).",
              "拼接成了 [h, x]；权重的前 I 列对应 x：请用 torch.cat([x, h], dim=1)。"),
    Diagnosis("no_bias", lambda ctx: _concat_with(use_bias=False)(ctx) if ctx.inputs.get("bias") is not None else None,
              "it leaves out the bias b.", "忘了加偏置 b。"),
    Diagnosis("sigmoid_instead", _concat_with(act="sigmoid"),
              "it applies sigmoid; the notes' cell is h' = tanh(W [x, h] + b).",
              "用了 sigmoid；讲义中的单元是 h' = tanh(W [x, h] + b)。"),
    Diagnosis("no_activation", _concat_with(act="none"),
              "it returns W [x, h] + b without the tanh.", "返回的是 W [x, h] + b，忘了套上 tanh。"),
]


def _rnn_states(ctx: Context) -> torch.Tensor:
    """h_0, h_1, ..., h_T of the reference layer, (T+1, B, H)."""
    act = ACTIVATIONS[_asked(ctx)]
    h, states = ctx.value("h0"), [ctx.value("h0")]
    for x_t in ctx.value("x"):
        h = act(_lin(x_t, ctx.value("weight_ih"), ctx.value("bias_ih"))
                + _lin(h, ctx.value("weight_hh"), ctx.value("bias_hh")))
        states.append(h)
    return torch.stack(states)


def _rnn_from_h0(ctx: Context) -> torch.Tensor:
    act = ACTIVATIONS[_asked(ctx)]
    h0 = ctx.value("h0")
    return torch.stack([act(_lin(x_t, ctx.value("weight_ih"), ctx.value("bias_ih"))
                            + _lin(h0, ctx.value("weight_hh"), ctx.value("bias_hh"))) for x_t in ctx.value("x")])


RNN_LAYER = [
    Diagnosis("output_off_by_one", lambda ctx: _rnn_states(ctx)[:-1],
              "output[t] holds the state from before step t (h_0 ... h_{T-1}); append h_t after computing it, "
              "so that output holds h_1 ... h_T.",
              "output[t] 存的是第 t 步之前的状态（h_0 ... h_{T-1}）；应在算出 h_t 之后再保存，使 output 为 h_1 ... h_T。",
              outputs=(0,)),
    Diagnosis("output_reversed", lambda ctx: _rnn_states(ctx)[1:].flip(0),
              "output is in reverse time order: output[t] must be h_{t+1}, the state after input x[t].",
              "output 的时间顺序反了：output[t] 应为读入 x[t] 之后的状态 h_{t+1}。", outputs=(0,)),
    Diagnosis("h_not_carried", _rnn_from_h0,
              "every step starts from h0 instead of the previous step's state: carry h from step to step.",
              "每一步都从 h0 出发，而不是上一步的状态：要把 h 一步一步传下去。", outputs=(0,)),
    Diagnosis("h_n_first", lambda ctx: _rnn_states(ctx)[1],
              "h_n is the first step's state h_1; it must be the last one, h_T.",
              "h_n 是第一步的状态 h_1；应当是最后一步的状态 h_T。", outputs=(1,)),
    Diagnosis("h_n_is_h0", lambda ctx: ctx.value("h0"),
              "h_n is h0 unchanged; return the state after the last step, h_T.",
              "h_n 原样返回了 h0；应返回最后一步之后的状态 h_T。", outputs=(1,)),
]


# --------------------------------------------------------------------------
# ex2: run_layers
# --------------------------------------------------------------------------


def _layout(ctx: Context) -> tuple[int, int, int]:
    """(num_layers, directions, H)."""
    directions = 2 if ctx.value("bidirectional") else 1
    return ctx.value("num_layers"), directions, ctx.want[1].shape[-1]


def _bidirectional_output(ctx: Context, flip_backward: bool = False, swap: bool = False) -> torch.Tensor | None:
    _, directions, H = _layout(ctx)
    if directions == 1:
        return None
    forward, backward = ctx.want[0][..., :H], ctx.want[0][..., H:]
    if flip_backward:
        backward = backward.flip(0)
    return torch.cat([backward, forward] if swap else [forward, backward], dim=-1)


def _state_count(ctx: Context) -> int:
    return len(ctx.want) - 1  # h_n, or h_n and c_n


def _swapped_state(ctx: Context) -> torch.Tensor | None:
    if _state_count(ctx) != 2 or ctx.index not in (1, 2):
        return None
    return ctx.want[3 - ctx.index]


def _layers_with(ctx: Context, boundary: Callable[[torch.Tensor, bool], torch.Tensor]) -> list[torch.Tensor]:
    """run_layers' flat outputs (output, h_n[, c_n]) with `boundary(out, last)` applied to every layer's output."""
    cell, hx, weights = ctx.value("cell"), ctx.value("hx"), ctx.value("weights")
    num_layers, directions, _ = _layout(ctx)
    members = hx if isinstance(hx, tuple) else (hx,)
    finals, layer_input = [], ctx.value("x")
    for layer in range(num_layers):
        outs = []
        for direction in range(directions):
            k = layer * directions + direction
            state = tuple(m[k] for m in members) if isinstance(hx, tuple) else hx[k]
            ys = []
            for x_t in layer_input if direction == 0 else layer_input.flip(0):
                state = cell(x_t, state, *weights[k])
                ys.append(state[0] if isinstance(hx, tuple) else state)
            y = torch.stack(ys)
            outs.append(y if direction == 0 else y.flip(0))
            finals.append(state if isinstance(hx, tuple) else (state,))
        layer_input = boundary(torch.cat(outs, dim=2), layer == num_layers - 1)
    return [layer_input] + [torch.stack([f[j] for f in finals]) for j in range(len(members))]


def _dropped(ctx: Context, rate: float, training: bool, after_last: bool = False) -> torch.Tensor | None:
    """The failing output had the learner called F.dropout(out, rate, training) at every layer boundary (and after
    the last layer too): the same masks as the learner's, drawn after the seed the test fixed for the call."""
    if training and 0 < rate < 1 and ctx.seed is None:
        return None

    def boundary(out: torch.Tensor, last: bool) -> torch.Tensor:
        return out if last and not after_last else F.dropout(out, p=rate, training=training)

    device = ctx.value("x").device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if ctx.seed is not None:
            torch.manual_seed(ctx.seed)
        return _layers_with(ctx, boundary)[ctx.index]


def _dropout_asked(ctx: Context) -> tuple[float, bool]:
    return float(ctx.options.get("dropout", 0.0)), bool(ctx.options.get("training", False))


def _no_dropout(ctx: Context) -> torch.Tensor | None:
    rate, training = _dropout_asked(ctx)
    return _dropped(ctx, 0.0, False) if training and rate > 0 else None


def _fixed_rate(fixed: float) -> Callable[[Context], torch.Tensor | None]:
    def predict(ctx: Context) -> torch.Tensor | None:
        rate, training = _dropout_asked(ctx)
        return _dropped(ctx, fixed, training) if training and rate != fixed else None
    return predict


def _dropout_after_last(ctx: Context) -> torch.Tensor | None:
    rate, training = _dropout_asked(ctx)
    return _dropped(ctx, rate, training, after_last=True) if training and rate > 0 else None


def _dropout_in_eval(ctx: Context) -> torch.Tensor | None:
    rate, training = _dropout_asked(ctx)
    return _dropped(ctx, rate, True) if not training and rate > 0 else None


FIXED_RATES = (0.5, 0.1, 0.2, 0.3, 0.25)  # rates a learner may write in place of the `dropout` argument

DROPOUT = [
    Diagnosis("dropout_missing", _no_dropout,
              "it applies no dropout between layers: in training, every layer's output but the last goes through "
              "F.dropout(out, p=dropout, training=training) before it feeds the next layer.",
              "层与层之间没有做 dropout：训练时，除最后一层外，每一层的输出都要先经过 "
              "F.dropout(out, p=dropout, training=training) 再送入下一层。"),
    *(Diagnosis(f"dropout_fixed_{fixed}", _fixed_rate(fixed),
                f"it applies dropout at a fixed rate p={fixed}, whatever the dropout argument is: "
                "use F.dropout(out, p=dropout, training=training).",
                f"dropout 用了固定的比率 p={fixed}，不管参数 dropout 是多少："
                "请用 F.dropout(out, p=dropout, training=training)。")
      for fixed in FIXED_RATES),
    Diagnosis("dropout_after_last", _dropout_after_last,
              "it applies dropout after the last layer too; dropout goes only between layers, never on the output "
              "run_layers returns.",
              "最后一层之后也做了 dropout；dropout 只用于层与层之间，run_layers 返回的 output 不做 dropout。"),
    Diagnosis("dropout_in_eval", _dropout_in_eval,
              "it applies dropout even when training=False; in evaluation mode dropout does nothing: pass "
              "training=training to F.dropout.",
              "training=False 时也做了 dropout；评估模式下 dropout 不起作用：调用 F.dropout 时要传入 training=training。"),
]

RUN_LAYERS = [
    Diagnosis("backward_not_realigned", lambda ctx: _bidirectional_output(ctx, flip_backward=True),
              "the backward direction's outputs are in reverse time order: flip them back (y.flip(0)) before "
              "concatenating, so that output[t] holds both directions' states for time t.",
              "反向方向的输出仍是倒序的：拼接前先把它翻转回来（y.flip(0)），使 output[t] 是两个方向在时刻 t 的状态。",
              outputs=(0,)),
    Diagnosis("halves_swapped", lambda ctx: _bidirectional_output(ctx, swap=True),
              "output concatenates (backward, forward); torch.nn's order is torch.cat([forward, backward], dim=2).",
              "output 拼接成了 (反向, 正向)；torch.nn 的顺序是 torch.cat([正向, 反向], dim=2)。", outputs=(0,)),
    Diagnosis("both_unaligned_and_swapped", lambda ctx: _bidirectional_output(ctx, flip_backward=True, swap=True),
              "output concatenates (backward, forward), and the backward half is still in reverse time order.",
              "output 拼接成了 (反向, 正向)，而且反向的一半仍是倒序的。", outputs=(0,)),
    Diagnosis("h_c_swapped", _swapped_state,
              "the final states come back as (c_n, h_n); return (h_n, c_n), in the same structure as hx.",
              "最终状态返回成了 (c_n, h_n)；应与 hx 的结构一致，返回 (h_n, c_n)。", outputs=(1, 2)),
    *DROPOUT,
]


def _row_name(row: int, directions: int) -> tuple[str, str]:
    layer, direction = divmod(row, directions)
    if directions == 1:
        return f"layer {layer}", f"第 {layer} 层"
    return (f"layer {layer} {'forward' if direction == 0 else 'backward'}",
            f"第 {layer} 层{'正向' if direction == 0 else '反向'}")


def _h_n_rows(ctx: Context) -> Found | None:
    """h_n's rows are torch's rows in another order: say which row holds which."""
    if ctx.index == 0:
        return None
    got, want = ctx.got[ctx.index], ctx.want[ctx.index]
    rows = got.shape[0]
    found = []
    for r in range(rows):
        same = [j for j in range(rows) if _agree(got[r], want[j])]
        if len(same) != 1:
            return None
        found.append(same[0])
    if found == list(range(rows)) or sorted(found) != list(range(rows)):
        return None
    _, directions, _ = _layout(ctx)
    r = next(r for r in range(rows) if found[r] != r)
    here, there = _row_name(r, directions), _row_name(found[r], directions)
    return Found("h_n_row_order", f"the rows of the final state are in the wrong order: row {r} holds the state of {there[0]} "
            f"(it should be {here[0]}). Rows go layer by layer, forward before backward: index = layer * D + direction.",
            f"最终状态的行顺序错了：第 {r} 行放的是{there[1]}的状态（应为{here[1]}）。行按层排列、同层正向在前："
            "序号 = 层 * D + 方向。")


# --------------------------------------------------------------------------
# ex5
# --------------------------------------------------------------------------


def _sigmoid_prime(z: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(z) * torch.sigmoid(-z)  # = σ(z)(1 − σ(z))


SIGMOID_DERIVATIVE = [
    Diagnosis("sigma_itself", lambda ctx: torch.sigmoid(ctx.value("z")),
              "it returns σ(z) itself; the derivative is σ'(z) = σ(z)(1 − σ(z)).",
              "返回的是 σ(z) 本身；导数是 σ'(z) = σ(z)(1 − σ(z))。"),
    Diagnosis("formula_on_z", lambda ctx: ctx.value("z") * (1 - ctx.value("z")),
              "it computes z(1 − z); the formula s(1 − s) applies to s = σ(z), not to z.",
              "算成了 z(1 − z)；公式 s(1 − s) 中的 s 是 σ(z)，不是 z。"),
    Diagnosis("tanh_derivative", lambda ctx: 1 - torch.sigmoid(ctx.value("z")) ** 2,
              "it computes 1 − σ(z)², the form of tanh's derivative; σ'(z) = σ(z)(1 − σ(z)).",
              "算成了 1 − σ(z)²（这是 tanh 导数的形式）；σ'(z) = σ(z)(1 − σ(z))。"),
]


def _chain(ctx: Context, factor: Callable[[torch.Tensor], torch.Tensor], use_w: bool = True,
           reduce: Callable[[torch.Tensor], torch.Tensor] = torch.prod) -> torch.Tensor:
    z, w = ctx.value("z"), ctx.value("w")
    return reduce(factor(z) * w if use_w else factor(z))


CHAIN_GRADIENT = [
    Diagnosis("sigma_not_derivative", lambda ctx: _chain(ctx, torch.sigmoid),
              "it multiplies σ(z_i) · w_i; the chain rule needs the derivative, σ'(z_i) · w_i.",
              "乘的是 σ(z_i) · w_i；链式法则需要导数 σ'(z_i) · w_i。"),
    Diagnosis("no_weights", lambda ctx: _chain(ctx, _sigmoid_prime, use_w=False),
              "the weights are missing: D_n = ∏ σ'(z_i) · w_i.",
              "漏掉了权重：D_n = ∏ σ'(z_i) · w_i。"),
    Diagnosis("sum_not_product", lambda ctx: _chain(ctx, _sigmoid_prime, reduce=torch.sum),
              "it adds the factors; D_n is their product, ∏ σ'(z_i) · w_i (torch.prod).",
              "把各项加起来了；D_n 是它们的乘积 ∏ σ'(z_i) · w_i（torch.prod）。"),
    Diagnosis("quarter_bound", lambda ctx: _chain(ctx, lambda z: torch.full_like(z, 0.25)),
              "it uses the bound σ' ≤ 1/4 in place of σ'(z_i) itself.",
              "用上界 σ' ≤ 1/4 代替了 σ'(z_i) 本身。"),
]


def _jacobian(ctx: Context, order: str = "latest_left", transpose: bool = False, side: str = "left",
              derivative: Callable[[torch.Tensor], torch.Tensor] = lambda h: 1 - h * h,
              steps: slice = slice(None)) -> torch.Tensor:
    h_seq, w = ctx.value("h_seq"), ctx.value("weight_hh")
    w = w.T if transpose else w
    jac = torch.eye(w.shape[0], dtype=w.dtype, device=w.device)
    for h_k in h_seq[steps]:
        d = derivative(h_k)
        step = d[:, None] * w if side == "left" else w * d[None, :]
        jac = step @ jac if order == "latest_left" else jac @ step
    return jac


HIDDEN_JACOBIAN = [
    Diagnosis("order_reversed", lambda ctx: _jacobian(ctx, order="earliest_left"),
              "it multiplies in the wrong order: the latest step goes leftmost, "
              "∂h_T/∂h_0 = diag(1 − h_T²) W_hh · ... · diag(1 − h_1²) W_hh.",
              "乘法顺序反了：最近的一步在最左边，∂h_T/∂h_0 = diag(1 − h_T²) W_hh · ... · diag(1 − h_1²) W_hh。"),
    Diagnosis("weight_transposed", lambda ctx: _jacobian(ctx, transpose=True),
              "it uses W_hhᵀ; ∂h_k/∂h_{k-1} = diag(1 − h_k²) W_hh.",
              "用了 W_hhᵀ；∂h_k/∂h_{k-1} = diag(1 − h_k²) W_hh。"),
    Diagnosis("diag_on_right", lambda ctx: _jacobian(ctx, side="right"),
              "diag(1 − h_k²) multiplies W_hh from the right; it scales rows, from the left: diag(1 − h_k²) W_hh.",
              "diag(1 − h_k²) 乘在了 W_hh 的右边；它应从左边乘、缩放各行：diag(1 − h_k²) W_hh。"),
    Diagnosis("tanh_twice", lambda ctx: _jacobian(ctx, derivative=lambda h: 1 - torch.tanh(h) ** 2),
              "it computes 1 − tanh(h_k)²; h_k already is a tanh output, so the derivative is 1 − h_k².",
              "算成了 1 − tanh(h_k)²；h_k 本身已经是 tanh 的输出，导数应为 1 − h_k²。"),
    Diagnosis("one_step_short", lambda ctx: _jacobian(ctx, steps=slice(1, None)),
              "it leaves out the first step's factor: the product has T factors, k = T ... 1.",
              "漏掉了第一步的因子：乘积应有 T 个因子，k = T ... 1。"),
]


def _norms_scaled(ctx: Context) -> torch.Tensor | None:
    """torch's norms times the learner's first over torch's first (the match then checks the rest)."""
    got, want = ctx.got[0], ctx.want[0]
    factor = got[0] / want[0]
    return want * factor if bool(torch.isfinite(factor)) and not bool(torch.isclose(factor, torch.ones_like(factor))) else None


GRADIENT_NORMS = [
    Diagnosis("reversed", lambda ctx: ctx.want[0].flip(0),
              "the norms are in reverse order: element t−1 must be ‖∂L/∂h_t‖, h_1 first and h_T last.",
              "范数的顺序反了：第 t−1 个元素应为 ‖∂L/∂h_t‖，h_1 在前，h_T 在后。"),
    Diagnosis("scaled", _norms_scaled,
              "every norm is off by the same factor: L = h_T.sum() (not the mean), and take the 2-norm of the "
              "whole gradient ∂L/∂h_t, all of the batch together.",
              "每个范数都差同一个倍数：L = h_T.sum()（不是平均），并对整个梯度 ∂L/∂h_t（整个批次一起）取 2-范数。"),
]


def _clip_variant(ctx: Context, mode: str) -> list[torch.Tensor] | torch.Tensor:
    grads, max_norm = ctx.value("grads"), ctx.value("max_norm")
    total = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).to(grads[0].dtype)
    coef = max_norm / (total + 1e-6)
    if mode == "always":
        clipped = [g * coef for g in grads]
    elif mode == "per_tensor":
        clipped = [g * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads]
    elif mode == "no_eps":
        clipped = [g * torch.clamp(max_norm / total, max=1.0) for g in grads]
    elif mode == "clamp":
        clipped = [torch.clamp(g, -max_norm, max_norm) for g in grads]
    else:
        clipped = [g * min(1.0, float(coef)) for g in grads]
    if mode == "total_after":
        return torch.sqrt(sum((c ** 2).sum() for c in clipped))
    return clipped


def _clip_output(mode: str) -> Callable[[Context], torch.Tensor | None]:
    def predict(ctx: Context) -> torch.Tensor | None:
        count = len(ctx.value("grads"))
        if mode == "total_after":
            return _clip_variant(ctx, mode) if ctx.index == count else None
        return _clip_variant(ctx, mode)[ctx.index] if ctx.index < count else None
    return predict


CLIP_GRAD_NORM = [
    Diagnosis("always_scales", _clip_output("always"),
              "it scales even when the total norm is within max_norm; scale only when total > max_norm.",
              "总范数没有超过 max_norm 时也做了缩放；只有 total > max_norm 时才缩放。"),
    Diagnosis("per_tensor", _clip_output("per_tensor"),
              "it clips each tensor by its own norm; torch uses one total norm over all the tensors.",
              "按每个张量自己的范数分别裁剪；torch 用的是所有张量合起来的一个总范数。"),
    Diagnosis("total_after_clipping", _clip_output("total_after"),
              "total_norm is the norm after clipping; return the norm before clipping.",
              "total_norm 是裁剪之后的范数；应返回裁剪之前的范数。"),
    Diagnosis("eps_missing", _clip_output("no_eps"),
              "it scales by max_norm / total; torch scales by max_norm / (total + 1e-6).",
              "缩放系数用的是 max_norm / total；torch 用的是 max_norm / (total + 1e-6)。"),
    Diagnosis("clamp_values", _clip_output("clamp"),
              "it clamps each element to [−max_norm, max_norm]; clipping by norm scales every tensor by the same "
              "factor, max_norm / (total + 1e-6), when the total norm exceeds max_norm, so the direction is kept.",
              "把每个元素截断到 [−max_norm, max_norm]；按范数裁剪是在总范数超过 max_norm 时把每个张量都乘以同一个系数 "
              "max_norm / (total + 1e-6)，从而保持方向不变。"),
]

# --------------------------------------------------------------------------
# ex6: the four shapes of a sequence task (predictions run the judge's own torch.nn modules)
# --------------------------------------------------------------------------


def _hidden(state: Any) -> torch.Tensor:
    return state[0] if isinstance(state, tuple) else state


def _zeros_for_hx(ctx: Context) -> None:
    """None, the initial state of a learner who ignores hx; an error (no such mistake to make) when hx is None."""
    if ctx.value("hx") is None:
        raise ValueError("no initial state given")
    return None


def _directions(h_n: torch.Tensor, bidirectional: bool) -> tuple[int, int]:
    """(layers, directions) of an h_n."""
    directions = 2 if bidirectional else 1
    return h_n.shape[0] // directions, directions


def _rows(h_n: torch.Tensor, *rows: int) -> torch.Tensor:
    return torch.cat([h_n[r] for r in rows], dim=1)


def _features_first_layer(ctx: Context) -> torch.Tensor | None:
    h_n = ctx.value("h_n")
    layers, directions = _directions(h_n, ctx.value("bidirectional"))
    return _rows(h_n, *range(directions)) if layers > 1 else None


def _features_direction_major(ctx: Context) -> torch.Tensor | None:
    h_n = ctx.value("h_n")
    layers, directions = _directions(h_n, ctx.value("bidirectional"))
    return _rows(h_n, layers - 1, 2 * layers - 1) if directions == 2 and layers > 1 else None


def _bidirectional_rows(ctx: Context) -> torch.Tensor:
    """The last layer's (forward, backward) rows, (2, B, H); an error for a unidirectional h_n."""
    if not ctx.value("bidirectional"):
        raise ValueError("unidirectional")
    return ctx.value("h_n")[-2:]


def _features_all_layers(ctx: Context) -> torch.Tensor | None:
    h_n = ctx.value("h_n")
    return h_n.permute(1, 0, 2).reshape(h_n.shape[1], -1) if _directions(h_n, ctx.value("bidirectional"))[0] > 1 else None


FINAL_FEATURES = [
    Diagnosis("features_first_layer", _features_first_layer,
              "it takes the first layer's rows of h_n; the sequence vector comes from the last layer, rows "
              "(L-1)*D ... L*D-1 (h_n[-D:]).",
              "取的是 h_n 中第一层的行；句子向量来自最后一层，即第 (L-1)*D ... L*D-1 行（h_n[-D:]）。"),
    Diagnosis("features_direction_major", _features_direction_major,
              "it reads h_n as if all forward rows came first (direction-major: rows L-1 and 2L-1); torch.nn "
              "orders them layer-major, row = layer * D + direction, so the last layer is h_n[-2] (forward) and "
              "h_n[-1] (backward).",
              "把 h_n 当成了所有正向的行在前（按方向排列：第 L-1 行和第 2L-1 行）；torch.nn 按层排列，"
              "行号 = 层 * D + 方向，所以最后一层是 h_n[-2]（正向）和 h_n[-1]（反向）。"),
    Diagnosis("features_swapped", lambda ctx: torch.cat([_bidirectional_rows(ctx)[1], _bidirectional_rows(ctx)[0]], 1),
              "it concatenates (backward, forward); the order is forward first: torch.cat([h_n[-2], h_n[-1]], dim=1).",
              "拼接成了 (反向, 正向)；应当正向在前：torch.cat([h_n[-2], h_n[-1]], dim=1)。"),
    Diagnosis("features_reshaped", lambda ctx: _bidirectional_rows(ctx).reshape(ctx.value("h_n").shape[1], -1),
              "it reshapes h_n[-2:] (2, B, H) straight into (B, 2H), which mixes up batch elements; concatenate "
              "along the features instead: torch.cat([h_n[-2], h_n[-1]], dim=1).",
              "把 h_n[-2:]（形状 (2, B, H)）直接 reshape 成 (B, 2H)，这样会把不同样本混在一起；应沿特征维拼接："
              "torch.cat([h_n[-2], h_n[-1]], dim=1)。"),
    Diagnosis("features_last_row_only", lambda ctx: _bidirectional_rows(ctx)[1],
              "it returns h_n[-1] alone, which for a bidirectional module is only the backward direction; the "
              "forward direction's final state h_n[-2] goes first: torch.cat([h_n[-2], h_n[-1]], dim=1).",
              "只返回了 h_n[-1]，对双向模块来说那只是反向的状态；正向的最终状态 h_n[-2] 要放在前面："
              "torch.cat([h_n[-2], h_n[-1]], dim=1)。", shape=True),
    Diagnosis("features_forward_only", lambda ctx: _bidirectional_rows(ctx)[0],
              "it returns the forward direction's final state alone; for a bidirectional module the backward "
              "one (h_n[-1]) follows it: torch.cat([h_n[-2], h_n[-1]], dim=1).",
              "只返回了正向的最终状态；双向模块还要在它后面接上反向的状态（h_n[-1]）："
              "torch.cat([h_n[-2], h_n[-1]], dim=1)。", shape=True),
    Diagnosis("features_summed", lambda ctx: _bidirectional_rows(ctx).sum(0),
              "it adds the two directions; they are concatenated, (B, 2H): torch.cat([h_n[-2], h_n[-1]], dim=1).",
              "把两个方向相加了；应当拼接成 (B, 2H)：torch.cat([h_n[-2], h_n[-1]], dim=1)。", shape=True),
    Diagnosis("features_all_layers", _features_all_layers,
              "it concatenates the rows of every layer; only the last layer's rows make the sequence vector.",
              "把所有层的行都拼接起来了；句子向量只用最后一层的行。", shape=True),
]

HX_IGNORED = ("it ignores hx: the module starts from zeros. Pass the initial state on: rnn(x, hx).",
              "忽略了 hx：模块从全零状态开始。请把初始状态传进去：rnn(x, hx)。")


def _tag_steps_with(ctx: Context, hx: Any = None, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    output, _ = ctx.value("rnn")(ctx.value("x"), hx)
    return ctx.value("head")(output) if reduce is None else ctx.value("head")(reduce(output)).expand_as(ctx.want[0])


TAG_STEPS = [
    Diagnosis("tag_hx_ignored", lambda ctx: _tag_steps_with(ctx, _zeros_for_hx(ctx)),
              *HX_IGNORED),
    Diagnosis("tag_last_step_everywhere",
              lambda ctx: _tag_steps_with(ctx, ctx.value("hx"), reduce=lambda output: output[-1]),
              "every step gets the last step's prediction; N vs N predicts from each step's own state: head(output).",
              "每一步得到的都是最后一步的预测；N vs N 要用每一步自己的状态来预测：head(output)。"),
]


def _classify_with(ctx: Context, hx: Any, features: Callable[[torch.Tensor, Any, bool], torch.Tensor]) -> torch.Tensor:
    rnn = ctx.value("rnn")
    output, state = rnn(ctx.value("x"), hx)
    return ctx.value("head")(features(output, state, rnn.bidirectional))


def _cell_state_features(output: torch.Tensor, state: Any, bidirectional: bool) -> torch.Tensor:
    if not isinstance(state, tuple):
        raise ValueError("not an LSTM")
    return _reference_features(state[1], bidirectional)


def _reference_features(h_n: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    _, directions = _directions(h_n, bidirectional)
    return torch.cat([h_n[d - directions] for d in range(directions)], dim=1)


def _output_last(output: torch.Tensor, state: Any, bidirectional: bool) -> torch.Tensor:
    if not bidirectional:
        raise ValueError("output[-1] is right for one direction")
    return output[-1]


CLASSIFY_SEQUENCE = [
    Diagnosis("classify_output_last", lambda ctx: _classify_with(ctx, ctx.value("hx"), _output_last),
              "it uses output[-1]: its backward half is the backward direction after reading only x[T-1], not its "
              "final state. Take the final states from h_n: final_features(h_n, rnn.bidirectional).",
              "用了 output[-1]：它的反向一半是反向方向只读了 x[T-1] 之后的状态，不是反向的最终状态。请从 h_n 中取最终状态："
              "final_features(h_n, rnn.bidirectional)。"),
    Diagnosis("classify_cell_state", lambda ctx: _classify_with(ctx, ctx.value("hx"), _cell_state_features),
              "it uses the LSTM's cell state c_n; the sequence vector is the hidden state h_n, the first member of "
              "(h_n, c_n).",
              "用了 LSTM 的细胞状态 c_n；句子向量来自隐藏状态 h_n，即 (h_n, c_n) 的第一个元素。"),
    Diagnosis("classify_hx_ignored",
              lambda ctx: _classify_with(ctx, _zeros_for_hx(ctx),
                                         lambda output, state, bi: _reference_features(_hidden(state), bi)),
              *HX_IGNORED),
    Diagnosis("classify_mean_over_time",
              lambda ctx: _classify_with(ctx, ctx.value("hx"), lambda output, state, bi: output.mean(0)),
              "it averages output over time (mean pooling); here N vs 1 reads the last layer's final states: "
              "final_features(h_n, rnn.bidirectional).",
              "对 output 沿时间取了平均（平均池化）；这里的 N vs 1 要用最后一层的最终状态："
              "final_features(h_n, rnn.bidirectional)。"),
]


def _greedy(rnn: Any, embed: Any, head: Any, first_input: torch.Tensor, steps: int, hx: Any,
            feed_back: bool = True, carry: bool = True) -> torch.Tensor:
    """Greedy decoding, or one of its mistakes: the first input at every step, or every step from hx."""
    logits, step_input, state = [], first_input, hx
    for _ in range(steps):
        output, new_state = rnn(step_input.unsqueeze(0), state if carry else hx)
        state = new_state
        logits.append(head(output[0]))
        step_input = embed(logits[-1].argmax(dim=-1)) if feed_back else first_input
    return torch.stack(logits)


def _generate_with(ctx: Context, hx: Any = "given", **mistake: bool) -> torch.Tensor:
    return _greedy(ctx.value("rnn"), ctx.value("embedding"), ctx.value("head"), ctx.value("first_input"),
                   ctx.value("steps"), ctx.value("hx") if hx == "given" else hx, **mistake)


NO_FEEDBACK = ("every step reads the same first input: feed each step's prediction back, "
               "embedding(logits_t.argmax(dim=-1)), as the next step's input.",
               "每一步读入的都是同一个最初的输入：要把每一步的预测 embedding(logits_t.argmax(dim=-1)) 送回去，"
               "作为下一步的输入。")
STATE_RESET = ("every step starts again from the initial state: carry the state the module returns on to the next "
               "step.",
               "每一步都重新从初始状态开始：要把模块返回的状态传给下一步。")

GENERATE = [
    Diagnosis("generate_no_feedback", lambda ctx: _generate_with(ctx, feed_back=False), *NO_FEEDBACK),
    Diagnosis("generate_state_reset", lambda ctx: _generate_with(ctx, carry=False), *STATE_RESET),
    Diagnosis("generate_hx_ignored", lambda ctx: _generate_with(ctx, hx=_zeros_for_hx(ctx)),
              "it ignores hx: the first step starts from zeros. Pass hx to the module at the first step.",
              "忽略了 hx：第一步从全零状态开始。第一步调用模块时要传入 hx。"),
]


def _shift(ctx: Context, how: str) -> torch.Tensor:
    target, start = ctx.value("target"), ctx.value("start_token")
    if how == "left":
        return torch.cat([target[1:], torch.full_like(target[:1], start)])
    if how == "overwrite":
        return torch.cat([torch.full_like(target[:1], start), target[1:]])
    if how == "batch":
        return torch.cat([torch.full_like(target[:, :1], start), target[:, :-1]], dim=1)
    return torch.cat([torch.zeros_like(target[:1]), target[:-1]])


SHIFT_RIGHT = [
    Diagnosis("shift_missing", lambda ctx: ctx.value("target"),
              "it returns the target unshifted: at step t the decoder would read the very token it must predict. "
              "Put the start token first and drop the last token: [start, target[0], ..., target[M-2]].",
              "返回的目标序列没有移位：第 t 步解码器会读到它要预测的那个词。应把起始符放在最前，去掉最后一个词："
              "[start, target[0], ..., target[M-2]]。"),
    Diagnosis("shift_overwrites_first", lambda ctx: _shift(ctx, "overwrite"),
              "it writes the start token over target[0] and keeps target[1:]; every token must move one step later "
              "instead: [start, target[0], ..., target[M-2]] (target[:-1] after the start token).",
              "用起始符覆盖了 target[0]，保留了 target[1:]；应当让每个词都往后挪一步："
              "[start, target[0], ..., target[M-2]]（起始符后面接 target[:-1]）。"),
    Diagnosis("shift_left", lambda ctx: _shift(ctx, "left"),
              "it shifts the target left (target[1:], then the start token); teacher forcing shifts it right: "
              "the start token first, then target[:-1].",
              "把目标序列向左移了（target[1:] 再接起始符）；教师强制是向右移：起始符在前，后面是 target[:-1]。"),
    Diagnosis("shift_along_batch", lambda ctx: _shift(ctx, "batch"),
              "it shifts along the batch (dim 1); time is dim 0: torch.cat([start_row, target[:-1]], dim=0).",
              "沿批次维（第 1 维）移位了；时间是第 0 维：torch.cat([start_row, target[:-1]], dim=0)。"),
    Diagnosis("shift_start_token_missing", lambda ctx: _shift(ctx, "zeros"),
              "the first row is 0 instead of start_token: fill it with the start token, "
              "torch.full_like(target[:1], start_token).",
              "第一行是 0 而不是 start_token：请用起始符填充，torch.full_like(target[:1], start_token)。"),
]


def _seq2seq_with(ctx: Context, initial: str = "encoder", inputs: str = "shifted", greedy: bool | None = None,
                  **mistake: bool) -> torch.Tensor:
    """seq2seq with one mistake: the decoder's initial state ("encoder", "zeros", "h_only"), what it reads under
    teacher forcing ("shifted", "target"), greedy decoding whatever teacher_forcing says."""
    target, start = ctx.value("target"), ctx.value("start_token")
    embed, head, decoder = ctx.value("embedding"), ctx.value("head"), ctx.value("decoder")
    _, state = ctx.value("encoder")(ctx.value("source"))
    if initial == "zeros":
        state = None
    elif initial == "h_only":
        if not isinstance(state, tuple):
            raise ValueError("not an LSTM")
        state = (state[0], torch.zeros_like(state[1]))
    teacher_forcing = ctx.value("teacher_forcing") if greedy is None else not greedy
    if teacher_forcing:
        tokens = torch.cat([torch.full_like(target[:1], start), target[:-1]]) if inputs == "shifted" else target
        return head(decoder(embed(tokens), state)[0])
    first = embed(torch.full_like(target[0], start))
    return _greedy(decoder, embed, head, first, target.shape[0], state, **mistake)


def _in_mode(teacher_forcing: bool, predict: Callable[[Context], torch.Tensor]) -> Callable[[Context], torch.Tensor | None]:
    return lambda ctx: predict(ctx) if bool(ctx.value("teacher_forcing")) == teacher_forcing else None


SEQ2SEQ = [
    Diagnosis("seq2seq_not_initialised", lambda ctx: _seq2seq_with(ctx, initial="zeros"),
              "the decoder starts from zeros: the encoder's final state must be its initial state, "
              "decoder(inputs, state) with _, state = encoder(source).",
              "解码器从全零状态开始：编码器的最终状态必须作为它的初始状态，先 _, state = encoder(source)，"
              "再 decoder(inputs, state)。"),
    Diagnosis("seq2seq_cell_state_dropped", lambda ctx: _seq2seq_with(ctx, initial="h_only"),
              "the decoder gets the encoder's h_n but a zero cell state: pass the LSTM's whole state, (h_n, c_n).",
              "解码器拿到了编码器的 h_n，细胞状态却是零：要把 LSTM 的完整状态 (h_n, c_n) 一起传过去。"),
    Diagnosis("seq2seq_target_unshifted", _in_mode(True, lambda ctx: _seq2seq_with(ctx, inputs="target")),
              "under teacher forcing the decoder reads the target itself, so at step t it sees the token it must "
              "predict; it reads the target shifted right: shift_right(target, start_token).",
              "教师强制时解码器读入的是目标序列本身，第 t 步就看到了要预测的词；应读入右移一位的目标序列："
              "shift_right(target, start_token)。"),
    Diagnosis("seq2seq_target_at_inference", _in_mode(False, lambda ctx: _seq2seq_with(ctx, greedy=False)),
              "with teacher_forcing=False it still feeds the target; at inference the decoder reads its own "
              "predictions (generate), and the target gives only the length M.",
              "teacher_forcing=False 时仍然把目标序列喂给了解码器；推理时解码器读入的是它自己的预测（generate），"
              "目标序列只提供长度 M。"),
    Diagnosis("seq2seq_greedy_in_training", _in_mode(True, lambda ctx: _seq2seq_with(ctx, greedy=True)),
              "with teacher_forcing=True it decodes greedily; teacher forcing feeds the shifted target instead.",
              "teacher_forcing=True 时却做了贪心解码；教师强制应当喂入右移后的目标序列。"),
    Diagnosis("seq2seq_no_feedback", _in_mode(False, lambda ctx: _seq2seq_with(ctx, feed_back=False)), *NO_FEEDBACK),
    Diagnosis("seq2seq_state_reset", _in_mode(False, lambda ctx: _seq2seq_with(ctx, carry=False)),
              "every decoding step starts again from the encoder's state: carry the decoder's state on from step "
              "to step.",
              "每个解码步都重新从编码器的状态开始：解码器的状态要一步一步传下去。"),
]

TABLES: dict[str, list[Diagnosis]] = {
    "rnn_cell_concat": RNN_CELL_CONCAT, "rnn_layer": RNN_LAYER, "run_layers": RUN_LAYERS,
    "sigmoid_derivative": SIGMOID_DERIVATIVE, "chain_gradient": CHAIN_GRADIENT,
    "hidden_jacobian": HIDDEN_JACOBIAN, "gradient_norms": GRADIENT_NORMS, "clip_grad_norm": CLIP_GRAD_NORM,
    "tag_steps": TAG_STEPS, "final_features": FINAL_FEATURES, "classify_sequence": CLASSIFY_SEQUENCE,
    "generate": GENERATE, "shift_right": SHIFT_RIGHT, "seq2seq": SEQ2SEQ,
}
# Diagnoses that read the outputs' structure rather than predict a value.
STRUCTURAL: dict[str, list[Callable[[Context], Found | None]]] = {"run_layers": [_h_n_rows]}


# Probes, tried when no known mistake fits: the inputs to set to zero, and what it means when the
# learner's function then agrees with torch.
BIASES = ("bias_ih", "bias_hh")
PROBES: dict[str, list[tuple[str, tuple[str, ...], str, str]]] = {
    name: [("bias_probe", BIASES,
            "it is right when the biases are zero, so the mistake is in how b_ih and b_hh are added "
            "(each once, b_ih with the input part and b_hh with the hidden part).",
            "偏置为零时结果正确，所以错在 b_ih 和 b_hh 的加法上（各加一次，b_ih 属于输入部分，b_hh 属于隐藏部分）。"),
           ("state_probe", ("h", "state", "h0"),
            "it is right when the previous state is zero, so the mistake is in how the state enters "
            "(h W_hhᵀ, and for the LSTM the cell state c).",
            "上一时刻的状态为零时结果正确，所以错在状态参与计算的方式上（h W_hhᵀ，以及 LSTM 的细胞状态 c）。")]
    for name in ("rnn_cell", "rnn_layer", "lstm_gates", "lstm_cell", "gru_gates", "gru_cell")
}


def diagnose(ctx: Context, probe: Callable[[tuple[str, ...]], bool] | None = None) -> Found | None:
    """The sentence naming the mistake, or None when no known mistake fits.

    `probe(names)` says whether the learner's function agrees with torch once those inputs are zero.
    """
    for check in STRUCTURAL.get(ctx.function, []):
        found = _quietly(lambda: check(ctx))
        if found:
            return found
    if ctx.function in identify.IDENTIFY:
        found = _quietly(lambda: identified(ctx))
        if found:
            return found
    for entry in TABLES.get(ctx.function, []):
        if entry.shape or (entry.outputs is not None and ctx.index not in entry.outputs):
            continue
        predicted = _quietly(lambda: entry.predict(ctx))
        if predicted is not None and ctx.matches(predicted):
            return Found(entry.key, entry.en, entry.zh)
    for key, names, en, zh in PROBES.get(ctx.function, []) if probe else []:
        present = tuple(name for name in names if name in ctx.inputs)
        if present and probe(present):
            return Found(key, en, zh)
    return None


def diagnose_shape(ctx: Context) -> Found | None:
    """The mistake an output of the wrong shape is, among those that change the shape (`Diagnosis.shape`):
    the learner's output equals that mistake's prediction, shape and values."""
    got = ctx.got[ctx.index]
    for entry in TABLES.get(ctx.function, []):
        if not entry.shape or (entry.outputs is not None and ctx.index not in entry.outputs):
            continue
        predicted = _quietly(lambda: entry.predict(ctx))
        if isinstance(predicted, torch.Tensor) and predicted.shape == got.shape and _agree(got, predicted):
            return Found(entry.key, entry.en, entry.zh)
    return None


def identified(ctx: Context) -> Found | None:
    """The combination of deviations the learner's cell computes, when the failing output is explained by it."""
    if not _apart(ctx.got[ctx.index], ctx.want[ctx.index]):
        return None
    found = identify.IDENTIFY[ctx.function](ctx.inputs, ctx.options, ctx.got)
    if found is None or not found.keys or ctx.index not in found.explained:
        return None
    en, zh = deviations.describe(ctx.function, found.keys)
    if len(found.explained) < len(ctx.got):
        en += "; the other outputs differ in yet another way"
        zh += "；其余输出还有别的不同"
    return Found("+".join(found.keys), en + ".", zh + "。")


def _quietly(compute: Callable[[], Any]) -> Any:
    """A prediction that cannot be made for these inputs (shapes, None biases) simply does not fit."""
    try:
        with torch.no_grad():
            return compute()
    except (RuntimeError, TypeError, ValueError, IndexError, KeyError, AttributeError):
        return None


# --------------------------------------------------------------------------
# Where the difference starts, when no diagnosis fits
# --------------------------------------------------------------------------


def locate(ctx: Context, first: tuple[int, ...]) -> Found:
    """The first differing index read in the function's own terms: time step, direction, gate, h_n row."""
    name = ctx.function
    if name in ("rnn_layer", "run_layers") and ctx.index == 0 and len(first) == 3:
        t, _, column = first
        text_en, text_zh = f" at time step t={t}", f"在时间步 t={t}"
        if name == "run_layers" and ctx.value("bidirectional"):
            H = ctx.want[1].shape[-1]
            half = "forward" if column < H else "backward"
            text_en += f", in the {half} half (columns {'0' if column < H else H}..{H - 1 if column < H else 2 * H - 1})"
            text_zh += f"，{'正向' if column < H else '反向'}的一半"
        earlier = _agree(ctx.got[0][:t], ctx.want[0][:t]) if t else False
        if earlier:
            text_en += "; the earlier steps match"
            text_zh += "；之前的时间步都一致"
        return Found("", text_en, text_zh)
    if name == "run_layers" and ctx.index > 0 and len(first) == 3:
        _, directions, _ = _layout(ctx)
        row = _row_name(first[0], directions)
        return Found("", f" in row {first[0]} ({row[0]})", f"在第 {first[0]} 行（{row[1]}）")
    return Found("", "", "")
