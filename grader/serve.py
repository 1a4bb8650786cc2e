"""`python -m grader serve`: grade on request, for notebooks (`grader.notebook.check`).

Each line of standard input is a JSON object {"argv": [...]}: the arguments of `python -m grader` (without
--json, --watch, --classroom or --gradescope). Each answer is one line of standard output,
{"exit": code, "report": {...} or null, "error": "..."}: the native JSON report, exactly as
`python -m grader ARGV --json -` gives it. After answering, the server primes the next run's judge for the same
arguments (`runner.prime`; with the seed the next request without --seed will get), so a re-check pays for the
checks, not for starting Python and torch. It stops when its input closes.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from grader import cli, fingerprint, runner
from grader.catalog import UsageError

REFUSED = ("--json", "--watch", "--classroom", "--gradescope")


def _answer(channel: TextIO, exit_code: int, report: dict[str, Any] | None = None, error: str = "") -> None:
    channel.write(json.dumps({"exit": exit_code, "report": report, "error": error}, ensure_ascii=False) + "\n")
    channel.flush()


def _arguments(line: str) -> list[str]:
    try:
        request = json.loads(line)
    except ValueError:
        raise UsageError("a request is one line of JSON: {\"argv\": [...]}") from None
    argv = request.get("argv") if isinstance(request, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise UsageError("a request is one line of JSON: {\"argv\": [...]}")
    refused = [a for a in argv if a.split("=", 1)[0] in REFUSED]
    if refused:
        raise UsageError(f"not in a request: {', '.join(refused)}")
    return argv


def _grade(options: cli.Options) -> tuple[int, dict[str, Any] | None]:
    """cli.grade with its report in a file and its text (and progress line) kept from the answer channel."""
    with tempfile.TemporaryDirectory(prefix="rnn-grader-serve-") as tmp:
        report_path = Path(tmp) / "report.json"
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
        try:
            code = cli.grade(dataclasses.replace(options, json_path=str(report_path)))
        finally:
            sys.stdout, sys.stderr = stdout, stderr
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else None
        return code, report


def serve(requests: TextIO, channel: TextIO) -> None:
    next_seed = secrets.randbelow(2**31)  # the seed of the next request without --seed: its judge is primed with it
    for line in requests:
        if not line.strip():
            continue
        lang = "en"
        try:
            argv = _arguments(line)
            lang = cli.requested_language(argv)
            fresh = "--seed" not in argv and not any(a.startswith("--seed=") for a in argv)
            options = cli.parse_options(argv + (["--seed", str(next_seed)] if fresh else []))
            code, report = _grade(options)
            _answer(channel, code, report)
        except UsageError as error:
            _answer(channel, cli.EXIT_USAGE, error=cli.usage_message(error, lang))
            continue
        except runner.GraderFailure as error:
            _answer(channel, cli.EXIT_GRADER, error=f"the grader itself failed: {error}")
            continue
        except Exception as error:  # noqa: BLE001 - whatever went wrong, say so and keep serving
            _answer(channel, cli.EXIT_GRADER, error=f"the grader itself failed: {type(error).__name__}: {error}")
            continue
        if fresh:
            next_seed = secrets.randbelow(2**31)
        primed = dataclasses.replace(options, seed=next_seed if fresh else options.seed)
        runner.prime(cli.run_plan(primed), fingerprint.take(fingerprint.grader_files()))


def main(argv: list[str]) -> int:
    if argv:
        raise UsageError("python -m grader serve takes no arguments: it reads requests on its standard input")
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    try:
        serve(sys.stdin, channel)
    finally:
        runner.discard_primed()
    return 0
