"""`--watch`: grade again whenever a file in the target folder is saved."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TextIO

WAITING = {"en": "Watching {folder} — save a file to grade again, Ctrl-C to stop.",
           "zh": "正在监视 {folder} —— 保存文件后会重新评测，按 Ctrl-C 退出。"}


def snapshot(folder: Path) -> dict[str, int]:
    """Modification times of the folder's Python files."""
    return {path.name: path.stat().st_mtime_ns for path in sorted(folder.glob("*.py")) if path.is_file()}


def watch(grade_once: Callable[[], int], folder: Path, stream: TextIO, lang: str,
          poll_s: float = 0.1, settle_s: float = 0.1, max_runs: int | None = None) -> int:
    """Grade, then grade again after every change (once no file has changed for `settle_s`, so an editor has
    finished writing); returns the last run's exit code. Each result is printed below the last: nothing the
    learner was reading is cleared."""
    seen = snapshot(folder)
    code = grade_once()
    runs = 1
    try:
        while max_runs is None or runs < max_runs:
            stream.write(WAITING[lang].format(folder=folder) + "\n")
            stream.flush()
            while snapshot(folder) == seen:
                time.sleep(poll_s)
            seen = snapshot(folder)
            while True:  # let the editor finish writing
                time.sleep(settle_s)
                latest = snapshot(folder)
                if latest == seen:
                    break
                seen = latest
            code = grade_once()
            runs += 1
    except KeyboardInterrupt:
        pass
    return code
