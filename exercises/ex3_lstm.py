"""Exercise 3: the LSTM cell and its gates.

练习 3：LSTM 单元及其门控结构。

Guide: guides/en/ex3_lstm.md
中文指南: guides/zh/ex3_lstm.md

What this exercise teaches
--------------------------
An LSTM (Long Short-Term Memory) cell carries two states from step to step:
the hidden state h (its output) and the cell state c (its long-term memory).
Four gates, each computed from [x_t, h_{t-1}], decide what happens to c:

* input gate i (sigmoid): how much of the new candidate to write;
* forget gate f (sigmoid): how much of the old memory c_{t-1} to keep;
* candidate g (tanh): the new content that could be written;
* output gate o (sigmoid): how much of tanh(c_t) to reveal as h_t.

The memory update c_t = f * c_{t-1} + i * g is *additive*, so gradients can
flow along c through many steps without being squashed at every step; this is
why an LSTM suffers far less from vanishing gradients than a plain RNN (it
reduces the problem, it does not remove it). The price is four times the
weights of a plain RNN cell and slower training.

A BiLSTM does not change the cell at all: it runs two LSTMs over the sequence
in opposite directions and concatenates their outputs at every step. Once
your ``lstm_cell`` and exercise 2 work, ``modules.LSTM(...,
bidirectional=True)`` is a working BiLSTM.

本练习的内容
------------
LSTM（长短时记忆网络）在时间步之间传递两个状态：隐藏状态 h（单元的输出）和细胞
状态 c（长期记忆）。四个由 [x_t, h_{t-1}] 计算出来的“门”决定 c 如何变化：

* 输入门 i（sigmoid）：新候选内容写入多少；
* 遗忘门 f（sigmoid）：旧记忆 c_{t-1} 保留多少；
* 候选内容 g（tanh）：可能被写入的新信息；
* 输出门 o（sigmoid）：tanh(c_t) 中有多少作为 h_t 输出。

记忆的更新 c_t = f * c_{t-1} + i * g 是“加法”形式，梯度可以沿着 c 穿过很多时间步
而不必每一步都被压缩，所以 LSTM 比传统 RNN 更能缓解梯度消失（只是缓解，不能根除）。
代价是参数量为普通 RNN 单元的四倍，训练也更慢。

BiLSTM 没有改动单元内部：它用两个 LSTM 按相反方向各读一遍序列，再把每个时间步的
两个输出拼接起来。只要你的 ``lstm_cell`` 和练习 2 正确，
``modules.LSTM(..., bidirectional=True)`` 就是一个可用的 BiLSTM。

Rules / 规则
------------
* Do NOT call PyTorch's built-in recurrent modules or functions (nn.LSTM,
  nn.LSTMCell, nn.RNN*, nn.GRU*, torch.lstm, torch.lstm_cell, torch._VF,
  ...). Use plain tensor ops: ``@``, ``torch.sigmoid``, ``torch.tanh``,
  ``chunk``.
  不要调用 PyTorch 内置的循环网络模块或函数（nn.LSTM、nn.LSTMCell、nn.RNN*、
  nn.GRU*、torch.lstm、torch.lstm_cell、torch._VF 等）。用普通张量运算即可：
  ``@``、``torch.sigmoid``、``torch.tanh``、``chunk``。
* Stay differentiable and device/dtype agnostic: no in-place changes to
  inputs, no ``.detach()`` / ``.data``, no hard-coded device or dtype.
  保持可微、不依赖设备和精度：不要原地修改输入，不要用 ``.detach()`` /
  ``.data``，不要写死 device 或 dtype。

Weight layout (as in ``torch.nn.LSTMCell``) / 权重布局（与 ``torch.nn.LSTMCell``
相同): ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)``,
``bias_hh (4H,)``; the four row blocks of H rows each are, in order,
i, f, g, o. 四个各含 H 行的行块依次是 i、f、g、o。

Shape letters / 形状记号: B = batch size 批大小, I = input size 输入特征维度,
H = hidden size 隐藏状态维度.

Check your work with ``python -m grader ex3``.
用 ``python -m grader ex3`` 检查你的实现。
"""

from typing import Optional, Tuple

import torch
from torch import Tensor


def lstm_gates(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Optional[Tensor] = None,
    bias_hh: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """The four activated LSTM gates for one time step.

    Math (``W_ii = weight_ih[0:H]``, ``W_if = weight_ih[H:2H]``,
    ``W_ig = weight_ih[2H:3H]``, ``W_io = weight_ih[3H:4H]``; the same row
    blocks for ``weight_hh``, ``bias_ih``, ``bias_hh``; a ``None`` bias is
    zero)::

        i = sigmoid(x @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
        f = sigmoid(x @ W_if.T + b_if + h @ W_hf.T + b_hf)
        g = tanh   (x @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
        o = sigmoid(x @ W_io.T + b_io + h @ W_ho.T + b_ho)

    Args:
        x: ``(B, I)`` input at the current time step (x_t).
        h: ``(B, H)`` hidden state from the previous step (h_{t-1}).
        weight_ih: ``(4H, I)`` input-to-hidden weights, row blocks i, f, g, o.
        weight_hh: ``(4H, H)`` hidden-to-hidden weights, row blocks i, f, g, o.
        bias_ih: ``(4H,)`` or ``None``.
        bias_hh: ``(4H,)`` or ``None``.

    Returns:
        i: ``(B, H)`` input gate, values in (0, 1).
        f: ``(B, H)`` forget gate, values in (0, 1).
        g: ``(B, H)`` candidate cell content, values in (-1, 1).
        o: ``(B, H)`` output gate, values in (0, 1).

    English: all four gates are the same kind of linear map, so compute them
    together as one ``(B, 4H)`` tensor, split it into four ``(B, H)`` parts and
    apply the right activation to each part.

    中文：四个门都是同样形式的线性变换，可以一次算出形状为 ``(B, 4H)`` 的张量，
    再切成四个 ``(B, H)`` 的部分，分别套上对应的激活函数。

    Hint / 提示: ``weight_ih.chunk(4, 0)`` gives the i, f, g, o row blocks;
    equally, ``t.chunk(4, 1)`` splits a ``(B, 4H)`` result into four gates.
    ``weight_ih.chunk(4, 0)`` 得到 i、f、g、o 四个行块；同理，
    ``t.chunk(4, 1)`` 可把 ``(B, 4H)`` 的结果切成四个门。
    """
    # TODO
    raise NotImplementedError("lstm_gates: not implemented yet / 尚未实现")


def lstm_cell(
    x: Tensor,
    state: Tuple[Tensor, Tensor],
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Optional[Tensor] = None,
    bias_hh: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    """One LSTM step, exactly what ``torch.nn.LSTMCell`` computes.

    Math (``i, f, g, o = lstm_gates(x, h, ...)``)::

        c' = f * c + i * g
        h' = o * tanh(c')

    Args:
        x: ``(B, I)`` input at the current time step (x_t).
        state: ``(h, c)``, both ``(B, H)``: the previous hidden state h_{t-1}
            and cell state c_{t-1}.
        weight_ih: ``(4H, I)`` input-to-hidden weights, row blocks i, f, g, o.
        weight_hh: ``(4H, H)`` hidden-to-hidden weights, row blocks i, f, g, o.
        bias_ih: ``(4H,)`` or ``None``.
        bias_hh: ``(4H,)`` or ``None``.

    Returns:
        ``(h', c')``, both ``(B, H)``: the new hidden state h_t and the new
        cell state c_t (in this order, like ``torch.nn.LSTMCell``).

    English: forget part of the old memory, write part of the candidate, then
    let the output gate decide how much of the squashed memory becomes h'.

    中文：先按遗忘门丢掉部分旧记忆，再按输入门写入部分候选内容，最后由输出门决定
    压缩后的记忆有多少成为新的 h'。

    Hint / 提示: unpack ``h, c = state`` and reuse ``lstm_gates``; ``*`` is
    the elementwise product ⊙.
    先 ``h, c = state`` 解包，再复用 ``lstm_gates``；``*`` 就是逐元素乘积 ⊙。
    """
    # TODO
    raise NotImplementedError("lstm_cell: not implemented yet / 尚未实现")
