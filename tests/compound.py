"""A catalog of compound, real-style submissions: cells written the way tutorials, textbooks and other
frameworks write them, two or three deviations from torch.nn at once, with the exact set of deviations
the hint must name.

`mistakes` is the set of keys the failing checks must carry (the report's "mistakes"); `en` / `zh` are
words each language's hint must contain, one per deviation. `tests` are the value checks that must fail
with that hint (for the gate functions: the gates the deviations change).
`CORRECT` holds unusual but correct implementations that keep full marks.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Compound:
    key: str
    file: str
    code: str
    tests: tuple[str, ...]
    mistakes: frozenset[str]
    en: tuple[str, ...]
    zh: tuple[str, ...]


def compound(key: str, file: str, code: str, tests: tuple[str, ...], mistakes: set[str],
             en: tuple[str, ...], zh: tuple[str, ...]) -> Compound:
    return Compound(key, file, code, tests, frozenset(mistakes), en, zh)


EX1, EX3, EX4 = "ex1_rnn_cell.py", "ex3_lstm.py", "ex4_gru.py"
TANH, RELU = ("ex1_rnn_cell::cell_tanh",), ("ex1_rnn_cell::cell_relu",)
LSTM_GATE_TESTS = {"i": "ex3_lstm::input_gate", "f": "ex3_lstm::forget_gate", "g": "ex3_lstm::cell_candidate",
                   "o": "ex3_lstm::output_gate"}
GRU_GATE_TESTS = {"r": "ex4_gru::reset_gate", "z": "ex4_gru::update_gate", "n": "ex4_gru::new_gate"}
LSTM_CELL, GRU_CELL = ("ex3_lstm::cell_values",), ("ex4_gru::cell_values",)


def lstm_gates(names: str) -> tuple[str, ...]:
    return tuple(LSTM_GATE_TESTS[n] for n in names)


def gru_gates(names: str) -> tuple[str, ...]:
    return tuple(GRU_GATE_TESTS[n] for n in names)


# Words for each deviation, in the hint's two languages.
BIAS_IH = ("adds b_ih but not b_hh", "只加了 b_ih")
BIAS_HH = ("adds b_hh but not b_ih", "只加了 b_hh")
NO_BIAS = ("leaves out both biases", "两个偏置 b_ih 和 b_hh 都没有加")
X_ONLY = ("the h W_hhᵀ term is missing", "缺少 h W_hhᵀ 这一项")
H_ONLY = ("the x W_ihᵀ term is missing", "缺少 x W_ihᵀ 这一项")
TRANSPOSE = ("instead of W_hhᵀ", "而不是 W_hhᵀ")


def order(read: str) -> tuple[str, str]:
    return f"row blocks as {', '.join(read)}", f"行块读成了 {'、'.join(read)}"


CATALOG: list[Compound] = [
    # ------------------------------------------------------------------ rnn_cell
    compound("numpy tutorial: W_hh untransposed, one bias", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    a = x @ weight_ih.T + h @ weight_hh
    if bias_ih is not None:
        a = a + bias_ih
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)
""", TANH, {"transpose:hh", "bias:ih_only"}, *zip(TRANSPOSE, BIAS_IH)),
    compound("logistic cell without biases", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    a = torch.mm(x, weight_ih.t()) + torch.mm(h, weight_hh.t())
    return torch.sigmoid(a) if nonlinearity == "tanh" else torch.relu(a)
""", TANH, {"act:h:sigmoid", "bias:none"}, ("applies sigmoid", NO_BIAS[0]), ("用了 sigmoid", NO_BIAS[1])),
    compound("relu everywhere, input bias only", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    z = x @ weight_ih.T + h @ weight_hh.T
    return torch.relu(z + bias_ih if bias_ih is not None else z)
""", TANH, {"act:h:relu", "bias:ih_only"}, ("applies relu although", BIAS_IH[0]), ("却用了 relu", BIAS_IH[1])),
    compound("pre-activation returned, W_hh untransposed", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    out = torch.matmul(x, weight_ih.T) + torch.matmul(h, weight_hh)
    if bias_ih is not None:
        out = out + bias_ih + bias_hh
    return out
""", TANH, {"act:h:none", "transpose:hh"}, ("without the nonlinearity", TRANSPOSE[0]), ("忘了套上激活函数", TRANSPOSE[1])),
    compound("tanh whatever is asked, hidden bias only", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    if bias_hh is not None:
        pre = pre + bias_hh
    return torch.tanh(pre)
""", RELU, {"act:h:tanh", "bias:hh_only"}, ("applies tanh although", BIAS_HH[0]), ("却用了 tanh", BIAS_HH[1])),
    compound("sigmoid, untransposed, no biases", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    return torch.sigmoid(x @ weight_ih.T + h @ weight_hh)
""", TANH, {"act:h:sigmoid", "transpose:hh", "bias:none"},
        ("applies sigmoid", TRANSPOSE[0], NO_BIAS[0]), ("用了 sigmoid", TRANSPOSE[1], NO_BIAS[1])),

    # ------------------------------------------------------------------ lstm_gates
    compound("TensorFlow's i, j, f, o with one Linear over [x, h]", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    W = torch.cat([weight_ih, weight_hh], dim=1)
    z = torch.cat([x, h], dim=1) @ W.T
    if bias_ih is not None:
        z = z + bias_ih
    i, j, f, o = torch.split(z, weight_hh.shape[1], dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(j), torch.sigmoid(o)
""", lstm_gates("ifgo"), {"order:igfo", "bias:ih_only"}, *zip(order("igfo"), BIAS_IH)),
    compound("i, f, o, g with activations placed by block, no biases", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = weight_hh.shape[1]
    z = x @ weight_ih.T + h @ weight_hh.T
    acts = torch.cat([torch.sigmoid(z[:, :2 * H]), torch.tanh(z[:, 2 * H:3 * H]), torch.sigmoid(z[:, 3 * H:])], 1)
    i, f, o, g = acts.chunk(4, 1)
    return i, f, g, o
""", lstm_gates("ifgo"), {"order:ifog", "act_by_block", "bias:none"},
        (order("ifog")[0], "activations follow the blocks", NO_BIAS[0]),
        (order("ifog")[1], "激活函数跟着 torch.nn 中块的位置走", NO_BIAS[1])),
    compound("Chainer's a, i, f, o, hidden bias only", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    lstm_in = x @ weight_ih.T + h @ weight_hh.T
    if bias_hh is not None:
        lstm_in = lstm_in + bias_hh
    a, i, f, o = lstm_in.chunk(4, dim=1)
    return i.sigmoid(), f.sigmoid(), a.tanh(), o.sigmoid()
""", lstm_gates("ifgo"), {"order:gifo", "bias:hh_only"}, *zip(order("gifo"), BIAS_HH)),
    compound("tanh for every gate, computed from h only", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    z = h @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i, f, g, o = torch.tanh(z).chunk(4, 1)
    return i, f, g, o
""", lstm_gates("ifgo"), {"act:i:tanh", "act:f:tanh", "act:o:tanh", "inputs:h_only"},
        ("i, f and o use tanh", H_ONLY[0]), ("i、f、o 用了 tanh", H_ONLY[1])),
    compound("f, i, g, o from x only", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    z = torch.nn.functional.linear(x, weight_ih, bias_ih)
    if bias_hh is not None:
        z = z + bias_hh
    f, i, g, o = z.chunk(4, -1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
""", lstm_gates("ifgo"), {"order:figo", "inputs:x_only"}, *zip(order("figo"), X_ONLY)),
    compound("sigmoid candidate, one bias per gate from b_ih", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    gates = []
    for k in range(4):
        rows = slice(k * H, (k + 1) * H)
        z = x @ weight_ih[rows].T + h @ weight_hh[rows].T
        if bias_ih is not None:
            z = z + bias_ih[rows]
        gates.append(torch.sigmoid(z))
    return tuple(gates)
""", lstm_gates("ifgo"), {"act:g:sigmoid", "bias:ih_only"}, ("g uses sigmoid", BIAS_IH[0]), ("g 用了 sigmoid", BIAS_IH[1])),

    # ------------------------------------------------------------------ lstm_cell (gates written inline)
    compound("TensorFlow cell: i, j, f, o and one bias", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    z = torch.cat([x, h], 1) @ torch.cat([weight_ih, weight_hh], 1).T
    if bias_ih is not None:
        z = z + bias_ih
    i, j, f, o = z.chunk(4, 1)
    new_c = c * torch.sigmoid(f) + torch.sigmoid(i) * torch.tanh(j)
    new_h = torch.tanh(new_c) * torch.sigmoid(o)
    return new_h, new_c
""", LSTM_CELL, {"order:igfo", "bias:ih_only"}, *zip(order("igfo"), BIAS_IH)),
    compound("no input gate, returns (c, h)", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    z = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i, f, g, o = z.chunk(4, 1)
    c_next = torch.sigmoid(f) * c + torch.tanh(g)
    h_next = torch.sigmoid(o) * torch.tanh(c_next)
    return c_next, h_next
""", LSTM_CELL, {"c:no_i", "return:c_h"}, ("missing the input gate", "return (h', c')"), ("少了输入门", "返回成了 (c', h')")),
    compound("gates swapped in c', no tanh in h'", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    z = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i, f, g, o = z.chunk(4, 1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_next = i * c + f * g
    return o * c_next, c_next
""", LSTM_CELL, {"c:i_f_swapped", "h:no_tanh"}, ("swaps the gates", "missing the tanh"), ("把两个门用反了", "少了 tanh")),
    compound("i, f, o, g by block, h' from the old c", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    H = h.shape[-1]
    z = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i = torch.sigmoid(z[:, :H])
    f = torch.sigmoid(z[:, H:2 * H])
    o = torch.tanh(z[:, 2 * H:3 * H])
    g = torch.sigmoid(z[:, 3 * H:])
    c_new = f * c + i * g
    return o * torch.tanh(c), c_new
""", LSTM_CELL, {"order:ifog", "act_by_block", "h:old_c"},
        (order("ifog")[0], "activations follow the blocks", "uses the old cell state"),
        (order("ifog")[1], "激活函数跟着", "用了旧的细胞状态")),
    compound("tanh gates, no forget gate", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    z = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i, f, g, o = torch.tanh(z).chunk(4, 1)
    c2 = c + i * g
    return o * torch.tanh(c2), c2
""", LSTM_CELL, {"act:i:tanh", "act:f:tanh", "act:o:tanh", "c:no_f"},
        ("use tanh", "missing the forget gate"), ("用了 tanh", "少了遗忘门")),
    compound("gates from x only, no biases, no output gate", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    gates = torch.einsum("bi,gi->bg", x, weight_ih)
    i, f, g, o = gates.chunk(4, 1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.tanh(c_next), c_next
""", LSTM_CELL, {"inputs:x_only", "bias:none", "h:no_o"},
        (X_ONLY[0], NO_BIAS[0], "missing the output gate"), (X_ONLY[1], NO_BIAS[1], "少了输出门")),
    compound("Chainer's a, i, f, o, returns (c, h), hidden bias only", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    z = x.matmul(weight_ih.t()) + h.matmul(weight_hh.t())
    if bias_hh is not None:
        z = z + bias_hh
    a, i, f, o = z.chunk(4, 1)
    c = torch.tanh(a) * torch.sigmoid(i) + torch.sigmoid(f) * c
    h = torch.sigmoid(o) * torch.tanh(c)
    return c, h
""", LSTM_CELL, {"order:gifo", "return:c_h", "bias:hh_only"},
        (order("gifo")[0], "return (h', c')", BIAS_HH[0]), (order("gifo")[1], "返回成了 (c', h')", BIAS_HH[1])),

    # ------------------------------------------------------------------ gru_gates
    compound("the paper's GRU: reset before the matmul, no b_hn", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    W_ir, W_iz, W_in = weight_ih.chunk(3)
    W_hr, W_hz, W_hn = weight_hh.chunk(3)
    b_ih = bias_ih if bias_ih is not None else x.new_zeros(3 * H)
    b_hh = bias_hh if bias_hh is not None else x.new_zeros(3 * H)
    r = torch.sigmoid(x @ W_ir.T + b_ih[:H] + h @ W_hr.T + b_hh[:H])
    z = torch.sigmoid(x @ W_iz.T + b_ih[H:2 * H] + h @ W_hz.T + b_hh[H:2 * H])
    n = torch.tanh(x @ W_in.T + b_ih[2 * H:] + (r * h) @ W_hn.T)
    return r, z, n
""", gru_gates("n"), {"reset:before_matmul", "b_hn:missing"},
        ("applies r to h before the matmul", "leaves out b_hn"), ("在矩阵乘法之前就把 r 作用到 h 上", "漏掉了 b_hn")),
    compound("Keras's z, r, h order, input bias only", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    xs = (x @ weight_ih.T + (bias_ih if bias_ih is not None else 0)).chunk(3, 1)
    hs = (h @ weight_hh.T).chunk(3, 1)
    z = torch.sigmoid(xs[0] + hs[0])
    r = torch.sigmoid(xs[1] + hs[1])
    n = torch.tanh(xs[2] + r * hs[2])
    return r, z, n
""", gru_gates("rzn"), {"order:zrn", "bias:ih_only"}, *zip(order("zrn"), BIAS_IH)),
    compound("no reset gate in n, no biases", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    xr, xz, xn = (x @ weight_ih.T).chunk(3, 1)
    hr, hz, hn = (h @ weight_hh.T).chunk(3, 1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    return r, z, torch.tanh(xn + hn)
""", gru_gates("rzn"), {"reset:missing", "bias:none"}, ("reset gate is missing from n", NO_BIAS[0]),
        ("n 中缺少重置门", NO_BIAS[1])),
    compound("z, r, n order with b_hn outside r", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    gx = x @ weight_ih.T + bias_ih
    gh = h @ weight_hh.T
    z = torch.sigmoid(gx[:, :H] + gh[:, :H] + bias_hh[:H])
    r = torch.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H] + bias_hh[H:2 * H])
    n = torch.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:] + bias_hh[2 * H:])
    return r, z, n
""", gru_gates("rzn"), {"order:zrn", "b_hn:outside_r"}, (order("zrn")[0], "r multiplies W_hn h but not b_hn"),
        (order("zrn")[1], "r 只乘了 W_hn h")),
    compound("sigmoid for n, gates from h only", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    hr, hz, hn = torch.nn.functional.linear(h, weight_hh, bias_hh).chunk(3, 1)
    br, bz, bn = bias_ih.chunk(3) if bias_ih is not None else (0, 0, 0)
    r = torch.sigmoid(br + hr)
    z = torch.sigmoid(bz + hz)
    n = torch.sigmoid(bn + r * hn)
    return r, z, n
""", gru_gates("rzn"), {"act:n:sigmoid", "inputs:h_only"}, ("n uses sigmoid", H_ONLY[0]), ("n 用了 sigmoid", H_ONLY[1])),
    compound("r, n, z order, reset before the matmul", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    rows = {"r": slice(0, H), "n": slice(H, 2 * H), "z": slice(2 * H, 3 * H)}
    def part(name, inp, w, b):
        out = inp @ w[rows[name]].T
        return out if b is None else out + b[rows[name]]
    r = torch.sigmoid(part("r", x, weight_ih, bias_ih) + part("r", h, weight_hh, bias_hh))
    z = torch.sigmoid(part("z", x, weight_ih, bias_ih) + part("z", h, weight_hh, bias_hh))
    n = torch.tanh(part("n", x, weight_ih, bias_ih) + part("n", r * h, weight_hh, bias_hh))
    return r, z, n
""", gru_gates("zn"), {"order:rnz", "reset:before_matmul"},
        (order("rnz")[0], "applies r to h before the matmul"), (order("rnz")[1], "在矩阵乘法之前就把 r 作用到 h 上")),

    # ------------------------------------------------------------------ gru_cell (gates written inline)
    compound("the paper's GRU: reset before the matmul, no b_hn, h' = (1 - z) h + z n", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    W_ir, W_iz, W_in = weight_ih.chunk(3)
    W_hr, W_hz, W_hn = weight_hh.chunk(3)
    b_ir, b_iz, b_in = bias_ih.chunk(3)
    b_hr, b_hz, _ = bias_hh.chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T)
    return (1 - z) * h + z * n
""", GRU_CELL, {"reset:before_matmul", "b_hn:missing", "update:swapped"},
        ("applies r to h before the matmul", "leaves out b_hn", "z and 1 − z are swapped"),
        ("在矩阵乘法之前就把 r 作用到 h 上", "漏掉了 b_hn", "z 与 1 − z 用反了")),
    compound("z, r, n order, z and 1 - z swapped, hidden bias only", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    xz, xr, xn = (x @ weight_ih.T).chunk(3, 1)
    hz, hr, hn = (h @ weight_hh.T + bias_hh).chunk(3, 1)
    z = torch.sigmoid(xz + hz)
    r = torch.sigmoid(xr + hr)
    n = torch.tanh(xn + r * hn)
    return z * n + (1 - z) * h
""", GRU_CELL, {"order:zrn", "update:swapped", "bias:hh_only"},
        (order("zrn")[0], "z and 1 − z are swapped", BIAS_HH[0]), (order("zrn")[1], "z 与 1 − z 用反了", BIAS_HH[1])),
    compound("h' = n, no biases", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    xr, xz, xn = (x @ weight_ih.T).chunk(3, 1)
    hr, hz, hn = (h @ weight_hh.T).chunk(3, 1)
    r = torch.sigmoid(xr + hr)
    n = torch.tanh(xn + r * hn)
    return n
""", GRU_CELL, {"update:n_only", "bias:none"}, ("h' = n leaves out the update gate", NO_BIAS[0]),
        ("h' = n 漏掉了更新门", NO_BIAS[1])),
    compound("no reset gate, z and 1 - z swapped", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gi = torch.nn.functional.linear(x, weight_ih, bias_ih)
    gh = torch.nn.functional.linear(h, weight_hh, bias_hh)
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + h_n)
    return z * n + (1 - z) * h
""", GRU_CELL, {"reset:missing", "update:swapped"}, ("reset gate is missing from n", "z and 1 − z are swapped"),
        ("n 中缺少重置门", "z 与 1 − z 用反了")),
    compound("b_hn outside r, z and 1 - z swapped", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    gi = x @ weight_ih.T + bias_ih
    gh = h @ weight_hh.T
    r = torch.sigmoid(gi[:, :H] + gh[:, :H] + bias_hh[:H])
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H] + bias_hh[H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:] + bias_hh[2 * H:])
    return z * n + (1 - z) * h
""", GRU_CELL, {"b_hn:outside_r", "update:swapped"}, ("r multiplies W_hn h but not b_hn", "z and 1 − z are swapped"),
        ("r 只乘了 W_hn h", "z 与 1 − z 用反了")),
    compound("gates from h only, sigmoid for n", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gh = (h @ weight_hh.T).chunk(3, 1)
    b = [bi + bh for bi, bh in zip(bias_ih.chunk(3), bias_hh.chunk(3))]
    r = torch.sigmoid(gh[0] + b[0])
    z = torch.sigmoid(gh[1] + b[1])
    n = torch.sigmoid(bias_ih.chunk(3)[2] + r * (gh[2] + bias_hh.chunk(3)[2]))
    return (1 - z) * n + z * h
""", GRU_CELL, {"inputs:h_only", "act:n:sigmoid"}, (H_ONLY[0], "n uses sigmoid"), (H_ONLY[1], "n 用了 sigmoid")),
    compound("r, n, z order, no b_hn, z and 1 - z swapped", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    gi = x @ weight_ih.T + bias_ih
    gh = h @ weight_hh.T + bias_hh
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, 2 * H:] + gh[:, 2 * H:])
    n = torch.tanh(gi[:, H:2 * H] + r * (h @ weight_hh[H:2 * H].T))
    return z * n + (1 - z) * h
""", GRU_CELL, {"order:rnz", "b_hn:missing", "update:swapped"},
        (order("rnz")[0], "leaves out b_hn", "z and 1 − z are swapped"), (order("rnz")[1], "漏掉了 b_hn", "z 与 1 − z 用反了")),
]


# Unusual but correct: class-based cells with a pair of nn.Linear, einsum, one concatenated weight,
# float64 inside and cast back.
CORRECT: dict[str, str] = {
    EX1: """
class _Cell(torch.nn.Module):
    def __init__(self, weight_ih, weight_hh, bias_ih, bias_hh):
        super().__init__()
        self.ih = torch.nn.Linear(weight_ih.shape[1], weight_ih.shape[0], bias=bias_ih is not None,
                                  dtype=weight_ih.dtype, device=weight_ih.device)
        self.hh = torch.nn.Linear(weight_hh.shape[1], weight_hh.shape[0], bias=bias_hh is not None,
                                  dtype=weight_hh.dtype, device=weight_hh.device)

    def forward(self, x, h, params):
        return torch.func.functional_call(self.ih, params[0], (x,)) + torch.func.functional_call(self.hh, params[1], (h,))


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    cell = _Cell(weight_ih, weight_hh, bias_ih, bias_hh)
    params = ({"weight": weight_ih} | ({"bias": bias_ih} if bias_ih is not None else {}),
              {"weight": weight_hh} | ({"bias": bias_hh} if bias_hh is not None else {}))
    pre = cell(x, h, params)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""",
    EX3: """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    xh = torch.cat([x, h], dim=1).double()
    w = torch.cat([weight_ih, weight_hh], dim=1).double()
    z = torch.einsum("bk,gk->bg", xh, w)
    if bias_ih is not None:
        z = z + (bias_ih + bias_hh).double()
    H = h.shape[1]
    i, f, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
    return tuple(t.to(x.dtype) for t in (torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)))


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    z = torch.einsum("bi,gi->bg", x, weight_ih) + torch.einsum("bh,gh->bg", h, weight_hh)
    if bias_ih is not None:
        z = z + bias_ih + bias_hh
    i, f, g, o = z.unflatten(1, (4, -1)).unbind(1)
    c_next = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
    return torch.sigmoid(o) * torch.tanh(c_next), c_next
""",
    EX4: """
class _GRU:
    def __init__(self, weight_ih, weight_hh, bias_ih, bias_hh):
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = weight_ih, weight_hh, bias_ih, bias_hh

    def parts(self, x, h):
        gi = torch.nn.functional.linear(x, self.w_ih, self.b_ih).chunk(3, 1)
        gh = torch.nn.functional.linear(h, self.w_hh, self.b_hh).chunk(3, 1)
        return gi, gh


def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    wide = [t if t is None else t.double() for t in (weight_ih, weight_hh, bias_ih, bias_hh)]
    (xr, xz, xn), (hr, hz, hn) = _GRU(*wide).parts(x.double(), h.double())
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return r.to(x.dtype), z.to(x.dtype), n.to(x.dtype)


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r, z, n = gru_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return torch.lerp(n, h, z)
""",
}
