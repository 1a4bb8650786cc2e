"""Did anything change the grader while it graded? A fingerprint of its files and of Python's start-up hooks.

Under confinement (Linux) learner code cannot write any of these; elsewhere it runs
as the grader's user and could, to change later runs (a `conftest.py` beside the
suites, an edited judge, a `.pth` file or `usercustomize.py` that every Python
runs). The grader takes a fingerprint before grading and compares after: a grade
taken while its own code changed is not reported. Compiled bytecode (`__pycache__`)
is left out: the judge writes its own there.
"""
from __future__ import annotations

import hashlib
import site
from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parent
STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")


def _site_folders() -> list[Path]:
    folders = [Path(p) for p in site.getsitepackages()]
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        folders.append(Path(user_site))
    return [f for f in folders if f.is_dir()]


def _watched() -> list[Path]:
    files = [p for p in GRADER_DIR.rglob("*") if "__pycache__" not in p.parts and not p.is_dir()]
    for folder in _site_folders():
        files.extend(folder.glob("*.pth"))
        files.extend(folder / name for name in STARTUP_HOOKS if (folder / name).exists())
    return files


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "not a regular file"
    except OSError as error:
        return f"unreadable: {error.strerror}"


def take() -> dict[str, str]:
    """path -> content digest of every watched file."""
    return {str(path): _digest(path) for path in _watched()}


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The files added, removed or changed between two fingerprints."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
