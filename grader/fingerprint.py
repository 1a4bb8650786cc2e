"""Did anything change a file while the grader graded? Fingerprints taken before and compared after.

Used for the grader's own files and Python's start-up hooks (`grader_files`), and for the
files a platform reads results from (`grader.platform_guard`).

Under confinement (Linux) learner code cannot write any of these; elsewhere it runs
as the grader's user and could, to change later runs (a `conftest.py` beside the
suites, an edited judge, a `.pth` file or `usercustomize.py` that every Python
runs). The grader takes a fingerprint before grading and compares after: a grade
taken while its own code changed is not reported. Compiled bytecode (`__pycache__`)
is left out: the judge writes its own there.
"""
from __future__ import annotations

import hashlib
import os
import site
import stat
from pathlib import Path
from typing import Iterable

GRADER_DIR = Path(__file__).resolve().parent
STARTUP_HOOKS = ("sitecustomize.py", "usercustomize.py")

Fingerprint = dict[str, "tuple[str, int, str] | None"]


def _site_folders() -> list[Path]:
    folders = [Path(p) for p in site.getsitepackages()]
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        folders.append(Path(user_site))
    return [f for f in folders if f.is_dir()]


def grader_files() -> list[Path]:
    """The grader's own files (bytecode left out) and Python's start-up hooks."""
    files = [p for p in GRADER_DIR.rglob("*") if "__pycache__" not in p.parts and not p.is_dir()]
    for folder in _site_folders():
        files.extend(folder.glob("*.pth"))
        files.extend(folder / name for name in STARTUP_HOOKS if (folder / name).exists())
    return files


def digest(path: str | Path) -> tuple[str, int, str] | None:
    """(kind, size, sha256) of a path, None when absent. Links and special files are not followed or opened
    (a FIFO would block), so replacing a file by one of them is a change too."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return (f"not a regular file (mode {info.st_mode:o})", info.st_size, "")
    content = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                content.update(block)
    except OSError as error:
        return (f"unreadable: {error.strerror}", info.st_size, "")
    return ("file", info.st_size, content.hexdigest())


def take(paths: Iterable[str | Path]) -> Fingerprint:
    """path -> digest of each path."""
    return {str(path): digest(path) for path in paths}


def changes(before: Fingerprint, after: Fingerprint) -> list[str]:
    """The paths changed or removed since `before` (in its order), then those new in `after`."""
    return ([path for path, was in before.items() if after.get(path) != was]
            + [path for path in after if path not in before])
