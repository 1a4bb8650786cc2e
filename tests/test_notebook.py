"""`from grader import check` in a notebook: the example notebook runs top to bottom in a real Jupyter kernel,
check() shows the same verdicts as `python -m grader`, and a wrong value comes with its expected-vs-got view."""
from __future__ import annotations

import html
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SOLUTIONS, grade, plant
from plants import code_of
from grader import notebook, scoring

NOTEBOOK = REPO / "start_here.ipynb"
SEED = random.SystemRandom().randrange(2 ** 31)
WRONG_RNN_CELL = code_of("rnn_cell missing b_hh")


def execute(cells: list[str]) -> list[dict]:
    """Run code cells in a fresh python3 kernel started in the repository root; each cell's outputs."""
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient and ipykernel: requirements-dev.txt")
    nbformat = pytest.importorskip("nbformat")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
    nbclient.NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    return [cell.outputs for cell in book.cells]


def test_the_example_notebook_is_committed_without_outputs() -> None:
    book = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [cell for cell in book["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert "from grader import check" in "".join(code[0]["source"])


def test_the_example_notebook_runs_top_to_bottom_in_a_real_kernel() -> None:
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient and ipykernel: requirements-dev.txt")
    nbformat = pytest.importorskip("nbformat")
    book = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    shown = [output["data"] for cell in book.cells if cell.cell_type == "code" for output in cell.outputs
             if output.get("output_type") == "execute_result"]
    assert len(shown) == 2 and all({"text/html", "text/plain"} <= set(data) for data in shown)
    one, everything = shown
    assert "ex1_rnn_cell" in one["text/html"] and "0 / 20" in one["text/html"] and "ex3_lstm" not in one["text/html"]
    assert "总分" in everything["text/html"] and "ex5_vanishing" in everything["text/html"]
    assert "not implemented" in one["text/plain"].lower()


def test_check_in_a_kernel_shows_the_same_verdicts_as_the_command_line(tmp_path: Path) -> None:
    target = plant(tmp_path / "mine", "ex1_rnn_cell.py", WRONG_RNN_CELL)
    cli = grade("ex1", "--target", str(target), "--seed", str(SEED), "--lang", "en")
    (outputs,) = execute([f"from grader import check\nresult = check('ex1', target={str(target)!r}, seed={SEED}, "
                          "lang='en')\nimport json\nprint(json.dumps(result.report))\nresult"])
    printed = next(o["text"] for o in outputs if o.get("output_type") == "stream")
    shown = next(o["data"] for o in outputs if o.get("output_type") == "execute_result")
    in_kernel = json.loads(printed)

    def verdicts(report: dict) -> list[tuple]:
        return [(t["id"], t["status"], t["score"], t.get("hint")) for e in report["exercises"] for t in e["tests"]]

    assert verdicts(in_kernel) == verdicts(cli.report) and in_kernel["score"] == cli.report["score"] < 20
    assert "<table>" in shown["text/html"] and "torch.nn" in shown["text/html"]  # the expected-vs-got view
    for test in (t for e in in_kernel["exercises"] for t in e["tests"] if t["status"] != "passed"):
        assert html.escape(test["hint"]) in shown["text/html"]


def test_a_wrong_value_reports_where_and_the_numbers_around_it(tmp_path: Path) -> None:
    """The report's difference agrees with the hint: same first index, same got and expected values."""
    code = WRONG_RNN_CELL.replace("def rnn_cell(", "def _named(", 1) + (
        "\ndef rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity='tanh'):\n"
        "    return _named(x, h, weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity) * 1.5\n")
    report = grade("ex1", "--target", str(plant(tmp_path / "mine", "ex1_rnn_cell.py", code)), "--seed",
                   str(SEED)).report
    checked = 0
    for test in (t for e in report["exercises"] for t in e["tests"] if "difference" in t):
        difference = test["difference"]
        assert len(difference["got"]) == len(difference["expected"]) <= 8 and difference["worst"] > 0
        hinted = re.search(r"first at index \(([\d, ]*)\).*?: got (\S+), expected (\S+)\)", test["hint"])
        if hinted is None:
            continue
        index = [int(i) for i in hinted.group(1).replace(",", " ").split()]
        assert difference["index"] == index
        at = (index[-1] if index else 0) - difference["start"]
        assert difference["got"][at] == pytest.approx(float(hinted.group(2)), rel=1e-4)
        assert difference["expected"][at] == pytest.approx(float(hinted.group(3)), rel=1e-4)
        checked += 1
    assert checked > 0, report


def test_check_reports_bad_input_as_a_message_not_a_traceback() -> None:
    result = notebook.check("ex9", lang="en")
    assert result.report is None and "ex9" in result.error and "Traceback" not in result.error
    assert "could not grade" in repr(result) and "ex9" in result._repr_html_()


def test_the_html_escapes_what_learner_code_can_put_in_a_hint() -> None:
    hint = "rnn_cell raised ValueError: <img src=x onerror=alert(1)> & <script>"
    report = {"score": 0, "max_score": 20, "seed": 1, "exercises": [
        {"id": "ex1_rnn_cell", "score": 0, "max_score": 20, "tests": [
            {"id": "ex1_rnn_cell::cell_tanh", "name": "<b>name</b>", "status": "failed", "hint": hint}]}]}
    page = notebook.Result(report, "en", args=["'ex1'"])._repr_html_()
    assert "<img" not in page and "<script" not in page and "<b>name" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;script&gt;" in page


@pytest.mark.parametrize("data", [
    None, "text", {"got": [1.0], "expected": [1.0, 2.0], "index": [0], "start": 0, "worst": 1.0},
    {"got": [True], "expected": [1.0], "index": [0], "start": 0, "worst": 1.0},
    {"got": [1.0], "expected": [2.0], "index": ["0"], "start": 0, "worst": 1.0},
    {"got": [1.0] * 17, "expected": [2.0] * 17, "index": [0], "start": 0, "worst": 1.0},
])
def test_a_malformed_difference_is_left_out(data: object) -> None:
    assert scoring.difference({"difference": data}, "en") is None


def test_a_well_formed_difference_keeps_its_language() -> None:
    data = {"quantity": "output", "got": [1.0, 2.0], "expected": [1.0, 3.0], "index": [2, 0, 1], "start": 0,
            "worst": 1.0, "where_en": "time step 2, forward direction", "where_zh": "第 2 步，正向"}
    assert scoring.difference({"difference": data}, "zh")["where"] == "第 2 步，正向"
    assert scoring.difference({"difference": data}, "en")["index"] == [2, 0, 1]


def test_a_second_check_grades_the_saved_edit_with_the_verdicts_of_a_cold_run(tmp_path: Path) -> None:
    """The kernel's grader server primes the next check's judge; an edit saved in between is what it grades."""
    target = tmp_path / "mine"
    shutil.copytree(SOLUTIONS, target, ignore=shutil.ignore_patterns("__pycache__"))
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient and ipykernel: requirements-dev.txt")
    nbformat = pytest.importorskip("nbformat")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in (
        f"from grader import check\nfirst = check('ex3', target={str(target)!r}, lang='en')\nfirst.score",
        f"import json, time\ntime.sleep(3)\nsecond = check('ex3', target={str(target)!r}, lang='en')\n"
        "print(json.dumps(second.report))")])
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(REPO)}})
    with client.setup_kernel():
        client.execute_cell(book.cells[0], 0)
        with open(target / "ex3_lstm.py", "a", encoding="utf-8") as file:  # saved while the next judge waits
            file.write("\n\n" + code_of("h = o * c").strip() + "\n")
        client.execute_cell(book.cells[1], 1)
    assert book.cells[0].outputs[0]["data"]["text/plain"] == "20"
    second = json.loads(next(o["text"] for o in book.cells[1].outputs if o.get("output_type") == "stream"))
    cold = grade("ex3", "--target", str(target), "--seed", str(second["seed"]), "--lang", "en").report

    def verdicts(report: dict) -> list[tuple]:
        return [(t["id"], t["status"], t.get("hint")) for e in report["exercises"] for t in e["tests"]]

    assert verdicts(second) == verdicts(cold) and second["score"] == cold["score"] == 10


def test_the_grader_server_answers_bad_requests_and_keeps_serving() -> None:
    requests = "\n".join(['not json', '{"argv": ["ex1", "--watch"]}', '{"argv": ["ex9"]}',
                          '{"argv": ["ex5", "--target", "solutions", "--seed", "3", "--lang", "en"]}']) + "\n"
    done = subprocess.run([sys.executable, "-m", "grader", "serve"], cwd=REPO, input=requests, capture_output=True,
                          text=True, timeout=600)
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and [a["exit"] for a in answers] == [2, 2, 2, 0], done.stderr
    assert "one line of JSON" in answers[0]["error"] and "--watch" in answers[1]["error"]
    assert "unknown exercise 'ex9'" in answers[2]["error"]
    assert answers[3]["report"]["score"] == 20 and answers[3]["report"]["seed"] == 3
