"""Which files of this repository make a working copy of the grader, for bundles and templates."""
from __future__ import annotations

from pathlib import Path

from grader.catalog import ALL, SUITES_DIR, UsageError
from grader.target import REPO_ROOT

GRADER_DIR = REPO_ROOT / "grader"
SKIPPED_NAMES = {"__pycache__", ".pytest_cache"}


def _is_shipped(path: Path) -> bool:
    return path.is_file() and not SKIPPED_NAMES & set(path.parts) and path.suffix != ".pyc"


def tree(folder: Path, under: str) -> dict[str, Path]:
    """Every file below `folder` (caches left out), keyed by its path under `under` (POSIX separators)."""
    return {f"{under}/{path.relative_to(folder).as_posix()}": path
            for path in sorted(folder.rglob("*")) if _is_shipped(path)}


def grader_files(private_suites: Path | None = None, with_suites: bool = True) -> dict[str, Path]:
    """The grader package: grader/... -> source file. `private_suites` are laid over grader/suites/;
    `with_suites=False` leaves grader/suites/ out: the hidden tests (the judge's engine in grader/judge/ stays, it
    holds no test of its own)."""
    files = tree(GRADER_DIR, "grader")
    if private_suites is not None:
        files.update({f"grader/suites/{name.removeprefix('private/')}": path
                      for name, path in tree(private_suites, "private").items()
                      if not any(part.startswith(".") for part in Path(name).parts)})
    if not with_suites:
        files = {name: path for name, path in files.items() if not name.startswith("grader/suites/")}
    return files


def check_suites_complete(files: dict[str, Path]) -> None:
    """A bundle must be able to grade: every exercise needs its suite."""
    missing = [e.id for e in ALL if f"grader/suites/test_{e.id}.py" not in files]
    if missing:
        raise UsageError(f"no suite for {', '.join(missing)}: this copy of the grader has none in "
                         f"{SUITES_DIR.relative_to(REPO_ROOT)}/; give the private suites with --suites DIR")
