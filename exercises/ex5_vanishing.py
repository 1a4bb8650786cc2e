"""Exercise 5: vanishing and exploding gradients, and gradient clipping.

练习 5：梯度消失、梯度爆炸与梯度裁剪。

Guide: guides/en/ex5_vanishing.md
中文指南: guides/zh/ex5_vanishing.md

What this exercise teaches
--------------------------
Back-propagation multiplies one local derivative per layer (or per time
step). For a chain of sigmoid units the course notes simplify the gradient to

    D_n = σ'(z_1) w_1 · σ'(z_2) w_2 · ... · σ'(z_n) w_n

with σ'(z) = σ(z)(1 - σ(z)), which never exceeds 0.25 (its value at z = 0).
If every |w_i| is at most 1, each factor is at most 0.25 and D_n shrinks
at least as fast as 0.25^n: the gradient *vanishes* and early weights stop
learning. If the weights are large (|σ'(z_i) w_i| > 1), the product grows
exponentially: the gradient *explodes*, updates become huge and the loss can
turn into NaN.

An RNN is exactly such a chain through time: for a tanh RNN,
∂h_T/∂h_0 = ∏_{k=T..1} diag(1 - h_k²) W_hh, the same W_hh again and again.
Gradient clipping rescales the gradients whenever their total norm exceeds a
threshold; it tames explosions (it cannot fix vanishing, for which gated
cells such as LSTM and GRU help).

本练习的内容
------------
反向传播会把每一层（或每个时间步）的局部导数连乘起来。对于一串 sigmoid 单元，课程
笔记把梯度化简为 D_n = σ'(z_1) w_1 · σ'(z_2) w_2 · ... · σ'(z_n) w_n，其中
σ'(z) = σ(z)(1 - σ(z))，最大值只有 0.25（在 z = 0 处取得）。如果所有 |w_i| 都
不超过 1，每个因子都不超过 0.25，D_n 至少像 0.25^n 一样迅速变小：这就是梯度消失，
靠前的权重几乎得不到更新。反之，如果权重很大（|σ'(z_i) w_i| > 1），连乘会指数级
增长：这就是梯度爆炸，参数更新幅度过大，极端情况下会出现 NaN。

RNN 沿时间展开后正是这样一条链：对 tanh RNN，
∂h_T/∂h_0 = ∏_{k=T..1} diag(1 - h_k²) W_hh，同一个 W_hh 被反复相乘。梯度裁剪在
梯度总范数超过阈值时把所有梯度按比例缩小，可以抑制梯度爆炸，但解决不了梯度消失
（后者要靠 LSTM、GRU 这类门控单元来缓解）。

Rules / 规则
------------
* Do NOT call PyTorch's built-in recurrent modules or functions yourself
  (nn.RNN*, nn.LSTM*, nn.GRU*, torch.rnn_tanh, torch._VF, ...) and do not
  call ``torch.nn.utils.clip_grad_norm_``. The only exception:
  ``gradient_norms`` receives a cell module (``nn.RNNCell``, ``nn.GRUCell``
  or ``nn.LSTMCell``) as its argument, and calling *that* cell is the point.
  不要自己调用 PyTorch 内置的循环网络模块或函数（nn.RNN*、nn.LSTM*、nn.GRU*、
  torch.rnn_tanh、torch._VF 等），也不要调用 ``torch.nn.utils.clip_grad_norm_``。
  唯一的例外：``gradient_norms`` 的参数本身就是一个单元模块（``nn.RNNCell``、
  ``nn.GRUCell`` 或 ``nn.LSTMCell``），调用*这个*单元正是题目的要求。
* Stay differentiable and device/dtype agnostic (except where a docstring
  says otherwise): no in-place changes to inputs, no ``.detach()`` /
  ``.data``, no hard-coded device or dtype.
  除非文档另有说明，保持可微、不依赖设备和精度：不要原地修改输入，不要用
  ``.detach()`` / ``.data``，不要写死 device 或 dtype。

Shape letters / 形状记号: B = batch size 批大小, T = time steps 时间步数,
I = input size 输入特征维度, H = hidden size 隐藏状态维度, n = chain length 链长.

Check your work with ``python -m grader ex5``.
用 ``python -m grader ex5`` 检查你的实现。
"""

from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor


def sigmoid_derivative(z: Tensor) -> Tensor:
    """The derivative of the sigmoid, elementwise.

    Math::

        σ(z)  = 1 / (1 + exp(-z))
        σ'(z) = σ(z) * (1 - σ(z))        # always in [0, 0.25]

    Args:
        z: a tensor of any shape: the pre-activations.

    Returns:
        a tensor with the same shape as ``z``: σ'(z) at every element.

    English: evaluate the sigmoid once and reuse it; the result peaks at 0.25
    when z = 0 and tends to 0 for large |z|.

    中文：先算一次 sigmoid 再复用它；结果在 z = 0 处取得最大值 0.25，|z| 越大越
    接近 0。

    Hint / 提示: ``torch.sigmoid`` is numerically safe for large |z|.
    ``torch.sigmoid`` 在 |z| 很大时数值上也是稳定的。
    """
    # TODO
    raise NotImplementedError("sigmoid_derivative: not implemented yet / 尚未实现")


def chain_gradient(z: Tensor, w: Tensor) -> Tensor:
    """The notes' simplified gradient of a chain of n sigmoid units.

    Math::

        D_n = σ'(z_1) * w_1 * σ'(z_2) * w_2 * ... * σ'(z_n) * w_n = ∏_i σ'(z_i) * w_i

    Args:
        z: ``(n,)`` pre-activations z_1 .. z_n, n ≥ 1.
        w: ``(n,)`` weights w_1 .. w_n (same length as ``z``).

    Returns:
        a 0-dim tensor: D_n.

    English: multiply the n local factors σ'(z_i) w_i together. Try
    z = zeros and w = ones: every factor is 0.25, so D_n = 0.25^n.

    中文：把 n 个局部因子 σ'(z_i) w_i 连乘起来。可以试试 z 全为 0、w 全为 1：
    每个因子都是 0.25，所以 D_n = 0.25^n。

    Hint / 提示: reuse ``sigmoid_derivative``; ``torch.prod`` multiplies all
    elements and returns a 0-dim tensor.
    复用 ``sigmoid_derivative``；``torch.prod`` 会把所有元素相乘并返回 0 维张量。
    """
    # TODO
    raise NotImplementedError("chain_gradient: not implemented yet / 尚未实现")


def hidden_jacobian(h_seq: Tensor, weight_hh: Tensor) -> Tensor:
    """∂h_T/∂h_0 for a tanh RNN, from its hidden states.

    For h_k = tanh(x_k @ W_ih.T + b + h_{k-1} @ weight_hh.T) (one sequence,
    no batch), one step has the Jacobian ∂h_k/∂h_{k-1} = diag(1 - h_k²) @
    weight_hh, and the chain rule multiplies them, latest step leftmost.

    Math::

        J = diag(1 - h_T²) @ W_hh @ diag(1 - h_{T-1}²) @ W_hh @ ... @ diag(1 - h_1²) @ W_hh

        equivalently:  J = I;  for k = 1 .. T:  J = diag(1 - h_k²) @ W_hh @ J

    Args:
        h_seq: ``(T, H)`` the hidden states h_1 .. h_T of one sequence
            (h_seq[k-1] is h_k; h_0 is not included).
        weight_hh: ``(H, H)`` the hidden-to-hidden weights W_hh.

    Returns:
        ``(H, H)`` the Jacobian J with J[i, j] = ∂h_T[i] / ∂h_0[j].

    English: build the T one-step Jacobians and multiply them in the right
    order. Its norm shows how a change in h_0 reaches h_T: tiny means
    vanishing, huge means exploding.

    中文：构造 T 个单步雅可比矩阵并按正确顺序相乘。它的范数反映了 h_0 的变化能多大
    程度地传到 h_T：很小表示梯度消失，很大表示梯度爆炸。

    Hint / 提示: ``diag(d) @ W`` equals ``d[:, None] * W`` (scales row i by
    d[i]); start from an identity matrix with weight_hh's dtype and device.
    ``diag(d) @ W`` 等于 ``d[:, None] * W``（第 i 行乘以 d[i]）；从一个与
    weight_hh 相同 dtype 和 device 的单位矩阵开始。
    """
    # TODO
    raise NotImplementedError("hidden_jacobian: not implemented yet / 尚未实现")


def gradient_norms(
    cell: torch.nn.Module,
    x: Tensor,
    state: Optional[Union[Tensor, Tuple[Tensor, Tensor]]] = None,
) -> Tensor:
    """How large the gradient is at every time step of a real cell.

    Run ``cell`` over ``x`` (h_0 = initial hidden state)::

        nn.RNNCell / nn.GRUCell:  h_t = cell(x[t-1], h_{t-1})
        nn.LSTMCell:              (h_t, c_t) = cell(x[t-1], (h_{t-1}, c_{t-1}))

    then, with the loss L = h_T.sum(),

    Math::

        norms[t-1] = ‖∂L/∂h_t‖_2     for t = 1 .. T

    where the 2-norm is taken over the whole ``(B, H)`` gradient tensor and
    ∂L/∂h_t is the gradient with respect to the tensor h_t produced at step t
    (for the LSTM this is h_t alone, not c_t).

    Args:
        cell: a ``torch.nn.RNNCell``, ``torch.nn.GRUCell`` or
            ``torch.nn.LSTMCell`` with input size I and hidden size H
            (``cell.hidden_size``).
        x: ``(T, B, I)`` the input sequence, time-major.
        state: the initial state: ``(B, H)`` h_0 for RNNCell/GRUCell, a tuple
            ``(h_0, c_0)`` of ``(B, H)`` for LSTMCell, or ``None`` for zeros
            (with ``x``'s dtype and device).

    Returns:
        ``(T,)`` the norms ‖∂L/∂h_1‖ .. ‖∂L/∂h_T‖, detached (no autograd
        graph). The last entry is always sqrt(B*H). With a plain RNN the
        entries for small t are typically far smaller (vanishing).

    English: keep every h_t you produce, build L from the last one and let
    autograd compute the gradient of L with respect to all of them at once.
    Only the returned norms must be free of the autograd graph.

    中文：把每一步产生的 h_t 都保存下来，用最后一个构造 L，再让 autograd 一次性算出
    L 对所有 h_t 的梯度。只有返回的范数需要脱离计算图。

    Hint / 提示: ``torch.autograd.grad(L, [h_1, ..., h_T])`` returns one
    gradient per h_t and leaves the cell's ``.grad`` fields untouched; the
    h_t must require grad (make sure of it even when the cell's parameters do
    not), and ``torch.linalg.vector_norm`` gives a 2-norm over all elements.
    ``torch.autograd.grad(L, [h_1, ..., h_T])`` 会为每个 h_t 返回一个梯度，而且不会
    改动单元参数的 ``.grad``；h_t 必须需要梯度（即使单元参数不需要梯度也要保证这一点），
    ``torch.linalg.vector_norm`` 可以对全部元素求 2-范数。
    """
    # TODO
    raise NotImplementedError("gradient_norms: not implemented yet / 尚未实现")


def clip_grad_norm(
    grads: Sequence[Tensor],
    max_norm: float,
) -> Tuple[List[Tensor], Tensor]:
    """Clip gradients by their total norm: ``torch.nn.utils.clip_grad_norm_``, without side effects.

    Math::

        total = sqrt(Σ_j ‖grads[j]‖_2²)              # one 2-norm over all tensors
        scale = max_norm / (total + 1e-6)   if total > max_norm   else 1
        clipped[j] = grads[j] * scale

    Args:
        grads: a list of gradient tensors of any shapes (all the same dtype
            and device).
        max_norm: the largest total norm allowed (a positive float).

    Returns:
        clipped_grads: a new list of tensors, same shapes as ``grads``; the
            inputs are never modified in place.
        total_norm: a 0-dim tensor, the total norm *before* clipping.

    English: measure all gradients together as one long vector; if that
    vector is too long, shrink every tensor by the same factor so the
    direction of the update is kept and only its length is capped.

    中文：把所有梯度当成一个长向量来计算范数；如果它太长，就把每个张量按同一比例缩小。
    这样更新的方向保持不变，只有长度被限制住。

    Hint / 提示: the total norm is the norm of the vector of per-tensor norms;
    ``torch.where`` lets you choose between ``scale`` and 1 without leaving
    tensor land.
    总范数等于“各张量范数组成的向量”的范数；用 ``torch.where`` 可以在 ``scale``
    和 1 之间选择，而不必转换成 Python 数。
    """
    # TODO
    raise NotImplementedError("clip_grad_norm: not implemented yet / 尚未实现")
