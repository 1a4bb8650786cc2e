"""The PyTorch pieces an exercise asks learners to write themselves, by name.

Shared by the judge's static scan (`grader.judge.forbidden`) and the sandbox's
run-time guard (`grader.sandbox.guards`). Plain data: importing it loads nothing.
"""
from __future__ import annotations

# Classes whose *call* (construction) is forbidden; isinstance(cell, nn.LSTMCell) stays allowed.
FORBIDDEN_CLASSES = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNNCellBase"}
# torch's recurrent kernels. The first group is forbidden wherever it is mentioned; the names
# of the second group are also the learner's own function names, so they count only when
# reached through torch (torch.lstm_cell, nn._VF.gru, `from torch import lstm`).
KERNELS_ANYWHERE = {"_VF", "_VariableFunctions", "_thnn_fused_lstm_cell", "_thnn_fused_gru_cell",
                    "rnn_tanh", "rnn_relu", "rnn_tanh_cell", "rnn_relu_cell"}
KERNELS_VIA_TORCH = {"lstm", "lstm_cell", "gru", "gru_cell"}
FORBIDDEN_KERNELS = KERNELS_ANYWHERE | KERNELS_VIA_TORCH
# What one exercise asks for besides the recurrent pieces.
FORBIDDEN_PER_FILE = {"ex5_vanishing.py": {"clip_grad_norm_", "clip_grad_norm"}}
