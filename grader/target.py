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
        raise UsageError(f"--target {value}: no such folder", f"--target {value}：文件夹不存在")
    if not folder.is_dir():
        raise UsageError(f"--target {value}: not a folder (give the folder that holds ex1_rnn_cell.py ... modules.py)",
                         f"--target {value}：不是文件夹（请给出包含 ex1_rnn_cell.py ... modules.py 的文件夹）")
    folder = folder.resolve()
    if not any((folder / name).is_file() for name in EXPECTED_FILES):
        raise UsageError(
            f"--target {value}: {folder} holds none of the exercise files ({', '.join(EXPECTED_FILES)})",
            f"--target {value}：{folder} 中没有任何练习文件（{', '.join(EXPECTED_FILES)}）",
        )
    return folder
