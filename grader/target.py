"""Where the code to grade lives: `exercises`, `solutions`, or any folder of ex*.py files."""
from __future__ import annotations

from pathlib import Path

from grader.catalog import ALL, SUITES_DIR, Exercise, UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMED_TARGETS = ("exercises", "solutions")
JUDGE_FILES = ("pytest.ini",)  # beside the suites: how the judge runs them (the engine is grader/judge/)
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


def resolve_suites(value: str | None, exercises: list[Exercise]) -> Path | None:
    """The folder given by --suites (laid over grader/suites/), or None; every selected exercise needs a suite."""
    folder = None
    if value is not None:
        folder = Path(value).expanduser()
        if not folder.is_dir():
            raise UsageError(f"--suites {value}: no such folder")
        folder = folder.resolve()
        if not any(folder.glob("test_*.py")):
            raise UsageError(f"--suites {value}: {folder} holds no test_*.py suite (give a folder of "
                             "test_<exercise>.py files, or a copy of grader/suites/)")
    needed = [f"test_{e.id}.py" for e in exercises] + list(JUDGE_FILES)
    missing = [name for name in needed
               if not (SUITES_DIR / name).is_file() and not (folder is not None and (folder / name).is_file())]
    if missing:
        names = ", ".join(missing)
        if folder is not None:
            raise UsageError(f"--suites {value}: neither {folder} nor grader/suites/ holds {names} "
                             "(a private suites folder holds test_<exercise>.py files)")
        raise UsageError(f"grader/suites/ does not hold {names}: this copy of the grader ships without its "
                         "hidden suites; grade with --suites DIR (the instructor's private suites)")
    return folder
