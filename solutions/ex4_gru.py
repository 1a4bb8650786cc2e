"""Exercise 4: the GRU cell, with its update and reset gates.

练习 4：GRU 单元及其更新门与重置门。

Guide: guides/en/ex4_gru.md
中文指南: guides/zh/ex4_gru.md

What this exercise teaches
--------------------------
A GRU (Gated Recurrent Unit) is a lighter gated RNN: one state h, two gates,
three row blocks of weights instead of the LSTM's four.

* Reset gate r (sigmoid): how much of the old state may influence the new
  candidate n. With r near 0 the candidate ignores the past.
* Update gate z (sigmoid): how to mix old and new. The new state is
  h' = (1 - z) * n + z * h, so z near 1 copies the old state forward almost
  unchanged. Copying is what lets gradients survive long distances.

PyTorch (and cuDNN) apply r *after* the hidden-to-hidden product, so the
hidden bias b_hn sits inside: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
Like the LSTM, the GRU eases vanishing gradients but does not cure them, and
like every RNN it must run step by step (it cannot be parallelised over time).
A BiGRU is two GRUs run in opposite directions with their outputs
concatenated; ``modules.GRU(..., bidirectional=True)`` gives you one as soon
as this cell and exercise 2 work.

本练习的内容
------------
GRU（门控循环单元）是更轻量的门控 RNN：只有一个状态 h、两个门，权重分成三个行块，
而 LSTM 是四个。

* 重置门 r（sigmoid）：决定旧状态能在多大程度上影响新的候选状态 n。r 接近 0 时，
  候选状态几乎不看过去。
* 更新门 z（sigmoid）：决定新旧如何混合。新状态 h' = (1 - z) * n + z * h，
  z 接近 1 时旧状态几乎被原样复制到下一步；正是这种“复制”让梯度能传得更远。

PyTorch（以及 cuDNN）在隐藏层矩阵乘法*之后*才乘以 r，因此隐藏层偏置 b_hn 位于括号
内：n = tanh(W_in x + b_in + r * (W_hn h + b_hn))。与 LSTM 一样，GRU 只能缓解而
不能根除梯度消失；并且和所有 RNN 一样必须逐步计算，无法在时间维上并行。BiGRU 就是
两个方向相反的 GRU 并把输出拼接；只要本单元和练习 2 正确，
``modules.GRU(..., bidirectional=True)`` 就能直接使用。

Rules / 规则
------------
* Do NOT call PyTorch's built-in recurrent modules or functions (nn.GRU,
  nn.GRUCell, nn.RNN*, nn.LSTM*, torch.gru, torch.gru_cell, torch._VF, ...).
  Use plain tensor ops: ``@``, ``torch.sigmoid``, ``torch.tanh``, ``chunk``.
  不要调用 PyTorch 内置的循环网络模块或函数（nn.GRU、nn.GRUCell、nn.RNN*、
  nn.LSTM*、torch.gru、torch.gru_cell、torch._VF 等）。用普通张量运算即可：
  ``@``、``torch.sigmoid``、``torch.tanh``、``chunk``。
* Stay differentiable and device/dtype agnostic: no in-place changes to
  inputs, no ``.detach()`` / ``.data``, no hard-coded device or dtype.
  保持可微、不依赖设备和精度：不要原地修改输入，不要用 ``.detach()`` /
  ``.data``，不要写死 device 或 dtype。

Weight layout (as in ``torch.nn.GRUCell``) / 权重布局（与 ``torch.nn.GRUCell``
相同): ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``,
``bias_hh (3H,)``; the three row blocks of H rows each are, in order,
r, z, n. 三个各含 H 行的行块依次是 r、z、n。

Shape letters / 形状记号: B = batch size 批大小, I = input size 输入特征维度,
H = hidden size 隐藏状态维度.

Check your work with ``python -m grader ex4``.
用 ``python -m grader ex4`` 检查你的实现。
"""

from typing import Optional, Tuple

import torch
from torch import Tensor


def gru_gates(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Optional[Tensor] = None,
    bias_hh: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor, Tensor]:
    """The reset gate, update gate and candidate state of one GRU step.

    Math (``W_ir = weight_ih[0:H]``, ``W_iz = weight_ih[H:2H]``,
    ``W_in = weight_ih[2H:3H]``; the same row blocks for ``weight_hh``,
    ``bias_ih``, ``bias_hh``; a ``None`` bias is zero)::

        r = sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = tanh   (x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))

    Args:
        x: ``(B, I)`` input at the current time step (x_t).
        h: ``(B, H)`` hidden state from the previous step (h_{t-1}).
        weight_ih: ``(3H, I)`` input-to-hidden weights, row blocks r, z, n.
        weight_hh: ``(3H, H)`` hidden-to-hidden weights, row blocks r, z, n.
        bias_ih: ``(3H,)`` or ``None``.
        bias_hh: ``(3H,)`` or ``None``.

    Returns:
        r: ``(B, H)`` reset gate, values in (0, 1).
        z: ``(B, H)`` update gate, values in (0, 1).
        n: ``(B, H)`` candidate (new) state, values in (-1, 1).

    English: compute the input part and the hidden part separately (each
    ``(B, 3H)``), split both into r, z, n blocks, and combine them; only the
    n block is treated differently, because r scales its hidden part.

    中文：把输入部分和隐藏部分分别算出来（形状都是 ``(B, 3H)``），各自切成 r、z、n
    三块再组合；只有 n 块的处理方式不同，因为它的隐藏部分要先乘以 r。

    Hint / 提示: you cannot add the two ``(B, 3H)`` products before splitting
    (the n block needs r between them). When ``bias_hh`` is ``None`` the term
    is simply ``r * (h @ W_hn.T)``.
    不能在切分之前就把两个 ``(B, 3H)`` 的结果相加（n 块需要在两者之间乘 r）。
    ``bias_hh`` 为 ``None`` 时，这一项就是 ``r * (h @ W_hn.T)``。
    """
    gi = x @ weight_ih.T
    gh = h @ weight_hh.T
    if bias_ih is not None:
        gi = gi + bias_ih
    if bias_hh is not None:
        gh = gh + bias_hh
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return r, z, n


def gru_cell(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Optional[Tensor] = None,
    bias_hh: Optional[Tensor] = None,
) -> Tensor:
    """One GRU step, exactly what ``torch.nn.GRUCell`` computes.

    Math (``r, z, n = gru_gates(x, h, ...)``)::

        h' = (1 - z) * n + z * h

    Args:
        x: ``(B, I)`` input at the current time step (x_t).
        h: ``(B, H)`` hidden state from the previous step (h_{t-1}).
        weight_ih: ``(3H, I)`` input-to-hidden weights, row blocks r, z, n.
        weight_hh: ``(3H, H)`` hidden-to-hidden weights, row blocks r, z, n.
        bias_ih: ``(3H,)`` or ``None``.
        bias_hh: ``(3H,)`` or ``None``.

    Returns:
        ``(B, H)`` the new hidden state h' (= h_t).

    English: the update gate interpolates between the candidate n and the old
    state h, element by element.

    中文：更新门在候选状态 n 与旧状态 h 之间逐元素地做插值。

    Hint / 提示: watch which side gets z: PyTorch multiplies the *old* state
    by z and the candidate by (1 - z).
    注意 z 乘在哪一边：PyTorch 用 z 乘*旧*状态，用 (1 - z) 乘候选状态。
    """
    r, z, n = gru_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return (1 - z) * n + z * h
