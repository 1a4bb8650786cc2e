"""Run-time half of the forbidden built-ins check (the static half is the judge's `forbidden` scan).

torch's recurrent kernels are wrapped: a call whose nearest caller outside torch's
own package is a file of the learner's is recorded and refused. The judge reads
the record with every reply, so a refusal counts even when learner code catches it.
"""
from __future__ import annotations

import functools
import importlib.abc
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from grader.sandbox.kernels import FORBIDDEN_KERNELS


@dataclass(frozen=True)
class Violation:
    what: str  # e.g. "torch.lstm_cell" or "import solutions"
    file: str
    line: int
    # "builtin": PyTorch's own implementation of an exercise (or the solutions); "allowlist": something
    # the exercises do not allow at all (an import other than torch, math, ...; exec; a private attribute)
    kind: str = "builtin"


_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_log: list[Violation] = []


class ForbiddenCall(BaseException):
    """Raised in learner code that reached a forbidden kernel (a BaseException: `except Exception` won't hide it)."""


def _caller_in(folder: str) -> Violation | None:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_TORCH_DIR):
        frame = frame.f_back
    if frame is not None and frame.f_code.co_filename.startswith(folder):
        return Violation("", Path(frame.f_code.co_filename).name, frame.f_lineno)
    return None


def _guard(kernel: Callable[..., Any], name: str, folder: str) -> Callable[..., Any]:
    @functools.wraps(kernel)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        caller = _caller_in(folder)
        if caller is not None:
            _log.append(Violation(name, caller.file, caller.line))
            raise ForbiddenCall(name)
        return kernel(*args, **kwargs)
    return guarded


class _NoSolutions(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname.split(".")[0] == "solutions":
            _log.append(Violation(f"import {fullname}", "", 0))
            raise ImportError("importing the reference solutions is not allowed")
        return None


def install_guards(target: Path) -> None:
    """Wrap torch's recurrent kernels for code in `target`, and block `import solutions` (the judge never needs it)."""
    folder = str(target) + "/"
    names = sorted(FORBIDDEN_KERNELS - {"_VF", "_VariableFunctions"})
    for holder, prefix in ((torch, "torch."), (torch._VF, "torch._VF.")):
        for name in names:
            kernel = getattr(holder, name, None)
            if kernel is not None:
                setattr(holder, name, _guard(kernel, prefix + name, folder))
    sys.meta_path.insert(0, _NoSolutions())


def record(violation: Violation) -> None:
    """Note a forbidden use found some other way (a statically flagged function that was called)."""
    _log.append(violation)


def take_log() -> list[Violation]:
    """Forbidden uses seen at run time since the last call; clears the log."""
    seen = list(_log)
    _log.clear()
    return seen
