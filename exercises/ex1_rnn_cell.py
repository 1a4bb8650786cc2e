"""Exercise 1: the Elman RNN cell, and the cell unrolled over time.

练习 1：Elman RNN 单元，以及把它按时间展开。

Guide: guides/en/ex1_rnn_cell.md
中文指南: guides/zh/ex1_rnn_cell.md

What this exercise teaches
--------------------------
A plain ("vanilla") RNN reads a sequence one time step at a time. At step t
it glues the current input x_t and the previous hidden state h_{t-1} into one
vector [x_t, h_{t-1}], sends it through a single linear layer and squashes the
result with tanh::

    h_t = tanh(W [x_t, h_{t-1}] + b)

Because [x_t, h_{t-1}] has I + H entries, W has shape (H, I + H). PyTorch
stores the same W as two blocks, W = [weight_ih | weight_hh], and keeps two
bias vectors (bias_ih + bias_hh play the role of b). With a batch of row
vectors the formula becomes::

    h_t = tanh(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)

tanh keeps every hidden value inside (-1, 1). The *same* cell with the *same*
weights is applied at every step, and h_t is handed to step t + 1: this is
what "unrolling the cell over time" means.

本练习的内容
------------
普通 RNN 按时间步逐个读取序列。在第 t 步，它把当前输入 x_t 和上一步的隐藏状态
h_{t-1} 拼成一个向量 [x_t, h_{t-1}]，送进一个线性层，再用 tanh 把结果压到
(-1, 1) 之间：h_t = tanh(W [x_t, h_{t-1}] + b)。拼接后的向量长度为 I + H，
所以 W 的形状是 (H, I + H)。PyTorch 把这个 W 按列拆成 weight_ih 和 weight_hh
两块，并用 bias_ih + bias_hh 两个偏置代替 b。每个时间步都使用同一个单元、
同一组权重，h_t 再交给第 t + 1 步使用，这就是“按时间展开”。

Rules / 规则
------------
* Do NOT call PyTorch's built-in recurrent modules or functions (nn.RNN,
  nn.RNNCell, nn.LSTM*, nn.GRU*, torch.rnn_tanh, torch.rnn_relu, torch.lstm,
  torch._VF, ...). Plain tensor ops are all you need: ``@``, ``torch.tanh``,
  ``torch.relu``, ``torch.cat``, ``torch.stack``.
  不要调用 PyTorch 内置的循环网络模块或函数（nn.RNN、nn.RNNCell、nn.LSTM*、
  nn.GRU*、torch.rnn_tanh、torch.rnn_relu、torch.lstm、torch._VF 等）。
  用普通张量运算就够了：``@``、``torch.tanh``、``torch.relu``、``torch.cat``、
  ``torch.stack``。
* Stay differentiable and device/dtype agnostic: never modify an input in
  place, never use ``.detach()`` or ``.data``, and never create tensors on a
  fixed device or dtype (use ``x.new_zeros(...)``, ``torch.zeros_like(...)``).
  保持可微、且不依赖具体设备和精度：不要原地修改输入，不要用 ``.detach()`` 或
  ``.data``，新建张量时不要写死 device/dtype（用 ``x.new_zeros(...)``、
  ``torch.zeros_like(...)``）。

Shape letters / 形状记号: B = batch size 批大小, T = time steps 时间步数,
I = input size 输入特征维度, H = hidden size 隐藏状态维度.

Check your work with ``python -m grader ex1``.
用 ``python -m grader ex1`` 检查你的实现。
"""

from typing import Optional, Tuple

import torch
from torch import Tensor


def rnn_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Optional[Tensor] = None,
    bias_hh: Optional[Tensor] = None,
    nonlinearity: str = "tanh",
) -> Tensor:
    """One step of an Elman RNN, exactly what ``torch.nn.RNNCell`` computes.

    Math::

        h' = act(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)

    where ``act`` is ``torch.tanh`` for ``nonlinearity="tanh"`` and
    ``torch.relu`` for ``nonlinearity="relu"``. A bias that is ``None``
    counts as zero.

    Args:
        x: ``(B, I)`` input at the current time step (x_t).
        h: ``(B, H)`` hidden state from the previous step (h_{t-1}).
        weight_ih: ``(H, I)`` input-to-hidden weights.
        weight_hh: ``(H, H)`` hidden-to-hidden weights.
        bias_ih: ``(H,)`` input-to-hidden bias, or ``None``.
        bias_hh: ``(H,)`` hidden-to-hidden bias, or ``None``.
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.

    Returns:
        ``(B, H)`` the new hidden state h' (= h_t).

    Raises:
        ValueError: if ``nonlinearity`` is anything other than ``"tanh"`` or
            ``"relu"``; the message names the bad value and the allowed ones.

    English: mix the new input and the old memory with two matrix products,
    add the biases that are present, then apply the activation.

    中文：用两次矩阵乘法把当前输入和上一步的记忆混合起来，加上存在的偏置，
    再经过激活函数，就得到新的隐藏状态。

    Hint / 提示: validate ``nonlinearity`` before doing any math;
    ``x @ weight_ih.T`` already has shape (B, H), and a bias of shape (H,)
    broadcasts over the batch.
    先检查 ``nonlinearity`` 是否合法；``x @ weight_ih.T`` 的形状已是 (B, H)，
    形状为 (H,) 的偏置会自动在批维度上广播。
    """
    # TODO
    raise NotImplementedError("rnn_cell: not implemented yet / 尚未实现")


def rnn_cell_concat(
    x: Tensor,
    h: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
) -> Tensor:
    """The course notes' form of the same cell: one weight on the concatenation.

    Math::

        h' = tanh([x, h] @ weight.T + bias)      # [x, h] = torch.cat([x, h], dim=1)

    i.e. the notes' h_t = tanh(W [x_t, h_{t-1}] + b). The first I columns of
    ``weight`` act on x and the last H columns act on h, so this equals
    ``rnn_cell(x, h, weight[:, :I], weight[:, I:], bias, None)``.

    Args:
        x: ``(B, I)`` input at the current time step (x_t).
        h: ``(B, H)`` hidden state from the previous step (h_{t-1}).
        weight: ``(H, I + H)`` the single matrix W acting on [x, h].
        bias: ``(H,)`` the bias b, or ``None`` (treated as zero).

    Returns:
        ``(B, H)`` the new hidden state h'.

    English: concatenate input and hidden state along the feature dimension,
    apply one linear layer, then tanh.

    中文：先把输入和隐藏状态沿特征维度拼接成 (B, I + H)，再做一次线性变换，
    最后取 tanh。

    Hint / 提示: concatenate along dim=1 (features), not dim=0 (batch).
    沿 dim=1（特征维）拼接，而不是 dim=0（批维）。
    """
    # TODO
    raise NotImplementedError("rnn_cell_concat: not implemented yet / 尚未实现")


def rnn_layer(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Optional[Tensor] = None,
    bias_hh: Optional[Tensor] = None,
    nonlinearity: str = "tanh",
) -> Tuple[Tensor, Tensor]:
    """One RNN layer in one direction, unrolled over the whole sequence.

    Math::

        h_0 = h0
        h_t = rnn_cell(x[t-1], h_{t-1}, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
              for t = 1 .. T
        output = stack([h_1, ..., h_T])        h_n = h_T

    Args:
        x: ``(T, B, I)`` the input sequence, time-major (x[t] is one step).
        h0: ``(B, H)`` the initial hidden state.
        weight_ih: ``(H, I)`` input-to-hidden weights, shared by all steps.
        weight_hh: ``(H, H)`` hidden-to-hidden weights, shared by all steps.
        bias_ih: ``(H,)`` or ``None``.
        bias_hh: ``(H,)`` or ``None``.
        nonlinearity: ``"tanh"`` or ``"relu"`` (anything else: ValueError).

    Returns:
        output: ``(T, B, H)`` the hidden state after every step, h_1 .. h_T.
        h_n: ``(B, H)`` the hidden state after the last step, h_T
            (equal to ``output[-1]``).

    English: loop over time, feed each step's hidden state into the next step,
    and collect every hidden state.

    中文：沿时间维循环，把每一步得到的隐藏状态送入下一步，并把所有隐藏状态
    收集起来。

    Hint / 提示: reuse your ``rnn_cell``; keep the step results in a Python
    list and ``torch.stack`` them at the end (do not write into a
    pre-allocated tensor in place).
    复用你写的 ``rnn_cell``；把每一步的结果放进 Python 列表，最后用
    ``torch.stack`` 堆叠（不要原地写入预先分配好的张量）。
    """
    # TODO
    raise NotImplementedError("rnn_layer: not implemented yet / 尚未实现")
