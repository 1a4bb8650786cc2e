"""Exercise 6: the four shapes of a sequence task.

练习 6：序列任务的四种输入输出结构。

Guide: guides/en/ex6_sequence_tasks.md
中文指南: guides/zh/ex6_sequence_tasks.md

What this exercise teaches
--------------------------
The course notes sort recurrent networks by what goes in and what comes out:

* N vs N: one output per input step (tagging every word of a sentence).
  The recurrent module's ``output (T, B, D*H)`` goes through a head, step by
  step.
* N vs 1: one output per sequence (classifying a sentence). The sequence is
  summed up by the final hidden state of the *last* layer; for a
  bidirectional network that is the forward direction's state after the last
  step together with the backward direction's state after the *first* step.
* 1 vs N: one input, a generated sequence (a caption from an image vector,
  music from a seed). Each step's prediction is fed back as the next input.
* N vs M: an encoder reads N steps, a decoder writes M (translation). The
  encoder's final state is the decoder's initial state; in training the
  decoder reads the target shifted right by one (teacher forcing), at
  inference it reads its own predictions.

Here the recurrent modules, the embedding and the linear head are given to
you, already built (``torch.nn.RNN``, ``LSTM`` or ``GRU``, ``nn.Embedding``,
``nn.Linear``): this exercise is about shapes and about which state goes
where, not about the cells (those were exercises 1 to 4).

本练习的内容
------------
课程笔记按输入和输出的结构把循环网络分成四类：

* N vs N：每个输入步都有一个输出（给句子里的每个词打标签）。循环模块的
  ``output (T, B, D*H)`` 逐步送进一个输出层（head）。
* N vs 1：整个序列只有一个输出（句子分类）。用*最后一层*的最终隐藏状态概括整个
  序列；双向网络则是正向在最后一步之后的状态，加上反向在*第一步*之后的状态。
* 1 vs N：一个输入，生成一个序列（由图像向量生成描述、由一个种子生成音乐）。每一步的
  预测作为下一步的输入送回去。
* N vs M：编码器读入 N 步，解码器写出 M 步（机器翻译）。编码器的最终状态就是解码器的
  初始状态；训练时解码器读入右移一位的目标序列（teacher forcing，教师强制），推理时
  读入它自己的预测。

循环模块、词嵌入和线性输出层都已经建好并作为参数传给你（``torch.nn.RNN``、
``LSTM`` 或 ``GRU``，``nn.Embedding``，``nn.Linear``）：本练习关心的是形状，以及
哪个状态该送到哪里，而不是单元内部（那是练习 1 到 4 的内容）。

Rules / 规则
------------
* Call the modules you are given (``rnn(x, hx)``, ``head(y)``,
  ``embedding(tokens)``); do not build new recurrent modules
  (``nn.RNN(...)``, ``nn.LSTM(...)``, ...) or call torch's recurrent kernels.
  调用传给你的模块（``rnn(x, hx)``、``head(y)``、``embedding(tokens)``）；不要自己
  新建循环模块（``nn.RNN(...)``、``nn.LSTM(...)`` 等），也不要调用 torch 的循环内核。
* A recurrent module returns ``(output, h_n)`` (RNN, GRU) or
  ``(output, (h_n, c_n))`` (LSTM), and takes its initial state in the same
  structure (``None`` means zeros). Pass states along whole; you need not
  know which kind of module you were given, except where a docstring says so.
  循环模块返回 ``(output, h_n)``（RNN、GRU）或 ``(output, (h_n, c_n))``（LSTM），
  初始状态也用同样的结构传入（``None`` 表示全零）。状态要整体传递；除非文档另有
  说明，你不需要知道拿到的是哪一种模块。
* Stay differentiable and device/dtype agnostic: no in-place changes to
  inputs, no ``.detach()`` / ``.data``, no hard-coded device or dtype.
  保持可微、不依赖设备和精度：不要原地修改输入，不要用 ``.detach()`` / ``.data``，
  不要写死 device 或 dtype。

Shape letters / 形状记号: T = source steps 输入步数 (N in the notes),
M = output steps 输出步数, B = batch size 批大小, I = input size 输入特征维度,
E = embedding size 词向量维度, H = hidden size 隐藏状态维度, L = layers 层数,
D = directions 方向数 (2 if bidirectional else 1), C = classes or vocabulary
size 类别数或词表大小. Sequences are time-major: ``(T, B, features)``.

Check your work with ``python -m grader ex6``.
用 ``python -m grader ex6`` 检查你的实现。
"""

from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

State = Union[Tensor, Tuple[Tensor, Tensor]]


def tag_steps(rnn: nn.RNNBase, head: nn.Linear, x: Tensor, hx: Optional[State] = None) -> Tensor:
    """N vs N: one prediction per input step (sequence labelling).

    Math::

        output, _ = rnn(x, hx)          # output[t] = [h_t forward, h_t backward]
        logits[t] = head(output[t])     # for every t

    Args:
        rnn: a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (time-major, L layers,
            D directions, input size I, hidden size H).
        head: ``nn.Linear(D*H, C)``.
        x: ``(T, B, I)`` the input sequence.
        hx: the initial state, ``(L*D, B, H)`` or ``(h_0, c_0)`` for an LSTM,
            or ``None`` (zeros).

    Returns:
        ``(T, B, C)`` logits, one row of C scores per step and batch element.

    English: ``output`` already holds every step's state (both directions
    concatenated), and ``nn.Linear`` works on the last dimension of any
    tensor, so no loop over time is needed.

    中文：``output`` 已经包含了每一步的状态（两个方向已拼接好），而 ``nn.Linear``
    作用于任意张量的最后一维，所以不需要按时间循环。

    Hint / 提示: the final state ``h_n`` summarises the sequence; it is not
    what N vs N needs. 最终状态 ``h_n`` 概括的是整个序列，N vs N 需要的不是它。
    """
    output, _ = rnn(x, hx)
    return head(output)


def final_features(h_n: Tensor, bidirectional: bool) -> Tensor:
    """N vs 1, part 1: the vector that sums up a sequence, from ``h_n``.

    ``h_n`` holds one row per layer and direction, layer-major and
    direction-minor: row ``layer * D + direction`` (forward = 0, backward =
    1). The sequence vector is the last layer's row(s), forward first::

        D = 1:  features = h_n[L-1]
        D = 2:  features = [h_n[2(L-1)], h_n[2(L-1)+1]]   # concatenated per batch element

    Args:
        h_n: ``(L*D, B, H)`` the final hidden state of a recurrent module (for
            an LSTM: the ``h_n`` of ``(h_n, c_n)``).
        bidirectional: whether the module was bidirectional (D = 2).

    Returns:
        ``(B, D*H)``: for each batch element, the last layer's forward final
        state, then (when D = 2) its backward final state.

    English: the forward direction's final state comes after step T, the
    backward direction's after step 1 (it reads the sequence back to front):
    each has seen the whole sequence, which is why their concatenation is the
    usual sentence vector.

    中文：正向的最终状态在第 T 步之后，反向的最终状态在第 1 步之后（它从后往前读）：
    两者都看过了整个序列，所以把它们拼接起来就是常用的句子向量。

    Hint / 提示: ``h_n[-1]`` alone is only the backward direction when D = 2.
    ``torch.cat([a, b], dim=1)`` joins two ``(B, H)`` rows into ``(B, 2H)``;
    a reshape of ``h_n[-2:]`` mixes up batch elements.
    D = 2 时单独的 ``h_n[-1]`` 只是反向的状态。``torch.cat([a, b], dim=1)`` 把两个
    ``(B, H)`` 拼成 ``(B, 2H)``；直接对 ``h_n[-2:]`` 做 reshape 会把不同样本混在一起。
    """
    directions = 2 if bidirectional else 1
    return torch.cat([h_n[-directions + d] for d in range(directions)], dim=1)


def classify_sequence(rnn: nn.RNNBase, head: nn.Linear, x: Tensor, hx: Optional[State] = None) -> Tensor:
    """N vs 1, part 2: one prediction per sequence (sentence classification).

    Math::

        _, state = rnn(x, hx)                      # state = h_n, or (h_n, c_n) for an LSTM
        logits = head(final_features(h_n, rnn.bidirectional))

    Args:
        rnn: a ``torch.nn.RNN``, ``LSTM`` or ``GRU`` (time-major, L layers,
            D directions, input size I, hidden size H).
        head: ``nn.Linear(D*H, C)``.
        x: ``(T, B, I)`` the input sequence.
        hx: the initial state, ``(L*D, B, H)`` or ``(h_0, c_0)`` for an LSTM,
            or ``None`` (zeros).

    Returns:
        ``(B, C)`` logits, one row per sequence.

    English: use the final *hidden* state. An LSTM also returns its cell
    state ``c_n``, its internal memory: it is not the output.

    中文：用最终的*隐藏*状态。LSTM 还会返回细胞状态 ``c_n``，那是它内部的记忆，
    不是输出。

    Hint / 提示: ``output[-1]`` is the same as the last layer's final state
    only for a unidirectional module: its backward half is the backward
    direction after reading just x[T-1].
    只有单向模块的 ``output[-1]`` 才等于最后一层的最终状态：它的反向一半是反向方向
    只读了 x[T-1] 之后的状态。
    """
    _, state = rnn(x, hx)
    h_n = state[0] if isinstance(state, tuple) else state
    return head(final_features(h_n, rnn.bidirectional))


def generate(rnn: nn.RNNBase, embedding: nn.Embedding, head: nn.Linear, first_input: Tensor, steps: int,
             hx: Optional[State] = None) -> Tensor:
    """1 vs N: a sequence generated from one input vector, greedily.

    Math (``rnn`` is unidirectional, input size E, hidden size H)::

        input_1 = first_input
        for t = 1 .. M:
            output, state = rnn(input_t as a one-step sequence, state)   # state starts as hx
            logits_t = head(output[0])                                    # (B, C)
            input_{t+1} = embedding(argmax_c logits_t)                    # (B, E)

    Args:
        rnn: a unidirectional ``torch.nn.RNN``, ``LSTM`` or ``GRU`` with input
            size E.
        embedding: ``nn.Embedding(C, E)``: token -> input vector.
        head: ``nn.Linear(H, C)``: output -> one score per token.
        first_input: ``(B, E)`` the one input the sequence is generated from.
        steps: M, how many steps to generate (M ≥ 1).
        hx: the initial state, ``(L, B, H)`` or ``(h_0, c_0)`` for an LSTM, or
            ``None`` (zeros).

    Returns:
        ``(M, B, C)`` the logits of every generated step.

    English: a recurrent module takes a whole sequence, so one step is a
    sequence of length 1: ``input_t.unsqueeze(0)`` is ``(1, B, E)``. Carry
    the state from step to step, and feed back the token with the highest
    score (greedy decoding).

    中文：循环模块接收的是整段序列，所以单独一步就是长度为 1 的序列：
    ``input_t.unsqueeze(0)`` 的形状是 ``(1, B, E)``。状态要一步一步传下去，并把得分
    最高的词送回作为下一步的输入（贪心解码）。

    Hint / 提示: ``logits_t.argmax(dim=-1)`` gives ``(B,)`` token ids; argmax
    has no gradient, which is fine: the logits still depend on the input and
    the initial state. ``logits_t.argmax(dim=-1)`` 得到形状为 ``(B,)`` 的词编号；
    argmax 没有梯度，这没关系：logits 仍然依赖输入和初始状态。
    """
    logits, step_input, state = [], first_input, hx
    for _ in range(steps):
        output, state = rnn(step_input.unsqueeze(0), state)
        step_logits = head(output[0])
        logits.append(step_logits)
        step_input = embedding(step_logits.argmax(dim=-1))
    return torch.stack(logits)


def shift_right(target: Tensor, start_token: int) -> Tensor:
    """N vs M, part 1: the decoder's inputs under teacher forcing.

    At step t the decoder must predict ``target[t]`` having read the tokens
    before it, so its input is the previous target token, and at the first
    step the start token::

        inputs[0] = start_token
        inputs[t] = target[t-1]        for t = 1 .. M-1

    Args:
        target: ``(M, B)`` integer token ids (``torch.long``) of the target
            sequence.
        start_token: the id of the start-of-sequence token.

    Returns:
        ``(M, B)`` token ids, same dtype and device as ``target``.

    English: the target moves one step later in time: along dim 0, not along
    the batch.

    中文：目标序列在时间上往后挪一步：沿第 0 维（时间），不是沿批次维。

    Hint / 提示: ``torch.full_like(target[:1], start_token)`` is the first
    row. ``torch.full_like(target[:1], start_token)`` 就是第一行。
    """
    return torch.cat([torch.full_like(target[:1], start_token), target[:-1]], dim=0)


def seq2seq(encoder: nn.RNNBase, decoder: nn.RNNBase, embedding: nn.Embedding, head: nn.Linear, source: Tensor,
            target: Tensor, start_token: int, teacher_forcing: bool = True) -> Tensor:
    """N vs M: an encoder-decoder (translation).

    ``encoder`` and ``decoder`` are unidirectional modules of the same kind
    (both RNN, both LSTM or both GRU) with the same number of layers L and
    hidden size H, so the encoder's final state fits the decoder as it is::

        _, state = encoder(source)                          # N source steps
        teacher forcing:
            output, _ = decoder(embedding(shift_right(target, start_token)), state)
            logits = head(output)
        without (inference, greedy):
            logits = generate(decoder, embedding, head, embedding(start_token) for every batch element, M, state)

    Args:
        encoder: a unidirectional ``torch.nn.RNN``, ``LSTM`` or ``GRU``, input
            size I.
        decoder: a module of the same kind, L and H as ``encoder``, input
            size E.
        embedding: ``nn.Embedding(C, E)``: target token -> decoder input.
        head: ``nn.Linear(H, C)``: decoder output -> one score per token.
        source: ``(T, B, I)`` the source sequence.
        target: ``(M, B)`` integer token ids of the target sequence; without
            teacher forcing only its length M is used (it stays available for
            the loss), never its tokens.
        start_token: the id of the start-of-sequence token.
        teacher_forcing: read the shifted target (training) or the decoder's
            own predictions (inference).

    Returns:
        ``(M, B, C)`` the logits of every target step.

    English: the only link between the two halves is the encoder's final
    state, so it must reach the decoder whole (for an LSTM: both h_n and
    c_n). Reuse ``shift_right`` and ``generate``.

    中文：编码器和解码器之间唯一的联系就是编码器的最终状态，所以必须把它完整地交给
    解码器（LSTM 要同时交 h_n 和 c_n）。复用 ``shift_right`` 和 ``generate``。

    Hint / 提示: ``embedding(target.new_full((B,), start_token))`` gives the
    ``(B, E)`` first input at inference.
    推理时的第一个输入 ``(B, E)`` 可以写成 ``embedding(target.new_full((B,), start_token))``。
    """
    _, state = encoder(source)
    if teacher_forcing:
        output, _ = decoder(embedding(shift_right(target, start_token)), state)
        return head(output)
    start = embedding(target.new_full((target.shape[1],), start_token))
    return generate(decoder, embedding, head, start, target.shape[0], state)
