"""Learner code must not be able to forge what GitHub Actions or Gradescope read from the grader.

Where the sandbox is not confined by the OS (macOS, Windows, old Linux), learner code runs as the
grader's user and could append `score=100` to the file named by $GITHUB_OUTPUT, or write its own
results.json, while it is graded; it could also print workflow commands (`::set-output`, `::error`)
that the Actions runner would obey. So the grader
- fingerprints (`grader.fingerprint`) every platform file before grading and, if one changed by the time it
  would write its results, refuses (exit code 3) and writes no platform result at all;
- under GitHub Actions, stops workflow-command processing while learner code runs
  (`::stop-commands::TOKEN`), with a fresh random token that learner code cannot guess to resume.
"""
from __future__ import annotations

import os
import secrets
from typing import Mapping, TextIO

PLATFORM_VARIABLES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")


def platform_files(env: Mapping[str, str], gradescope_path: str | None) -> list[str]:
    """The files a platform reads results from: $GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_STEP_SUMMARY, --gradescope."""
    paths = [env[name] for name in PLATFORM_VARIABLES if env.get(name)]
    if gradescope_path:
        paths.append(gradescope_path)
    return [os.path.abspath(os.path.expanduser(path)) for path in paths]


def refusal(paths: list[str], lang: str) -> str:
    """Why no platform result is written (stderr, exit code 3)."""
    names = ", ".join(paths)
    if lang == "zh":
        return (f"python -m grader：评测期间有程序改动了平台的结果文件（{names}），评测程序不会写入任何平台结果。"
                "被评测的代码不应写这些文件。\n")
    return (f"python -m grader: a platform's result file changed while the code was graded ({names}), so no "
            "platform result is written. The graded code must not write these files.\n")


class CommandStop:
    """`::stop-commands::TOKEN` ... `::TOKEN::` around grading, under GitHub Actions only.

    The token is 128 random bits, fresh per run, printed before the judge starts: learner code cannot
    guess it to resume command processing (it would have to read the grader's own output stream).
    """

    def __init__(self, stream: TextIO, env: Mapping[str, str]):
        self.stream = stream
        self.token = secrets.token_hex(16) if env.get("GITHUB_ACTIONS") == "true" else None

    def __enter__(self) -> "CommandStop":
        if self.token:
            self.stream.write(f"::stop-commands::{self.token}\n")
            self.stream.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.token:
            self.stream.write(f"::{self.token}::\n")
            self.stream.flush()
