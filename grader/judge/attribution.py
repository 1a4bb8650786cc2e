"""Attribution to a helper: a graded function that is wrong only because a helper it calls is wrong.

`rnn_layer` calls the learner's `rnn_cell`, `lstm_cell` calls `lstm_gates`, and so on. When a
check of such a caller fails, the judge calls it again with torch's version of the helper in
place of the learner's (in the sandbox, for that call only: `given.HELPERS`). If the caller is
then right, its hint sends the learner to the helper instead of to code that is correct.
Only a caller whose code names the helper is called again, so correct code and mistakes
elsewhere cost nothing.
"""
from __future__ import annotations

import ast
from pathlib import Path

# Graded function -> the helpers of its own file it is meant to (or may) call, in `given.HELPERS`.
CALLERS: dict[str, tuple[str, ...]] = {
    "rnn_layer": ("rnn_cell",),
    "rnn_cell_concat": ("rnn_cell",),
    "lstm_cell": ("lstm_gates",),
    "gru_cell": ("gru_gates",),
    "chain_gradient": ("sigmoid_derivative",),
    "classify_sequence": ("final_features",),
    "seq2seq": ("shift_right", "generate"),
}


def names_used(path: Path) -> dict[str, frozenset[str]]:
    """For each top-level function of a learner file (the last definition of a name wins), the global names its
    code reads, nested functions and lambdas included; nothing for a file that does not parse. A filter only:
    the call with torch's helper decides."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    return {node.name: frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
            for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def helpers_called(function: str, used: dict[str, frozenset[str]]) -> tuple[str, ...]:
    """The helpers `function` is meant to call that its code names."""
    return tuple(helper for helper in CALLERS.get(function, ()) if helper in used.get(function, frozenset()))


def blame(caller: str, helper: str, todo: bool = False) -> tuple[str, str]:
    """The hint for a caller that is right given torch's helper (en, zh); `todo`: the helper is not written yet."""
    if todo:
        return (f"{caller} is right given torch's {helper}: your {helper} is not written yet; write {helper} first.",
                f"{caller} 在使用 torch 的 {helper} 时是正确的：你的 {helper} 还没有实现；请先完成 {helper}。")
    return (f"{caller} is right given torch's {helper}: the mistake is in your {helper}; fix {helper} first.",
            f"{caller} 在使用 torch 的 {helper} 时是正确的：错误在你的 {helper} 中；请先修正 {helper}。")
