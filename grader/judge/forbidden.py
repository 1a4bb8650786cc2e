"""Forbidden built-ins: a learner must not call the PyTorch implementation an exercise asks for.

Two layers, so neither an unusual spelling nor a call hidden at run time gets through:
- statically, here in the judge, before a file runs: calls of torch.nn's recurrent
  classes, any use of the recurrent kernels (torch.lstm_cell, torch._VF, ...) and
  imports of the solutions;
- at run time, in the sandbox (`grader.sandbox.guards`): torch's recurrent kernels are
  wrapped, and a call whose nearest caller outside torch's own package is a file of the
  learner's is recorded and refused.
"""
from __future__ import annotations

import ast
from pathlib import Path

from grader.sandbox.guards import Violation
from grader.sandbox.kernels import (FORBIDDEN_CLASSES, FORBIDDEN_KERNELS, FORBIDDEN_PER_FILE, KERNELS_ANYWHERE,
                                    KERNELS_VIA_TORCH)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _torch_names(tree: ast.AST) -> dict[str, str]:
    """Local names bound to torch or something inside it, by any import in the file: name -> origin."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "torch":
                    names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else "torch"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch" and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


class _Scanner(ast.NodeVisitor):
    def __init__(self, filename: str, torch_names: dict[str, str], extra: set[str]):
        self.filename = filename
        self.torch_names = torch_names
        self.anywhere = KERNELS_ANYWHERE | extra
        self.found: list[Violation] = []

    def _via_torch(self, dotted: str) -> str | None:
        """'nn.LSTM' -> 'torch.nn.LSTM' when `nn` came from torch; None otherwise."""
        root, _, rest = dotted.partition(".")
        origin = self.torch_names.get(root)
        return f"{origin}.{rest}" if origin and rest else origin

    def _flag(self, what: str, node: ast.AST) -> None:
        self.found.append(Violation(what, self.filename, getattr(node, "lineno", 0)))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] == "solutions":
                self._flag(f"import {alias.name}", node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] == "solutions":
            self._flag(f"from {module} import ...", node)
        for alias in node.names:  # importing a class is fine (isinstance); calling it is not: see visit_Call
            if alias.name in self.anywhere or (module.startswith("torch") and alias.name in FORBIDDEN_KERNELS):
                self._flag(f"from {module} import {alias.name}", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        via_torch = self._via_torch(dotted) if dotted else None
        if node.attr in self.anywhere or (node.attr in KERNELS_VIA_TORCH and via_torch):
            self._flag(via_torch or dotted or node.attr, node)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        origin = self.torch_names.get(node.id, "")
        if node.id in self.anywhere or origin.split(".")[-1] in FORBIDDEN_KERNELS:
            self._flag(origin or node.id, node)

    def visit_Call(self, node: ast.Call) -> None:
        dotted = _dotted(node.func)
        via_torch = self._via_torch(dotted) if dotted else None
        if via_torch and via_torch.split(".")[-1] in FORBIDDEN_CLASSES:
            self._flag(f"{via_torch}(...)", node)
        if isinstance(node.func, ast.Name) and node.func.id == "getattr" and len(node.args) >= 2:
            key = node.args[1]
            if isinstance(key, ast.Constant) and key.value in FORBIDDEN_KERNELS | FORBIDDEN_CLASSES | self.anywhere:
                self._flag(f"getattr(..., {key.value!r})", node)
        self.generic_visit(node)


def scan(path: Path) -> dict[str, list[Violation]]:
    """Violations per top-level function or class; '' holds those outside (they taint the whole file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    torch_names = _torch_names(tree)
    extra = FORBIDDEN_PER_FILE.get(path.name, set())
    found: dict[str, list[Violation]] = {}
    module_level = _Scanner(path.name, torch_names, extra)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scanner = _Scanner(path.name, torch_names, extra)
            scanner.visit(node)
            if scanner.found:
                found[node.name] = scanner.found
        else:
            module_level.visit(node)
    if module_level.found:
        found[""] = module_level.found
    return found
