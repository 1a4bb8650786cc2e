"""Ready-made RNN, LSTM and GRU modules built from your exercises.

现成的 RNN、LSTM、GRU 模块，由你的练习代码拼装而成。

This file is complete: do NOT edit it. It is the glue between your functions
and the familiar ``torch.nn`` interface. ``RNN``, ``LSTM`` and ``GRU`` below
take ``torch.nn``'s constructor arguments, own parameters with ``torch.nn``'s
names and shapes (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), so
``load_state_dict`` works in both directions with ``torch.nn.RNN``/``LSTM``/
``GRU``, and their ``forward(input, hx=None)`` returns what ``torch.nn``
returns. The actual computation is yours: ``forward`` calls ``run_layers``
(exercise 2) with ``rnn_cell`` (exercise 1), ``lstm_cell`` (exercise 3) or
``gru_cell`` (exercise 4). As soon as ``run_layers`` and a cell are correct,
the matching module works, including the bidirectional versions:
``LSTM(..., bidirectional=True)`` is a BiLSTM and ``GRU(...,
bidirectional=True)`` a BiGRU, equivalent to ``torch.nn.LSTM(...,
bidirectional=True)`` and ``torch.nn.GRU(..., bidirectional=True)``.

本文件已经完整，请不要修改。它把你写的函数接到熟悉的 ``torch.nn`` 接口上：下面的
``RNN``、``LSTM``、``GRU`` 使用与 ``torch.nn`` 相同的构造参数，参数名和形状也相同
（``weight_ih_l0``、``bias_hh_l1_reverse`` 等），因此可以与 ``torch.nn.RNN`` /
``LSTM`` / ``GRU`` 互相 ``load_state_dict``；``forward(input, hx=None)`` 的返回值
也与 ``torch.nn`` 一致。真正的计算由你完成：``forward`` 会调用你的 ``run_layers``
（练习 2），并配合 ``rnn_cell``（练习 1）、``lstm_cell``（练习 3）或 ``gru_cell``
（练习 4）。只要 ``run_layers`` 和某个单元正确，对应的模块就能工作，双向版本也一样：
``LSTM(..., bidirectional=True)`` 就是 BiLSTM，``GRU(..., bidirectional=True)``
就是 BiGRU，分别等价于 ``torch.nn.LSTM(..., bidirectional=True)`` 和
``torch.nn.GRU(..., bidirectional=True)``。

Example / 示例::

    import torch
    from exercises.modules import LSTM

    lstm = LSTM(5, 6, num_layers=2, bidirectional=True)
    ref = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True)
    lstm.load_state_dict(ref.state_dict())
    x = torch.randn(7, 3, 5)                     # (T, B, I)
    output, (h_n, c_n) = lstm(x)                 # (7, 3, 12), (4, 3, 6), (4, 3, 6)

Not supported / 不支持: ``PackedSequence`` inputs and LSTM projections
(``proj_size > 0``).
"""

import functools
import math
import numbers
import warnings
from typing import Callable, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

__all__ = ["RNN", "LSTM", "GRU"]

_State = Union[Tensor, Tuple[Tensor, ...]]


class _RecurrentBase(nn.Module):
    """Shared parts of RNN, LSTM and GRU: parameters, checks and ``forward``."""

    #: Number of row blocks in every weight matrix: 1 (RNN), 4 (LSTM), 3 (GRU).
    _num_gates = 1
    #: Whether the recurrent state is a tuple ``(h, c)`` (LSTM) or one Tensor.
    _tuple_state = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the "
                "probability of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, "
                "so non-zero dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")

        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional

        factory = {"device": device, "dtype": dtype}
        num_dirs = 2 if bidirectional else 1
        gate_size = self._num_gates * hidden_size
        # Same registration order as torch.nn: layer-major, forward before
        # reverse, and w_ih, w_hh, b_ih, b_hh inside each (layer, direction).
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * num_dirs
            for direction in range(num_dirs):
                sfx = self._suffix(layer, direction)
                self.register_parameter(
                    "weight_ih" + sfx,
                    nn.Parameter(torch.empty(gate_size, layer_input_size, **factory)),
                )
                self.register_parameter(
                    "weight_hh" + sfx,
                    nn.Parameter(torch.empty(gate_size, hidden_size, **factory)),
                )
                if bias:
                    self.register_parameter(
                        "bias_ih" + sfx, nn.Parameter(torch.empty(gate_size, **factory))
                    )
                    self.register_parameter(
                        "bias_hh" + sfx, nn.Parameter(torch.empty(gate_size, **factory))
                    )
        self.reset_parameters()

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction == 1 else "")

    def reset_parameters(self) -> None:
        """torch.nn's init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op, kept for compatibility with code written for torch.nn."""

    def _weights(self) -> List[Tuple[Tensor, Tensor, Optional[Tensor], Optional[Tensor]]]:
        """``(w_ih, w_hh, b_ih, b_hh)`` per layer and direction, in run_layers' order."""
        weights = []
        for layer in range(self.num_layers):
            for direction in range(2 if self.bidirectional else 1):
                sfx = self._suffix(layer, direction)
                weights.append((
                    getattr(self, "weight_ih" + sfx),
                    getattr(self, "weight_hh" + sfx),
                    getattr(self, "bias_ih" + sfx) if self.bias else None,
                    getattr(self, "bias_hh" + sfx) if self.bias else None,
                ))
        return weights

    def _cell(self) -> Callable[..., _State]:
        """The learner's cell, as ``cell(x_t, state, w_ih, w_hh, b_ih, b_hh)``."""
        raise NotImplementedError

    def forward(self, input: Tensor, hx: Optional[_State] = None):
        """Run the network over ``input``; returns what ``torch.nn`` returns.

        Args:
            input: ``(T, B, I)``, or ``(B, T, I)`` if ``batch_first``, or an
                unbatched ``(T, I)``.
            hx: initial state, ``(L*D, B, H)`` (``(L*D, H)`` if unbatched);
                a tuple ``(h_0, c_0)`` of those for LSTM; ``None`` = zeros.

        Returns:
            RNN / GRU: ``(output, h_n)``; LSTM: ``(output, (h_n, c_n))``.
            ``output`` is ``(T, B, D*H)`` (``(B, T, D*H)`` if ``batch_first``,
            ``(T, D*H)`` if unbatched); every state is shaped like ``hx``.
        """
        from .ex2_rnn_layers import run_layers

        name = type(self).__name__
        if isinstance(input, nn.utils.rnn.PackedSequence):
            raise TypeError(f"{name}: PackedSequence input is not supported here")
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead"
            )
        is_batched = input.dim() == 3
        if not is_batched:
            input = input.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            input = input.transpose(0, 1)  # (B, T, I) -> (T, B, I)
        if input.size(-1) != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.size(-1)}"
            )

        num_states = 2 if self._tuple_state else 1
        expected = (
            self.num_layers * (2 if self.bidirectional else 1),
            input.size(1),
            self.hidden_size,
        )
        if hx is None:
            states = tuple(input.new_zeros(expected) for _ in range(num_states))
        else:
            if self._tuple_state != isinstance(hx, tuple):
                kind = "a tuple (h_0, c_0)" if self._tuple_state else "a single Tensor"
                raise TypeError(f"{name}: hx should be {kind}, got {type(hx).__name__}")
            states = tuple(hx) if self._tuple_state else (hx,)
            if len(states) != num_states:
                raise TypeError(f"{name}: hx should hold {num_states} tensors, got {len(states)}")
            want_dim = 3 if is_batched else 2
            for s in states:
                if s.dim() != want_dim:
                    raise RuntimeError(
                        f"For {'batched 3-D' if is_batched else 'unbatched 2-D'} input, "
                        f"hx should also be {want_dim}-D but got {s.dim()}-D tensor"
                    )
            if not is_batched:
                states = tuple(s.unsqueeze(1) for s in states)
            for s in states:
                if tuple(s.shape) != expected:
                    raise RuntimeError(
                        f"Expected hidden size {expected}, got {tuple(s.shape)}"
                    )

        output, h_n = run_layers(
            self._cell(),
            input,
            states if self._tuple_state else states[0],
            self._weights(),
            self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            training=self.training,
        )
        finals = tuple(h_n) if self._tuple_state else (h_n,)

        if not is_batched:
            output = output.squeeze(1)
            finals = tuple(s.squeeze(1) for s in finals)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (finals if self._tuple_state else finals[0])

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)


class RNN(_RecurrentBase):
    """Elman RNN (like ``torch.nn.RNN``), computed by your ``rnn_cell`` + ``run_layers``.

    h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh), act = tanh or relu.
    Parameters per layer k (and ``_reverse``): ``weight_ih_lk (H, I or D*H)``,
    ``weight_hh_lk (H, H)``, ``bias_ih_lk (H,)``, ``bias_hh_lk (H,)``.
    """

    _num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)

    def _cell(self) -> Callable[..., _State]:
        from .ex1_rnn_cell import rnn_cell

        return functools.partial(rnn_cell, nonlinearity=self.nonlinearity)


class LSTM(_RecurrentBase):
    """LSTM (like ``torch.nn.LSTM``), computed by your ``lstm_cell`` + ``run_layers``.

    ``forward`` returns ``(output, (h_n, c_n))``. Parameters per layer k (and
    ``_reverse``): ``weight_ih_lk (4H, I or D*H)``, ``weight_hh_lk (4H, H)``,
    ``bias_ih_lk (4H,)``, ``bias_hh_lk (4H,)``, row blocks i, f, g, o.
    ``bidirectional=True`` gives a BiLSTM.
    """

    _num_gates = 4
    _tuple_state = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        if proj_size != 0:
            raise ValueError("proj_size > 0 is not supported by this course module")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)

    def _cell(self) -> Callable[..., _State]:
        from .ex3_lstm import lstm_cell

        return lstm_cell


class GRU(_RecurrentBase):
    """GRU (like ``torch.nn.GRU``), computed by your ``gru_cell`` + ``run_layers``.

    Parameters per layer k (and ``_reverse``): ``weight_ih_lk (3H, I or D*H)``,
    ``weight_hh_lk (3H, H)``, ``bias_ih_lk (3H,)``, ``bias_hh_lk (3H,)``, row
    blocks r, z, n. ``bidirectional=True`` gives a BiGRU.
    """

    _num_gates = 3

    def _cell(self) -> Callable[..., _State]:
        from .ex4_gru import gru_cell

        return gru_cell
