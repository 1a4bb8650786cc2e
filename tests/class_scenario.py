"""A generated class of 50 submissions for the class report: common mistakes at known frequencies and near-copies.

    python tests/class_scenario.py OUT_DIR [SEED]

Honest students write their own code: each file starts from the reference solutions or from the second
correct implementation (tests/variants/), then its syntax tree is restyled at random (the operands of
+ and * swapped, returned expressions named first), so no two students' files read alike. Then:
- three mistakes from tests/compound.py are planted in 10, 6 and 3 students (the common mistakes, ranked);
- three students hand in a near-copy of a classmate's files: every local variable renamed, comments and
  blank lines added (the copies the similarity report must flag, and no other pair);
- three students finished only exercises 1 and 2, one handed in the untouched stubs.
OUT_DIR/scenario.json records who is who.
"""
from __future__ import annotations

import ast
import builtins
import json
import random
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))
from compound import CATALOG  # noqa: E402
from grader.catalog import EXERCISES  # noqa: E402

FILES = tuple(f"{exercise.id}.py" for exercise in EXERCISES)
COMMON = (("numpy tutorial: W_hh untransposed, one bias", 10), ("no input gate, returns (c, h)", 6),
          ("the paper's GRU: reset before the matmul, no b_hn", 3))
COPIES, PARTIAL, STUBS, CLASS_SIZE = 3, 3, 1, 50
NOT_COMMUTATIVE = (ast.Constant, ast.List, ast.Tuple, ast.ListComp, ast.JoinedStr, ast.Dict, ast.Set)


@dataclass
class Scenario:
    seed: int
    honest: list[str] = field(default_factory=list)
    mistakes: dict[str, list[str]] = field(default_factory=dict)  # compound key -> students
    copies: list[tuple[str, str]] = field(default_factory=list)  # (original, copy)
    partial: list[str] = field(default_factory=list)
    stubs: list[str] = field(default_factory=list)


class Restyle(ast.NodeTransformer):
    """The same arithmetic, written another way, each choice at random: exact in floating point."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.temporaries = 0

    def coin(self) -> bool:
        return self.rng.random() < 0.5

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        plain = not isinstance(node.left, NOT_COMMUTATIVE) and not isinstance(node.right, NOT_COMMUTATIVE)
        if isinstance(node.op, (ast.Add, ast.Mult)) and plain and self.coin():  # a + b == b + a exactly
            node.left, node.right = node.right, node.left
        if isinstance(node.op, ast.MatMult) and self.coin():
            return ast.Call(ast.Attribute(ast.Name("torch", ast.Load()), "matmul", ast.Load()),
                            [node.left, node.right], [])
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        weight = isinstance(node.value, ast.Name) and node.value.id.lower().startswith("w")
        if node.attr == "T" and weight and self.coin():  # a weight is 2-D: .T is .t()
            return ast.Call(ast.Attribute(node.value, "t", ast.Load()), [], [])
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        function = node.func
        if not (isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name)
                and function.value.id == "torch"):
            return node
        if function.attr in ("sigmoid", "tanh", "exp", "relu") and len(node.args) == 1 and not node.keywords \
                and self.coin():
            return ast.Call(ast.Attribute(node.args[0], function.attr, ast.Load()), [], [])
        if function.attr in ("cat", "stack") and len(node.args) == 1 and [k.arg for k in node.keywords] == ["dim"] \
                and self.coin():
            return ast.Call(function, [node.args[0], node.keywords[0].value], [])
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        call = node.value
        if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], (ast.BinOp, ast.Call)) \
                and self.rng.random() < 0.3:
            self.temporaries += 1
            name = f"{self.rng.choice(['pre', 'tmp', 'z', 'a', 'inner'])}{self.temporaries}"
            hoisted = ast.Assign([ast.Name(name, ast.Store())], call.args[0], lineno=node.lineno)
            call.args[0] = ast.Name(name, ast.Load())
            return [hoisted, node]
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        if node.value is None or isinstance(node.value, (ast.Name, ast.Tuple)) or self.coin():
            return node
        name = self.rng.choice(["result", "out", "value", "answer", "res"])
        return [ast.Assign([ast.Name(name, ast.Store())], node.value, lineno=node.lineno),
                ast.Return(ast.Name(name, ast.Load()))]


def restyled(source: str, rng: random.Random) -> str:
    return ast.unparse(ast.fix_missing_locations(Restyle(rng).visit(ast.parse(source)))) + "\n"


def _locals(function: ast.FunctionDef) -> set[str]:
    parameters = {a.arg for a in function.args.args + function.args.kwonlyargs}
    stored = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return stored - parameters - set(dir(builtins))


class Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.names.get(node.id, node.id)
        return node


def disguised(source: str, rng: random.Random) -> str:
    """A near-copy: every function's local variables renamed, comments and blank lines added."""
    tree = ast.parse(source)
    for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        names = {name: f"{rng.choice(['my', 'tmp', 'the', 'cur'])}_{name}_{rng.randrange(10)}"
                 for name in _locals(function)}
        Rename(names).visit(function)
    lines = []
    for line in ast.unparse(tree).splitlines():
        if line.strip() and rng.random() < 0.15:
            indent = line[:len(line) - len(line.lstrip())]
            lines += ["", f"{indent}# {rng.choice(['step', 'compute this', 'see the notes', 'careful here'])}"]
        lines.append(line)
    return "\n".join(lines) + "\n"


def honest_files(rng: random.Random) -> dict[str, str]:
    files = {}
    for name in FILES:
        base = REPO / rng.choice(["solutions", "tests/variants"]) / name
        files[name] = restyled(base.read_text(encoding="utf-8"), rng)
    return files


def write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / "modules.py", folder / "modules.py")
    shutil.copy(REPO / "exercises" / "__init__.py", folder / "__init__.py")
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def make_class(out: Path, seed: int) -> Scenario:
    rng = random.Random(seed)
    names = [f"student{n:02d}" for n in range(1, CLASS_SIZE + 1)]
    rng.shuffle(names)
    scenario, code = Scenario(seed), {}
    catalog = {item.key: item for item in CATALOG}
    for key, count in COMMON:
        scenario.mistakes[key] = [names.pop() for _ in range(count)]
        for student in scenario.mistakes[key]:
            files = honest_files(rng)
            item = catalog[key]
            files[item.file] += "\n\n" + item.code.strip() + "\n"
            code[student] = files
    for _ in range(COPIES):
        original, copy = names.pop(), names.pop()
        code[original] = honest_files(rng)
        code[copy] = {name: disguised(text, rng) for name, text in code[original].items()}
        scenario.copies.append((original, copy))
    stubs = {name: (REPO / "exercises" / name).read_text(encoding="utf-8") for name in FILES}
    for _ in range(PARTIAL):
        student = names.pop()
        code[student] = {**stubs, **{n: t for n, t in honest_files(rng).items() if n in FILES[:2]}}
        scenario.partial.append(student)
    for _ in range(STUBS):
        student = names.pop()
        code[student] = dict(stubs)
        scenario.stubs.append(student)
    for student in names:
        code[student] = honest_files(rng)
        scenario.honest.append(student)
    for student, files in code.items():
        write(out / "submissions" / student, files)
    (out / "scenario.json").write_text(json.dumps(asdict(scenario), indent=2) + "\n", encoding="utf-8")
    return scenario


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        sys.stderr.write(__doc__)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=False)
    scenario = make_class(out, int(argv[1]) if len(argv) > 1 else 0)
    sys.stdout.write(f"Wrote {CLASS_SIZE} submissions to {out / 'submissions'}; copies: {scenario.copies}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
