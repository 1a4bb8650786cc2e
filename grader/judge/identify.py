"""Identification: which combination of common deviations a learner's cell computes.

Real cells differ from torch.nn on two or three independent axes at once: the weight's row
blocks read in another framework's order, a bias left out, the previous state left out, W_hh
untransposed, an activation changed, the GRU's reset gate placed before the matmul, its update
convention flipped, the LSTM's cell update or output changed. Each axis has a few values; a
hypothesis picks one value per axis, and predicts, with plain torch operations on the same
inputs, what the learner's function returns under it. Predictions are computed many hypotheses
at a time (stacked along a leading dimension), so the whole space is searched in milliseconds.

A hypothesis is accepted only when its prediction matches the learner's output as tightly as
the test's own tolerance (`Target`); among accepted ones the fewest deviations win, and when
two different explanations tie, nothing is claimed. The deviation keys and the sentences that
name them are in `deviations.py`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch

from grader.judge.tolerance import tolerance

Tensor = torch.Tensor
ACTS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "none": lambda t: t}
LSTM_GATES, LSTM_ACTS = "ifgo", ("sigmoid", "sigmoid", "tanh", "sigmoid")
GRU_GATES, GRU_ACTS = "rzn", ("sigmoid", "sigmoid", "tanh")


class Target:
    """One output of the learner's: tells whether predictions match it within the test's tolerance."""

    def __init__(self, got: Tensor):
        self.got = got.detach().double()
        rtol, atol = tolerance(got.dtype)
        magnitude = self.got.abs()
        top = float(magnitude.max()) if magnitude.numel() else 1.0
        scale = max(1.0, top) if torch.isfinite(torch.tensor(top)) else 1.0
        # Around the learner's value rather than the prediction's: the two differ by rounding only when they match.
        self.allowed = rtol * magnitude + atol * scale

    def fits(self, predicted: Tensor) -> Tensor:
        """Per leading index of `predicted` (..., *got.shape): whether it matches."""
        if predicted.shape[predicted.dim() - self.got.dim():] != self.got.shape:
            return torch.zeros(predicted.shape[:predicted.dim() - self.got.dim()], dtype=torch.bool)
        within = (predicted.double() - self.got).abs() <= self.allowed
        return within.flatten(predicted.dim() - self.got.dim()).all(-1) if self.got.dim() else within


@dataclass(frozen=True)
class Identified:
    """The deviations found, and which outputs (by index) they explain."""

    keys: tuple[str, ...]
    explained: tuple[int, ...]


# --------------------------------------------------------------------------
# The linear terms, for each way of adding biases and of using x and h
# --------------------------------------------------------------------------


@dataclass
class Terms:
    """x W_ihᵀ (+ b_ih) and h W_hhᵀ (+ b_hh), split into the G row blocks: (G, B, H) each."""

    keys: tuple[str, ...]
    x_part: Tensor
    h_part: Tensor
    h_plain: Tensor  # h W_hhᵀ without its bias
    b_hh: Tensor  # the b_hh blocks added, (G, 1, H) (zeros when not added)


def _blocks(t: Tensor, gates: int) -> Tensor:
    return torch.stack(t.chunk(gates, dim=-1))


def _biases(inputs: dict[str, Any]) -> tuple[str, ...]:
    given = inputs.get("bias_ih") is not None and inputs.get("bias_hh") is not None
    return ("both", "ih_only", "hh_only", "none") if given else ("both",)


def terms(inputs: dict[str, Any], gates: int, transposed_hh: bool = False) -> Iterator[Terms]:
    """Every combination of bias variant and input use (x and h, x only, h only)."""
    x, h, w_ih, w_hh = (inputs[k].detach() for k in ("x", "h", "weight_ih", "weight_hh"))
    xw = x @ w_ih.T
    hw = h @ (w_hh if transposed_hh else w_hh.T)
    zero = torch.zeros_like(xw)
    for bias in _biases(inputs):
        b_ih = inputs["bias_ih"].detach() if bias in ("both", "ih_only") else None
        b_hh = inputs["bias_hh"].detach() if bias in ("both", "hh_only") else None
        for use in ("both", "x_only", "h_only"):
            x_lin = (zero if use == "h_only" else xw) + (0 if b_ih is None else b_ih)
            h_plain = zero if use == "x_only" else hw
            h_lin = h_plain + (0 if b_hh is None else b_hh)
            keys = tuple(k for k in (f"bias:{bias}" if bias != "both" else "", f"inputs:{use}" if use != "both" else "") if k)
            yield Terms(keys, _blocks(x_lin, gates), _blocks(h_lin, gates), _blocks(h_plain, gates),
                        _blocks(zero[:1] + (0 if b_hh is None else b_hh), gates))


# --------------------------------------------------------------------------
# Choosing among matches
# --------------------------------------------------------------------------


def _displaced(keys: tuple[str, ...]) -> int:
    """How many blocks an order key moves from torch.nn's places (0 without one)."""
    read = next((k.split(":")[1] for k in keys if k.startswith("order:")), "")
    names = LSTM_GATES if set(read) == set(LSTM_GATES) else GRU_GATES
    return sum(a != b for a, b in zip(read, names))


def _simplest(matches: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The match with the fewest deviations, then the fewest blocks moved, when it is the only one so simple.

    Ties on the count alone are the same computation written two ways: i·c + f·g is torch's c' with the i and
    f blocks exchanged; with g through sigmoid, i·g does not say which block is i. The reading that moves
    fewer blocks names what was more likely written.
    """
    if not matches:
        return None
    readings = {tuple(sorted(set(m))) for m in matches}
    simplest = min((len(m), _displaced(m)) for m in readings)
    best = [m for m in readings if (len(m), _displaced(m)) == simplest]
    return best[0] if len(best) == 1 else None


# --------------------------------------------------------------------------
# rnn_cell
# --------------------------------------------------------------------------


def rnn_cell(inputs: dict[str, Any], options: dict[str, Any], got: list[Tensor]) -> Identified | None:
    asked = options.get("nonlinearity", "tanh")
    if asked not in ("tanh", "relu") or len(got) != 1:
        return None
    target = Target(got[0])
    square = inputs["weight_hh"].shape[0] == inputs["weight_hh"].shape[1]
    matches = []
    for transposed in (False, True) if square else (False,):
        for t in terms(inputs, 1, transposed):
            if transposed and "inputs:x_only" in t.keys:
                continue
            pre = t.x_part[0] + t.h_part[0]
            for act in ("tanh", "relu", "sigmoid", "none"):
                if bool(target.fits(ACTS[act](pre))):
                    matches.append(t.keys + (("transpose:hh",) if transposed else ())
                                   + ((f"act:h:{act}",) if act != asked else ()))
    keys = _simplest(matches)
    return Identified(keys, (0,)) if keys else None  # nothing found, or torch's own reading


# --------------------------------------------------------------------------
# Gates read from blocks: lstm_gates, and r, z of gru_gates
# --------------------------------------------------------------------------


Source = tuple[int, str, tuple[str, ...]]  # (block, activation, further deviations) of one output


def _gate_sources(t: Terms, target: Target, acts: tuple[str, ...] = ("sigmoid", "tanh", "relu", "none")
                  ) -> list[Source]:
    """Readings act(x part + h part) of one block that match the target."""
    pre = t.x_part + t.h_part
    found: list[Source] = []
    for act in acts:
        found += [(int(j), act, ()) for j in target.fits(ACTS[act](pre)).nonzero().flatten().tolist()]
    return found


def _order_keys(names: str, sources: dict[int, int], acts: dict[int, str], torch_acts: tuple[str, ...]
                ) -> tuple[str, ...] | None:
    """Keys for outputs k computed from blocks sources[k] with activations acts[k] (None: two from one block)."""
    blocks = list(sources.values())
    if len(set(blocks)) != len(blocks):
        return None
    complete = len(sources) == len(names)
    keys: list[str] = []
    if any(j != k for k, j in sources.items()):
        if complete:
            order = [""] * len(names)
            for k, j in sources.items():
                order[j] = names[k]
            keys.append("order:" + "".join(order))
        else:
            keys += [f"block:{names[k]}:{names[j]}" for k, j in sources.items() if j != k]
    crossed = [k for k, j in sources.items() if torch_acts[j] != torch_acts[k]]
    by_block = complete and bool(crossed) and all(acts[k] == torch_acts[sources[k]] for k in crossed)
    if by_block:
        keys.append("act_by_block")
    keys += [f"act:{names[k]}:{acts[k]}" for k in sources
             if acts[k] != torch_acts[k] and not (by_block and k in crossed)]
    return tuple(keys)


def _per_output(per_terms: list[tuple[Terms, dict[int, list[Source]]]], names: str,
                torch_acts: tuple[str, ...]) -> Identified | None:
    """The simplest consistent reading of the most outputs: one bias and input variant for all of them,
    distinct blocks."""
    candidates: list[tuple[tuple[int, ...], tuple[str, ...]]] = []
    for t, found in per_terms:
        explained = tuple(k for k in sorted(found) if found[k])
        for choice in itertools.product(*(found[k] for k in explained)) if explained else ():
            keys = _order_keys(names, {k: c[0] for k, c in zip(explained, choice)},
                               {k: c[1] for k, c in zip(explained, choice)}, torch_acts)
            if keys is not None:
                extra = tuple(key for c in choice for key in c[2])
                candidates.append((explained, tuple(sorted(set(t.keys + keys + extra)))))
    if not candidates:
        return None
    most = max(len(e) for e, _ in candidates)
    keys = _simplest([k for e, k in candidates if len(e) == most])
    if not keys:
        return None  # nothing found, or torch's own reading
    return Identified(keys, next(e for e, k in candidates if len(e) == most and k == keys))


def lstm_gates(inputs: dict[str, Any], options: dict[str, Any], got: list[Tensor]) -> Identified | None:
    if len(got) != 4:
        return None
    targets = [Target(g) for g in got]
    per_terms = [(t, {k: _gate_sources(t, targets[k]) for k in range(4)}) for t in terms(inputs, 4)]
    return _per_output(per_terms, LSTM_GATES, LSTM_ACTS)


# --------------------------------------------------------------------------
# The GRU's new gate n
# --------------------------------------------------------------------------

# How n's hidden part is formed: the keys, and a function of (x part, r, h W_hnᵀ, b_hn, W_hn (r ⊙ h)).
N_FORMS: tuple[tuple[tuple[str, ...], Callable[..., Tensor]], ...] = (
    ((), lambda x, r, hw, b, rh: x + r * (hw + b)),
    (("b_hn:outside_r",), lambda x, r, hw, b, rh: x + r * hw + b),
    (("b_hn:missing",), lambda x, r, hw, b, rh: x + r * hw),
    (("reset:before_matmul",), lambda x, r, hw, b, rh: x + rh + b),
    (("reset:before_matmul", "b_hn:missing"), lambda x, r, hw, b, rh: x + rh),
    (("reset:missing",), lambda x, r, hw, b, rh: x + hw + b),
    (("reset:missing", "b_hn:missing"), lambda x, r, hw, b, rh: x + hw),
)


def _n_forms(t: Terms, r: Tensor, h: Tensor, w_hh: Tensor, n_block: Tensor) -> Iterator[tuple[tuple[str, ...], Tensor]]:
    """(keys, n's pre-activation) per form; `r` and `n_block` (which block n reads) share a leading dimension."""
    x_part, h_plain, b = t.x_part[n_block], t.h_plain[n_block], t.b_hh[n_block]
    w_n = torch.stack(w_hh.chunk(3, dim=0))[n_block]  # (..., H, H)
    rh = (r * h) @ w_n.transpose(-1, -2)
    for keys, form in N_FORMS:
        if "inputs:x_only" in t.keys and "reset:before_matmul" in keys:
            continue  # without h there is no r ⊙ h
        yield keys, form(x_part, r, h_plain, b, rh)


def gru_gates(inputs: dict[str, Any], options: dict[str, Any], got: list[Tensor]) -> Identified | None:
    """r and z block by block; n with the learner's own r."""
    if len(got) != 3:
        return None
    targets = [Target(g) for g in got]
    h, w_hh, r = inputs["h"].detach(), inputs["weight_hh"].detach(), got[0].detach().to(inputs["h"].dtype)
    per_terms = []
    for t in terms(inputs, 3):
        found = {k: _gate_sources(t, targets[k]) for k in range(2)}
        found[2] = []
        for j in range(3):
            for keys, pre in _n_forms(t, r, h, w_hh, torch.tensor(j)):
                for act in ("tanh", "sigmoid", "none"):
                    if bool(targets[2].fits(ACTS[act](pre))):
                        found[2].append((j, act, keys))
        per_terms.append((t, found))
    return _per_output(per_terms, GRU_GATES, GRU_ACTS)


# --------------------------------------------------------------------------
# Whole cells: every gate reading at once, for every block order
# --------------------------------------------------------------------------


def _perms(count: int) -> Tensor:
    """Every order, (count!, count): row p says which block each gate (in torch's order) is read from."""
    return torch.tensor(list(itertools.permutations(range(count))))


def _order_key(names: str, perm: list[int]) -> tuple[str, ...]:
    if perm == list(range(len(names))):
        return ()
    order = [""] * len(names)
    for role, block in enumerate(perm):
        order[block] = names[role]
    return ("order:" + "".join(order),)


# Activation patterns: which activation each gate gets, given the block it is read from.
PATTERNS = ("name", "block", "all_tanh", "all_sigmoid")


def _pattern_acts(pattern: str, torch_acts: tuple[str, ...], perm: list[int]) -> list[str] | None:
    """Per gate, the activation under `pattern`; None when the pattern says nothing new for this order."""
    if pattern == "name":
        return list(torch_acts)
    if pattern == "block":
        acts = [torch_acts[j] for j in perm]
        return acts if acts != list(torch_acts) else None
    acts = ["tanh" if pattern == "all_tanh" else "sigmoid"] * len(perm)
    return acts if acts != list(torch_acts) else None


def _pattern_keys(pattern: str, names: str, torch_acts: tuple[str, ...], acts: list[str]) -> tuple[str, ...]:
    if pattern == "block":
        return ("act_by_block",)
    return tuple(f"act:{names[k]}:{a}" for k, a in enumerate(acts) if a != torch_acts[k])


ACT_ORDER = ("sigmoid", "tanh")


def _activated(pre: Tensor, acts_per_gate: list[list[str]], perms: Tensor, gate: int) -> Tensor:
    """Gate `gate` for every order at once, (P, B, H): acts_per_gate[p][gate] of block perms[p, gate]."""
    both = torch.stack([torch.sigmoid(pre), torch.tanh(pre)])  # (2, G, B, H)
    which = torch.tensor([ACT_ORDER.index(acts[gate]) for acts in acts_per_gate])
    return both[which, perms[:, gate]]


LSTM_C_FORMS: tuple[tuple[tuple[str, ...], Callable[..., Tensor]], ...] = (
    ((), lambda i, f, g, c: f * c + i * g),
    (("c:no_i",), lambda i, f, g, c: f * c + g),
    (("c:no_f",), lambda i, f, g, c: c + i * g),
    (("c:i_f_swapped",), lambda i, f, g, c: i * c + f * g),
)
LSTM_H_FORMS: tuple[tuple[tuple[str, ...], Callable[..., Tensor]], ...] = (
    ((), lambda o, c_next, c: o * torch.tanh(c_next)),
    (("h:no_tanh",), lambda o, c_next, c: o * c_next),
    (("h:old_c",), lambda o, c_next, c: o * torch.tanh(c)),
    (("h:no_o",), lambda o, c_next, c: torch.tanh(c_next)),
)


def _orders_and_acts(names: str, torch_acts: tuple[str, ...]) -> Iterator[tuple[str, Tensor, list[list[str]], list[tuple[str, ...]]]]:
    """Per activation pattern: the orders it applies to, each order's activations and keys."""
    perms = _perms(len(names))
    for pattern in PATTERNS:
        rows, acts, keys = [], [], []
        for p, perm in enumerate(perms.tolist()):
            pattern_acts = _pattern_acts(pattern, torch_acts, perm)
            if pattern_acts is not None:
                rows.append(p)
                acts.append(pattern_acts)
                keys.append(_order_key(names, perm) + _pattern_keys(pattern, names, torch_acts, pattern_acts))
        if rows:
            yield pattern, perms[rows], acts, keys


def lstm_cell(inputs: dict[str, Any], options: dict[str, Any], got: list[Tensor]) -> Identified | None:
    if len(got) != 2:
        return None
    h_in, c = (s.detach() for s in inputs["state"])
    cell_inputs = {**inputs, "h": h_in}
    matches: list[tuple[int, tuple[str, ...]]] = []  # (outputs explained, keys)
    for returned, (h_at, c_at) in ((("",), (0, 1)), (("return:c_h",), (1, 0))):
        h_target, c_target = Target(got[h_at]), Target(got[c_at])
        for t in terms(cell_inputs, 4):
            pre = t.x_part + t.h_part
            for _, perms, acts, keys in _orders_and_acts(LSTM_GATES, LSTM_ACTS):
                i, f, g, o = (_activated(pre, acts, perms, k) for k in range(4))
                for c_keys, c_form in LSTM_C_FORMS:
                    c_next = c_form(i, f, g, c)
                    c_fits = c_target.fits(c_next)
                    if not bool(c_fits.any()):
                        continue  # h' is made from c': without c' there is nothing to read
                    h_fits = h_target.fits(torch.stack([h_form(o, c_next, c) for _, h_form in LSTM_H_FORMS]))
                    for form, p in (h_fits & c_fits).nonzero().tolist():
                        found = t.keys + keys[p] + c_keys + LSTM_H_FORMS[form][0] + returned
                        matches.append((2, tuple(k for k in found if k)))
    return _best(matches, 2)


def _best(matches: list[tuple[int, tuple[str, ...]]], outputs: int) -> Identified | None:
    if not matches:
        return None
    most = max(n for n, _ in matches)
    if most < outputs:
        return None  # the outputs depend on each other: a reading of one alone proves little
    keys = _simplest([k for n, k in matches if n == most])
    return Identified(keys, tuple(range(outputs))) if keys else None


GRU_UPDATES: tuple[tuple[tuple[str, ...], Callable[..., Tensor]], ...] = (
    ((), lambda z, n, h: (1 - z) * n + z * h),
    (("update:swapped",), lambda z, n, h: z * n + (1 - z) * h),
    (("update:n_only",), lambda z, n, h: n),
)


def gru_cell(inputs: dict[str, Any], options: dict[str, Any], got: list[Tensor]) -> Identified | None:
    if len(got) != 1:
        return None
    target = Target(got[0])
    h, w_hh = inputs["h"].detach(), inputs["weight_hh"].detach()
    matches: list[tuple[int, tuple[str, ...]]] = []
    for t in terms(inputs, 3):
        pre = t.x_part + t.h_part
        for _, perms, acts, keys in _orders_and_acts(GRU_GATES, GRU_ACTS):
            r, z = _activated(pre, acts, perms, 0), _activated(pre, acts, perms, 1)
            forms = list(_n_forms(t, r, h, w_hh, perms[:, 2]))
            n_pre = torch.stack([pre_n for _, pre_n in forms])  # (forms, P, B, H)
            tanh_n = torch.tensor([a[2] == "tanh" for a in acts])[:, None, None]
            n = torch.where(tanh_n, torch.tanh(n_pre), torch.sigmoid(n_pre))
            fits = target.fits(torch.stack([update(z, n, h) for _, update in GRU_UPDATES]))
            for u, form, p in fits.nonzero().tolist():
                found = t.keys + keys[p] + forms[form][0] + GRU_UPDATES[u][0]
                matches.append((1, tuple(k for k in found if k)))
    return _best(matches, 1)


IDENTIFY: dict[str, Callable[[dict[str, Any], dict[str, Any], list[Tensor]], Identified | None]] = {
    "rnn_cell": rnn_cell, "lstm_gates": lstm_gates, "lstm_cell": lstm_cell, "gru_gates": gru_gates,
    "gru_cell": gru_cell,
}
