"""The grader on the reference solutions and on the untouched stubs: scores, exit codes, report shape."""
from __future__ import annotations

import pytest

from conftest import Run, grade, results_by_id

STATUSES = {"passed", "failed", "error", "timeout", "skipped"}
EXERCISE_IDS = ["ex1_rnn_cell", "ex2_rnn_layers", "ex3_lstm", "ex4_gru", "ex5_vanishing", "ex6_sequence_tasks",
               "integration"]


def check_report_shape(report: dict) -> None:
    """The native JSON contract: keys, types, and scores that add up."""
    assert report["schema_version"] == 1
    assert set(report) >= {"score", "max_score", "target", "device", "seed", "versions", "duration_s", "exercises"}
    assert set(report["versions"]) == {"grader", "torch", "python"}
    assert isinstance(report["seed"], int) and report["device"] in {"cpu", "cuda"}
    assert report["max_score"] == 120
    assert report["score"] == pytest.approx(sum(e["score"] for e in report["exercises"]))
    for ex in report["exercises"]:
        assert set(ex) == {"id", "title", "score", "max_score", "status", "tests"}
        assert ex["score"] == pytest.approx(sum(t["score"] for t in ex["tests"]))
        assert ex["max_score"] == pytest.approx(sum(t["max_score"] for t in ex["tests"]))
        assert ex["status"] == ("passed" if all(t["status"] == "passed" for t in ex["tests"]) else "failed")
        for test in ex["tests"]:
            assert test["id"].startswith(ex["id"] + "::")
            assert test["status"] in STATUSES
            assert test["name"] and test["visibility"] == "visible"
            assert 0 <= test["score"] <= test["max_score"]
            if test["status"] == "passed":
                assert test["score"] == test["max_score"] and "hint" not in test
            else:
                assert test["score"] == 0 and test["hint"].strip()


def test_solutions_score_full_marks(solutions_run: Run) -> None:
    assert solutions_run.returncode == 0, solutions_run.stderr
    report = solutions_run.report
    check_report_shape(report)
    assert report["score"] == 120 and report["target"] == "solutions" and report["seed"] == 11
    assert [e["id"] for e in report["exercises"]] == EXERCISE_IDS
    assert [e["max_score"] for e in report["exercises"]] == [20, 20, 20, 20, 20, 20, 0]
    assert all(t["status"] == "passed" for t in results_by_id(report).values())


@pytest.mark.parametrize("seed", ["0", "987654321"])
def test_solutions_score_full_marks_on_other_seeds(seed: str) -> None:
    run = grade("--target", "solutions", "--seed", seed)
    assert run.returncode == 0, run.stderr
    assert run.report["score"] == 120


def test_untouched_stubs_score_zero_with_a_hint_on_every_test(stubs_run: Run) -> None:
    assert stubs_run.returncode == 1
    report = stubs_run.report
    check_report_shape(report)
    assert report["score"] == 0 and report["target"] == "exercises"
    tests = results_by_id(report)
    assert len(tests) >= 30
    for test_id, test in tests.items():
        assert test["status"] == "failed", test_id
        assert "not implemented yet" in test["hint"], (test_id, test["hint"])


def test_human_summary_goes_to_stderr_when_json_is_on_stdout(stubs_run: Run) -> None:
    assert "Total: 0/120" in stubs_run.stderr
    assert "ex3_lstm" in stubs_run.stderr and "not implemented yet" in stubs_run.stderr
    assert stubs_run.stdout.lstrip().startswith("{")


def test_same_seed_gives_the_same_report(solutions_run: Run) -> None:
    again = grade("--target", "solutions", "--seed", "11")
    first, second = solutions_run.report, again.report
    first.pop("duration_s"), second.pop("duration_s")
    assert first == second


def test_one_exercise_by_prefix() -> None:
    run = grade("lstm", "--target", "solutions", "--seed", "5")
    assert run.returncode == 0, run.stderr
    assert [e["id"] for e in run.report["exercises"]] == ["ex3_lstm"]
    assert run.report["max_score"] == 20 and run.report["score"] == 20


def test_json_report_to_a_file_and_text_to_stdout(tmp_path) -> None:
    from conftest import run_grader
    import json

    path = tmp_path / "report.json"
    run = run_grader("ex1", "--target", "solutions", "--json", str(path), "--seed", "3")
    assert run.returncode == 0, run.stderr
    assert "Total: 20/20" in run.stdout
    assert json.loads(path.read_text(encoding="utf-8"))["score"] == 20


def test_chinese_hints_and_titles() -> None:
    run = grade("ex4", "--lang", "zh", "--seed", "2")
    assert run.returncode == 1
    test = run.report["exercises"][0]["tests"][0]
    assert "还没有实现" in test["hint"]
    assert run.report["exercises"][0]["title"] == "GRU 的门"
    assert "总分" in run.stderr


def test_language_follows_the_locale() -> None:
    run = grade("ex4", "--seed", "2", env={"LANG": "zh_CN.UTF-8"})
    assert "还没有实现" in run.report["exercises"][0]["tests"][0]["hint"]
