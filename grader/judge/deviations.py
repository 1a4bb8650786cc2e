"""The sentences that name identified deviations (keys from `identify.py`), in English and Chinese.

`describe(function, keys)` joins one clause per deviation into a single hint, in a fixed order:
how the blocks are read, which terms and biases enter, the activations, then the function's
own formula (the GRU's n and update, the LSTM's c' and h').
"""
from __future__ import annotations

from grader.judge.identify import GRU_ACTS, GRU_GATES, LSTM_ACTS, LSTM_GATES

Clause = tuple[str, str]

FIXED: dict[str, Clause] = {
    "bias:ih_only": ("it adds b_ih but not b_hh (torch.nn adds both)", "只加了 b_ih，没有加 b_hh（torch.nn 两个偏置都加）"),
    "bias:hh_only": ("it adds b_hh but not b_ih (torch.nn adds both)", "只加了 b_hh，没有加 b_ih（torch.nn 两个偏置都加）"),
    "bias:none": ("it leaves out both biases b_ih and b_hh (add each one when it is not None)",
                  "两个偏置 b_ih 和 b_hh 都没有加（不为 None 时都要加上）"),
    "inputs:x_only": ("the h W_hhᵀ term is missing: the previous state h must enter",
                      "缺少 h W_hhᵀ 这一项：上一时刻的状态 h 必须参与计算"),
    "inputs:h_only": ("the x W_ihᵀ term is missing: the input x must enter",
                      "缺少 x W_ihᵀ 这一项：当前输入 x 必须参与计算"),
    "transpose:hh": ("it multiplies h by W_hh instead of W_hhᵀ: the term is h @ weight_hh.T",
                     "h 乘的是 W_hh 而不是 W_hhᵀ：这一项应写 h @ weight_hh.T"),
    "act:h:tanh": ("it applies tanh although nonlinearity='relu' was asked for",
                   "要求 nonlinearity='relu'，却用了 tanh"),
    "act:h:relu": ("it applies relu although nonlinearity='tanh' was asked for",
                   "要求 nonlinearity='tanh'，却用了 relu"),
    "act:h:sigmoid": ("it applies sigmoid; the Elman cell uses tanh (or relu when asked)",
                      "用了 sigmoid；Elman 单元使用 tanh（或按要求使用 relu）"),
    "act:h:none": ("it returns the pre-activation without the nonlinearity",
                   "返回的是激活前的值，忘了套上激活函数"),
    "reset:before_matmul": ("it applies r to h before the matmul, W_hn (r ⊙ h), as in the original GRU paper; "
                            "torch.nn computes n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))",
                            "在矩阵乘法之前就把 r 作用到 h 上（W_hn (r ⊙ h)，原始论文的写法）；torch.nn 的公式是 "
                            "n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))"),
    "reset:missing": ("the reset gate is missing from n: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))",
                      "n 中缺少重置门：n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))"),
    "b_hn:outside_r": ("r multiplies W_hn h but not b_hn: the reset gate scales the whole bracket, r ⊙ (W_hn h + b_hn)",
                       "r 只乘了 W_hn h，没有乘 b_hn：重置门作用于整个括号 r ⊙ (W_hn h + b_hn)"),
    "b_hn:missing": ("n leaves out b_hn (torch.nn: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)))",
                     "n 中漏掉了 b_hn（torch.nn：n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))）"),
    "update:swapped": ("z and 1 − z are swapped: h' = (1 − z) ⊙ n + z ⊙ h (z close to 1 keeps the old state)",
                       "z 与 1 − z 用反了：h' = (1 − z) ⊙ n + z ⊙ h（z 接近 1 时保留旧状态）"),
    "update:n_only": ("h' = n leaves out the update gate: h' = (1 − z) ⊙ n + z ⊙ h",
                      "h' = n 漏掉了更新门：h' = (1 − z) ⊙ n + z ⊙ h"),
    "c:no_i": ("c' = f·c + g is missing the input gate: c' = f·c + i·g", "c' = f·c + g 少了输入门：应为 c' = f·c + i·g"),
    "c:no_f": ("c' = c + i·g is missing the forget gate: c' = f·c + i·g", "c' = c + i·g 少了遗忘门：应为 c' = f·c + i·g"),
    "c:i_f_swapped": ("c' = i·c + f·g swaps the gates: the forget gate keeps the old state, c' = f·c + i·g",
                      "c' = i·c + f·g 把两个门用反了：遗忘门作用在旧状态上，c' = f·c + i·g"),
    "h:no_tanh": ("h' = o·c' is missing the tanh: h' = o·tanh(c')", "h' = o·c' 少了 tanh：应为 h' = o·tanh(c')"),
    "h:old_c": ("h' uses the old cell state c; it must use the new one: h' = o·tanh(c')",
                "h' 用了旧的细胞状态 c；应使用新的：h' = o·tanh(c')"),
    "h:no_o": ("h' = tanh(c') is missing the output gate: h' = o·tanh(c')", "h' = tanh(c') 少了输出门：应为 h' = o·tanh(c')"),
    "return:c_h": ("it returns (c', h'); return (h', c'), the same order as state = (h, c)",
                   "返回成了 (c', h')；应按 state = (h, c) 的顺序返回 (h', c')"),
}

# The order clauses come in.
SECTIONS = ("order:", "block:", "act_by_block", "transpose:", "inputs:", "bias:", "act:", "reset:", "b_hn:",
            "update:", "c:", "h:", "return:")


def _gates(function: str) -> tuple[str, tuple[str, ...]]:
    return (GRU_GATES, GRU_ACTS) if function.startswith("gru") else (LSTM_GATES, LSTM_ACTS)


def _listed(names: list[str], zh: bool = False) -> str:
    if zh:
        return "、".join(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _order(function: str, read: str) -> Clause:
    names, _ = _gates(function)
    return (f"you read the weight's row blocks as {', '.join(read)} (torch.nn's order is {', '.join(names)}; "
            f"block k is rows k*H:(k+1)*H)",
            f"你把权重的行块读成了 {'、'.join(read)}（torch.nn 的顺序是 {'、'.join(names)}；第 k 块是第 k*H 到 (k+1)*H 行）")


def _by_block(function: str, read: str) -> Clause:
    names, acts = _gates(function)
    changed = [(gate, acts[block]) for block, gate in enumerate(read) if acts[block] != acts[names.index(gate)]]
    rule = "r, z take sigmoid, n takes tanh" if names == GRU_GATES else "i, f, o take sigmoid, g takes tanh"
    rule_zh = "r、z 用 sigmoid，n 用 tanh" if names == GRU_GATES else "i、f、o 用 sigmoid，g 用 tanh"
    return (f"the activations follow the blocks' places in torch.nn's layout, not your gates: "
            f"{', '.join(f'your {g} gets {a}' for g, a in changed)} ({rule})",
            f"激活函数跟着 torch.nn 中块的位置走，而不是跟着你的门：{'，'.join(f'你的 {g} 用了 {a}' for g, a in changed)}（{rule_zh}）")


def _block(function: str, gate: str, source: str) -> Clause:
    names, _ = _gates(function)
    k = names.index(source)
    return (f"your {gate} is read from torch.nn's {source} block (rows {k}*H:{k + 1}*H)",
            f"你的 {gate} 取自 torch.nn 的 {source} 块（第 {k}*H 到 {k + 1}*H 行）")


def _activations(function: str, keys: list[str]) -> list[Clause]:
    """act:<gate>:<fn> keys, one clause per activation used wrongly."""
    names, acts = _gates(function)
    by_fn: dict[str, list[str]] = {}
    for key in keys:
        _, gate, fn = key.split(":")
        by_fn.setdefault(fn, []).append(gate)
    clauses = []
    for fn, gates in by_fn.items():
        gates.sort(key=names.index)
        right = sorted({acts[names.index(g)] for g in gates})
        why = {"sigmoid": ("a gate lies in (0, 1): sigmoid", "门的取值在 (0, 1)：用 sigmoid"),
               "tanh": ("the candidate lies in (-1, 1): tanh", "候选值在 (-1, 1)：用 tanh")}
        reasons = [why[r] for r in right]
        en_why, zh_why = "; ".join(r[0] for r in reasons), "；".join(r[1] for r in reasons)
        if fn == "none":
            clauses.append((f"{_listed(gates)} {'is' if len(gates) == 1 else 'are'} left without an activation ({en_why})",
                            f"{_listed(gates, True)} 没有经过激活函数（{zh_why}）"))
        else:
            clauses.append((f"{_listed(gates)} {'uses' if len(gates) == 1 else 'use'} {fn} ({en_why})",
                            f"{_listed(gates, True)} 用了 {fn}（{zh_why}）"))
    return clauses


def describe(function: str, keys: tuple[str, ...]) -> Clause:
    """One hint naming every deviation in `keys`."""
    clauses: list[Clause] = []
    rnn = function == "rnn_cell"
    for section in SECTIONS:
        matching = sorted(k for k in keys if k.startswith(section))
        if section == "act:" and not rnn:
            clauses += _activations(function, matching)
            continue
        for key in matching:
            if key.startswith("order:"):
                clauses.append(_order(function, key.split(":")[1]))
            elif key == "act_by_block":
                read = next((k.split(":")[1] for k in keys if k.startswith("order:")), "")
                clauses.append(_by_block(function, read))
            elif key.startswith("block:"):
                clauses.append(_block(function, *key.split(":")[1:]))
            else:
                clauses.append(FIXED[key])
    return "; ".join(c[0] for c in clauses), "；".join(c[1] for c in clauses)
