"""Exercise 2: stacking layers and running in both directions.

练习 2：多层堆叠与双向运行。

Guide: guides/en/ex2_rnn_layers.md
中文指南: guides/zh/ex2_rnn_layers.md

What this exercise teaches
--------------------------
``torch.nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` are all the same loop around a
different cell. You write that loop once, for any cell:

* Stacking (``num_layers = L``): layer 0 reads the input sequence x; layer
  k > 0 reads the sequence of outputs of layer k - 1. Every layer has its own
  weights and its own initial state.
* Bidirectional (``D = 2``): each layer runs a second cell, with its own
  weights, over the sequence in reverse time order (t = T .. 1). Its outputs
  are put back into the original time order and concatenated with the forward
  outputs, so at every step t the layer emits [forward_t, backward_t] of size
  2H. Inside the cell nothing changes: BiLSTM / BiGRU are just two LSTMs /
  GRUs reading the sequence in opposite directions.
* Dropout (``dropout = p``): during training only, dropout is applied to the
  output of every layer except the last one.

The two results serve different tasks:

* N vs N (one output per input step, e.g. tagging every word): use
  ``output (T, B, D*H)``, the top layer's hidden state at every step.
* N vs 1 (one output per sequence, e.g. classifying a sentence): use
  ``h_n (L*D, B, H)``, the final state of every layer and direction, e.g.
  ``h_n[-1]`` (or ``h_n[-2:]`` for both directions of the top layer).
  With one direction ``output[-1]`` equals ``h_n[-1]``; with two directions
  the backward half of ``output[-1]`` is the reverse cell's *first* step,
  not its final state.

本练习的内容
------------
``torch.nn.RNN``、``nn.LSTM``、``nn.GRU`` 本质上是同一个循环套在不同的单元外面。
这里你只需为任意单元写一次这个循环：

* 多层堆叠（``num_layers = L``）：第 0 层读入输入序列 x；第 k > 0 层读入第 k - 1
  层在每个时间步的输出。每一层都有自己的权重和初始状态。
* 双向（``D = 2``）：每层再用另一个单元（有独立的权重）按时间倒序
  （t = T .. 1）读一遍序列。把它的输出恢复到原来的时间顺序后，与正向输出在特征维
  拼接，于是每个时间步得到长度为 2H 的 [正向_t, 反向_t]。单元内部没有任何变化：
  BiLSTM / BiGRU 就是两个方向相反的 LSTM / GRU。
* Dropout（``dropout = p``）：只在训练时，对除最后一层以外每一层的输出做 dropout。

两个返回值用于不同任务：

* N vs N（每个输入步都要一个输出，例如给每个词打标签）：用
  ``output (T, B, D*H)``，即最顶层在每个时间步的隐藏状态。
* N vs 1（整条序列只要一个输出，例如句子分类）：用 ``h_n (L*D, B, H)``，即每层、
  每个方向的最终状态，例如 ``h_n[-1]``（双向时用 ``h_n[-2:]``）。单向时
  ``output[-1]`` 等于 ``h_n[-1]``；双向时 ``output[-1]`` 的反向部分是反向单元
  的*第一步*结果，而不是它的最终状态。

Rules / 规则
------------
* Do NOT call PyTorch's built-in recurrent modules or functions (nn.RNN*,
  nn.LSTM*, nn.GRU*, torch.rnn_tanh, torch.lstm, torch.gru, torch._VF, ...).
  Call the ``cell`` you are given; use plain tensor ops (``torch.stack``,
  ``torch.cat``, ``flip``) and ``torch.nn.functional.dropout``.
  不要调用 PyTorch 内置的循环网络模块或函数（nn.RNN*、nn.LSTM*、nn.GRU*、
  torch.rnn_tanh、torch.lstm、torch.gru、torch._VF 等）。调用传进来的 ``cell``，
  配合普通张量运算（``torch.stack``、``torch.cat``、``flip``）和
  ``torch.nn.functional.dropout`` 即可。
* Stay differentiable and device/dtype agnostic: no in-place writes into
  inputs, no ``.detach()`` / ``.data``, no hard-coded device or dtype.
  保持可微、不依赖设备和精度：不要原地修改输入，不要用 ``.detach()`` /
  ``.data``，不要写死 device 或 dtype。

Shape letters / 形状记号: B = batch size 批大小, T = time steps 时间步数,
I = input size 输入特征维度, H = hidden size 隐藏状态维度, L = number of
layers 层数, D = number of directions 方向数 (1, or 2 if bidirectional).

Once this wrapper and one cell work, the ready-made ``modules.RNN``,
``modules.LSTM`` and ``modules.GRU`` (including ``bidirectional=True``) work.
只要这个包装函数和任一单元正确，现成的 ``modules.RNN``、``modules.LSTM``、
``modules.GRU``（包括 ``bidirectional=True``）就能直接使用。

Check your work with ``python -m grader ex2``.
用 ``python -m grader ex2`` 检查你的实现。
"""

from typing import Callable, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

#: A recurrent state: a Tensor (RNN, GRU) or a tuple ``(h, c)`` (LSTM).
State = Union[Tensor, Tuple[Tensor, ...]]
#: ``cell(x_t, state, w_ih, w_hh, b_ih, b_hh) -> new state``
Cell = Callable[[Tensor, State, Tensor, Tensor, Optional[Tensor], Optional[Tensor]], State]
#: One ``(w_ih, w_hh, b_ih, b_hh)`` tuple per layer and direction.
Weights = Sequence[Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]]


def run_layers(
    cell: Cell,
    x: Tensor,
    hx: State,
    weights: Weights,
    num_layers: int,
    bidirectional: bool = False,
    dropout: float = 0.0,
    training: bool = False,
) -> Tuple[Tensor, State]:
    """Run a (multi-layer, optionally bidirectional) recurrent network.

    Math (row ``k = layer * D + direction``; direction 0 = forward,
    1 = reverse; ``inp`` is the input sequence of the current layer)::

        inp (layer 0)      = x
        inp (layer l > 0)  = dropout(out of layer l-1)        # training only
        forward:   s_t = cell(inp_t, s_{t-1}, *weights[k])    t = 1 .. T,  s_0     = hx[k]
        reverse:   s_t = cell(inp_t, s_{t+1}, *weights[k])    t = T .. 1,  s_{T+1} = hx[k]
        out_t      = cat([h(s_t) of forward, h(s_t) of reverse], dim=-1)     # (B, D*H)
        h_n[k]     = s_T (forward) or s_1 (reverse)
        output     = out of the last layer, stacked over t       # (T, B, D*H)

    ``h(s)`` is the state itself when it is a Tensor, or its first element
    when it is a tuple ``(h, c)``. When ``hx`` is a tuple, ``hx[k]`` above
    means the tuple of row k of every member, e.g. ``(h0[k], c0[k])``.

    Args:
        cell: ``cell(x_t, state, w_ih, w_hh, b_ih, b_hh) -> state`` computes
            one time step; ``x_t`` is ``(B, in_features)``, every state tensor
            is ``(B, H)``.
        x: ``(T, B, I)`` the input sequence, time-major.
        hx: initial states: a Tensor ``(L*D, B, H)`` (RNN, GRU) or a tuple of
            such Tensors, e.g. ``(h0, c0)`` (LSTM). Row ``k = layer * D +
            direction`` belongs to that layer and direction.
        weights: list of ``L*D`` tuples ``(w_ih, w_hh, b_ih, b_hh)`` in the
            same row order (layer-major, forward before reverse). Biases may
            be ``None``. Layer 0 has ``w_ih`` with I columns, deeper layers
            have ``D*H`` columns.
        num_layers: L, the number of stacked layers.
        bidirectional: if True, D = 2 and every layer also runs in reverse.
        dropout: probability p of zeroing an element of a layer's output
            before it feeds the next layer.
        training: dropout is applied only when this is True.

    Returns:
        output: ``(T, B, D*H)`` the top layer's output at every time step,
            ``cat(forward_t, backward_t)`` in the original time order.
        h_n: final states with the same structure as ``hx`` (a Tensor
            ``(L*D, B, H)`` or a tuple of them), rows layer-major and
            direction-minor: ``h_n[layer * D + direction]``.

    English: for each layer, run every direction over the layer's input,
    remember each direction's final state, concatenate the directions'
    outputs step by step and pass that on to the next layer.

    中文：对每一层，分别按各个方向跑完该层的输入序列，记下每个方向的最终状态，
    再把各方向在每个时间步的输出拼接起来，作为下一层的输入。

    Hint / 提示: ``isinstance(hx, tuple)`` tells you whether states are
    tuples; ``seq.flip(0)`` reverses time (flip the reverse outputs back
    before concatenating); call
    ``F.dropout(out, p=dropout, training=training)`` exactly once per layer
    boundary, on the concatenated ``(T, B, D*H)`` output, and never after the
    last layer.
    用 ``isinstance(hx, tuple)`` 判断状态是否为元组；``seq.flip(0)`` 可以把时间
    倒过来（拼接前记得把反向输出再翻转回来）；每个层与层之间只在拼接后的
    ``(T, B, D*H)`` 输出上调用一次 ``F.dropout(out, p=dropout, training=training)``，
    最后一层之后不要调用。
    """
    num_dirs = 2 if bidirectional else 1
    is_tuple = isinstance(hx, tuple)
    members = hx if is_tuple else (hx,)

    def initial_state(k: int) -> State:
        rows = tuple(m[k] for m in members)
        return rows if is_tuple else rows[0]

    final_states = []
    layer_input = x
    for layer in range(num_layers):
        direction_outputs = []
        for direction in range(num_dirs):
            k = layer * num_dirs + direction
            w_ih, w_hh, b_ih, b_hh = weights[k]
            seq = layer_input if direction == 0 else layer_input.flip(0)
            state = initial_state(k)
            ys = []
            for x_t in seq:
                state = cell(x_t, state, w_ih, w_hh, b_ih, b_hh)
                ys.append(state[0] if is_tuple else state)
            y = torch.stack(ys)
            direction_outputs.append(y if direction == 0 else y.flip(0))
            final_states.append(state)
        layer_output = torch.cat(direction_outputs, dim=2)
        if layer < num_layers - 1:
            layer_output = F.dropout(layer_output, p=dropout, training=training)
        layer_input = layer_output

    if is_tuple:
        h_n = tuple(
            torch.stack([s[j] for s in final_states]) for j in range(len(members))
        )
    else:
        h_n = torch.stack(final_states)
    return layer_input, h_n
