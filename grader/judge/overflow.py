"""Non-finite outputs: NaN or inf where torch's result is finite, and whether a hand-written exp is the cause.

A tanh or sigmoid written with exp overflows in float32 once |z| passes about 88.7 (exp(89) is
beyond float32's largest value, 3.4e38), and inf / inf or inf - inf is NaN: torch.tanh and
torch.sigmoid stay finite for any z. The hint says what happened; it blames exp only when
the learner's own source of the function, or of a helper it calls in the same file, uses it.

Everything here runs in the judge: it reads the learner's file (as `forbidden.scan` does), it
never imports it.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import torch

Clause = tuple[str, str]

EXP_NAMES = frozenset({"exp", "exp_", "exp2", "expm1"})  # torch.exp, math.exp, z.exp(), numpy.exp, ...
FLOAT32_EXP_LIMIT = 88.72  # exp(z) is inf in float32 above this


def nonfinite(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """Elementwise: the learner's value is NaN or infinite where torch's is finite."""
    return ~torch.isfinite(got) & torch.isfinite(want)


def _top_level(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """The file's top-level functions, classes and assigned names, each with the statements that define it."""
    named: dict[str, list[ast.AST]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            named.setdefault(node.name, []).append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        named.setdefault(name.id, []).append(node)
    return named


def _exp_aliases(tree: ast.Module) -> set[str]:
    """Local names bound to an exp by an import: `from math import exp`, `from torch import exp as e`."""
    return {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names if alias.name in EXP_NAMES}


def _computes_exp(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in EXP_NAMES
    if isinstance(node, ast.Name):
        return node.id in EXP_NAMES or node.id in aliases
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):  # math.e ** z, torch.e ** z
        return isinstance(node.left, ast.Attribute) and node.left.attr == "e"
    return False


def uses_exp(path: Path, function: str) -> bool:
    """Whether `function` in the file at `path`, or a top-level helper of that file it refers to, uses exp."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return False
    named, aliases = _top_level(tree), _exp_aliases(tree)
    pending, seen = [function], set()
    while pending:
        name = pending.pop()
        if name in seen or name not in named:
            continue
        seen.add(name)
        for statement in named[name]:
            for node in ast.walk(statement):
                if _computes_exp(node, aliases):
                    return True
                if isinstance(node, ast.Name):
                    pending.append(node.id)
                elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                        and (node.value.id in ("self", "cls") or node.value.id in named):
                    pending.append(node.attr)  # self.helper, Helper.method: the file's own names
    return False


def _state(inputs: dict[str, Any]) -> Any:
    if isinstance(inputs.get("h"), torch.Tensor):
        return inputs["h"]
    state = inputs.get("state")
    return state[0] if isinstance(state, (tuple, list)) and state else None


def pre_activation_size(inputs: dict[str, Any]) -> float | None:
    """The largest |pre-activation| of a cell's inputs (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), or of `z`; None if unknown."""
    if isinstance(inputs.get("z"), torch.Tensor):
        pre = inputs["z"].detach().double()
    else:
        x, h = inputs.get("x"), _state(inputs)
        w_ih, w_hh = inputs.get("weight_ih"), inputs.get("weight_hh")
        tensors = (x, h, w_ih, w_hh)
        if not all(isinstance(t, torch.Tensor) for t in tensors) or x.dim() != 2:
            return None
        pre = x.detach().double() @ w_ih.detach().double().T + h.detach().double() @ w_hh.detach().double().T
        for bias in (inputs.get("bias_ih"), inputs.get("bias_hh")):
            if isinstance(bias, torch.Tensor):
                pre = pre + bias.detach().double()
    return float(pre.abs().max()) if pre.numel() else None


def at_inputs(size: float | None) -> Clause:
    """', at inputs with |pre-activation| up to N', when the inputs' pre-activations are known."""
    if size is None:
        return "", ""
    return f", at inputs with |pre-activation| up to {size:.3g}", f"，此时输入的激活前的值 |z| 最大为 {size:.3g} "


def cause(exp: bool, dtype: torch.dtype) -> Clause:
    """What a hand-written exp does at large |z|, when the learner's code uses one; otherwise where to look."""
    if exp and dtype == torch.float32:
        return (" Your code computes exp: in float32, exp(z) overflows to inf once z > 88.7, and inf / inf or "
                "inf - inf is NaN. Use torch.tanh and torch.sigmoid, which stay finite for any z.",
                "你的代码里用了 exp：在 float32 中，z > 88.7 时 exp(z) 会溢出为 inf，而 inf / inf 或 inf - inf 的结果"
                "是 NaN。请改用 torch.tanh 和 torch.sigmoid，它们对任何 z 都保持有限。")
    if exp:
        return (" Your code computes exp, which overflows to inf for large z (inf / inf or inf - inf is NaN). "
                "Use torch.tanh and torch.sigmoid, which stay finite for any z.",
                "你的代码里用了 exp，它在 z 很大时会溢出为 inf（inf / inf 或 inf - inf 的结果是 NaN）。请改用 "
                "torch.tanh 和 torch.sigmoid，它们对任何 z 都保持有限。")
    return (" Look for an intermediate value that overflows, or a division by zero.",
            "请检查是否有中间结果溢出，或除以了零。")
