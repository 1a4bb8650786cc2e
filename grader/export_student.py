"""`python -m grader export-student OUT_DIR`: the repository as students get it, without the solutions.

The copy holds the README (without the maintainers' and instructors' parts), requirements.txt, the
grader with its suites (or without grader/suites/: --without-suites), the stubs, the guides, the figures and
the GitHub Classroom workflow. It leaves out solutions/ and the project's own tests/ (they plant
mistakes into copies of the solutions), and it checks that no reference implementation is left in it.
"""
from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from pathlib import Path

from grader.catalog import UsageError
from grader.shipping import grader_files, tree
from grader.target import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
COPIED_FOLDERS = ("exercises", "guides", "img", "tools", ".github")
COPIED_FILES = ("requirements.txt", ".gitignore", "start_here.ipynb")
# The project's own CI: it grades solutions/ and runs tests/, which a student copy lacks.
NOT_COPIED = (".github/workflows/tests.yml",)
# README blocks between these markers are for maintainers and instructors only.
OMIT_START, OMIT_END = "<!-- student-copy: omit -->", "<!-- student-copy: end -->"
LAYOUT_LINES_OMITTED = re.compile(r"^(solutions|tests)/\s")
SOLUTIONS_IMPORT = re.compile(r"^\s*(from|import)\s+solutions\b", re.MULTILINE)


def student_readme(text: str) -> str:
    """The README without the omitted blocks and without layout lines of folders the copy lacks."""
    kept, omitting = [], False
    for line in text.splitlines():
        if line.strip() == OMIT_START:
            omitting = True
        elif line.strip() == OMIT_END:
            omitting = False
        elif not omitting and not LAYOUT_LINES_OMITTED.match(line):
            kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).rstrip() + "\n"


def student_files(with_suites: bool) -> dict[str, Path]:
    """Relative path in the copy -> source file (README.md is written separately)."""
    files = grader_files(with_suites=with_suites)
    for folder in COPIED_FOLDERS:
        if (REPO_ROOT / folder).is_dir():
            files.update(tree(REPO_ROOT / folder, folder))
    files.update({name: REPO_ROOT / name for name in COPIED_FILES if (REPO_ROOT / name).is_file()})
    return {name: path for name, path in files.items() if name not in NOT_COPIED}


def _function_bodies(source: str) -> dict[str, str]:
    """Function name -> AST dump of its body (docstring left out), for every function in `source`."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return {}
    bodies = {}
    for node in ast.walk(module):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            bodies[node.name] = ast.dump(ast.Module(body=body, type_ignores=[]))
    return bodies


def reference_bodies() -> dict[str, str]:
    """AST dump of each reference function's body -> 'solutions/FILE:NAME'. modules.py is ready-made (given to
    students as is), so it is no reference implementation."""
    found = {}
    for path in sorted(SOLUTIONS_DIR.glob("ex*.py")):
        for name, body in _function_bodies(path.read_text(encoding="utf-8")).items():
            found[body] = f"solutions/{path.name}:{name}"
    return found


def find_reference_code(folder: Path) -> list[str]:
    """Places in `folder` holding a reference implementation or importing the solutions."""
    references = reference_bodies()
    leaks = []
    for path in sorted(folder.rglob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(folder).as_posix()
        if SOLUTIONS_IMPORT.search(source):
            leaks.append(f"{where}: imports the solutions")
        for name, body in _function_bodies(source).items():
            if body in references:
                leaks.append(f"{where}:{name} is {references[body]}")
    if (folder / "solutions").exists():
        leaks.append("solutions/ is present")
    return leaks


def export(out: Path, with_suites: bool) -> int:
    """Write the student copy into `out` (absent or empty); returns how many files it holds."""
    files = student_files(with_suites)
    for name, source in files.items():
        destination = out / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    readme = student_readme((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    (out / "README.md").write_text(readme, encoding="utf-8")
    return len(files) + 1


def _parser() -> argparse.ArgumentParser:
    from grader.cli import _Parser

    parser = _Parser(prog="python -m grader export-student",
                     description="Write the student template: this repository without solutions/ and tests/.")
    parser.add_argument("out", metavar="OUT_DIR", help="folder to create (it must not exist, or be empty)")
    parser.add_argument("--without-suites", action="store_true",
                        help="leave grader/suites/ out too (then grade with --suites DIR: private suites)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{args.out} exists and is not an empty folder")
    if out == REPO_ROOT or REPO_ROOT in out.parents:
        raise UsageError(f"{args.out} is inside this repository; export to a folder outside it")
    if not out.parent.is_dir():
        raise UsageError(f"{args.out}: folder {out.parent} does not exist")
    count = export(out, with_suites=not args.without_suites)
    leaks = find_reference_code(out)
    if leaks:
        shutil.rmtree(out)
        raise RuntimeError("the copy would hold reference code, so it was removed: " + "; ".join(leaks))
    if args.without_suites:
        sys.stdout.write(f"Wrote the student copy to {out} ({count} files, no solutions, no suites).\n"
                         f"It grades with private suites: cd {out} && python -m grader --suites DIR\n")
    else:
        sys.stdout.write(f"Wrote the student copy to {out} ({count} files, no solutions).\n"
                         f"Try it: cd {out} && python -m grader   (the stubs score 0/120, with hints)\n")
    return 0
