"""`python -m grader gradescope-zip OUT.zip`: the autograder bundle to upload to Gradescope.

The zip holds `setup.sh` (installs Python, CPU PyTorch and the grader's requirements into a virtual
environment), `run_autograder` (grades /autograder/submission and writes
/autograder/results/results.json), `requirements.txt` and the grader package with its suites.
"""
from __future__ import annotations

import argparse
import stat
import sys
import zipfile
from pathlib import Path

from grader.catalog import UsageError
from grader.shipping import check_suites_complete, grader_files
from grader.target import REPO_ROOT

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
# The CPU build of PyTorch: Gradescope's machines have no GPU, and it is a fraction of the download.
/autograder/venv/bin/python -m pip install --index-url {TORCH_CPU_INDEX} torch==2.13.0
/autograder/venv/bin/python -m pip install -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades /autograder/submission (the files
# ex1_rnn_cell.py ... modules.py, or a whole repository with an exercises/ folder) and writes
# /autograder/results/results.json. AUTOGRADER_ROOT and AUTOGRADER_PYTHON exist for local trials.
#
# Gradescope runs it as root. Where the sandbox cannot confine learner code (no Landlock in the
# container), that code would run as root too, and could write results.json or the grader itself.
# So, as root, the grader runs as the unprivileged user rnn-grader (created if absent): it reads
# copies of the source and of the submission that root owns, and writes only a private output
# folder; root then copies results.json from there (a regular file only, never a link). If
# rnn-grader cannot run the Python installation (it must be readable by every user), the grader
# runs as root, and this script says so.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
RESULTS="$ROOT/results/results.json"
GRADER_USER=rnn-grader
WORK="$(mktemp -d)"
ERRORS="$WORK/errors"
mkdir -p "$ROOT/results" "$WORK/output" "$WORK/home"
rm -f "$RESULTS"
cp -R "$ROOT/source" "$WORK/source"
cp -R "$ROOT/submission" "$WORK/submission"
find "$WORK/submission" -type l -delete  # links are not followed: only the files themselves are graded
SUBMISSION="$WORK/submission"
if [ -d "$SUBMISSION/exercises" ]; then SUBMISSION="$SUBMISSION/exercises"; fi
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  id -u "$GRADER_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$GRADER_USER"
  if id -u "$GRADER_USER" >/dev/null 2>&1; then
    chmod 755 "$WORK"
    chmod -R go-w,a+rX "$WORK/source" "$WORK/submission"
    chown "$GRADER_USER" "$WORK/output" "$WORK/home"
    chmod 700 "$WORK/output" "$WORK/home"
    if command -v setpriv >/dev/null; then
      RUN_AS=(setpriv --reuid="$(id -u "$GRADER_USER")" --regid="$(id -g "$GRADER_USER")" --init-groups)
    else
      RUN_AS=(runuser -u "$GRADER_USER" --)
    fi
    RUN_AS+=(env HOME="$WORK/home")
    if ! (cd "$WORK/source" && "${RUN_AS[@]}" "$PYTHON" -c "import grader.runner, torch") >/dev/null 2>&1; then
      echo "run_autograder: $GRADER_USER cannot run $PYTHON (not readable by every user): grading as root."
      RUN_AS=()
    fi
  else
    echo "run_autograder: could not create the user $GRADER_USER: grading as root."
  fi
fi
cd "$WORK/source"
status=0
${RUN_AS[@]+"${RUN_AS[@]}"} "$PYTHON" -m grader --target "$SUBMISSION" --device cpu --lang __LANG__ \\
  --gradescope "$WORK/output/results.json" 2> "$ERRORS" || status=$?
cat "$ERRORS" >&2
if [ "$status" -le 1 ]; then
  "$PYTHON" - "$WORK/output/results.json" "$RESULTS" <<'PY'
import os, stat, sys
source, target = sys.argv[1:]
try:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
except OSError:
    sys.exit(0)  # no results.json: explained below
with os.fdopen(fd, "rb") as file:
    if stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        data = file.read(64 << 20)
        with open(target, "wb") as out:
            out.write(data)
PY
fi
# 0 or 1: graded (1 = some test failed). Otherwise tell the student why nothing was graded.
if [ "$status" -gt 1 ] || [ ! -s "$RESULTS" ]; then
  "$PYTHON" - "$RESULTS" "$ERRORS" "$status" __LANG__ <<'PY'
import json, sys
results, errors, status, lang = sys.argv[1:]
with open(errors, encoding="utf-8", errors="replace") as file:
    detail = file.read()[-4000:]
if lang == "zh":
    output = (f"评测程序无法评测这份提交（退出码 {status}）。\\n{detail}\\n"
              "请提交 ex1_rnn_cell.py ... ex6_sequence_tasks.py 和 modules.py，或者你的整个仓库。")
else:
    output = (f"The grader could not grade this submission (exit code {status}).\\n{detail}\\n"
              "Submit ex1_rnn_cell.py ... ex6_sequence_tasks.py and modules.py, or your repository.")
with open(results, "w", encoding="utf-8") as file:
    json.dump({"score": 0, "output": output, "output_format": "text", "tests": []}, file)
PY
fi
cd /
rm -rf "$WORK"
exit 0
"""

EXECUTABLE = (stat.S_IFREG | 0o755) << 16
REGULAR = (stat.S_IFREG | 0o644) << 16


def _parser() -> argparse.ArgumentParser:
    from grader.cli import _Parser

    parser = _Parser(prog="python -m grader gradescope-zip",
                     description="Build the autograder zip to upload to Gradescope (Programming Assignment).")
    parser.add_argument("out", metavar="OUT.zip", help="where to write the zip")
    parser.add_argument("--suites", metavar="DIR", help="private suites: their test_<exercise>.py files replace "
                                                        "those in grader/suites/ inside the bundle")
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the hints (default: en)")
    return parser


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = REGULAR) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: the same inputs give the same zip
    info.external_attr = mode
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build(out: Path, private_suites: Path | None, lang: str) -> list[str]:
    """Write the zip; returns the names it holds."""
    files = grader_files(private_suites)
    check_suites_complete(files)
    files["requirements.txt"] = REPO_ROOT / "requirements.txt"
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), EXECUTABLE)
        _add(archive, "run_autograder", RUN_AUTOGRADER.replace("__LANG__", lang).encode(), EXECUTABLE)
        for name, path in sorted(files.items()):
            _add(archive, name, path.read_bytes())
        return archive.namelist()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    out = Path(args.out).expanduser()
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{args.out}: folder {out.resolve().parent} does not exist")
    if out.is_dir():
        raise UsageError(f"{args.out} is a folder; give the path of the zip to write")
    private = None
    if args.suites is not None:
        private = Path(args.suites).expanduser()
        if not private.is_dir():
            raise UsageError(f"--suites {args.suites}: no such folder")
        private = private.resolve()
    names = build(out, private, args.lang)
    sys.stdout.write(f"Wrote {out} ({len(names)} files). Upload it in Gradescope: Programming Assignment -> "
                     "Configure Autograder -> Zip file upload.\n")
    return 0
