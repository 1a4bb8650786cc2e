"""Hidden suite for ex6_sequence_tasks: N vs N, N vs 1, 1 vs N and N vs M, against compositions of torch.nn modules.

The learner's functions receive torch.nn modules (the sandbox rebuilds them from their weights) and must
return what the same modules, composed as each docstring says, return: values, and gradients with respect
to every input tensor (x, hx, first_input, source). Greedy decoding picks an argmax at every step: inputs
are drawn again until every step's best score leads the second by a clear margin, so that rounding in
another order can never pick another token.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch
from torch import nn

from grader.judge import oracle
from grader.judge.toolkit import (Inputs, Out, Settings, Text, expect_gradients, expect_same, graded, load_module)
from grader.sandbox import given

KINDS = {"RNN": given.GivenRNN, "LSTM": given.GivenLSTM, "GRU": given.GivenGRU}
LOGITS_T = Out("logits", "(T, B, C)")
LOGITS_B = Out("logits", "(B, C)")
LOGITS_M = Out("logits", "(M, B, C)")
MARGIN = 1e-2  # the least lead of the best score over the second, at every greedy step
# Draws until the margins are clear. A fresh draw of modules and inputs is clear in 55% to 90% of draws, by task
# (measured over 2000 seeds), so 200 draws that all fail have a chance below 1e-60.
DRAWS = 200


@pytest.fixture
def ex6(settings: Settings):
    return load_module(settings, "ex6_sequence_tasks")


@dataclass(frozen=True)
class Task:
    """One configuration: module kind, layers, directions, sizes, dtype, and whether an initial state is given."""

    kind: str
    layers: int
    bidirectional: bool
    dtype: torch.dtype
    hx: bool
    T: int = 5
    B: int = 3
    I: int = 4  # noqa: E741 - the notes' name for the input size
    H: int = 6
    C: int = 7
    E: int = 5
    M: int = 4

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def describe(self, sizes: str, more: Text | None = None) -> Text:
        """'[float64, LSTM, num_layers=2, bidirectional, T=5, B=3, ..., hx=given]'; `more` replaces the hx part."""
        kind = "float64" if self.dtype == torch.float64 else "float32"
        shape = f"{self.kind}, num_layers={self.layers}{', bidirectional' if self.bidirectional else ''}"
        values = ", ".join(f"{name}={getattr(self, name)}" for name in sizes.split())
        more = more or Text(f"hx={'given' if self.hx else 'None'}", f"hx={'给定' if self.hx else 'None'}")
        return Text(f"[{kind}, {shape}, {values}, {more.en}]", f"[{kind}，{shape}，{values}，{more.zh}]")


# Sizes differ from each other (and I from 2H), so that a swapped dimension shows up as a shape error.
STEP_TASKS = [
    Task("LSTM", 2, True, torch.float64, True),
    Task("GRU", 3, True, torch.float32, False, T=4, B=2, I=7, H=3, C=5),
    Task("RNN", 2, True, torch.float64, True, T=3, B=4, I=5, H=2, C=3),
    Task("GRU", 1, False, torch.float64, True),
    Task("LSTM", 2, False, torch.float32, False, T=4, B=2, I=7, H=3, C=5),
]
DECODER_TASKS = [
    Task("GRU", 2, False, torch.float64, True),
    Task("LSTM", 2, False, torch.float32, True, T=4, B=2, I=7, H=3, C=5, E=6, M=6),
    Task("RNN", 1, False, torch.float64, False, T=3, B=4, I=5, H=8, C=6, E=3, M=5),
    Task("LSTM", 1, False, torch.float64, False, T=6, B=2, I=3, H=4, C=5, E=2, M=3),
]
SEQ2SEQ_TASKS = [
    Task("LSTM", 2, False, torch.float64, False),
    Task("GRU", 1, False, torch.float32, False, T=4, B=2, I=7, H=3, C=5, E=6, M=6),
    Task("RNN", 2, False, torch.float64, False, T=3, B=4, I=5, H=8, C=6, E=3, M=5),
]


# --------------------------------------------------------------------------
# Modules and inputs
# --------------------------------------------------------------------------


def filled(module: nn.Module, make: Inputs, bound: float) -> nn.Module:
    """`module` with every parameter drawn from U(-bound, bound) by the test's generator (the same on every device)."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(make.uniform(*parameter.shape, low=-bound, high=bound, dtype=parameter.dtype))
    return module


def recurrent(make: Inputs, settings: Settings, task: Task, input_size: int) -> nn.RNNBase:
    module = KINDS[task.kind](input_size, task.H, task.layers, bidirectional=task.bidirectional,
                              device=settings.device, dtype=task.dtype)
    # Larger than torch's init (1/sqrt(H)), so that the states are far from linear in their inputs.
    return filled(module, make, 2 / math.sqrt(task.H))


def linear(make: Inputs, settings: Settings, task: Task, features: int) -> nn.Linear:
    return filled(nn.Linear(features, task.C, device=settings.device, dtype=task.dtype), make, 1.5)


def embedding(make: Inputs, settings: Settings, task: Task) -> nn.Embedding:
    return filled(nn.Embedding(task.C, task.E, device=settings.device, dtype=task.dtype), make, 1.5)


def state(make: Inputs, task: Task, rows: int) -> Any:
    """An initial state of `rows` rows, (h_0, c_0) for an LSTM; None when the task gives none."""
    if not task.hx:
        return None
    h0 = make.randn(rows, task.B, task.H, dtype=task.dtype)
    return (h0, make.randn(rows, task.B, task.H, dtype=task.dtype)) if task.kind == "LSTM" else h0


def tokens(make: Inputs, vocabulary: int, *shape: int) -> torch.Tensor:
    """Token ids in [0, vocabulary), torch.long."""
    return torch.randint(vocabulary, shape, generator=make.generator).to(make.device)


def clear_margins(logits: torch.Tensor) -> bool:
    """Whether every row's best score leads its second best by MARGIN (times the scores' size)."""
    top2 = logits.detach().double().topk(2, dim=-1).values
    size = max(1.0, float(logits.detach().abs().max()))
    return bool(((top2[..., 0] - top2[..., 1]) > MARGIN * size).all())


def drawn_until_clear(draw: Callable[[], dict[str, Any]], reference: Callable[..., torch.Tensor]) -> dict[str, Any]:
    """Modules and inputs drawn again (from the same generator: the same on every run of a seed) until greedy
    decoding is unambiguous at every step."""
    for _ in range(DRAWS):
        inputs = draw()
        with torch.no_grad():
            if clear_margins(reference(*inputs.values())):
                return inputs
    raise RuntimeError("no inputs with clear argmax margins")  # see DRAWS: never


# --------------------------------------------------------------------------
# N vs N
# --------------------------------------------------------------------------


def step_inputs(make: Inputs, settings: Settings, task: Task) -> dict[str, Any]:
    rnn = recurrent(make, settings, task, task.I)
    return {"rnn": rnn, "head": linear(make, settings, task, task.directions * task.H),
            "x": make.randn(task.T, task.B, task.I, dtype=task.dtype),
            "hx": state(make, task, task.layers * task.directions)}


STEP_SIZES = "T B I H C"


@graded(2, "tag_steps (N vs N) gives head(output) at every step, as torch.nn composes it",
        "tag_steps（N vs N）在每一步给出 head(output)，与 torch.nn 的组合一致")
def test_tag_steps(ex6, make, settings):
    for task in STEP_TASKS:
        expect_same("tag_steps", ex6.tag_steps, oracle.tag_steps, step_inputs(make, settings, task), LOGITS_T,
                    task.describe(STEP_SIZES), "torch.nn")


@graded(1, "tag_steps gradients (x, hx) match autograd", "tag_steps 的梯度（x、hx）与 autograd 一致")
def test_tag_steps_gradients(ex6, make, settings):
    for task in STEP_TASKS[:2]:
        expect_gradients("tag_steps", ex6.tag_steps, oracle.tag_steps, step_inputs(make, settings, task), LOGITS_T,
                         task.describe(STEP_SIZES), "torch.nn", make)


# --------------------------------------------------------------------------
# N vs 1
# --------------------------------------------------------------------------

FEATURES = Out("features", "(B, D*H)")
FEATURE_LAYOUTS = [(2, True), (3, True), (1, True), (2, False), (1, False)]


def feature_inputs(make: Inputs, layers: int, bidirectional: bool, dtype: torch.dtype) -> dict[str, Any]:
    B, H = 3, 4  # noqa: N806
    return {"h_n": make.randn(layers * (2 if bidirectional else 1), B, H, dtype=dtype), "bidirectional": bidirectional}


def feature_case(layers: int, bidirectional: bool, dtype: torch.dtype) -> Text:
    kind = "float64" if dtype == torch.float64 else "float32"
    rows = f"L={layers}, D={2 if bidirectional else 1}, B=3, H=4"
    return Text(f"[{kind}, {rows}]", f"[{kind}，{rows}]")


@graded(3, "final_features takes the last layer's forward and backward final states from h_n",
        "final_features 从 h_n 中取出最后一层正向与反向的最终状态")
def test_final_features(ex6, make):
    for n, (layers, bidirectional) in enumerate(FEATURE_LAYOUTS):
        dtype = (torch.float64, torch.float32)[n % 2]
        expect_same("final_features", ex6.final_features, oracle.final_features,
                    feature_inputs(make, layers, bidirectional, dtype), FEATURES,
                    feature_case(layers, bidirectional, dtype), "torch.nn's row order")


@graded(1, "final_features gradients match autograd", "final_features 的梯度与 autograd 一致")
def test_final_features_gradients(ex6, make):
    for layers, bidirectional in FEATURE_LAYOUTS[:2]:
        expect_gradients("final_features", ex6.final_features, oracle.final_features,
                         feature_inputs(make, layers, bidirectional, torch.float64), FEATURES,
                         feature_case(layers, bidirectional, torch.float64), "torch.nn's row order", make)


@graded(2, "classify_sequence (N vs 1) gives head(final_features(h_n)), as torch.nn composes it",
        "classify_sequence（N vs 1）给出 head(final_features(h_n))，与 torch.nn 的组合一致")
def test_classify_sequence(ex6, make, settings):
    for task in STEP_TASKS:
        expect_same("classify_sequence", ex6.classify_sequence, oracle.classify_sequence,
                    step_inputs(make, settings, task), LOGITS_B, task.describe(STEP_SIZES), "torch.nn")


@graded(1, "classify_sequence gradients (x, hx) match autograd", "classify_sequence 的梯度（x、hx）与 autograd 一致")
def test_classify_sequence_gradients(ex6, make, settings):
    for task in STEP_TASKS[:2]:
        expect_gradients("classify_sequence", ex6.classify_sequence, oracle.classify_sequence,
                         step_inputs(make, settings, task), LOGITS_B, task.describe(STEP_SIZES), "torch.nn", make)


# --------------------------------------------------------------------------
# 1 vs N
# --------------------------------------------------------------------------

DECODER_SIZES = "B E H C M"


def generate_inputs(make: Inputs, settings: Settings, task: Task) -> dict[str, Any]:
    def draw() -> dict[str, Any]:
        return {"rnn": recurrent(make, settings, task, task.E), "embedding": embedding(make, settings, task),
                "head": linear(make, settings, task, task.H),
                "first_input": make.randn(task.B, task.E, dtype=task.dtype), "steps": task.M,
                "hx": state(make, task, task.layers)}
    return drawn_until_clear(draw, oracle.generate)


@graded(2, "generate (1 vs N) feeds each step's argmax back through the embedding, carrying the state",
        "generate（1 vs N）把每一步 argmax 得到的词经词嵌入送回下一步，并把状态传下去")
def test_generate(ex6, make, settings):
    for task in DECODER_TASKS:
        expect_same("generate", ex6.generate, oracle.generate, generate_inputs(make, settings, task), LOGITS_M,
                    task.describe(DECODER_SIZES), "torch.nn")


@graded(1, "generate gradients (first_input, hx) match autograd", "generate 的梯度（first_input、hx）与 autograd 一致")
def test_generate_gradients(ex6, make, settings):
    for task in DECODER_TASKS[:2]:
        expect_gradients("generate", ex6.generate, oracle.generate, generate_inputs(make, settings, task), LOGITS_M,
                         task.describe(DECODER_SIZES), "torch.nn", make)


# --------------------------------------------------------------------------
# N vs M
# --------------------------------------------------------------------------


@graded(2, "shift_right puts the start token first and target[0..M-2] after it, along time",
        "shift_right 沿时间维把起始符放在最前，其后是 target[0..M-2]")
def test_shift_right(ex6, make):
    for M, B, C in ((5, 3, 7), (1, 4, 6), (6, 2, 9)):  # noqa: N806
        target = tokens(make, C, M, B)
        start = int(tokens(make, C - 1, 1)) + 1  # never 0, so that a row of zeros is not taken for the start token
        expect_same("shift_right", ex6.shift_right, oracle.shift_right, {"target": target, "start_token": start},
                    Out("inputs", "(M, B)"), Text(f"[M={M}, B={B}, start_token={start}]",
                                                  f"[M={M}，B={B}，start_token={start}]"), "the shifted target")


def seq2seq_inputs(make: Inputs, settings: Settings, task: Task, teacher_forcing: bool) -> dict[str, Any]:
    def draw() -> dict[str, Any]:
        return {"encoder": recurrent(make, settings, task, task.I), "decoder": recurrent(make, settings, task, task.E),
                "embedding": embedding(make, settings, task), "head": linear(make, settings, task, task.H),
                "source": make.randn(task.T, task.B, task.I, dtype=task.dtype),
                "target": tokens(make, task.C, task.M, task.B), "start_token": int(tokens(make, task.C, 1)),
                "teacher_forcing": teacher_forcing}
    return draw() if teacher_forcing else drawn_until_clear(draw, oracle.seq2seq)


SEQ2SEQ_SIZES = "T B I E H C M"


def seq2seq_case(task: Task, teacher_forcing: bool) -> Text:
    return task.describe(SEQ2SEQ_SIZES, Text(f"teacher_forcing={teacher_forcing}", f"teacher_forcing={teacher_forcing}"))


@graded(2, "seq2seq (N vs M) with teacher forcing: the encoder's state starts the decoder, which reads the "
        "shifted target", "seq2seq（N vs M）教师强制：编码器的状态作为解码器的初始状态，解码器读入右移后的目标序列")
def test_seq2seq_teacher_forcing(ex6, make, settings):
    for task in SEQ2SEQ_TASKS:
        expect_same("seq2seq", ex6.seq2seq, oracle.seq2seq, seq2seq_inputs(make, settings, task, True), LOGITS_M,
                    seq2seq_case(task, True), "torch.nn")


@graded(2, "seq2seq (N vs M) at inference: the decoder starts from the start token and reads its own predictions",
        "seq2seq（N vs M）推理：解码器从起始符开始，读入自己的预测")
def test_seq2seq_inference(ex6, make, settings):
    for task in SEQ2SEQ_TASKS:
        expect_same("seq2seq", ex6.seq2seq, oracle.seq2seq, seq2seq_inputs(make, settings, task, False), LOGITS_M,
                    seq2seq_case(task, False), "torch.nn")


@graded(1, "seq2seq gradients (source) match autograd, with and without teacher forcing",
        "seq2seq 的梯度（source）与 autograd 一致，有无教师强制都是")
def test_seq2seq_gradients(ex6, make, settings):
    for teacher_forcing in (True, False):
        task = SEQ2SEQ_TASKS[0]
        expect_gradients("seq2seq", ex6.seq2seq, oracle.seq2seq, seq2seq_inputs(make, settings, task, teacher_forcing),
                         LOGITS_M, seq2seq_case(task, teacher_forcing), "torch.nn", make)
