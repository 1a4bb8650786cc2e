"""export-student (a student copy that grades and holds no solution) and batch (a folder of submissions)."""
from __future__ import annotations

import ast
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO, SOLUTIONS, plant, run_grader
from plants import code_of
from grader import similarity
from grader.export_student import find_reference_code

WRONG_LSTM_CELL = code_of("h = o * c")


def grade_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m grader ARGS --json -` run inside `folder` (a copy of the repository)."""
    env = {**os.environ, "LANG": "C.UTF-8"}
    env.pop("LC_ALL", None)
    return subprocess.run([sys.executable, "-m", "grader", *args, "--json", "-"], cwd=folder, capture_output=True,
                          text=True, timeout=600, env=env, stdin=subprocess.DEVNULL)


# --- export-student -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "rnn-template"
    run = run_grader("export-student", str(out))
    assert run.returncode == 0, run.stderr
    return out


def solution_bodies() -> dict[str, str]:
    """'solutions/FILE:NAME' -> the source lines of that reference function's body, docstring left out."""
    bodies = {}
    for path in sorted(SOLUTIONS.glob("ex*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body
                lines = source.splitlines()[body[0].lineno - 1:body[-1].end_lineno]
                bodies[f"{path.name}:{node.name}"] = "\n".join(line.strip() for line in lines if line.strip())
    return bodies


def test_student_copy_has_no_solutions_and_no_tests(student_copy: Path) -> None:
    assert not (student_copy / "solutions").exists() and not (student_copy / "tests").exists()
    assert not (student_copy / ".github" / "workflows" / "tests.yml").exists()  # it needs both
    for name in ("README.md", "requirements.txt", "grader/cli.py", "grader/judge/plugin.py",
                 "exercises/ex3_lstm.py", "exercises/modules.py", "guides/en/ex3_lstm.md", "guides/zh/ex3_lstm.md",
                 "img/lstm_cell.svg", ".github/workflows/classroom.yml", "start_here.ipynb", "grader/notebook.py"):
        assert (student_copy / name).is_file(), name


def test_no_reference_code_anywhere_in_the_student_copy(student_copy: Path) -> None:
    bodies = solution_bodies()
    assert len(bodies) >= 13
    for path in student_copy.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".md", ".yml", ".txt", ".ini"}:
            text = "\n".join(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
            assert not re.search(r"^(import|from) solutions\b", text, re.MULTILINE), path
            for where, body in bodies.items():
                assert body not in text, f"{path} holds the body of solutions/{where}"
    assert find_reference_code(student_copy) == []


def test_the_leak_check_finds_copied_and_imported_solutions(tmp_path: Path) -> None:
    source = (SOLUTIONS / "ex4_gru.py").read_text(encoding="utf-8")
    function = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "gru_cell")
    renamed = ast.get_source_segment(source, function).replace("def gru_cell", "def oracle_cell", 1)
    (tmp_path / "helpers.py").write_text(renamed + "\n", encoding="utf-8")
    (tmp_path / "loader.py").write_text("from solutions.ex3_lstm import lstm_cell\n", encoding="utf-8")
    leaks = find_reference_code(tmp_path)
    assert "helpers.py:oracle_cell is solutions/ex4_gru.py:gru_cell" in leaks
    assert "loader.py: imports the solutions" in leaks


def test_student_copy_grades_the_stubs_zero_with_hints(student_copy: Path) -> None:
    done = grade_in(student_copy, "--seed", "5")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["score"] == 0 and report["max_score"] == 120
    tests = [t for e in report["exercises"] for t in e["tests"]]
    assert tests and all(t["status"] != "passed" and "not implemented yet" in t["hint"] for t in tests)


def test_student_readme_keeps_the_two_commands_and_drops_maintainers_parts(student_copy: Path) -> None:
    readme = (student_copy / "README.md").read_text(encoding="utf-8")
    assert "python -m pip install -r requirements.txt && python -m grader" in readme
    assert "## Instructors" not in readme and "python -m pytest" not in readme and "<!--" not in readme
    assert "solutions/   reference" not in readme and "## Guides" in readme


def test_student_copy_without_suites_grades_only_with_private_suites(tmp_path: Path) -> None:
    out = tmp_path / "template"
    assert run_grader("export-student", str(out), "--without-suites").returncode == 0
    assert not (out / "grader" / "suites").exists()
    done = grade_in(out)
    assert done.returncode == 2 and "--suites DIR" in done.stderr and "Traceback" not in done.stderr
    done = grade_in(out, "ex4", "--seed", "2", "--suites", str(REPO / "grader" / "suites"))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["max_score"] == 20 and report["score"] == 0


def test_export_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    run = run_grader("export-student", str(tmp_path))
    assert run.returncode == 2 and "not an empty folder" in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# --- batch --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    root = tmp_path_factory.mktemp("batch")
    submissions = root / "submissions"
    plant(submissions / "alice" / "exercises", "ex1_rnn_cell.py", "")  # a whole repository: exercises/ inside
    plant(submissions / "bob", "ex3_lstm.py", WRONG_LSTM_CELL)  # just the files
    (submissions / "carol").mkdir()  # an empty folder
    run = run_grader("batch", str(submissions), "--out", str(root / "grades"), "--seed", "8", "--workers", "2")
    return subprocess.CompletedProcess([], run.returncode, run.stdout, run.stderr), root / "grades"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_batch_writes_grades_csv(batch_run) -> None:
    done, grades = batch_run
    assert done.returncode == 1, done.stderr  # carol could not be graded
    rows = {row["student"]: row for row in read_csv(grades / "grades.csv")}
    assert list(rows) == ["alice", "bob", "carol"]
    assert rows["alice"]["total"] == "120" and rows["alice"]["integration"] == "3/3" and rows["alice"]["error"] == ""
    assert rows["bob"]["total"] == "110" and rows["bob"]["ex3_lstm"] == "10" and rows["bob"]["ex4_gru"] == "20"
    assert rows["carol"]["total"] == "" and "holds none of the exercise files" in rows["carol"]["error"]
    assert str(grades.parent / "submissions" / "carol") in rows["carol"]["error"]  # her folder, not the copy graded
    assert "not graded: carol" in done.stdout


def test_batch_keeps_each_report_and_a_summary(batch_run) -> None:
    _, grades = batch_run
    bob = json.loads((grades / "reports" / "bob.json").read_text(encoding="utf-8"))
    assert bob["score"] == 110 and bob["seed"] == 8
    assert not (grades / "reports" / "carol.json").exists()
    summary = json.loads((grades / "summary.json").read_text(encoding="utf-8"))
    assert summary["submissions"] == 3 and summary["graded"] == 2 and summary["seed"] == 8
    assert summary["submissions_per_minute"] > 0


def test_batch_pass_rates_put_the_common_mistake_first(batch_run) -> None:
    done, grades = batch_run
    rates = read_csv(grades / "pass_rates.csv")
    first = {row["test"]: row for row in rates[:3]}
    assert set(first) == {"ex3_lstm::cell_values", "ex3_lstm::cell_gradients", "integration::bilstm"}
    assert all((row["passed"], row["graded"], row["pass_rate"]) == ("1", "2", "0.5") for row in first.values())
    assert {row["pass_rate"] for row in rates[3:]} == {"1.0"}
    assert "50%" in done.stdout and "ex3_lstm::cell_values" in done.stdout


def test_batch_time_limit_gives_a_row_not_a_crash(tmp_path: Path) -> None:
    # Loading the file takes minutes: past the limit however fast the grader starts (a warm one grades in 0.5 s).
    plant(tmp_path / "submissions" / "dave", "ex1_rnn_cell.py", "_slow = sum(range(10**11))")
    run = run_grader("batch", str(tmp_path / "submissions"), "--out", str(tmp_path / "grades"), "--time-limit", "0.5")
    assert run.returncode == 1, run.stderr
    (row,) = read_csv(tmp_path / "grades" / "grades.csv")
    assert row["student"] == "dave" and row["error"] == "timed out after 0.5 s" and row["total"] == ""


@pytest.mark.parametrize("make, words", [
    (lambda root: root / "missing", "no such folder"),
    (lambda root: root, "holds no submission folders"),
])
def test_batch_bad_input_is_a_usage_error(tmp_path: Path, make, words: str) -> None:
    run = run_grader("batch", str(make(tmp_path)), "--out", str(tmp_path / "grades"))
    assert run.returncode == 2 and words in run.stderr and "Traceback" not in run.stderr


# --- batch isolation ----------------------------------------------------------------------


def test_batch_follows_no_link_and_copies_no_special_or_huge_file(tmp_path: Path) -> None:
    """A submission linking to the solutions gets no credit and an error naming the link; none is graded."""
    submissions = tmp_path / "submissions"
    eve = plant(submissions / "eve", "ex1_rnn_cell.py", "")
    (eve / "ex3_lstm.py").unlink()
    (eve / "ex3_lstm.py").symlink_to(SOLUTIONS / "ex3_lstm.py")
    (submissions / "frank").mkdir(parents=True)
    (submissions / "frank" / "exercises").symlink_to(SOLUTIONS, target_is_directory=True)
    (submissions / "gina").symlink_to(SOLUTIONS, target_is_directory=True)
    huge = plant(submissions / "hugo", "ex1_rnn_cell.py", "")
    (huge / "data.bin").write_bytes(b"\0" * (21 * 2**20))
    if hasattr(os, "mkfifo"):
        os.mkfifo(plant(submissions / "ivy", "ex1_rnn_cell.py", "") / "pipe")
    run = run_grader("batch", str(submissions), "--out", str(tmp_path / "grades"), "--seed", "1", "--workers", "1",
                     timeout=120)
    assert run.returncode == 1, run.stderr
    rows = {row["student"]: row for row in read_csv(tmp_path / "grades" / "grades.csv")}
    assert all(row["total"] == "" for row in rows.values())
    assert rows["eve"]["error"] == "ex3_lstm.py is a symbolic link, which is not followed: submit the file itself"
    assert rows["frank"]["error"].startswith("exercises is a symbolic link")
    assert rows["gina"]["error"].startswith("gina is a symbolic link")
    assert rows["hugo"]["error"] == "the submission is larger than 20 MiB"
    if hasattr(os, "mkfifo"):
        assert rows["ivy"]["error"] == "pipe is not a regular file"
    run_grader("batch", str(submissions), "--out", str(tmp_path / "zh"), "--lang", "zh", timeout=120)
    assert "ex3_lstm.py 是符号链接" in {row["student"]: row for row in read_csv(tmp_path / "zh" / "grades.csv")}["eve"]["error"]


def attacker_code(victim: Path, out: Path) -> str:
    """Unconfined learner code that edits a classmate's original files and forges the batch's results."""
    return f'''
import os, pathlib
_out = pathlib.Path({str(out)!r})
with open({str(victim / "ex3_lstm.py")!r}, "a") as _file:
    _file.write({WRONG_LSTM_CELL!r})
(_out / "reports").mkdir(parents=True, exist_ok=True)
(_out / "grades.csv").write_text("student,total\\naaron,100\\nzoe,0\\n")
(_out / "summary.json").write_text("{{}}")
(_out / "reports" / "zoe.json").mkdir(exist_ok=True)
if not os.path.lexists(_out / "pass_rates.csv"):
    os.symlink({str(victim / "modules.py")!r}, _out / "pass_rates.csv")
'''


def test_batch_an_attacker_changes_no_classmates_grade_and_no_result(tmp_path: Path) -> None:
    """aaron (graded first) edits zoe's original folder and forges --out while graded, without confinement."""
    submissions, out = tmp_path / "submissions", tmp_path / "grades"
    zoe = plant(submissions / "zoe", "ex1_rnn_cell.py", "")
    modules = (zoe / "modules.py").read_text(encoding="utf-8")
    plant(submissions / "aaron", "ex1_rnn_cell.py", attacker_code(zoe, out))
    run = run_grader("batch", str(submissions), "--out", str(out), "--seed", "6", "--workers", "1",
                     env={"GRADER_CONFINE": "none", "GRADER_ALLOWLIST": "off"})
    assert WRONG_LSTM_CELL in (zoe / "ex3_lstm.py").read_text(encoding="utf-8")  # the attack ran
    assert run.returncode == 0, run.stderr
    rows = {row["student"]: row for row in read_csv(out / "grades.csv")}
    assert {name: row["total"] for name, row in rows.items()} == {"aaron": "120", "zoe": "120"}
    assert json.loads((out / "reports" / "zoe.json").read_text(encoding="utf-8"))["score"] == 120
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["graded"] == 2
    assert not (out / "pass_rates.csv").is_symlink() and read_csv(out / "pass_rates.csv")[0]["graded"] == "2"
    assert (zoe / "modules.py").read_text(encoding="utf-8") == modules


def test_batch_writes_results_whole_and_follows_no_link(tmp_path: Path) -> None:
    from grader.batch import OutputError, write_atomic

    outside = tmp_path / "outside.txt"
    outside.write_text("keep", encoding="utf-8")
    (tmp_path / "linked.csv").symlink_to(outside)
    write_atomic(tmp_path / "linked.csv", "new")
    assert outside.read_text(encoding="utf-8") == "keep" and not (tmp_path / "linked.csv").is_symlink()
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.csv")
        write_atomic(tmp_path / "fifo.csv", "new")  # replaced, never opened: no reader needed
        assert (tmp_path / "fifo.csv").read_text(encoding="utf-8") == "new"
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_atomic(tmp_path / "folder.csv", "new")
    write_atomic(tmp_path / "folder.csv", "new", replace_folder=True)
    assert (tmp_path / "folder.csv").read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_batch_kills_the_whole_process_tree(tmp_path: Path) -> None:
    """A grader that leaves a detached grandchild behind: it is dead when run_to_end returns."""
    import psutil
    from grader.batch import run_to_end

    code = ("import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(1)\n")
    with open(tmp_path / "stdout", "wb") as stdout:
        assert run_to_end([sys.executable, "-c", code], stdout, subprocess.DEVNULL, 60) == 0
    grandchild = int((tmp_path / "stdout").read_text())
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def test_batch_writes_a_class_report_with_the_named_mistakes(batch_run) -> None:
    """report.html: one page, no script, bob's named mistake counted once with his hint as the example."""
    _, grades = batch_run
    page = (grades / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    assert 'name="viewport"' in page and "2 of 3 submissions graded, seed 8" in page
    bob = json.loads((grades / "reports" / "bob.json").read_text(encoding="utf-8"))
    named = {k for e in bob["exercises"] for t in e["tests"] for k in t.get("mistakes", [])}
    assert named, bob
    for key in named:
        assert f"<td>1</td><td><code>lstm_cell</code></td><td><code>{key}</code></td>" in page, key
    assert "ex3_lstm::cell_values</code></td><td>1/2</td>" in page
    assert "<code>carol</code>" in page and "holds none of the exercise files" in page


def test_the_class_report_ranks_mistakes_by_students_and_escapes_what_submissions_wrote() -> None:
    from grader import class_report

    def outcome(student: str, hints: list[tuple[str, list[str]]], error: str = "") -> SimpleNamespace:
        tests = [{"id": f"t{n}", "status": "failed", "hint": hint, "mistakes": keys} for n, (hint, keys) in enumerate(hints)]
        report = None if error else {"score": 50, "max_score": 100,
                                     "exercises": [{"id": "ex3_lstm", "score": 10, "max_score": 20, "tests": tests}]}
        return SimpleNamespace(student=student, report=report, error=error)

    outcomes = [
        outcome("a", [("lstm_cell: you read ... i, g, f, o", ["order:igfo", "bias:ih_only"]),
                      ("lstm_cell: you read ... again", ["order:igfo"])]),
        outcome("b", [("lstm_cell: it adds b_ih but not b_hh", ["bias:ih_only"]),
                      ("gru_cell is right given torch's gru_gates: ...", ["helper:gru_gates"])]),
        outcome("c", [("gru_gates: <b>r</b> & z", ["order:zrn"])]),
        outcome("<img src=x onerror=alert(1)>", [], error="grader failed: <script>"),
    ]
    ranked = class_report.named_mistakes(outcomes)
    assert [(m.function, m.key, m.students) for m in ranked] == [
        ("lstm_cell", "bias:ih_only", 2), ("gru_gates", "order:zrn", 1), ("lstm_cell", "order:igfo", 1)]
    assert ranked[0].example == "lstm_cell: you read ... i, g, f, o"
    page = class_report.render(outcomes, [], seed=3, lang="zh")
    assert "<script" not in page and "<img" not in page and "<b>r</b>" not in page
    assert "&lt;b&gt;r&lt;/b&gt; &amp; z" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "班级报告" in page and "共 4 份提交，已评分 3 份，种子 3" in page
    assert class_report.score_bins(outcomes) == [0, 0, 0, 0, 0, 3, 0, 0, 0, 0]


def test_batch_shards_merged_equal_the_unsharded_run(batch_run, tmp_path: Path) -> None:
    """Two slices graded apart, then `merge`: the same grades, pass rates, similar pairs and class report as one
    run (the pair alice-bob spans the two slices)."""
    _, whole = batch_run
    submissions = whole.parent / "submissions"
    for k in (1, 2):
        run = run_grader("batch", str(submissions), "--out", str(tmp_path / f"shard{k}"), "--seed", "8",
                         "--workers", "1", "--shard", f"{k}/2")
        assert run.returncode in (0, 1), run.stderr
    graded = {k: read_csv(tmp_path / f"shard{k}" / "grades.csv") for k in (1, 2)}
    assert [r["student"] for r in graded[1]] == ["alice", "carol"] and [r["student"] for r in graded[2]] == ["bob"]
    merged = run_grader("merge", str(tmp_path / "shard2"), str(tmp_path / "shard1"), "--out", str(tmp_path / "merged"))
    assert merged.returncode == 1 and "2/3 submissions graded" in merged.stdout, merged.stderr  # carol
    for name in ("grades.csv", "pass_rates.csv", "report.html", "sources.json"):
        assert (tmp_path / "merged" / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (tmp_path / "shard1" / "similarity.csv").exists()  # a slice cannot see the whole class
    if similarity.available():  # alice and bob hand in the same solutions, from different slices
        assert (tmp_path / "merged" / "similarity.csv").read_bytes() == (whole / "similarity.csv").read_bytes()
        assert "alice,bob" in (whole / "similarity.csv").read_text(encoding="utf-8")
    assert (tmp_path / "merged" / "reports" / "bob.json").read_bytes() == \
        (tmp_path / "shard2" / "reports" / "bob.json").read_bytes()


@pytest.mark.parametrize("args, words", [
    (["batch", "{subs}", "--shard", "1/2"], "--shard needs --seed"),
    (["batch", "{subs}", "--shard", "3/2", "--seed", "1"], "expected K/N with 1 <= K <= N"),
    (["merge", "{one}"], "every slice 1/2 .. 2/2 is needed"),
    (["merge", "{nothing}"], "not a batch result"),
])
def test_shards_and_merge_refuse_bad_input_with_a_clear_message(tmp_path: Path, args: list[str], words: str) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "summary.json").write_text(json.dumps({"seed": 1, "shard": "1/2", "grades": []}), encoding="utf-8")
    (tmp_path / "subs" / "dave").mkdir(parents=True)
    paths = {"subs": tmp_path / "subs", "one": one, "nothing": tmp_path / "subs"}
    run = run_grader(*(a.format(**paths) for a in args), "--out", str(tmp_path / "out"))
    assert run.returncode == 2 and words in run.stderr and "Traceback" not in run.stderr, run.stderr
