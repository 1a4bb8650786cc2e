"""Where the code to grade lives: `exercises`, `solutions`, or any folder of ex*.py files."""
from __future__ import annotations

from pathlib import Path

from grader.catalog import ALL, UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMED_TARGETS = ("exercises", "solutions")
EXPECTED_FILES = tuple(f"{e.id}.py" for e in ALL if e.id.startswith("ex")) + ("modules.py",)


def resolve_target(value: str) -> Path:
    """The folder to grade; a UsageError explains what is wrong with it."""
    folder = REPO_ROOT / value if value in NAMED_TARGETS else Path(value).expanduser()
    if not folder.exists():
        raise UsageError(f"--target {value}: no such folder")
    if not folder.is_dir():
        raise UsageError(f"--target {value}: not a folder (give the folder that holds ex1_rnn_cell.py ... modules.py)")
    folder = folder.resolve()
    if not any((folder / name).is_file() for name in EXPECTED_FILES):
        raise UsageError(
            f"--target {value}: {folder} holds none of the exercise files ({', '.join(EXPECTED_FILES)})"
        )
    return folder
