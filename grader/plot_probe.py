"""Child process of `python -m grader plot vanishing`: runs the learner's exercise 5 functions.

    python grader/plot_probe.py TARGET_DIR RESULT.json

Learner code runs here, never in the grader process. The result file holds
either the curves or which function failed and how:

    {"ok": true, "steps_back": [...], "gradients": {label: [norm per step back]},
     "chain": {"n": [...], "curves": {"|w| = 4": [|D_n| per n]}}, "expected_last": float}
    {"ok": false, "function": "gradient_norms", "problem": "not_implemented" | "crashed" | "bad_result",
     "detail": "..."}
"""
from __future__ import annotations

import importlib
import json
import math
import sys
import types
from pathlib import Path
from typing import Any, Callable

SEED = 0
STEPS = 50                     # T
BATCH, INPUT, HIDDEN = 4, 8, 32
CHAIN_LENGTH = 20              # D_1 .. D_20
CHAIN_WEIGHTS = (1.0, 2.0, 4.0, 6.0, 8.0)
PACKAGE = "learner"  # the learner's folder is imported as this package


class Problem(Exception):
    def __init__(self, function: str, problem: str, detail: str):
        super().__init__(detail)
        self.result = {"ok": False, "function": function, "problem": problem, "detail": detail}


def _load(target: Path) -> types.ModuleType:
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(target.resolve())]
    sys.modules[PACKAGE] = package
    try:
        return importlib.import_module(f"{PACKAGE}.ex5_vanishing")
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything
        raise Problem("ex5_vanishing.py", "crashed", _describe(error)) from None


def _describe(error: BaseException) -> str:
    """'ValueError: ... (line 12 of ex5_vanishing.py)': the error and the last line of learner code it passed."""
    where = ""
    if isinstance(error, SyntaxError):
        where = f" (line {error.lineno} of {Path(error.filename or '?').name})"
    folders = {Path(folder).resolve() for folder in getattr(sys.modules.get(PACKAGE), "__path__", [])}
    trace = error.__traceback__
    while trace is not None:
        filename = trace.tb_frame.f_code.co_filename
        if Path(filename).resolve().parent in folders:
            where = f" (line {trace.tb_lineno} of {Path(filename).name})"
        trace = trace.tb_next
    return f"{type(error).__name__}: {error}{where}"


def _call(name: str, function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except NotImplementedError as error:
        raise Problem(name, "not_implemented", str(error)) from None
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything, SystemExit included
        raise Problem(name, "crashed", _describe(error)) from None


def _function(module: types.ModuleType, name: str) -> Callable[..., Any]:
    function = getattr(module, name, None)
    if not callable(function):
        raise Problem(name, "not_implemented", f"ex5_vanishing.py defines no function {name}")
    return function


def _cells(torch: Any) -> dict[str, Any]:
    """The four cells of the figure, built from one seed; the forget gate's rows are H:2H."""
    cells = {
        "tanh RNN": torch.nn.RNNCell(INPUT, HIDDEN),
        "LSTM": torch.nn.LSTMCell(INPUT, HIDDEN),
        "LSTM, forget bias 1": torch.nn.LSTMCell(INPUT, HIDDEN),
        "GRU": torch.nn.GRUCell(INPUT, HIDDEN),
    }
    forget = cells["LSTM, forget bias 1"]
    with torch.no_grad():
        forget.bias_ih[HIDDEN:2 * HIDDEN].fill_(1.0)  # b_ih + b_hh = 1 for the forget gate
        forget.bias_hh[HIDDEN:2 * HIDDEN].fill_(0.0)
    return {label: cell.double() for label, cell in cells.items()}


def _norms(torch: Any, result: Any) -> list[float]:
    if not isinstance(result, torch.Tensor) or tuple(result.shape) != (STEPS,):
        shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise Problem("gradient_norms", "bad_result", f"returned {shape}, expected a tensor of shape ({STEPS},)")
    values = [float(v) for v in result.detach().double().cpu()]
    return values[::-1]  # index k: k steps back from T


def gradient_curves(module: types.ModuleType, torch: Any) -> dict[str, list[float]]:
    gradient_norms = _function(module, "gradient_norms")
    torch.manual_seed(SEED)
    cells = _cells(torch)
    x = torch.randn(STEPS, BATCH, INPUT, dtype=torch.float64)
    return {label: _norms(torch, _call("gradient_norms", gradient_norms, cell, x)) for label, cell in cells.items()}


def _chain_value(torch: Any, result: Any) -> float:
    if not isinstance(result, torch.Tensor) or result.numel() != 1:
        shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise Problem("chain_gradient", "bad_result", f"returned {shape}, expected a 0-dim tensor")
    return abs(float(result.detach().double().cpu().reshape(())))


def chain_curves(module: types.ModuleType, torch: Any) -> dict[str, list[float]]:
    """|D_n| for n = 1..CHAIN_LENGTH with z = 0 (σ'(0) = 0.25) and every w_i = w."""
    chain_gradient = _function(module, "chain_gradient")
    curves = {}
    for w in CHAIN_WEIGHTS:
        curves[f"|w| = {w:g}"] = [
            _chain_value(torch, _call("chain_gradient", chain_gradient, torch.zeros(n, dtype=torch.float64),
                                      torch.full((n,), w, dtype=torch.float64)))
            for n in range(1, CHAIN_LENGTH + 1)
        ]
    return curves


def probe(target: Path) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    module = _load(target)
    try:
        gradients = gradient_curves(module, torch)
        chain = chain_curves(module, torch)
    except Problem as problem:
        return problem.result
    return {"ok": True, "steps_back": list(range(STEPS)), "gradients": gradients,
            "chain": {"n": list(range(1, CHAIN_LENGTH + 1)), "curves": chain},
            "expected_last": math.sqrt(BATCH * HIDDEN)}


def main() -> None:
    target, result_file = Path(sys.argv[1]), Path(sys.argv[2])
    try:
        result = probe(target)
    except Problem as problem:
        result = problem.result
    result_file.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
    main()
