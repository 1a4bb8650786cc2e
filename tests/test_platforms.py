"""GitHub Classroom (--classroom) and Gradescope (--gradescope, gradescope-zip) get the grader's own score.

One grading run feeds most tests here: a submission with a wrong LSTM cell (a failed check) and a
hidden_jacobian that exits the interpreter (an error), graded with private suites that mark one check
hidden, writing the native JSON, Classroom's outputs and Gradescope's results.json at once.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, Run, plant, results_by_id, run_grader
from plants import code_of

SUITES = REPO / "grader" / "suites"
WRONG_LSTM_CELL = code_of("h = o * c")
EXITING_JACOBIAN = """
import os
def hidden_jacobian(h_seq, weight_hh):
    os._exit(0)
"""
HIDDEN_TEST = "ex1_rnn_cell::cell_tanh"


@dataclass
class PlatformRun:
    run: Run
    folder: Path

    @property
    def native(self) -> dict[str, Any]:
        return json.loads((self.folder / "native.json").read_text(encoding="utf-8"))

    @property
    def outputs(self) -> dict[str, str]:
        """$GITHUB_OUTPUT as name -> value."""
        lines = (self.folder / "github_output").read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)

    def runner_results(self) -> dict[str, dict[str, Any]]:
        outputs = self.outputs
        return {runner: json.loads(base64.b64decode(outputs[runner])) for runner in outputs["runners"].split(",")}


@pytest.fixture(scope="module")
def platform_run(tmp_path_factory: pytest.TempPathFactory) -> PlatformRun:
    folder = tmp_path_factory.mktemp("platforms")
    target = plant(folder / "submission", "ex3_lstm.py", WRONG_LSTM_CELL)
    plant(target, "ex5_vanishing.py", EXITING_JACOBIAN)
    private = folder / "private_suites"
    private.mkdir()
    suite = (SUITES / "test_ex1_rnn_cell.py").read_text(encoding="utf-8")
    hidden = suite.replace(")\ndef test_cell_tanh(", ', visibility="hidden")\ndef test_cell_tanh(')
    assert hidden != suite
    (private / "test_ex1_rnn_cell.py").write_text(hidden, encoding="utf-8")
    env = {"GITHUB_OUTPUT": str(folder / "github_output"), "GITHUB_ENV": str(folder / "github_env"),
           "GITHUB_STEP_SUMMARY": str(folder / "step_summary.md"),
           "GRADER_ALLOWLIST": "off"}  # the allowlist would refuse ex5's `import os` before the exit: no "error"
    run = run_grader("--target", str(target), "--seed", "31", "--lang", "en", "--suites", str(private),
                     "--classroom", "--gradescope", str(folder / "results.json"), "--json", str(folder / "native.json"),
                     env=env)
    assert run.returncode == 1, run.stderr
    return PlatformRun(run, folder)


# --- GitHub Classroom -------------------------------------------------------------------


def test_the_planted_mistakes_give_partial_credit(platform_run: PlatformRun) -> None:
    tests = results_by_id(platform_run.native)
    assert tests["ex3_lstm::cell_values"]["status"] == "failed"
    assert tests["ex5_vanishing::hidden_jacobian"]["status"] == "error"
    assert platform_run.native["score"] == 120 - 10 - 4


def test_one_runner_per_test_with_its_points(platform_run: PlatformRun) -> None:
    native = results_by_id(platform_run.native)
    runners = platform_run.runner_results()
    assert len(runners) == len(native)
    assert all(re.fullmatch(r"[a-z0-9]+", runner) for runner in runners)  # the reporter's allowed names
    for result, (test_id, test) in zip(runners.values(), native.items()):
        assert result["version"] == 1 and result["max_score"] == test["max_score"]
        assert result["status"] == {"passed": "pass", "failed": "fail", "error": "error"}[test["status"]]
        (entry,) = result["tests"]
        assert entry["name"].startswith(test_id + ": ") and entry["status"] == result["status"]
        assert entry["score"] == test["score"]
        assert isinstance(entry["line_no"], int) and isinstance(entry["test_code"], str)


def test_reporter_arithmetic_gives_the_native_score(platform_run: PlatformRun) -> None:
    """The reporter's table: share of tests passed x max_score per runner; its Points: sum of test scores."""
    runners = platform_run.runner_results().values()
    table = sum(sum(t["status"] == "pass" for t in r["tests"]) / len(r["tests"]) * r["max_score"] for r in runners)
    points = sum(t["score"] for r in runners if r["max_score"] for t in r["tests"])
    max_points = sum(r["max_score"] for r in runners)
    assert table == points == platform_run.native["score"] == 106
    assert max_points == platform_run.native["max_score"] == 120


def test_values_are_single_line_and_small(platform_run: PlatformRun) -> None:
    for runner, value in platform_run.outputs.items():
        assert len(value.encode()) < 10_000, runner  # GitHub's limit is far above: 1 MB per job
        if runner != "runners":
            assert re.fullmatch(r"[A-Za-z0-9+/=]+", value)


def test_hints_reach_the_reporter_log(platform_run: PlatformRun) -> None:
    """The reporter prints `message` for errors only, and `test_code` for every test: the hint goes there."""
    native = results_by_id(platform_run.native)
    for result in platform_run.runner_results().values():
        (entry,) = result["tests"]
        test = native[entry["name"].split(": ", 1)[0]]
        if test["status"] == "passed":
            assert entry["test_code"] == "" and entry["message"] == ""
        else:
            assert test["hint"] in entry["test_code"] and "--seed 31" in entry["test_code"]
            assert entry["message"] == test["hint"]


def test_env_file_and_step_summary(platform_run: PlatformRun) -> None:
    outputs = platform_run.outputs
    env_lines = (platform_run.folder / "github_env").read_text(encoding="utf-8").splitlines()
    env = dict(line.split("=", 1) for line in env_lines)
    assert env == {f"{runner.upper()}_RESULTS": outputs[runner] for runner in outputs["runners"].split(",")}
    summary = (platform_run.folder / "step_summary.md").read_text(encoding="utf-8")
    assert "106/120" in summary
    assert results_by_id(platform_run.native)["ex3_lstm::cell_values"]["hint"][:40] in summary


def test_classroom_outside_github_actions_is_a_usage_error() -> None:
    run = run_grader("--classroom", env={"GITHUB_OUTPUT": ""})
    assert run.returncode == 2 and "GITHUB_OUTPUT" in run.stderr and "Traceback" not in run.stderr


def test_workflow_has_classrooms_shape() -> None:
    text = (REPO / ".github" / "workflows" / "classroom.yml").read_text(encoding="utf-8")
    assert "name: Autograding Tests" in text and "run-autograding-tests:" in text
    assert "classroom-resources/autograding-grading-reporter@v1" in text
    assert "download.pytorch.org/whl/cpu" in text and "cache: pip" in text
    assert "python -m grader --classroom --device cpu --target" in text
    assert "runners: ${{ steps.grader.outputs.runners }}" in text
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    assert [s.get("id") for s in steps].count("grader") == 1


def test_workflow_keeps_tokens_away_from_the_graded_code() -> None:
    """No checkout leaves its token in .git/config, and the grading step's environment holds no secret."""
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "classroom.yml").read_text(encoding="utf-8"))
    job = workflow["jobs"]["run-autograding-tests"]
    checkouts = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/checkout@")]
    assert len(checkouts) == 2 and all(s["with"]["persist-credentials"] is False for s in checkouts)
    (grading,) = [s for s in job["steps"] if s.get("id") == "grader"]
    for scope in (workflow.get("env", {}), job.get("env", {}), grading.get("env", {}), grading["run"]):
        assert "secrets." not in str(scope) and "GRADER_SUITES_TOKEN" not in str(scope)


def run_reporter(reporter: str, folder: Path, outputs: dict[str, str], env_file: Path) -> subprocess.CompletedProcess:
    """GitHub Classroom's grading reporter (its bundled dist/main.js), run offline with node."""
    env_lines = env_file.read_text(encoding="utf-8").splitlines()
    env = {**os.environ, **dict(line.split("=", 1) for line in env_lines), "INPUT_RUNNERS": outputs["runners"],
           "GITHUB_OUTPUT": str(folder / "reporter_output"), "GITHUB_STEP_SUMMARY": str(folder / "reporter_summary")}
    for name in ("reporter_output", "reporter_summary"):
        (folder / name).write_text("", encoding="utf-8")
    return subprocess.run(["node", reporter], env=env, capture_output=True, text=True, timeout=60)


def test_the_real_reporter_prints_our_score(platform_run: PlatformRun) -> None:
    """Set GRADING_REPORTER_JS to dist/main.js of classroom-resources/autograding-grading-reporter to run this."""
    reporter = os.environ.get("GRADING_REPORTER_JS")
    if not reporter or not Path(reporter).is_file() or shutil.which("node") is None:
        pytest.skip("set GRADING_REPORTER_JS to the reporter's dist/main.js (and install node) to run it")
    done = run_reporter(reporter, platform_run.folder, platform_run.outputs, platform_run.folder / "github_env")
    score, max_score = platform_run.native["score"], platform_run.native["max_score"]
    assert f"::notice title=Autograding complete::Points {score}/{max_score}" in done.stdout, done.stdout[-3000:]
    total_row = re.search(r"Total:\s*\S*│\S*\s+([\d.]+)\s+\S*│\S*\s+([\d.]+)", re.sub(r"\x1b\[\d+m", "", done.stdout))
    assert total_row is not None and (float(total_row[1]), float(total_row[2])) == (score, max_score)
    hint = results_by_id(platform_run.native)["ex3_lstm::cell_values"]["hint"]
    assert hint in done.stdout  # printed under the failed check
    assert "::error::Some tests failed." in done.stdout


# --- Gradescope ---------------------------------------------------------------------------

RESULT_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "visibility",
               "stdout_visibility", "extra_data", "tests", "leaderboard", "test_name_format"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def check_gradescope_results(results: dict[str, Any]) -> None:
    """results.json against Gradescope's autograder specification: keys, types and values."""
    assert set(results) <= RESULT_KEYS
    assert isinstance(results["score"], (int, float))  # optional in the spec when every test has a score
    assert isinstance(results.get("execution_time", 0), (int, float))
    assert isinstance(results["output"], str) and results.get("output_format", "text") in FORMATS
    assert results.get("test_output_format", "text") in FORMATS
    assert results.get("visibility", "visible") in VISIBILITIES
    assert results.get("stdout_visibility", "hidden") in VISIBILITIES
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS and {"score", "max_score", "name"} <= set(test)
        assert isinstance(test["name"], str) and isinstance(test["number"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in {"passed", "failed"} and isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
        assert isinstance(test["tags"], list) and all(isinstance(tag, str) for tag in test["tags"])
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))


def test_results_json_follows_the_spec_and_matches_the_native_report(platform_run: PlatformRun) -> None:
    results = json.loads((platform_run.folder / "results.json").read_text(encoding="utf-8"))
    check_gradescope_results(results)
    native = results_by_id(platform_run.native)
    assert results["score"] == platform_run.native["score"] and len(results["tests"]) == len(native)
    assert "Total: 106/120" in results["output"]
    for test in results["tests"]:
        own = native[test["name"].split(": ", 1)[0]]
        assert (test["score"], test["max_score"]) == (own["score"], own["max_score"])
        assert test["status"] == ("passed" if own["status"] == "passed" else "failed")
        assert test["output"] == own.get("hint", "")


def test_hidden_tests_are_shown_after_publishing(platform_run: PlatformRun) -> None:
    """--suites laid the private test_ex1_rnn_cell.py, whose cell_tanh is hidden, over grader/suites/."""
    assert results_by_id(platform_run.native)[HIDDEN_TEST]["visibility"] == "hidden"
    results = json.loads((platform_run.folder / "results.json").read_text(encoding="utf-8"))
    visibility = {t["name"].split(": ", 1)[0]: t["visibility"] for t in results["tests"]}
    assert visibility.pop(HIDDEN_TEST) == "after_published"
    assert set(visibility.values()) == {"visible"}


def test_gradescope_needs_a_file() -> None:
    run = run_grader("--gradescope", "-")
    assert run.returncode == 2 and "--gradescope" in run.stderr


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zip") / "autograder.zip"
    run = run_grader("gradescope-zip", str(out))
    assert run.returncode == 0, run.stderr
    return out


def test_zip_holds_the_scripts_at_its_root_and_the_grader(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "requirements.txt", "grader/__main__.py"} <= names
    assert {"grader/judge/plugin.py", "grader/judge/toolkit.py", "grader/sandbox/start.py",
            "grader/suites/pytest.ini"} <= names
    assert {f"grader/suites/test_{e}.py" for e in ("ex1_rnn_cell", "ex5_vanishing", "integration")} <= names
    assert not any(n.startswith(("solutions/", "exercises/", "tests/")) or "__pycache__" in n for n in names)
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert "download.pytorch.org/whl/cpu torch==" in setup and setup.startswith("#!/usr/bin/env bash")
    assert "/autograder/submission" not in setup and '"$ROOT/submission"' in run
    assert 'RESULTS="$ROOT/results/results.json"' in run


def test_run_autograder_drops_root_for_the_grader(autograder_zip: Path) -> None:
    """As root, the grader runs as rnn-grader on root-owned copies and writes only its own output folder."""
    with zipfile.ZipFile(autograder_zip) as archive:
        run = archive.read("run_autograder").decode()
    assert "useradd --system --no-create-home" in run and "GRADER_USER=rnn-grader" in run
    assert "setpriv --reuid=" in run and "runuser -u" in run and '[ "$(id -u)" -eq 0 ]' in run
    assert 'cp -R "$ROOT/submission" "$WORK/submission"' in run and "find \"$WORK/submission\" -type l -delete" in run
    assert 'chown "$GRADER_USER" "$WORK/output"' in run and "chmod 700" in run and "go-w" in run
    assert '--gradescope "$WORK/output/results.json"' in run and "O_NOFOLLOW" in run
    assert "grading as root" in run  # the fallback says so


def run_autograder(autograder_zip: Path, root: Path, with_stdout: bool = False) -> Any:
    """run_autograder as Gradescope runs it, with /autograder moved to `root` and this Python: results.json
    (and the script's stdout, `with_stdout`)."""
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(root / "source")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    return (results, done.stdout) if with_stdout else results


ROOT_ONLY_CELL = """
_reference_rnn_cell = rnn_cell

def rnn_cell(*args, **kwargs):
    try:
        with open({marker!r}, "w") as file:
            file.write("written by root")
    except OSError:
        pass
    return _reference_rnn_cell(*args, **kwargs)
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("useradd")
                    or not (shutil.which("setpriv") or shutil.which("runuser")), reason="needs root and useradd")
def test_run_autograder_as_root_grades_as_another_user(autograder_zip: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Unconfined learner code tries to write a file only root may write; the grade is still right."""
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    marker = private / "marker"
    plant(tmp_path / "submission", "ex1_rnn_cell.py", ROOT_ONLY_CELL.format(marker=str(marker)))
    monkeypatch.setenv("GRADER_CONFINE", "none")
    monkeypatch.setenv("GRADER_ALLOWLIST", "off")
    results, stdout = run_autograder(autograder_zip, tmp_path, with_stdout=True)
    check_gradescope_results(results)
    assert results["score"] == 120
    if "grading as root" in stdout:  # this Python is not readable by other users (e.g. under /root)
        assert "rnn-grader cannot run" in stdout and marker.exists()
        pytest.skip("the Python installation is not readable by rnn-grader: the grader ran as root (fallback)")
    assert not marker.exists()


def test_run_autograder_grades_a_repository_submission(autograder_zip: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / "solutions", tmp_path / "submission" / "exercises",
                    ignore=shutil.ignore_patterns("__pycache__"))
    results = run_autograder(autograder_zip, tmp_path)
    check_gradescope_results(results)
    assert results["score"] == 120 and all(t["status"] == "passed" for t in results["tests"])


def test_run_autograder_explains_an_empty_submission(autograder_zip: Path, tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("nothing here", encoding="utf-8")
    results = run_autograder(autograder_zip, tmp_path)
    check_gradescope_results(results)
    assert results["score"] == 0 and results["tests"] == []
    assert "holds none of the exercise files" in results["output"] and "Submit ex1_rnn_cell.py" in results["output"]


def test_zip_with_private_suites_ships_them_instead(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / ".git").mkdir(parents=True)
    (private / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (private / "test_ex4_gru.py").write_text("# the instructor's own ex4 suite\n", encoding="utf-8")
    run = run_grader("gradescope-zip", str(tmp_path / "autograder.zip"), "--suites", str(private))
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "autograder.zip") as archive:
        assert archive.read("grader/suites/test_ex4_gru.py").decode() == "# the instructor's own ex4 suite\n"
        assert "grader/suites/test_ex3_lstm.py" in archive.namelist()
        assert not any(".git" in name for name in archive.namelist())


# --- platform outputs cannot be forged ------------------------------------------------------

FORGING_CELL = """
def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    with open({output!r}, "w") as file:
        file.write("runners=forged\\nforged=" + "e30=" + "\\n")
    with open({results!r}, "w") as file:
        file.write('{{"score": 100, "tests": []}}')
    raise NotImplementedError
"""


def test_platform_files_written_during_grading_mean_no_platform_result(tmp_path: Path) -> None:
    """Unconfined learner code forges $GITHUB_OUTPUT and results.json: the grader writes nothing more, exits 3."""
    output, results = tmp_path / "github_output", tmp_path / "results.json"
    target = plant(tmp_path / "submission", "ex1_rnn_cell.py", FORGING_CELL.format(output=str(output),
                                                                                    results=str(results)))
    run = run_grader("ex1", "--target", str(target), "--seed", "4", "--lang", "en", "--classroom",
                     "--gradescope", str(results), env={"GITHUB_OUTPUT": str(output), "GRADER_CONFINE": "none",
                                                        "GRADER_ALLOWLIST": "off"})
    assert run.returncode == 3, run.stderr
    assert "changed while the code was graded" in run.stderr and str(output) in run.stderr
    assert output.read_text(encoding="utf-8") == "runners=forged\nforged=e30=\n"  # nothing of the grader's
    assert results.read_text(encoding="utf-8") == '{"score": 100, "tests": []}'


def test_platform_fingerprints_see_every_change(tmp_path: Path) -> None:
    from grader import fingerprint, platform_guard

    kept, edited, created, linked = (str(tmp_path / name) for name in ("kept", "edited", "created", "linked"))
    for path in (kept, edited, linked):
        Path(path).write_text("runners=a\n", encoding="utf-8")
    before = fingerprint.take([kept, edited, created, linked])
    Path(edited).write_text("runners=b\n", encoding="utf-8")  # same size, other content
    Path(created).write_text("", encoding="utf-8")  # absent before: an empty file is a change
    os.remove(linked)
    os.symlink(kept, linked)  # the same content, through a link
    assert fingerprint.changes(before, fingerprint.take(before)) == [edited, created, linked]
    assert "平台" in platform_guard.refusal([edited], "zh") and "no platform result" in platform_guard.refusal([], "en")
    env = {"GITHUB_OUTPUT": "o", "GITHUB_ENV": "", "GITHUB_STEP_SUMMARY": "s"}
    assert platform_guard.platform_files(env, "r.json") == [os.path.abspath(p) for p in ("o", "s", "r.json")]


def _stop_and_resume(text: str) -> tuple[str, list[str]]:
    lines = text.splitlines()
    stop = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[0])
    assert stop is not None, lines[:3]
    return stop[1], lines


def test_workflow_commands_are_stopped_while_learner_code_runs() -> None:
    """Under GitHub Actions: `::stop-commands::TOKEN` before grading, `::TOKEN::` before the grader's own report."""
    first = run_grader("ex1", "--target", "solutions", "--seed", "2", env={"GITHUB_ACTIONS": "true"})
    assert first.returncode == 0, first.stderr
    token, lines = _stop_and_resume(first.stdout)
    resume = lines.index(f"::{token}::")
    assert resume < next(i for i, line in enumerate(lines) if "Total:" in line)
    assert sum(token in line for line in lines) == 2
    second = run_grader("ex1", "--target", "solutions", "--seed", "2", "--json", "-", env={"GITHUB_ACTIONS": "true"})
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["score"] == 20  # --json -: stdout stays the report; the commands go to stderr
    other, lines = _stop_and_resume(second.stderr)
    assert other != token and f"::{other}::" in lines
    assert "::stop-commands::" not in run_grader("ex1", "--target", "solutions", "--seed", "2").stdout


def test_tests_workflow_runs_everywhere() -> None:
    """.github/workflows/tests.yml: 3 OSes x Python 3.11, 3.12; CPU torch; the solutions grade; the extra; pytest."""
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    matrix = job["strategy"]["matrix"]
    assert matrix["os"] == ["ubuntu-latest", "macos-latest", "windows-latest"]
    assert matrix["python-version"] == ["3.11", "3.12"] and job["runs-on"] == "${{ matrix.os }}"
    runs = [(step.get("if", ""), step["run"]) for step in job["steps"] if "run" in step]
    assert runs == [
        ("runner.os != 'macOS'", "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"),
        ("runner.os == 'macOS'", "pip install torch==2.13.0"),
        ("", "pip install -r requirements.txt"),
        ("", "python -m grader --target solutions"),
        ("", "pip install -r requirements-dev.txt"),
        ("", "python -m pytest"),
    ]
    setup = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    assert set(workflow["on"]) >= {"push", "pull_request"}
