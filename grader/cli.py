"""`python -m grader`: command line -> exercises and target -> judge -> scores -> report."""
from __future__ import annotations

import argparse
import importlib
import io
import json
import locale
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from grader import catalog, classroom, fingerprint, gradescope, platform_guard, report, runner, scoring, watch
from grader.catalog import UsageError
from grader.target import resolve_suites, resolve_target

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3

# `python -m grader NAME ...`: tools beside grading. NAME -> (module in grader/, one line of help).
# Each module has `main(argv: list[str]) -> int` and is imported only when its command is run.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "plot": ("plot", "plot vanishing: see vanishing gradients with your exercise 5 code (PNG, or text)"),
    "gradescope-zip": ("gradescope_zip", "build the autograder zip to upload to Gradescope"),
    "export-student": ("export_student", "write a student copy of this repository, without the solutions"),
    "batch": ("batch", "grade a folder of submissions in parallel: grades.csv, pass rates, report.html"),
    "merge": ("merge", "join the results of batch --shard K/N runs into one"),
    "serve": ("serve", "grade requests read from standard input, the next judge primed (for notebooks' check())"),
}


@dataclass(frozen=True)
class Options:
    exercises: list[catalog.Exercise]
    target_name: str
    target: Path
    device: str
    seed: int
    json_path: str | None
    lang: str
    test_timeout_s: float
    memory_mib: int
    verbose: bool
    watch: bool
    classroom: bool = False
    gradescope_path: str | None = None
    suites: Path | None = None  # --suites DIR: private suites laid over grader/suites/


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m grader",
        description="Grade the RNN exercises against torch.nn and print a score with hints.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help="ids or prefixes, e.g. ex3, lstm, ex3_lstm (default: all)")
    parser.add_argument("--target", default="exercises", metavar="exercises|solutions|DIR",
                        help="what to grade: a folder holding ex*.py and modules.py (default: exercises)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where the tests run (default auto: cuda when available)")
    parser.add_argument("--seed", type=_seed, default=None, help="random inputs' seed (default: fresh each run)")
    parser.add_argument("--json", metavar="PATH", help="write the JSON report here ('-' = stdout)")
    parser.add_argument("--lang", choices=("en", "zh"), default=None, help="hint language (default: from the locale)")
    parser.add_argument("--timeout", type=_positive, default=10.0, metavar="SECONDS",
                        help="time limit of one test (default: 10)")
    parser.add_argument("--memory", type=_memory, default=2048, metavar="MIB",
                        help="memory limit of the process running the graded code, in MiB (default: 2048)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every test, passed ones too")
    parser.add_argument("--watch", action="store_true", help="grade again every time a file is saved (Ctrl-C stops)")
    instructors = parser.add_argument_group("for instructors")
    instructors.add_argument("--classroom", action="store_true",
                             help="also write GitHub Classroom's runner results to $GITHUB_OUTPUT (and $GITHUB_ENV)")
    instructors.add_argument("--gradescope", metavar="PATH",
                             help="also write Gradescope's results.json here")
    instructors.add_argument("--suites", metavar="DIR",
                             help="private suites: DIR's files replace those of the same name in grader/suites/")
    return parser


def _epilog() -> str:
    lines = ["Exit codes: 0 all passed, 1 some test failed, 2 usage error, 3 the grader itself failed."]
    if SUBCOMMANDS:
        lines += ["", "Other commands (python -m grader COMMAND --help):"]
        lines += [f"  {name:<16} {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1: {text}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _memory(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MiB: {text!r}") from None
    if value < 512:
        raise argparse.ArgumentTypeError(f"at least 512 MiB are needed to run PyTorch: {text}")
    return value


def _locale_language() -> str:
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(variable)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    try:
        code = locale.getlocale()[0] or ""
    except ValueError:
        code = ""
    return "zh" if code.lower().startswith("zh") else "en"


def _check_output_path(option: str, path: str | None) -> None:
    if path and path != "-":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise UsageError(f"{option} {path}: folder {parent} does not exist", f"{option} {path}：文件夹 {parent} 不存在")


def _check_device(device: str) -> None:
    if device == "cuda":
        import torch  # only here: the grader process needs torch for nothing else

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available here; use --device cpu or auto",
                             "--device cuda：这里没有可用的 CUDA 设备；请用 --device cpu 或 auto")


def _use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never under NO_COLOR (https://no-color.org) or TERM=dumb."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def parse_options(argv: list[str]) -> Options:
    args = _parser().parse_args(argv)
    exercises = catalog.select(args.exercises)
    target = resolve_target(args.target)
    _check_output_path("--json", args.json)
    _check_output_path("--gradescope", args.gradescope)
    if args.gradescope == "-":
        raise UsageError("--gradescope needs a file path (Gradescope reads /autograder/results/results.json)")
    if args.classroom:
        classroom.check_environment(os.environ)
    if args.watch and (args.classroom or args.gradescope):
        raise UsageError("--watch cannot be combined with --classroom or --gradescope")
    suites = resolve_suites(args.suites, exercises)
    _check_device(args.device)
    return Options(
        exercises=exercises,
        target_name=args.target,
        target=target,
        device=args.device,
        seed=args.seed if args.seed is not None else secrets.randbelow(2**31),
        json_path=args.json,
        lang=args.lang or _locale_language(),
        test_timeout_s=args.timeout,
        memory_mib=args.memory,
        verbose=args.verbose,
        watch=args.watch,
        classroom=args.classroom,
        gradescope_path=args.gradescope,
        suites=suites,
    )


def run_plan(options: Options) -> runner.RunPlan:
    return runner.RunPlan(exercises=options.exercises, target=options.target, device=options.device,
                          seed=options.seed, test_timeout_s=options.test_timeout_s,
                          memory_mib=options.memory_mib, private_suites=options.suites,
                          confine=os.environ.get("GRADER_CONFINE", "auto"))


def grade(options: Options) -> int:
    started = time.monotonic()
    plan = run_plan(options)
    progress = report.ProgressLine(sys.stderr, options.lang)
    human = sys.stderr if options.json_path == "-" else sys.stdout
    if runner.forks_judge(plan):
        # Forked before the grader's files are read for the fingerprint below, so their contents are never in the
        # memory the judge forks its sandbox from. It waits for its key: no learner code runs before the fingerprint.
        runner.prime(plan)
    # A judge primed for this run (--watch) started after this fingerprint: it covers the files it imported.
    before = runner.primed_baseline(plan)
    before = fingerprint.take(fingerprint.grader_files()) if before is None else before
    platform_files = fingerprint.take(platform_guard.platform_files(os.environ, options.gradescope_path))
    # Under GitHub Actions nothing printed while learner code runs is taken as a workflow command.
    with platform_guard.CommandStop(human, os.environ):
        try:
            run = runner.run_suites(plan, on_progress=progress.update)
        finally:
            progress.clear()
    changed = fingerprint.changes(before, fingerprint.take(fingerprint.grader_files()))
    if changed:
        raise runner.GraderFailure("the grader's own files, or Python's start-up hooks, changed while it graded, so "
                                   "no grade is reported (reinstall the grader): " + ", ".join(changed[:5]))
    forged = fingerprint.changes(platform_files, fingerprint.take(platform_files))
    if forged:
        sys.stderr.write(platform_guard.refusal(forged, options.lang))
        return EXIT_GRADER
    results = scoring.score_exercises(options.exercises, run.tests, options.lang, options.seed)
    missing = [r.exercise.id for r in results if not r.tests]
    if missing:
        raise runner.GraderFailure(f"no test results for {', '.join(missing)}")
    info = report.RunInfo(
        target=options.target_name,
        device=run.judge.get("device", options.device),
        seed=options.seed,
        torch_version=run.judge.get("torch", "unknown"),
        duration_s=time.monotonic() - started,
        lang=options.lang,
        confinement=str(run.judge.get("confinement", "none")),
    )
    report.render_text(results, info, human, color=_use_color(human), verbose=options.verbose)
    if options.json_path:
        text = json.dumps(report.to_json(results, info), ensure_ascii=False, indent=2)
        if options.json_path == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(options.json_path).expanduser().write_text(text + "\n", encoding="utf-8")
    _write_platform_reports(options, results, info)
    all_passed = all(t.status == "passed" for r in results for t in r.tests)
    return EXIT_PASSED if all_passed else EXIT_FAILED


# argparse's own messages, and those of the type checks above, in Chinese.
_ARGPARSE_ZH: tuple[tuple[str, str], ...] = (
    (r"unrecognized arguments: (.*)", r"无法识别的参数：\1"),
    (r"the following arguments are required: (.*)", r"缺少必需的参数：\1"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"参数 \1：无效的选项 \2（可选：\3）"),
    (r"argument (\S+): expected one argument", r"参数 \1 后面需要一个值"),
    (r"argument (\S+): not an integer: (.*)", r"参数 \1：不是整数：\2"),
    (r"argument (\S+): not a number: (.*)", r"参数 \1：不是数字：\2"),
    (r"argument (\S+): must be between 0 and 2\*\*63-1: (.*)", r"参数 \1：必须在 0 到 2**63-1 之间：\2"),
    (r"argument (\S+): must be positive: (.*)", r"参数 \1：必须为正数：\2"),
    (r"argument (\S+): invalid (\w+) value: (.*)", r"参数 \1：无效的值 \3"),
)


def usage_message(error: UsageError, lang: str) -> str:
    """The error in the learner's language (English where no translation is known)."""
    if lang != "zh":
        return str(error)
    if error.zh:
        return error.zh
    for pattern, replacement in _ARGPARSE_ZH:
        if re.fullmatch(pattern, str(error)):
            return re.sub(pattern, replacement, str(error))
    return str(error)


def requested_language(argv: list[str]) -> str:
    """--lang from the command line when it is valid, else the locale's: for messages before parsing succeeds."""
    for index, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--lang=") else (
            argv[index + 1] if arg == "--lang" and index + 1 < len(argv) else None)
        if value in ("en", "zh"):
            return value
    return _locale_language()


def _report_usage_error(command: str, error: UsageError, argv: list[str]) -> int:
    if requested_language(argv) == "zh":
        sys.stderr.write(f"{command}：错误：{usage_message(error, 'zh')}\n（用法见 {command} --help）\n")
    else:
        sys.stderr.write(f"{command}: error: {error}\n(see {command} --help)\n")
    return EXIT_USAGE


class _TextBuffer(io.StringIO):
    encoding = "utf-8"  # the report may use its Unicode marks: both platforms show UTF-8 text


def _write_platform_reports(options: Options, results: list[scoring.ExerciseResult], info: report.RunInfo) -> None:
    """GitHub Classroom's runner results and Gradescope's results.json, from the same scored results."""
    if not (options.classroom or options.gradescope_path):
        return
    text = _TextBuffer()
    report.render_text(results, info, text, color=False, verbose=False)
    if options.classroom:
        classroom.write(results, info, text.getvalue(), os.environ)
    if options.gradescope_path:
        gradescope.write(options.gradescope_path, results, info, text.getvalue())


def _run_subcommand(name: str, argv: list[str]) -> int:
    module_name, _ = SUBCOMMANDS[name]
    try:
        return importlib.import_module(f"grader.{module_name}").main(argv)
    except UsageError as error:
        return _report_usage_error(f"python -m grader {name}", error, argv)
    except Exception as error:  # noqa: BLE001 - whatever went wrong, say so and exit 3
        sys.stderr.write(f"python -m grader {name}: the grader itself failed: {type(error).__name__}: {error}\n")
        return EXIT_GRADER


def grade_and_prime(options: Options) -> int:
    """--watch: grade, then start the next run's judge at once, so the next save is graded without waiting for
    Python and torch to start (a fresh judge and sandbox all the same)."""
    try:
        return grade(options)
    finally:
        runner.prime(run_plan(options), fingerprint.take(fingerprint.grader_files()))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return _run_subcommand(argv[0], argv[1:])
    try:
        options = parse_options(argv)
    except UsageError as error:
        return _report_usage_error("python -m grader", error, argv)
    try:
        if options.watch:
            try:
                return watch.watch(lambda: grade_and_prime(options), options.target, sys.stderr, options.lang)
            finally:
                runner.discard_primed()
        return grade(options)
    except runner.GraderFailure as error:
        sys.stderr.write(f"python -m grader: the grader itself failed: {error}\n")
    except Exception as error:  # noqa: BLE001 - whatever went wrong, say so and exit 3
        sys.stderr.write(f"python -m grader: the grader itself failed: {type(error).__name__}: {error}\n")
    return EXIT_GRADER
