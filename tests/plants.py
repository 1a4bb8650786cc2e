"""A catalog of learner mistakes, each a small variant of a reference solution, with the hint it must get.

A plant is code appended to a copy of the solutions' file (redefining a function). `test` is
the check that must fail, `en` / `zh` words its hint must contain in each language.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plant:
    key: str
    file: str
    code: str
    test: str
    en: str
    zh: str
    group: str = ""  # functions that call each other share a group; plants of one group are graded apart

    @property
    def home(self) -> str:
        """What two plants graded together must not share: the file, or within one file the group."""
        return f"{self.file}:{self.group}"


EX1, EX2, EX3, EX4, EX5 = ("ex1_rnn_cell.py", "ex2_rnn_layers.py", "ex3_lstm.py", "ex4_gru.py", "ex5_vanishing.py")
EX6 = "ex6_sequence_tasks.py"
# Exercise 6's functions that call each other: classify_sequence calls final_features, seq2seq calls shift_right
# and generate. Plants in different groups cannot mask each other.
N_VS_1, N_VS_M = "N vs 1", "N vs M"

RUN_LAYERS_HEAD = """
def run_layers(cell, x, hx, weights, num_layers, bidirectional=False, dropout=0.0, training=False):
    num_dirs = 2 if bidirectional else 1
    is_tuple = isinstance(hx, tuple)
    members = hx if is_tuple else (hx,)
    final_states, layer_input = [], x
    for layer in range(num_layers):
        outs = []
        for direction in range(num_dirs):
            k = layer * num_dirs + direction
            w_ih, w_hh, b_ih, b_hh = weights[k]
            seq = layer_input if direction == 0 else layer_input.flip(0)
            rows = tuple(m[k] for m in members)
            state = rows if is_tuple else rows[0]
            ys = []
            for x_t in seq:
                state = cell(x_t, state, w_ih, w_hh, b_ih, b_hh)
                ys.append(state[0] if is_tuple else state)
            y = torch.stack(ys)
"""


def run_layers_with(realign: str, concat: str, stack: str) -> str:
    return RUN_LAYERS_HEAD + f"""
            outs.append({realign})
            final_states.append(state)
        layer_input = {concat}
        if layer < num_layers - 1:
            layer_input = F.dropout(layer_input, p=dropout, training=training)
    if is_tuple:
        h_n = tuple(torch.stack({stack}) for j in range(len(members)))
    else:
        h_n = torch.stack({stack.replace('[j]', '')})
    return layer_input, h_n
"""


RIGHT_REALIGN, RIGHT_CONCAT = "y if direction == 0 else y.flip(0)", "torch.cat(outs, dim=2)"
RIGHT_STACK = "[s[j] for s in final_states]"

PLANTS: list[Plant] = [
    # --- ex1 ---------------------------------------------------------------------------------
    Plant("rnn_cell missing b_hh", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    act = {"tanh": torch.tanh, "relu": torch.relu}.get(nonlinearity)
    if act is None:
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    return act(pre if bias_ih is None else pre + bias_ih)
""", "ex1_rnn_cell::cell_tanh", "adds b_ih but not b_hh", "没有加 b_hh"),
    Plant("rnn_cell always tanh", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre)
""", "ex1_rnn_cell::cell_relu", "applies tanh although nonlinearity='relu'", "却用了 tanh"),
    Plant("rnn_cell without activation", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return pre
""", "ex1_rnn_cell::cell_tanh", "without the nonlinearity", "忘了套上激活函数"),
    Plant("rnn_cell ignores h", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""", "ex1_rnn_cell::cell_tanh", "h W_hhᵀ term is missing", "缺少 h W_hhᵀ"),
    Plant("rnn_cell W_hh not transposed", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih.T + h @ weight_hh
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""", "ex1_rnn_cell::cell_tanh", "instead of W_hhᵀ", "而不是 W_hhᵀ"),
    Plant("rnn_cell W_ih not transposed", EX1, """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = x @ weight_ih + h @ weight_hh.T
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
""", "ex1_rnn_cell::cell_tanh", "x @ weight_ih.T (B, G*H)", "x @ weight_ih.T (B, G*H)"),
    Plant("concat order [h, x]", EX1, """
def rnn_cell_concat(x, h, weight, bias=None):
    pre = torch.cat([h, x], dim=1) @ weight.T
    return torch.tanh(pre if bias is None else pre + bias)
""", "ex1_rnn_cell::concat_values", "concatenates [h, x]", "拼接成了 [h, x]"),
    Plant("rnn_layer output off by one", EX1, """
def rnn_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    h, outputs = h0, []
    for x_t in x:
        outputs.append(h)
        h = rnn_cell(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    return torch.stack(outputs), h
""", "ex1_rnn_cell::layer_values", "before step t", "第 t 步之前的状态"),
    Plant("rnn_layer h_n from the first step", EX1, """
def rnn_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    h, outputs = h0, []
    for x_t in x:
        h = rnn_cell(x_t, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
        outputs.append(h)
    return torch.stack(outputs), outputs[0]
""", "ex1_rnn_cell::layer_values", "h_n is the first step's state", "h_n 是第一步的状态"),
    Plant("rnn_layer state not carried", EX1, """
def rnn_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    outputs = [rnn_cell(x_t, h0, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity) for x_t in x]
    return torch.stack(outputs), outputs[-1]
""", "ex1_rnn_cell::layer_values", "every step starts from h0", "每一步都从 h0 出发"),
    # --- ex2 ---------------------------------------------------------------------------------
    Plant("backward outputs not realigned", EX2, run_layers_with("y", RIGHT_CONCAT, RIGHT_STACK),
          "ex2_rnn_layers::bidirectional", "reverse time order: flip them back", "先把它翻转回来"),
    Plant("halves swapped", EX2, run_layers_with(RIGHT_REALIGN, "torch.cat(outs[::-1], dim=2)", RIGHT_STACK),
          "ex2_rnn_layers::bidirectional", "concatenates (backward, forward)", "拼接成了 (反向, 正向)"),
    Plant("h_n rows direction-major", EX2, run_layers_with(
        RIGHT_REALIGN, RIGHT_CONCAT, "[s[j] for s in final_states[0::2] + final_states[1::2]]"),
        "ex2_rnn_layers::stacked_bidirectional", "rows of the final state are in the wrong order", "行顺序错了"),
    Plant("(c_n, h_n) swapped", EX2, RUN_LAYERS_HEAD.replace("run_layers(", "_run_layers_right(", 1) + """
            outs.append(y if direction == 0 else y.flip(0))
            final_states.append(state)
        layer_input = torch.cat(outs, dim=2)
        if layer < num_layers - 1:
            layer_input = F.dropout(layer_input, p=dropout, training=training)
    if is_tuple:
        h_n = tuple(torch.stack([s[j] for s in final_states]) for j in range(len(members)))
        return layer_input, h_n[::-1]
    return layer_input, torch.stack(final_states)

def run_layers(cell, x, hx, weights, num_layers, bidirectional=False, dropout=0.0, training=False):
    return _run_layers_right(cell, x, hx, weights, num_layers, bidirectional, dropout, training)
""", "ex2_rnn_layers::multi_layer", "(c_n, h_n)", "(c_n, h_n)"),
    # --- ex3 ---------------------------------------------------------------------------------
    Plant("LSTM gate rows i, f swapped", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    f, i, g, o = gates.chunk(4, dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
""", "ex3_lstm::input_gate", "row blocks as f, i, g, o", "行块读成了 f、i、g、o"),
    Plant("sigmoid for g", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
    i, f, g, o = gates.chunk(4, dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(g), torch.sigmoid(o)
""", "ex3_lstm::cell_candidate", "g uses sigmoid", "g 用了 sigmoid"),
    Plant("LSTM gates without b_hh", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih
    i, f, g, o = gates.chunk(4, dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
""", "ex3_lstm::forget_gate", "adds b_ih but not b_hh", "没有加 b_hh"),
    Plant("LSTM biases added twice", EX3, """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + 2 * (bias_ih + bias_hh)
    i, f, g, o = gates.chunk(4, dim=1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
""", "ex3_lstm::output_gate", "right when the biases are zero", "偏置为零时结果正确"),
    Plant("LSTM cell state scaled", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c_next = 0.5 * f * c + i * g
    return o * torch.tanh(c_next), c_next
""", "ex3_lstm::cell_values", "right when the previous state is zero", "上一时刻的状态为零时结果正确"),
    Plant("h = o * c", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c_next = f * c + i * g
    return o * c_next, c_next
""", "ex3_lstm::cell_values", "missing the tanh: h' = o·tanh(c')", "少了 tanh"),
    Plant("h from the old c", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return o * torch.tanh(c), f * c + i * g
""", "ex3_lstm::cell_values", "uses the old cell state c", "用了旧的细胞状态 c"),
    Plant("c without the input gate", EX3, """
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c_next = f * c + g
    return o * torch.tanh(c_next), c_next
""", "ex3_lstm::cell_values", "missing the input gate", "少了输入门"),
    Plant("(c, h) returned", EX3, """
_lstm_cell_right = lstm_cell
def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    h_next, c_next = _lstm_cell_right(x, state, weight_ih, weight_hh, bias_ih, bias_hh)
    return c_next, h_next
""", "ex3_lstm::cell_values", "it returns (c', h')", "返回成了 (c', h')"),
    # --- ex4 ---------------------------------------------------------------------------------
    Plant("GRU reset before the matmul", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    gi = x @ weight_ih.T + (0 if bias_ih is None else bias_ih)
    gh = h @ weight_hh.T + (0 if bias_hh is None else bias_hh)
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    b_hn = 0 if bias_hh is None else bias_hh[2 * H:]
    n = torch.tanh(gi[:, 2 * H:] + (r * h) @ weight_hh[2 * H:].T + b_hn)
    return r, z, n
""", "ex4_gru::new_gate", "before the matmul", "在矩阵乘法之前"),
    Plant("GRU z and 1 - z swapped", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r, z, n = gru_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return z * n + (1 - z) * h
""", "ex4_gru::cell_values", "z and 1 − z are swapped", "z 与 1 − z 用反了"),
    Plant("GRU rows r, z swapped", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    gi = x @ weight_ih.T + (0 if bias_ih is None else bias_ih)
    gh = h @ weight_hh.T + (0 if bias_hh is None else bias_hh)
    i_z, i_r, i_n = gi.chunk(3, dim=1)
    h_z, h_r, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    return r, z, torch.tanh(i_n + r * h_n)
""", "ex4_gru::reset_gate", "row blocks as z, r, n", "行块读成了 z、r、n"),
    Plant("GRU reset leaves out b_hn", EX4, """
def gru_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    H = h.shape[1]
    gi = x @ weight_ih.T + (0 if bias_ih is None else bias_ih)
    gh = h @ weight_hh.T
    if bias_hh is not None:
        gh = gh + torch.cat([bias_hh[:2 * H], torch.zeros_like(bias_hh[2 * H:])])
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    b_hn = 0 if bias_hh is None else bias_hh[2 * H:]
    return r, z, torch.tanh(i_n + r * h_n + b_hn)
""", "ex4_gru::new_gate", "r multiplies W_hn h but not b_hn", "r 只乘了 W_hn h"),
    Plant("GRU h' = n", EX4, """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    return gru_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)[2]
""", "ex4_gru::cell_values", "leaves out the update gate", "漏掉了更新门"),
    # --- ex5 ---------------------------------------------------------------------------------
    Plant("sigma instead of sigma'", EX5, """
def sigmoid_derivative(z):
    return torch.sigmoid(z)
""", "ex5_vanishing::sigmoid_derivative", "returns σ(z) itself", "返回的是 σ(z) 本身"),
    Plant("s(1 - s) applied to z", EX5, """
def sigmoid_derivative(z):
    return z * (1 - z)
""", "ex5_vanishing::sigmoid_derivative", "applies to s = σ(z), not to z", "不是 z"),
    Plant("chain with sigma", EX5, """
def chain_gradient(z, w):
    return torch.prod(torch.sigmoid(z) * w)
""", "ex5_vanishing::chain_gradient", "the chain rule needs the derivative", "链式法则需要导数"),
    Plant("chain as a sum", EX5, """
def chain_gradient(z, w):
    return torch.sum(sigmoid_derivative(z) * w)
""", "ex5_vanishing::chain_gradient", "it adds the factors", "把各项加起来了"),
    Plant("jacobian in the wrong order", EX5, """
def hidden_jacobian(h_seq, weight_hh):
    jac = torch.eye(weight_hh.shape[0], dtype=weight_hh.dtype)
    for h_k in h_seq:
        jac = jac @ ((1 - h_k * h_k)[:, None] * weight_hh)
    return jac
""", "ex5_vanishing::hidden_jacobian", "multiplies in the wrong order", "乘法顺序反了"),
    Plant("jacobian with W transposed", EX5, """
def hidden_jacobian(h_seq, weight_hh):
    jac = torch.eye(weight_hh.shape[0], dtype=weight_hh.dtype)
    for h_k in h_seq:
        jac = ((1 - h_k * h_k)[:, None] * weight_hh.T) @ jac
    return jac
""", "ex5_vanishing::hidden_jacobian", "it uses W_hhᵀ", "用了 W_hhᵀ"),
    Plant("gradient norms reversed", EX5, """
_norms_right = gradient_norms
def gradient_norms(cell, x, state=None):
    return _norms_right(cell, x, state).flip(0)
""", "ex5_vanishing::gradient_norms", "in reverse order", "顺序反了"),
    Plant("clipping always", EX5, """
def clip_grad_norm(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * (max_norm / (total + 1e-6)) for g in grads], total
""", "ex5_vanishing::clip_grad_norm", "scale only when total > max_norm", "只有 total > max_norm 时才缩放"),
    Plant("clipping per tensor", EX5, """
def clip_grad_norm(grads, max_norm):
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    return [g * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads], total
""", "ex5_vanishing::clip_grad_norm", "by its own norm", "按每个张量自己的范数"),
    # --- ex6 ---------------------------------------------------------------------------------
    Plant("features from the first layer", EX6, """
def final_features(h_n, bidirectional):
    directions = 2 if bidirectional else 1
    return torch.cat([h_n[d] for d in range(directions)], dim=1)
""", "ex6_sequence_tasks::final_features", "the first layer's rows of h_n", "第一层的行", N_VS_1),
    Plant("h_n rows read direction-major", EX6, """
def final_features(h_n, bidirectional):
    if not bidirectional:
        return h_n[-1]
    layers = h_n.shape[0] // 2
    return torch.cat([h_n[layers - 1], h_n[2 * layers - 1]], dim=1)
""", "ex6_sequence_tasks::final_features", "direction-major", "按方向排列", N_VS_1),
    Plant("h_n[-1] only", EX6, """
def final_features(h_n, bidirectional):
    return h_n[-1]
""", "ex6_sequence_tasks::final_features", "returns h_n[-1] alone", "只返回了 h_n[-1]", N_VS_1),
    Plant("h_n rows reshaped into features", EX6, """
def final_features(h_n, bidirectional):
    return h_n[-2:].reshape(h_n.shape[1], -1) if bidirectional else h_n[-1]
""", "ex6_sequence_tasks::final_features", "mixes up batch elements", "把不同样本混在一起", N_VS_1),
    Plant("classify from output[-1]", EX6, """
def classify_sequence(rnn, head, x, hx=None):
    output, _ = rnn(x, hx)
    return head(output[-1])
""", "ex6_sequence_tasks::classify_sequence", "after reading only x[T-1]", "只读了 x[T-1]", N_VS_1),
    Plant("classify from the LSTM's c_n", EX6, """
def classify_sequence(rnn, head, x, hx=None):
    _, state = rnn(x, hx)
    last = state[-1] if isinstance(state, tuple) else state
    return head(final_features(last, rnn.bidirectional))
""", "ex6_sequence_tasks::classify_sequence", "cell state c_n", "细胞状态 c_n", N_VS_1),
    Plant("generate without feedback", EX6, """
def generate(rnn, embedding, head, first_input, steps, hx=None):
    logits, state = [], hx
    for _ in range(steps):
        output, state = rnn(first_input.unsqueeze(0), state)
        logits.append(head(output[0]))
    return torch.stack(logits)
""", "ex6_sequence_tasks::generate", "feed each step's prediction back", "把每一步的预测", N_VS_M),
    Plant("generate restarting from hx", EX6, """
def generate(rnn, embedding, head, first_input, steps, hx=None):
    logits, step_input = [], first_input
    for _ in range(steps):
        output, _ = rnn(step_input.unsqueeze(0), hx)
        logits.append(head(output[0]))
        step_input = embedding(logits[-1].argmax(dim=-1))
    return torch.stack(logits)
""", "ex6_sequence_tasks::generate", "starts again from the initial state", "重新从初始状态开始", N_VS_M),
    Plant("start token over target[0]", EX6, """
def shift_right(target, start_token):
    return torch.cat([torch.full_like(target[:1], start_token), target[1:]])
""", "ex6_sequence_tasks::shift_right", "writes the start token over target[0]", "覆盖了 target[0]", N_VS_M),
    Plant("decoder not initialised from the encoder", EX6, """
def seq2seq(encoder, decoder, embedding, head, source, target, start_token, teacher_forcing=True):
    encoder(source)
    if teacher_forcing:
        output, _ = decoder(embedding(shift_right(target, start_token)))
        return head(output)
    start = embedding(target.new_full((target.shape[1],), start_token))
    return generate(decoder, embedding, head, start, target.shape[0])
""", "ex6_sequence_tasks::seq2seq_teacher_forcing", "the decoder starts from zeros", "解码器从全零状态开始", N_VS_M),
    Plant("teacher forcing without the shift", EX6, """
def seq2seq(encoder, decoder, embedding, head, source, target, start_token, teacher_forcing=True):
    _, state = encoder(source)
    if teacher_forcing:
        output, _ = decoder(embedding(target), state)
        return head(output)
    start = embedding(target.new_full((target.shape[1],), start_token))
    return generate(decoder, embedding, head, start, target.shape[0], state)
""", "ex6_sequence_tasks::seq2seq_teacher_forcing", "reads the target itself", "读入的是目标序列本身", N_VS_M),
    Plant("the target fed at inference", EX6, """
def seq2seq(encoder, decoder, embedding, head, source, target, start_token, teacher_forcing=True):
    _, state = encoder(source)
    output, _ = decoder(embedding(shift_right(target, start_token)), state)
    return head(output)
""", "ex6_sequence_tasks::seq2seq_inference", "it still feeds the target", "仍然把目标序列喂给了解码器", N_VS_M),
    Plant("the LSTM decoder without c_n", EX6, """
def seq2seq(encoder, decoder, embedding, head, source, target, start_token, teacher_forcing=True):
    _, state = encoder(source)
    if isinstance(state, tuple):
        state = (state[0], torch.zeros_like(state[0]))
    if teacher_forcing:
        output, _ = decoder(embedding(shift_right(target, start_token)), state)
        return head(output)
    start = embedding(target.new_full((target.shape[1],), start_token))
    return generate(decoder, embedding, head, start, target.shape[0], state)
""", "ex6_sequence_tasks::seq2seq_teacher_forcing", "a zero cell state", "细胞状态却是零", N_VS_M),
]

# Correct implementations written differently: every one keeps full marks.
VARIANTS: dict[str, str] = {
    EX1: """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(nonlinearity)
    pre = torch.einsum("bi,hi->bh", x, weight_ih) + torch.einsum("bk,hk->bh", h, weight_hh)
    if bias_ih is not None:
        pre = pre + bias_ih + bias_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.where(pre > 0, pre, torch.zeros_like(pre))

def rnn_cell_concat(x, h, weight, bias=None):
    I = x.shape[1]
    pre = x @ weight[:, :I].T + h @ weight[:, I:].T
    return torch.tanh(pre if bias is None else pre + bias)
""",
    EX3: """
def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    W = torch.cat([weight_ih, weight_hh], dim=1)
    gates = torch.cat([x, h], dim=1) @ W.T
    if bias_ih is not None:
        gates = gates + (bias_ih + bias_hh)
    H = h.shape[1]
    i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
""",
    EX4: """
def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    r, z, n = gru_gates(x.double(), h.double(), weight_ih.double(), weight_hh.double(),
                        None if bias_ih is None else bias_ih.double(), None if bias_hh is None else bias_hh.double())
    return (n + z * (h.double() - n)).to(h.dtype)
""",
    EX5: """
def hidden_jacobian(h_seq, weight_hh):
    factors = [(1 - h_k ** 2)[:, None] * weight_hh for h_k in h_seq]
    return torch.linalg.multi_dot(factors[::-1]) if len(factors) > 1 else factors[0]

def chain_gradient(z, w):
    s = 1 / (1 + torch.exp(-z))
    return torch.exp(torch.sum(torch.log(torch.abs(s * (1 - s) * w)))) * torch.prod(torch.sign(w))
""",
}


VARIANTS[EX6] = """
def final_features(h_n, bidirectional):
    directions = 2 if bidirectional else 1
    rows, batch, hidden = h_n.shape
    return h_n.view(rows // directions, directions, batch, hidden)[-1].transpose(0, 1).reshape(batch, -1)

def classify_sequence(rnn, head, x, hx=None):
    output, _ = rnn(x, hx)
    if rnn.bidirectional:
        half = output.shape[-1] // 2
        return head(torch.cat([output[-1, :, :half], output[0, :, half:]], dim=1))
    return head(output[-1])

def shift_right(target, start_token):
    return torch.nn.functional.pad(target[:-1], (0, 0, 1, 0), value=start_token)
"""


def code_of(key: str) -> str:
    """The planted code of the catalog entry `key`."""
    return next(p.code for p in PLANTS if p.key == key)
